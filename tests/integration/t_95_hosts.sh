#!/usr/bin/env bash
# A cluster across 3 network-namespace hosts (`cluster create --hosts 3`, issue 10 §1/§5):
#  1. each host is a namespace on the cluster's own bridge, with its address from 198.18.0.0/24, and
#     runs its etcd member, its unit (agent, Patroni, PostgreSQL) and its PgBouncer; every one of those
#     processes works in its host's directory and holds files of that directory only; etcd has 3 members;
#  2. status shows each unit's host address, `cluster env` a PgBouncer on one of the hosts;
#  3. a refresh from outside the hosts, under a write load through PgBouncer: 0 failed transactions,
#     every acknowledged id on every unit;
#  4. secure by default (issue 10 §2): a certificate per host (its address its SAN, signed by the CA
#     whose key stays in the CLI's DIR/pki), each host's keys and secrets 0600 and the service user's in
#     its own directory; etcd's client and peer links TLS with users; Patroni's REST API https with
#     authentication, verified by the CLI; each host's Patroni and agent their own etcd users
#     (patroni-hN, pgrefresh-hN), whose passwords only that host has: another host's refused;
#     PgBouncer's admin console by SCRAM; pg_hba the hosts' /28
#     only, never trust; no secret on any command line, in any log, in status or config; PostgreSQL not
#     root; a wrong pgrefresh etcd password in the CLI's secrets: one line naming it, nothing changed;
#     another CA in the CLI's place: the hosts' certificates refused, naming the CA file;
#     remove-unit of a host that runs an etcd member refused with one line (add-unit and remove-unit:
#     t_96_hosts_units);
#  5. destroy leaves no namespace, bridge, veth or process;
#  6. `--insecure` opts out: plain http, no certificates, and status and cluster env say so.
# Root only (namespaces): elsewhere it says so in one line and is skipped.
if [ "$(id -u)" != 0 ] || ! [ -x /usr/sbin/ip ]; then
	echo "# SKIP t_95_hosts: needs root and iproute2 to make network namespaces"
	exit 0
fi
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"
. "$(dirname "$0")/lib_secure.sh"
. "$(dirname "$0")/lib_hosts.sh"
trap 'hosts_cleanup; lib_cleanup' EXIT

step "cluster create --hosts 3 on $LOW"
need_versions "$LOW" "$HIGH"
hosts_create "$T/c" 3
ok "created: $(head -n 1 <<<"$OUT")"
wait_healthy 60

step "the hosts: 3 namespaces on bridge pgr-$TAG, each with its address in 198.18.0.0/24"
NET=$(conf_value hosts_net)
assert_match "$NET" '^198\.18\.0\.[0-9]+/28$' "hosts_net"
BR_ADDR=$(ip -4 -o addr show dev "pgr-$TAG" | awk '{print $4}')
assert_match "$BR_ADDR" '^198\.18\.0\.[0-9]+/28$' "the bridge's address"
mapfile -t NSES < <(ip netns list | awk '{print $1}' | grep -F "pgr-$TAG-" | sort)
assert_eq "${#NSES[@]}" 3 "namespaces pgr-$TAG-h*"
mapfile -t ADDRS < <(json_get "$(status_json)" "'\\n'.join(u['host'] for u in d['units'])")
assert_eq "$(printf '%s\n' "${ADDRS[@]}" | sort -u | wc -l)" 3 "distinct unit host addresses in status json"
for i in 0 1 2; do
	ns=pgr-$TAG-h$i
	got=$(ip -n "$ns" -4 -o addr show dev eth0 | awk '{print $4}')
	assert_eq "$got" "${ADDRS[$i]}/28" "address of $ns (pg/$i's host in status)"
	assert_eq "$(ip -n "$ns" -br link show lo | awk '{print $2}')" UNKNOWN "loopback up in $ns"
done
pgr_ok status --dir "$C"
for a in "${ADDRS[@]}"; do assert_contains "$OUT" "$a" "status shows host $a"; done
ENV=$("$PGR" cluster env --dir "$C")
PGHOST_=$(sed -n 's/^export PGHOST=//p' <<<"$ENV")
printf '%s\n' "${ADDRS[@]}" | grep -qxF "$PGHOST_" || fail "cluster env names PGHOST=$PGHOST_, not a host's address"
ok "cluster env: PgBouncer on host $PGHOST_"

step "each host runs its etcd member, agent, Patroni, PostgreSQL and PgBouncer, in its own directory only"
# files this scenario itself was started with (e.g. the lock of tests' `flock`): daemons inherit them from
# whoever runs pgrefresh, not from pgrefresh; named, not counted
INHERITED=$(for fd in /proc/$$/fd/*; do readlink "$fd" 2>/dev/null; done | grep '^/' | grep -v '^/dev/' | sort -u || true)
[ -z "$INHERITED" ] || echo "# files the scenario inherited (not judged): $(echo $INHERITED)"
for i in 0 1 2; do
	ns=pgr-$TAG-h$i
	hdir=$(realpath "$C/hosts/h$i")
	mapfile -t PIDS < <(ip netns pids "$ns")
	comms=$(for p in "${PIDS[@]}"; do cat "/proc/$p/comm" 2>/dev/null; done | sort -u | tr '\n' ' ')
	for want in etcd pgbouncer pgrefresh patroni postgres; do
		[[ " $comms" == *" $want"* ]] || fail "$ns runs no $want (it runs: $comms)"
	done
	for p in "${PIDS[@]}"; do
		cwd=$(readlink "/proc/$p/cwd") || continue # gone meanwhile (a backend)
		[ "$(stat -c %U "/proc/$p")" != root ] || fail "pid $p ($(cat "/proc/$p/comm")) on $ns runs as root"
		case "$cwd/" in "$hdir"/*) ;; *) fail "pid $p ($(cat "/proc/$p/comm")) on $ns works in $cwd, outside $hdir" ;; esac
		for fd in /proc/$p/fd/*; do
			f=$(readlink "$fd" 2>/dev/null) || continue
			case "$f" in /*) ;; *) continue ;; esac # sockets, pipes, anon inodes
			grep -qxF "$f" <<<"$INHERITED" && continue
			case "$f" in /dev/* | /proc/* | "$hdir"/*) ;; *) fail "pid $p ($(cat "/proc/$p/comm")) on $ns holds $f, outside $hdir" ;; esac
		done
	done
	ok "$ns (${ADDRS[$i]}): ${#PIDS[@]} processes ($comms), every cwd and open file under hosts/h$i"
done

step "secure by default: the CA's key with the CLI only, a certificate per host, keys and secrets 0600"
CA=$C/pki/ca.crt
[ -f "$C/pki/ca.key" ] || fail "the CA's key is not in the CLI's $C/pki"
assert_contains "$(conf_value etcd)" "https://${ADDRS[0]}:2379" "the CLI's etcd endpoints"
SERVICE_USER=$(stat -c %U "$C/hosts/h0/units/pg-0/patroni.yml")
[ "$SERVICE_USER" != root ] || fail "the hosts' files are root's"
for i in 0 1 2; do
	h=$C/hosts/h$i
	[ ! -e "$h/pki/ca.key" ] || fail "host h$i holds the CA's key"
	[ ! -e "$h/secrets.d/etcd_root" ] || fail "host h$i holds etcd's root password"
	openssl verify -CAfile "$CA" -verify_ip "${ADDRS[$i]}" "$h/pki/server.crt" >/dev/null ||
		fail "h$i's server certificate does not verify for ${ADDRS[$i]}"
	j=$(((i + 1) % 3))
	! openssl verify -CAfile "$CA" -verify_ip "${ADDRS[$j]}" "$h/pki/server.crt" >/dev/null 2>&1 ||
		fail "h$i's server certificate verifies for h$j's address ${ADDRS[$j]}"
	cmp -s "$CA" "$h/pki/ca.crt" || fail "h$i's ca.crt is not the cluster's CA"
	for f in "$h"/pki/*.key "$h"/secrets.d/* "$h"/secrets; do
		assert_eq "$(stat -c '%a %U' "$f")" "600 $SERVICE_USER" "mode and owner of ${f#$C/}"
	done
	grep -q "^etcd = https://${ADDRS[$i]}:2379,https://" "$h/pgrefresh.conf" || fail "h$i's etcd endpoints do not start with its own"
	grep -q "\"${ADDRS[$i]}:2379,.*:2379,.*:2379\"" "$h/units/pg-$i/patroni.yml" ||
		fail "h$i's Patroni is not given every etcd member, its own first: $(grep etcd3 "$h/units/pg-$i/patroni.yml" | cut -c1-80)"
done
ok "3 hosts: each its own certificate (its address), the CA's certificate, its secrets 0600 $SERVICE_USER's; no CA key, no etcd root password"

step "etcd: TLS both ways across the members, users; Patroni's REST API: https, verified, authenticated"
ETCD_CURL() { curl -s --max-time 5 --cacert "$CA" --cert "$C/pki/pgrefresh.crt" --key "$C/pki/pgrefresh.key" "$@"; }
MEMBERS=$(ETCD_CURL -X POST "https://${ADDRS[0]}:2379/v3/cluster/member/list" -d '{}' |
	python3 -c 'import json, sys; print(" ".join(sorted(u for m in json.load(sys.stdin)["members"] for u in m["peerURLs"])))')
assert_eq "$(wc -w <<<"$MEMBERS")" 3 "etcd members"
[[ "$MEMBERS" != *http:* ]] || fail "an etcd peer URL is plain http: $MEMBERS"
ok "etcd peers: $MEMBERS"
curl -sf -o /dev/null --max-time 5 "http://${ADDRS[1]}:2379/health" && fail "etcd answered plain http"
curl -sf -o /dev/null --max-time 5 --cacert "$CA" "https://${ADDRS[1]}:2379/health" && fail "etcd answered without a client certificate"
ok "etcd: plain http and a client without a certificate refused"
R=$(ETCD_CURL -X POST "https://${ADDRS[1]}:2379/v3/kv/range" -d '{"key":"Lw=="}')
assert_contains "$R" "user name is empty" "etcd with a certificate but no user"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://${ADDRS[2]}:8008/patroni" || true)
[ "$CODE" != 200 ] || fail "Patroni answered plain http"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$CA" "https://${ADDRS[2]}:8008/patroni")" 200 \
	"Patroni's https, verified against the cluster's CA"
PRIMARY=$(units_with_role primary)
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$CA" -X POST "https://${ADDRS[2]}:8008/switchover" \
	-d "{\"leader\":\"$(tr / - <<<"$PRIMARY")\"}")
assert_eq "$CODE" 401 "Patroni's /switchover without credentials"

step "each host's Patroni and agent have etcd users of their own: another host's password is refused"
etcd_auth() { # USER SECRET-FILE: etcd's answer to USER authenticating with that file's password (by stdin)
	printf '{"name":"%s","password":"%s"}' "$1" "$(head -n 1 "$2")" |
		ETCD_CURL -X POST "https://${ADDRS[0]}:2379/v3/auth/authenticate" -d @-
}
[ ! -e "$C/secrets.d/etcd_patroni" ] || fail "the CLI's directory holds a Patroni etcd password"
for i in 0 1 2; do
	h=$C/hosts/h$i
	grep -qx "etcd_user = pgrefresh-h$i" "$h/pgrefresh.conf" || fail "h$i's agent is not etcd user pgrefresh-h$i"
	grep -q "username: \"patroni-h$i\"" "$h/units/pg-$i/patroni.yml" || fail "h$i's Patroni is not etcd user patroni-h$i"
	j=$(((i + 1) % 3))
	for s in etcd_patroni etcd_pgrefresh; do
		! cmp -s "$h/secrets.d/$s" "$C/hosts/h$j/secrets.d/$s" || fail "h$i and h$j share their $s password"
	done
	assert_contains "$(etcd_auth "pgrefresh-h$i" "$h/secrets.d/etcd_pgrefresh")" '"token"' "pgrefresh-h$i with its own password"
	assert_contains "$(etcd_auth "pgrefresh-h$j" "$h/secrets.d/etcd_pgrefresh")" "authentication failed" \
		"pgrefresh-h$j with h$i's password"
	assert_contains "$(etcd_auth "patroni-h$j" "$h/secrets.d/etcd_patroni")" "authentication failed" \
		"patroni-h$j with h$i's password"
	assert_contains "$(etcd_auth pgrefresh "$h/secrets.d/etcd_pgrefresh")" "authentication failed" \
		"the CLI's user pgrefresh with h$i's password"
done
R=$(etcd_auth "patroni-h0" "$C/hosts/h0/secrets.d/etcd_patroni" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
PUT=$(printf '{"key":"%s","value":"eA=="}' "$(printf /pgrefresh/pg/x | base64)" |
	ETCD_CURL -H "Authorization: $R" -X POST "https://${ADDRS[0]}:2379/v3/kv/put" -d @-)
assert_contains "$PUT" "permission denied" "Patroni's user patroni-h0 writing under /pgrefresh/"
ok "3 hosts: each its own etcd users and passwords; grants as before (Patroni's user limited to /service/)"

step "PgBouncer's admin console by SCRAM; PostgreSQL: pg_hba the hosts' /28, no trust; wrong passwords refused"
grep -q '^"pgbouncer_admin" "SCRAM-SHA-256\$4096:' "$C/hosts/h1/pgbouncer/userlist.txt" || fail "h1's userlist.txt has no SCRAM secret for pgbouncer_admin"
printf '*:*:*:pgbouncer_admin:wrong\n' >"$T/wrong.pgpass" && chmod 600 "$T/wrong.pgpass"
R=$(PGPASSFILE=$T/wrong.pgpass PGCONNECT_TIMEOUT=5 "$PSQL" -X -w -h "${ADDRS[1]}" -p 6432 -U pgbouncer_admin -d pgbouncer -c 'SHOW VERSION' 2>&1 || true)
assert_contains "$R" "authentication failed" "PgBouncer's admin console with a wrong password"
HBA=$(psql_unit "$PRIMARY" "select string_agg(r, ', ' order by r) from (select distinct type || ' ' || coalesce(address, '') || '/' || coalesce(netmask, '') || ' ' || auth_method as r from pg_hba_file_rules) s")
assert_eq "$HBA" "host $(cut -d/ -f1 <<<"$NET")/255.255.255.240 scram-sha-256, local / peer" "pg_hba's rules"
R=$(PGPASSWORD=wrong PGCONNECT_TIMEOUT=5 "$PSQL" -X -w -h "$(unit_field "$PRIMARY" host)" -p 5432 -U postgres -c 'select 1' 2>&1 || true)
assert_contains "$R" "password authentication failed" "PostgreSQL with a wrong password"

step "refresh $LOW -> $HIGH from outside the hosts, under a write load through PgBouncer"
psql_bouncer "create table ledger(id bigint primary key, client int not null, at timestamptz not null)" >/dev/null
set_pause none
start_load "$T/load" 0
sleep 2
start_refresh --version "$HIGH"
wait_refresh 240 idle
stop_load "$T/load"
assert_all_on "$HIGH" "after the refresh across hosts"
assert_load_clean "$T/load" 10000
assert_ids_on_all "$T/load/ids.txt"

step "no secret on any command line, in any log, in status, status JSON or config"
SHOWN=$(shown_by "$C") || fail "status, config or cluster env failed"
assert_secrets_hidden "$C" 12 "$SHOWN"
[[ "$SHOWN" != *insecure* ]] || fail "status or cluster env calls the default cluster insecure"

step "a wrong pgrefresh etcd password in the CLI's secrets: one line naming it, nothing changed"
BEFORE=$(pgr_run config --dir "$C"; printf '%s' "$OUT")
with_wrong_secret "$C" etcd_pgrefresh wrong-password-0123456789 config set --dir "$C" pause-after-unit-refresh=all
assert_user_error "config set with a wrong etcd password"
assert_contains "$ERR" "etcd refused pgrefresh's credentials (user pgrefresh)" "the error"
AFTER=$(pgr_run config --dir "$C"; printf '%s' "$OUT")
assert_eq "$AFTER" "$BEFORE" "the settings after the refused command"

step "the CLI verifies the hosts' certificates: with another CA in its place, refused, naming it"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/other-ca.key" -out "$T/other-ca.crt" \
	-subj "/CN=not the cluster's CA" -days 1 2>/dev/null || fail "openssl could not make a CA"
cp -p "$C/pki/ca.crt" "$T/ca.crt.kept"
cp "$T/other-ca.crt" "$C/pki/ca.crt"
pgr_run status --dir "$C"
cp -p "$T/ca.crt.kept" "$C/pki/ca.crt"
assert_user_error "status with another CA"
assert_contains "$ERR" "server certificate not trusted by CA file $C/pki/ca.crt" "the error"
pgr_ok status --dir "$C"

step "remove-unit of a host that runs an etcd member: refused, one line and a hint"
pgr_run remove-unit --dir "$C" pg/2
assert_user_error "remove-unit of an etcd member's host"
assert_rc 6 "remove-unit of an etcd member's host"
assert_contains "$ERR" "runs a member of the cluster's etcd" "the error"
assert_eq "$(json_get "$(status_json)" "len(d['units'])")" 3 "units after the refused command"
pgr_run cluster create --hosts 3 --secure --insecure --dir "$T/never" --version "$LOW"
assert_user_error "cluster create --secure --insecure"
[ ! -e "$T/never" ] || fail "a refused create made $T/never"

step "cluster destroy: no namespace, bridge, veth or process left"
ALL=$(for ns in "${NSES[@]}"; do ip netns pids "$ns"; done | tr '\n' ' ')
# stopped first, so that the daemons' logs (sanitizer reports at exit included) are kept for lib.sh
pgr_ok cluster stop --dir "$C"
mkdir -p "$T/hosts-logs" && (cd "$C" && find . -name '*.log' -exec cp --parents {} "$T/hosts-logs/" \;)
pgr_ok cluster destroy --dir "$C"
for p in $ALL; do
	pid_alive "$p" && fail "pid $p still runs after destroy: $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-120)"
done
ok "none of the $(wc -w <<<"$ALL") processes of the hosts runs"
LEFT=$(hosts_leftovers)
[ -z "$LEFT" ] || fail "left after destroy: $LEFT"
ok "no namespace, bridge or veth named after $TAG"
[ ! -e "$C" ] || fail "$C still there: $(ls -A "$C")"
ok "$C removed"

step "cluster create --hosts 3 --insecure: the opt-out, plain http, and status and cluster env say so"
hosts_create "$T/plain" 3 --insecure
assert_match "$(conf_value etcd)" '^http://198\.18\.0\.' "the CLI's etcd endpoints"
[ ! -e "$C/pki" ] && [ ! -e "$C/hosts/h0/pki" ] || fail "an insecure cluster has certificates"
pgr_ok status --dir "$C"
assert_contains "$OUT" "Security insecure (made with --insecure): no TLS" "status"
assert_contains "$(json_get "$(status_json)" "d['security']")" "insecure" "status --format json's security"
assert_contains "$("$PGR" cluster env --dir "$C")" "# cluster pg is insecure (made with --insecure)" "cluster env"
pgr_ok cluster destroy --dir "$C"
LEFT=$(hosts_leftovers)
[ -z "$LEFT" ] && [ ! -e "$C" ] || fail "left after destroy: $LEFT $(ls -A "$C" 2>/dev/null)"
ok "destroyed: nothing left"
