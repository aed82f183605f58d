#!/usr/bin/env bash
# Per-unit facts are each unit's agent's, judged from its report alone: a unit whose own catalog lacks
# the target, one whose target does not run on its host, and one whose target lacks an extension that a
# database uses each make pre-refresh-check name that unit (and only it), while the other units' catalog
# (the cluster's) has a complete target. Each unit's catalog is hidden from the others: the unit's own
# `units/<member>/catalog` directory, which its agent reads instead of the cluster's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
etcdctl_c() { ETCDCTL_API=3 etcdctl --endpoints="$(etcd_url)" --command-timeout=3s "$@"; }
# reported MEMBER PYEXPR: PYEXPR over the unit's report in etcd (r: its JSON)
reported() {
	etcdctl_c get --print-value-only "/pgrefresh/pg/units/$1" |
		python3 -c "import json, sys; r = json.load(sys.stdin); print($2)" 2>/dev/null
}
reported_is() { [ "$(reported "$1" "$2")" = "$3" ]; }
# own_catalog MEMBER: an own catalog for MEMBER (made aside, see publish) holding LOW; the caller adds HIGH or not
own_catalog() {
	local dir=$C/units/$1/catalog.new v
	rm -rf "$dir" && mkdir -p "$dir"
	ln -s "$(readlink -f "$PGREFRESH_CATALOG/$LOW")" "$dir/$LOW"
	echo "$dir"
}
# publish MEMBER: the own catalog made by own_catalog becomes MEMBER's at once
publish() { rm -rf "$C/units/$1/catalog" && mv "$C/units/$1/catalog.new" "$C/units/$1/catalog"; }
unpublish() { rm -rf "$C/units/$1/catalog"; }
# precheck: pre-refresh-check --version HIGH; its output in OUT, exit in RC
precheck() { pgr_run pre-refresh-check --dir "$C" --version "$HIGH"; }
# workload_problems: the failing workload checks of the last precheck, one a line
workload_problems() { grep -E '^  (present-on-every-unit|runnable|extensions-present):' <<<"$OUT" || true; }
# refused_naming UNIT NEEDLE: the last precheck exited 3 (not ready), its workload problems (in P) hold
# NEEDLE and name UNIT and no other unit
refused_naming() {
	local u
	assert_rc 3 "pre-refresh-check exit"
	P=$(workload_problems)
	assert_contains "$P" "$2" "problems"
	for u in pg/0 pg/1 pg/2; do
		if [ "$u" = "$1" ]; then assert_contains "$P" "$u" "problems"; else assert_not_contains "$P" "$u" "problems"; fi
	done
	ok "$P"
}

step "a 3-unit cluster on $LOW, the cluster's catalog holding $LOW and $HIGH"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 30
HROOT=$(readlink -f "$PGREFRESH_CATALOG/$HIGH")
for m in pg-0 pg-1 pg-2; do
	wait_until 10 reported_is "$m" "[f['runnable'] for f in r['facts'] if f['version'] == '$HIGH']" "[True]" ||
		fail "$m does not report $HIGH runnable: $(reported "$m" "r.get('facts')" | cut -c1-300)"
done
N=$(reported pg-0 "len([f for f in r['facts'] if f['version'] == '$HIGH'][0]['extensions'])")
ok "every unit reports $HIGH runnable, with $N extensions"
[ "$N" -gt 10 ] || fail "$HIGH offers only $N extensions by pg-0's report"
BYTES=$(etcdctl_c get --print-value-only /pgrefresh/pg/units/pg-0 | wc -c)
ok "pg-0's report with the facts of 2 versions: $BYTES bytes"
[ "$BYTES" -lt 8192 ] || fail "pg-0's report is $BYTES bytes: a report stays within a few kB"
precheck
assert_eq "$(workload_problems)" "" "workload problems with every catalog complete (pre-refresh-check: $OUT)"

step "pg/1's own catalog lacks $HIGH: pre-refresh-check names pg/1, and only it"
own_catalog pg-1 >/dev/null
publish pg-1
wait_until 10 reported_is pg-1 "'$HIGH' in r['catalog']" False || fail "pg-1 still reports $HIGH"
precheck
refused_naming pg/1 "present-on-every-unit: $HIGH is not in the catalog of pg/1: add it on that host"
unpublish pg-1
wait_until 10 reported_is pg-1 "'$HIGH' in r['catalog']" True || fail "pg-1 does not report $HIGH again"

step "pg/2's $HIGH does not run on its host (bin/psql missing there): pre-refresh-check names pg/2"
D=$(own_catalog pg-2)
mkdir -p "$T/broken/bin"
for f in "$HROOT"/bin/*; do [ "$(basename "$f")" = psql ] || ln -s "$f" "$T/broken/bin/"; done
ln -s "$T/broken" "$D/$HIGH"
publish pg-2
wait_until 10 reported_is pg-2 "[f['runnable'] for f in r['facts'] if f['version'] == '$HIGH']" "[False]" ||
	fail "pg-2 does not report $HIGH as not runnable: $(reported pg-2 "r.get('facts')" | cut -c1-300)"
precheck
refused_naming pg/2 "runnable: $HIGH does not run on pg/2"
assert_contains "$P" "psql" "problems"
unpublish pg-2

step "pg/0's $HIGH lacks hstore, which a database uses: pre-refresh-check names pg/0 and the extension"
psql_bouncer "create extension hstore" >/dev/null
D=$(own_catalog pg-0)
MAJOR=${HIGH%%.*}
mkdir -p "$T/nohstore/usr/lib/postgresql/$MAJOR" "$T/nohstore/usr/share/postgresql/$MAJOR/extension"
ln -s "$HROOT/bin" "$T/nohstore/usr/lib/postgresql/$MAJOR/bin"
for f in "$HROOT"/../../../share/postgresql/"$MAJOR"/extension/*; do
	case $(basename "$f") in hstore.control | hstore--*) ;; *) ln -s "$(readlink -f "$f")" "$T/nohstore/usr/share/postgresql/$MAJOR/extension/" ;; esac
done
ln -s "$T/nohstore/usr/lib/postgresql/$MAJOR" "$D/$HIGH"
publish pg-0
wait_until 10 reported_is pg-0 "[('hstore' in f['extensions'], f['runnable']) for f in r['facts'] if f['version'] == '$HIGH']" "[(False, True)]" ||
	fail "pg-0 does not report $HIGH runnable without hstore: $(reported pg-0 "r.get('facts')" | cut -c1-300)"
precheck
refused_naming pg/0 "extensions-present: $HIGH lacks extension hstore (in postgres) on pg/0:"

step "the refresh itself is refused by the same checks, nothing recorded on any unit: incompatible, rolled back"
pgr_run refresh --dir "$C" --version "$HIGH"
assert_rc 5 "refresh exit"
assert_contains "$ERR" "hstore" "error names the extension"
assert_contains "$ERR" "pg/0" "error names the unit"
pgr_ok rollback --dir "$C"
wait_refresh 60 rolled-back
unpublish pg-0
psql_bouncer "drop extension hstore" >/dev/null
wait_until 10 reported_is pg-0 "[('hstore' in f['extensions']) for f in r['facts'] if f['version'] == '$HIGH']" "[True]" ||
	fail "pg-0 does not report hstore in $HIGH again"
precheck
assert_eq "$(workload_problems)" "" "workload problems once every unit's catalog is whole again ($OUT)"
