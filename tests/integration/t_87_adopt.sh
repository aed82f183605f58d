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

step "a Debian-style Patroni cluster on $LOW; the catalog has only $HIGH"
debian_bed "$LOW" 3
need_versions "$HIGH"
assert_eq "$(bed_versions)" "node0=$(bed_vnum "$LOW") node1=$(bed_vnum "$LOW") node2=$(bed_vnum "$LOW")" "every member runs $LOW"
BEFORE=$(bed_sums)
for i in 0 1 2; do cp -p "${BED_CONFIG[$i]}" "$T/orig-$i.yml"; done

step "refusals: each one line and a hint, nothing changed"
pgr_run adopt --config "$T/deb/patroni/none.yml" --dir "$(bed_confdir 0)"
assert_user_error "no Patroni config"
assert_rc 1
sed "s/^  hosts: .*/  hosts: 127.0.0.1:$(bed_port)/" "${BED_CONFIG[0]}" >"$T/no-etcd.yml"
pgr_run adopt --config "$T/no-etcd.yml" --dir "$(bed_confdir 0)"
assert_user_error "etcd unreachable"
assert_rc 7
assert_contains "$ERR" "etcd at http://127.0.0.1:" "names etcd"
sed "s/connect_address: 127.0.0.1:${BED_API_PORT[0]}/connect_address: 127.0.0.1:$(bed_port)/" "${BED_CONFIG[0]}" >"$T/no-patroni.yml"
pgr_run adopt --config "$T/no-patroni.yml" --dir "$(bed_confdir 0)"
assert_user_error "Patroni not running"
assert_rc 7
assert_contains "$ERR" "Patroni of node0 is not running" "names the member"
sed "s,bin_dir: .*,bin_dir: $(version_path "$HIGH")/usr/lib/postgresql/15/bin," "${BED_CONFIG[0]}" >"$T/other-bin.yml"
pgr_run adopt --config "$T/other-bin.yml" --dir "$(bed_confdir 0)"
assert_user_error "bin_dir holds another version than the one running"
assert_rc 6
assert_contains "$ERR" "holds $HIGH but PostgreSQL runs $LOW" "says which"
bed_assert_unchanged "a refused adopt" "$BEFORE"
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
pgr_ok adopt --config "${BED_CONFIG[0]}" --dir "$(bed_confdir 0)" --dry-run
assert_contains "$OUT" "-  bin_dir: $BED_BIN_DIR" "the diff's old line"
assert_contains "$OUT" "+  bin_dir: \"$(bed_confdir 0)/units/node0/bin\"" "the diff's new line"
bed_assert_unchanged "a dry run" "$BEFORE"

step "adopt each unit"
for i in 0 1 2; do
	bed_adopt "$i"
	ok "adopted node$i: $(tail -n 1 <<<"$OUT")"
	cmp -s "${BED_CONFIG[$i]}.pgrefresh-orig" "$T/orig-$i.yml" || fail "no backup of ${BED_CONFIG[$i]} as it was"
	assert_eq "$(diff "${BED_CONFIG[$i]}.pgrefresh-orig" "${BED_CONFIG[$i]}" | grep -c '^[<>]')" 2 \
		"node$i: one line of its config changed"
	assert_eq "$(readlink -f "$(bed_confdir "$i")/units/node$i/bin")" \
		"$(readlink -f "$T/catalog/$LOW/bin")" "node$i runs through its link, into the catalog's $LOW"
done
assert_contains "$(readlink -f "$T/catalog/$LOW")" "$T/catalog/.installs/$LOW-copy" "$LOW is a copy in the catalog"
[ -x "$T/catalog/$LOW/bin/psql" ] || fail "the copy lacks the client tools"
pgr_run adopt --config "${BED_CONFIG[1]}" --dir "$(bed_confdir 1)"
assert_user_error "already adopted"
assert_rc 6
bed_restart_patroni
C=$(bed_confdir 0)

step "every unit reports; pre-refresh-check passes"
bed_adopted_ready "$C"

step "refresh $LOW -> $HIGH under a writer through the user's PgBouncer"
bed_refresh_under_writer "$C"

step "unadopt: the original bin_dir holds $LOW, so keeping it is refused; --bin-dir catalog gives each unit back"
pgr_run unadopt --dir "$(bed_confdir 0)"
assert_user_error "unadopt onto a bin_dir of another version"
assert_rc 6
assert_contains "$ERR" "--bin-dir catalog" "the hint names the way"
for i in 0 1 2; do
	pgr_ok unadopt --dir "$(bed_confdir "$i")" --bin-dir catalog
	[ ! -e "$(bed_confdir "$i")" ] || fail "unadopt left $(bed_confdir "$i"): $(ls -R "$(bed_confdir "$i")")"
	[ ! -e "${BED_CONFIG[$i]}.pgrefresh-orig" ] || fail "unadopt left the backup of node$i"
	assert_eq "$(grep -c 'bin_dir: ' "${BED_CONFIG[$i]}")" 1 "node$i: one bin_dir"
	assert_contains "$(grep 'bin_dir: ' "${BED_CONFIG[$i]}")" "$T/catalog/$HIGH/bin" "node$i: bin_dir the catalog's $HIGH"
	assert_eq "$(diff "$T/orig-$i.yml" "${BED_CONFIG[$i]}" | grep '^[<>]' | grep -vc 'bin_dir: ')" 0 \
		"node$i: its config as it was but for bin_dir (no tag left)"
done
assert_eq "$(ls "$BED_ETC")" "" "nothing left of what adopt wrote"
bed_restart_patroni
pgr_run status --dir "$(bed_confdir 0)"
[ "$RC" != 0 ] || fail "status still finds a cluster"

step "Patroni still runs the cluster, on $HIGH; a restart keeps $HIGH"
wait_until 30 bed_healthy 3 || fail "the cluster is not healthy after unadopt"
curl -s --max-time 30 -XPOST "http://127.0.0.1:${BED_API_PORT[2]}/restart" >/dev/null
wait_until 30 bed_healthy 3 || fail "not healthy after a restart"
assert_eq "$(bed_versions)" "node0=$(bed_vnum "$HIGH") node1=$(bed_vnum "$HIGH") node2=$(bed_vnum "$HIGH")" "every member runs $HIGH"
assert_eq "$(psql_bed 'select count(*) > 0 from ledger')" t "the ledger answers through PgBouncer"
debian_bed_stop
