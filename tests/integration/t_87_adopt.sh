#!/usr/bin/env bash
# t_87_adopt — a Patroni cluster set up the Debian way (lib_debian.sh: configs from Debian's template, the
# user's etcd and PgBouncer, files pgrefresh did not write) is adopted unit by unit, refreshed
# $LOW → $HIGH under a writer through the user's PgBouncer (0 failed, 0 missing), and given back: Patroni
# still runs it, on $HIGH from the catalog's copy. On the way, every refusal changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"
. "$(dirname "$0")/lib_debian.sh"

# the bed's processes are stopped (by pid) before lib.sh's cleanup, which counts whatever it must reap
trap 'rc=$?; set +e; debian_bed_stop; (exit $rc); lib_cleanup' EXIT

ETC=$T/etc/pgrefresh
confdir() { printf '%s/15-main-%s\n' "$ETC" "$1"; }
vnum() { printf '%d\n' $(( ${1%%.*} * 10000 + ${1#*.} )); } # 15.18 -> 150018, as Patroni says it
sums() { sha256sum "${BED_CONFIG[@]}" | awk '{print $1}' | paste -sd,; }

# the user's clients: through their PgBouncer
bed_env() {
	export PGHOST=127.0.0.1 PGPORT=$BED_PGB_PORT PGUSER=postgres PGDATABASE=postgres PGPASSWORD=$BED_SUPERPW
}
psql_bed() { (bed_env && "$PSQL" -X -A -t -v ON_ERROR_STOP=1 -c "$1"); }
psql_member() { (bed_env && PGPORT=${BED_PG_PORT[$1]} && "$PSQL" -X -A -t -v ON_ERROR_STOP=1 -c "$2"); }
member_has_ids() { # I FILE
	[ "$(psql_member "$1" "select count(*) from ledger where id in ($(paste -sd, "$2"))")" = "$(wc -l <"$2")" ]
}

step "a Debian-style Patroni cluster on $LOW; the catalog has only $HIGH"
debian_bed "$LOW" 3
need_versions "$HIGH"
assert_eq "$(bed_versions)" "node0=$(vnum "$LOW") node1=$(vnum "$LOW") node2=$(vnum "$LOW")" "every member runs $LOW"
BEFORE=$(sums)
for i in 0 1 2; do cp -p "${BED_CONFIG[$i]}" "$T/orig-$i.yml"; done

step "refusals: each one line and a hint, nothing changed"
pgr_run adopt --config "$T/deb/patroni/none.yml" --dir "$(confdir 0)"
assert_user_error "no Patroni config"
assert_rc 1
sed "s/^  hosts: .*/  hosts: 127.0.0.1:$(bed_port)/" "${BED_CONFIG[0]}" >"$T/no-etcd.yml"
pgr_run adopt --config "$T/no-etcd.yml" --dir "$(confdir 0)"
assert_user_error "etcd unreachable"
assert_rc 7
assert_contains "$ERR" "etcd at http://127.0.0.1:" "names etcd"
sed "s/connect_address: 127.0.0.1:${BED_API_PORT[0]}/connect_address: 127.0.0.1:$(bed_port)/" "${BED_CONFIG[0]}" >"$T/no-patroni.yml"
pgr_run adopt --config "$T/no-patroni.yml" --dir "$(confdir 0)"
assert_user_error "Patroni not running"
assert_rc 7
assert_contains "$ERR" "Patroni of node0 is not running" "names the member"
sed "s,bin_dir: .*,bin_dir: $(version_path "$HIGH")/usr/lib/postgresql/15/bin," "${BED_CONFIG[0]}" >"$T/other-bin.yml"
pgr_run adopt --config "$T/other-bin.yml" --dir "$(confdir 0)"
assert_user_error "bin_dir holds another version than the one running"
assert_rc 6
assert_contains "$ERR" "holds $HIGH but PostgreSQL runs $LOW" "says which"
[ ! -e "$ETC" ] || fail "a refused adopt wrote $ETC"
assert_eq "$(sums)" "$BEFORE" "the Patroni configs are untouched"
assert_eq "$(ls "$T/deb/patroni")" "$(printf '15-main-0.yml\n15-main-1.yml\n15-main-2.yml')" "no backup was written"

step "versions fetch: a version the apt archives lack is refused, naming those they have"
pgr_run versions fetch 15.99 --catalog "$T/fetch-catalog" --cache "$T/fetch-cache"
assert_user_error "versions fetch 15.99"
assert_rc 1
assert_contains "$ERR" "postgresql-15 15.99 is not in this machine's apt archives; they have: " "says so"
for v in $(apt-cache madison postgresql-15 | awk -F'|' '{gsub(/ /, "", $2); sub(/-[^-]*$/, "", $2); print $2}'); do
	assert_contains "$ERR" "$v" "lists $v"
done
[ ! -e "$T/fetch-cache/15.99" ] && [ ! -e "$T/fetch-catalog/15.99" ] || fail "a refused fetch wrote something"

step "adopt --dry-run prints the diff and changes nothing"
pgr_ok adopt --config "${BED_CONFIG[0]}" --dir "$(confdir 0)" --dry-run
assert_contains "$OUT" "-  bin_dir: $BED_BIN_DIR" "the diff's old line"
assert_contains "$OUT" "+  bin_dir: \"$(confdir 0)/units/node0/bin\"" "the diff's new line"
[ ! -e "$ETC" ] || fail "a dry run wrote $ETC"
assert_eq "$(sums)" "$BEFORE" "the Patroni configs are untouched"

step "adopt each unit"
for i in 0 1 2; do
	pgr_ok adopt --config "${BED_CONFIG[$i]}" --dir "$(confdir "$i")" --pgbouncer "127.0.0.1:$BED_PGB_PORT" \
		--pgbouncer-config "$T/deb/pgbouncer/pgbouncer.ini"
	ok "adopted node$i: $(tail -n 1 <<<"$OUT")"
	cmp -s "${BED_CONFIG[$i]}.pgrefresh-orig" "$T/orig-$i.yml" || fail "no backup of ${BED_CONFIG[$i]} as it was"
	assert_eq "$(diff "${BED_CONFIG[$i]}.pgrefresh-orig" "${BED_CONFIG[$i]}" | grep -c '^[<>]')" 2 \
		"node$i: one line of its config changed"
	assert_eq "$(readlink -f "$(confdir "$i")/units/node$i/bin")" \
		"$(readlink -f "$T/catalog/$LOW/bin")" "node$i runs through its link, into the catalog's $LOW"
done
assert_contains "$(readlink -f "$T/catalog/$LOW")" "$T/catalog/.installs/$LOW-copy" "$LOW is a copy in the catalog"
[ -x "$T/catalog/$LOW/bin/psql" ] || fail "the copy lacks the client tools"
pgr_run adopt --config "${BED_CONFIG[1]}" --dir "$(confdir 1)"
assert_user_error "already adopted"
assert_rc 6
bed_restart_patroni
C=$(confdir 0)

step "every unit reports; pre-refresh-check passes"
all_reporting() {
	local s
	s=$(status_json) || return 1
	[ "$(json_get "$s" "sorted(u['state'] for u in d['units'])")" = '["active", "active", "active"]' ]
}
wait_until 60 all_reporting || fail "the adopted units do not all report: $(status_json)"
ok "status: $(json_get "$(status_json)" "[(u['name'], u['role'], u['version']) for u in d['units']]")"
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

step "unadopt: the original bin_dir holds $LOW, so keeping it is refused; --bin-dir catalog gives each unit back"
pgr_run unadopt --dir "$(confdir 0)"
assert_user_error "unadopt onto a bin_dir of another version"
assert_rc 6
assert_contains "$ERR" "--bin-dir catalog" "the hint names the way"
for i in 0 1 2; do
	pgr_ok unadopt --dir "$(confdir "$i")" --bin-dir catalog
	[ ! -e "$(confdir "$i")" ] || fail "unadopt left $(confdir "$i"): $(ls -R "$(confdir "$i")")"
	[ ! -e "${BED_CONFIG[$i]}.pgrefresh-orig" ] || fail "unadopt left the backup of node$i"
	assert_eq "$(grep -c 'bin_dir: ' "${BED_CONFIG[$i]}")" 1 "node$i: one bin_dir"
	assert_contains "$(grep 'bin_dir: ' "${BED_CONFIG[$i]}")" "$T/catalog/$HIGH/bin" "node$i: bin_dir the catalog's $HIGH"
	assert_eq "$(diff "$T/orig-$i.yml" "${BED_CONFIG[$i]}" | grep '^[<>]' | grep -vc 'bin_dir: ')" 0 \
		"node$i: its config as it was but for bin_dir (no tag left)"
done
assert_eq "$(ls "$ETC")" "" "nothing left of what adopt wrote"
bed_restart_patroni
pgr_run status --dir "$(confdir 0)"
[ "$RC" != 0 ] || fail "status still finds a cluster"

step "Patroni still runs the cluster, on $HIGH; a restart keeps $HIGH"
wait_until 30 bed_healthy 3 || fail "the cluster is not healthy after unadopt"
curl -s --max-time 30 -XPOST "http://127.0.0.1:${BED_API_PORT[2]}/restart" >/dev/null
wait_until 30 bed_healthy 3 || fail "not healthy after a restart"
assert_eq "$(bed_versions)" "node0=$(vnum "$HIGH") node1=$(vnum "$HIGH") node2=$(vnum "$HIGH")" "every member runs $HIGH"
assert_eq "$(psql_bed 'select count(*) > 0 from ledger')" t "the ledger answers through PgBouncer"
debian_bed_stop
