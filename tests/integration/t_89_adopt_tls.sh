#!/usr/bin/env bash
# t_89_adopt_tls — the Debian-style cluster of t_87 with TLS and passwords where users have them
# (lib_debian.sh's tls bed: the user's CA, etcd over https with authentication, Patroni's REST API over https
# with restapi.authentication, ctl.cacert): adopt translates them with no hand edits, pre-refresh-check and a
# refresh $LOW -> $HIGH under a writer pass (0 failed, 0 missing), unadopt gives the units back. No password
# is on a command line, in a log, in status; a wrong password or an unreadable file in the config is one
# line naming it, and nothing changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"
. "$(dirname "$0")/lib_debian.sh"

trap 'rc=$?; set +e; debian_bed_stop; (exit $rc); lib_cleanup' EXIT

ETC=$T/etc/pgrefresh
confdir() { printf '%s/15-main-%s\n' "$ETC" "$1"; }
vnum() { printf '%d\n' $(( ${1%%.*} * 10000 + ${1#*.} )); }
sums() { sha256sum "${BED_CONFIG[@]}" | awk '{print $1}' | paste -sd,; }
bed_env() {
	export PGHOST=127.0.0.1 PGPORT=$BED_PGB_PORT PGUSER=postgres PGDATABASE=postgres PGPASSWORD=$BED_SUPERPW
}
psql_bed() { (bed_env && "$PSQL" -X -A -t -v ON_ERROR_STOP=1 -c "$1"); }
psql_member() { (bed_env && PGPORT=${BED_PG_PORT[$1]} && "$PSQL" -X -A -t -v ON_ERROR_STOP=1 -c "$2"); }
member_has_ids() { # I FILE
	[ "$(psql_member "$1" "select count(*) from ledger where id in ($(paste -sd, "$2"))")" = "$(wc -l <"$2")" ]
}
# no password of the bed's in any process's command line, in any log, or in the text given
no_password_in() { # WHAT TEXT
	local pw f
	for pw in "$BED_API_PW" "$BED_ETCD_PW" "$BED_ROOT_PW"; do
		[[ "$2" != *"$pw"* ]] || fail "$1 holds a password"
		for f in /proc/[0-9]*/cmdline; do
			if tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "$pw"; then
				fail "a password on the command line of pid $(basename "$(dirname "$f")"): $(tr '\0' ' ' <"$f")"
			fi
		done
		f=$(find "$T" -name '*.log' -type f -exec grep -lF -- "$pw" {} + 2>/dev/null | head -n 1 || true)
		[ -z "$f" ] || fail "a password in the log $f"
	done
	ok "no password in $1, in any log or on any command line"
}

step "a Debian-style Patroni cluster on $LOW with TLS and passwords; the catalog has only $HIGH"
debian_bed "$LOW" 3 tls
need_versions "$HIGH"
assert_contains "$(bed_api "${BED_API_PORT[0]}" /cluster)" "https://127.0.0.1:${BED_API_PORT[0]}/patroni" \
	"Patroni's REST API is https"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$BED_CA" -XPOST \
	"https://127.0.0.1:${BED_API_PORT[0]}/reload")" = 401 ] || fail "Patroni's REST API takes a POST without credentials"
! bed_etcdctl get --prefix / --keys-only >/dev/null 2>&1 || fail "the bed's etcd answers without credentials"
ok "etcd and Patroni want TLS and credentials"
BEFORE=$(sums)

step "refusals: a wrong password, an unreadable file; each one line naming it, nothing changed"
sed "s/password: \"$BED_API_PW\"/password: \"wrong-api-pw\"/" "${BED_CONFIG[0]}" >"$T/wrong-api.yml"
pgr_run adopt --config "$T/wrong-api.yml" --dir "$(confdir 0)"
assert_user_error "a wrong REST API password"
assert_rc 6
assert_contains "$ERR" "restapi.authentication" "names the credential"
sed "s/password: \"$BED_ETCD_PW\"/password: \"wrong-etcd-pw\"/" "${BED_CONFIG[0]}" >"$T/wrong-etcd.yml"
pgr_run adopt --config "$T/wrong-etcd.yml" --dir "$(confdir 0)"
assert_user_error "a wrong etcd password"
assert_rc 6
assert_contains "$ERR" "etcd3.username/password (user patroni)" "names the credential"
no_password_in "the refusals' output" "$OUT$ERR"
cp "$BED_CA" "$T/root-only-ca.crt"
chmod 0600 "$T/root-only-ca.crt"
sed "s,cacert: $BED_CA,cacert: $T/root-only-ca.crt," "${BED_CONFIG[0]}" >"$T/unreadable.yml"
pgr_run adopt --config "$T/unreadable.yml" --dir "$(confdir 0)"
assert_user_error "a CA file the agent cannot read"
assert_rc 6
assert_contains "$ERR" "$T/root-only-ca.crt, which pgrefresh's agent (user postgres) cannot read" "names the file"
[ ! -e "$ETC" ] || fail "a refused adopt wrote $ETC"
assert_eq "$(sums)" "$BEFORE" "the Patroni configs are untouched"

step "adopt each unit: TLS and passwords translated, secrets 0600"
for i in 0 1 2; do
	pgr_ok adopt --config "${BED_CONFIG[$i]}" --dir "$(confdir "$i")" --pgbouncer "127.0.0.1:$BED_PGB_PORT" \
		--pgbouncer-config "$T/deb/pgbouncer/pgbouncer.ini"
	no_password_in "adopt's output" "$OUT$ERR"
	c=$(confdir "$i")
	assert_eq "$(grep -E '^(etcd_|patroni_)' "$c/pgrefresh.conf" | sort | paste -sd';')" \
		"etcd_ca = $BED_CA;etcd_password_secret = etcd_patroni;etcd_user = patroni;patroni_auth_secret = patroni_api;patroni_ca = $BED_CA" \
		"node$i: pgrefresh.conf's security keys"
	assert_eq "$(stat -c '%a %U' "$c/secrets.d/etcd_patroni" "$c/secrets.d/patroni_api" | paste -sd,)" \
		"600 postgres,600 postgres" "node$i: the secrets are 0600, the agent's"
	# compared, never printed
	[ "$(cat "$c/secrets.d/patroni_api")" = "patroni:$BED_API_PW" ] || fail "node$i: secret patroni_api is not the REST API's"
	[ "$(cat "$c/secrets.d/etcd_patroni")" = "$BED_ETCD_PW" ] || fail "node$i: secret etcd_patroni is not the etcd password"
	ok "node$i: the secrets hold the REST API's credentials and the etcd password"
done
bed_restart_patroni
C=$(confdir 0)

step "every unit reports; pre-refresh-check passes"
all_reporting() {
	local s
	s=$(status_json) || return 1
	[ "$(json_get "$s" "sorted(u['state'] for u in d['units'])")" = '["active", "active", "active"]' ]
}
wait_until 60 all_reporting || fail "the adopted units do not all report: $(status_json)"
pgr_ok pre-refresh-check --dir "$C"
ok "pre-refresh-check: $(head -n 1 <<<"$OUT")"

step "refresh $LOW -> $HIGH under a writer through the user's PgBouncer"
psql_bed "create table ledger(id bigint primary key, client int not null, at timestamptz not null)" >/dev/null
LC=$T/loadclient
cc -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags libpq) "$ROOT/bench/loadclient.c" -o "$LC" \
	$(pkg-config --libs libpq) -lpthread || fail "could not build bench/loadclient.c"
mkdir -p "$T/load"
(bed_env && exec "$LC" --out "$T/load" --clients 4 --rate 200 --id-base 1000000 --stop-file "$T/load/stop" \
	>"$T/load/stdout" 2>"$T/load/stderr") &
LOAD_PID=$!
HOLDERS+=("$LOAD_PID")
pgr_ok config set pause-after-unit-refresh=none --dir "$C"
T0=$SECONDS
pgr_ok refresh --version "$HIGH" --dir "$C"
pgr_run wait idle --timeout 150 --dir "$C"
[ "$RC" = 0 ] || fail "the refresh did not complete (wait exited $RC): $(status_json)"
ok "refreshed in $((SECONDS - T0)) s"
stop_load "$T/load"
assert_load_clean "$T/load" 5000
cp "$T/load/ids.txt" "$T/acked"
for i in 0 1 2; do
	wait_until 20 member_has_ids "$i" "$T/acked" || fail "node$i lacks acknowledged ids"
done
ok "all $(wc -l <"$T/acked") acknowledged ids on every member"
assert_eq "$(bed_versions)" "node0=$(vnum "$HIGH") node1=$(vnum "$HIGH") node2=$(vnum "$HIGH")" "every member runs $HIGH"
no_password_in "status" "$(status_json)$(pgr_run status --dir "$C"; printf '%s' "$OUT")"

step "unadopt each unit onto the catalog's $HIGH"
for i in 0 1 2; do
	pgr_ok unadopt --dir "$(confdir "$i")" --bin-dir catalog
	[ ! -e "$(confdir "$i")" ] || fail "unadopt left $(confdir "$i"): $(ls -R "$(confdir "$i")")"
	assert_contains "$(grep 'bin_dir: ' "${BED_CONFIG[$i]}")" "$T/catalog/$HIGH/bin" "node$i: bin_dir the catalog's $HIGH"
done
no_password_in "unadopt's output" "$OUT$ERR"
bed_restart_patroni
wait_until 30 bed_healthy 3 || fail "the cluster is not healthy after unadopt"
assert_eq "$(bed_versions)" "node0=$(vnum "$HIGH") node1=$(vnum "$HIGH") node2=$(vnum "$HIGH")" "every member runs $HIGH"
debian_bed_stop
