#!/usr/bin/env bash
# add-unit and remove-unit on a cluster of 3 network-namespace hosts (issue 10's leftovers):
#  1. add-unit makes a 4th host: its namespace, its veth on the cluster's bridge, the block's next
#     address; its own directory with its own certificate (its address, from the CA that stays in the
#     CLI's DIR) and secrets, its own etcd users, no CA key, no etcd root password; Patroni, agent and PgBouncer on it, no
#     etcd member (a client of the 3 members); it streams and has the rows written before it existed;
#     status shows it with its address; every host's pgrefresh.conf lists it;
#  2. a refresh covers it (the coordinator, on another host, plans with it);
#  3. remove-unit of a host that runs an etcd member, and of the primary: refused;
#  4. remove-unit of the 4th: nothing of it left (its processes, namespace, veth on the bridge,
#     directory, its unit and PgBouncer in every pgrefresh.conf, its etcd users: its password refused), the
#     cluster healthy on 3.
# Root only (namespaces): elsewhere it says so in one line and is skipped.
if [ "$(id -u)" != 0 ] || ! [ -x /usr/sbin/ip ]; then
	echo "# SKIP t_96_hosts_units: needs root and iproute2 to make network namespaces"
	exit 0
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"
. "$(dirname "$0")/lib_hosts.sh"
trap 'hosts_cleanup; lib_cleanup' EXIT

etcd_auth() { # USER SECRET-FILE: etcd's answer to USER authenticating with that file's password (by stdin)
	printf '{"name":"%s","password":"%s"}' "$1" "$(head -n 1 "$2")" |
		curl -s --max-time 5 --cacert "$C/pki/ca.crt" --cert "$C/pki/pgrefresh.crt" --key "$C/pki/pgrefresh.key" \
			-X POST "$(conf_value etcd | cut -d, -f1)/v3/auth/authenticate" -d @-
}
bridge_ports() { ip -br link show master "pgr-$TAG" | awk '{print $1}' | sed 's/@.*//' | sort | tr '\n' ' '; }

step "cluster create --hosts 3 on $LOW, a row"
need_versions "$LOW" "$HIGH"
hosts_create "$T/c" 3
wait_healthy 60
psql_bouncer "create table t96(id int primary key, v text); insert into t96 values (1, 'before add-unit')" >/dev/null
assert_eq "$(bridge_ports | wc -w)" 3 "ports on bridge pgr-$TAG"

step "add-unit: a 4th host with its own namespace, address, files, Patroni, agent and PgBouncer"
pgr_ok add-unit --dir "$C"
ADDR3=$(unit_field pg/3 host)
assert_contains "$OUT" "added pg/3 on host h3 ($ADDR3:5432)" "add-unit's output"
ADDR2=$(unit_field pg/2 host)
assert_eq "$ADDR3" "${ADDR2%.*}.$((${ADDR2##*.} + 1))" "pg/3's address: the block's next"
NS=pgr-$TAG-h3
ip netns list | awk '{print $1}' | grep -qxF "$NS" || fail "no namespace $NS"
assert_eq "$(ip -n "$NS" -4 -o addr show dev eth0 | awk '{print $4}')" "$ADDR3/28" "address of $NS"
assert_eq "$(bridge_ports | wc -w)" 4 "ports on bridge pgr-$TAG"
pgr_ok status --dir "$C"
assert_contains "$OUT" "$ADDR3" "status shows pg/3's host"
H=$C/hosts/h3
[ ! -e "$H/pki/ca.key" ] && [ ! -e "$H/secrets.d/etcd_root" ] || fail "h3 holds the CA's key or etcd's root password"
openssl verify -CAfile "$C/pki/ca.crt" -verify_ip "$ADDR3" "$H/pki/server.crt" >/dev/null ||
	fail "h3's server certificate does not verify for $ADDR3"
SERVICE_USER=$(stat -c %U "$C/hosts/h0/units/pg-0/patroni.yml")
for f in "$H"/pki/*.key "$H"/secrets.d/* "$H"/secrets "$H/units/pg-3/patroni.yml"; do
	assert_eq "$(stat -c '%a %U' "$f")" "600 $SERVICE_USER" "mode and owner of ${f#$C/}"
done
grep -q "^etcd = https://${ADDR2%.*}\.[0-9]*:2379,https://.*,https://[^,]*$" "$H/pgrefresh.conf" ||
	fail "h3's etcd endpoints are not the 3 members: $(grep '^etcd' "$H/pgrefresh.conf")"
[[ "$(grep '^etcd' "$H/pgrefresh.conf")" != *"$ADDR3"* ]] || fail "h3 lists an etcd member of its own"
for i in 0 1 2; do
	grep -q '^\[unit pg/3\]' "$C/hosts/h$i/pgrefresh.conf" || fail "h$i's pgrefresh.conf does not list pg/3"
done
grep -qx "etcd_user = pgrefresh-h3" "$H/pgrefresh.conf" || fail "h3's agent is not etcd user pgrefresh-h3"
assert_contains "$(etcd_auth pgrefresh-h3 "$H/secrets.d/etcd_pgrefresh")" '"token"' "pgrefresh-h3 with its own password"
assert_contains "$(etcd_auth pgrefresh-h0 "$H/secrets.d/etcd_pgrefresh")" "authentication failed" "pgrefresh-h0 with h3's password"
cp -p "$H/secrets.d/etcd_pgrefresh" "$T/h3.etcd_pgrefresh" # for after its removal
ok "h3 ($ADDR3): its certificate, its own etcd users, secrets 0600 $SERVICE_USER's, the 3 etcd members; every host lists pg/3"
wait_until 30 psql_unit_eq pg/3 "select v from t96 where id = 1" "before add-unit" || fail "pg/3 lacks the row"
PRIMARY=$(units_with_role primary)
assert_eq "$(psql_unit "$PRIMARY" "select count(*) from pg_stat_replication where application_name = 'pg-3' and state = 'streaming'")" 1 \
	"pg/3 streaming from the primary $PRIMARY"
H3PIDS=$(ip netns pids "$NS" | tr '\n' ' ')
comms=$(for p in $H3PIDS; do cat "/proc/$p/comm" 2>/dev/null; done | sort -u | tr '\n' ' ')
for want in pgbouncer pgrefresh patroni postgres; do # whole names: an agent after SIGHUP is still pgrefresh
	[[ " $comms" == *" $want "* ]] || fail "$NS runs no $want (it runs: $comms)"
done
[[ " $comms" != *" etcd "* ]] || fail "$NS runs an etcd member"
for p in $H3PIDS; do
	cwd=$(readlink "/proc/$p/cwd") || continue
	case "$cwd/" in "$(realpath "$H")"/*) ;; *) fail "pid $p ($(cat "/proc/$p/comm")) on $NS works in $cwd" ;; esac
done
ok "$NS: $(wc -w <<<"$H3PIDS") processes ($comms), each in hosts/h3"

step "a refresh $LOW -> $HIGH covers the 4th host"
set_pause none
start_refresh --version "$HIGH"
wait_refresh 240 idle
assert_all_on "$HIGH" "after the refresh"
assert_eq "$(unit_field pg/3 version)" "$HIGH" "pg/3's version"
assert_eq "$(json_get "$(history_json)" "len(d[-1]['units'])")" 4 "units in the refresh's history"

step "remove-unit: refused for a host that runs an etcd member, and for the primary"
pgr_run remove-unit --dir "$C" pg/0
assert_user_error "remove-unit pg/0 (an etcd member's host)"
assert_rc 6 "remove-unit pg/0"
PRIMARY=$(units_with_role primary)
if [ "$PRIMARY" = pg/3 ]; then
	pgr_run remove-unit --dir "$C" pg/3
	assert_user_error "remove-unit of the primary"
	assert_contains "$ERR" "is the primary" "the error"
	pgr_ok switchover --dir "$C"
	wait_healthy 60
fi

step "remove-unit pg/3: its processes, namespace, veth, directory and conf entries gone"
H3PIDS=$(ip netns pids "$NS" | tr '\n' ' ')
pgr_ok remove-unit --dir "$C" pg/3
for p in $H3PIDS; do
	pid_alive "$p" && fail "pid $p of h3 still runs: $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-120)"
done
! ip netns list | awk '{print $1}' | grep -qxF "$NS" || fail "namespace $NS still there"
[ -z "$(ip -br link | awk '{print $1}' | grep -F "pgr${TAG}v3")" ] || fail "veth pgr${TAG}v3 still there"
assert_eq "$(bridge_ports | wc -w)" 3 "ports on bridge pgr-$TAG"
[ ! -e "$H" ] || fail "$H still there: $(ls -A "$H")"
for f in "$C/pgrefresh.conf" "$C"/hosts/h*/pgrefresh.conf; do
	! grep -q "pg/3\|$ADDR3" "$f" || fail "${f#$C/} still names pg/3 or $ADDR3"
done
assert_contains "$(etcd_auth pgrefresh-h3 "$T/h3.etcd_pgrefresh")" "authentication failed" "pgrefresh-h3 after its host's removal"
ok "nothing of h3 left: processes, namespace, veth, directory, conf entries, etcd users"
wait_healthy 60
assert_eq "$(json_get "$(status_json)" "' '.join(u['name'] for u in d['units'])")" "pg/0 pg/1 pg/2" "units"

step "cluster destroy: nothing left"
pgr_ok cluster stop --dir "$C"
mkdir -p "$T/hosts-logs" && (cd "$C" && find . -name '*.log' -exec cp --parents {} "$T/hosts-logs/" \;)
pgr_ok cluster destroy --dir "$C"
LEFT=$(hosts_leftovers)
[ -z "$LEFT" ] && [ ! -e "$C" ] || fail "left after destroy: $LEFT"
ok "destroyed: nothing left"
