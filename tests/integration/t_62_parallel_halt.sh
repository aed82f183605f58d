#!/usr/bin/env bash
# A batch halted, then rolled back (issue 12 section 2, max-parallel-units): a 4-unit cluster on LOW,
# max-parallel-units=2, so the two replicas form batch 1. The first of them cannot start on HIGH (its
# postgresql.auto.conf preloads a library that does not exist), the other can:
#  1. the refresh halts in `failed`, naming the first replica; the other finishes its step and runs HIGH
#     (done in the record, whether it passed its gate before or after the halt); the sync standby and
#     the primary are untouched (same postmasters);
#  2. the library line removed, `pgrefresh rollback`: both replicas of the halted batch back on LOW, in one
#     batch, the cluster healthy, history "rolled back" with the halt's cause.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

step "a 4-unit cluster on $LOW; max-parallel-units=2, pause none, health-timeout-seconds=8"
need_versions "$LOW" "$HIGH"
create_cluster 4 "$LOW"
wait_healthy 60
psql_bouncer "create table t62(id int); insert into t62 values (1)" >/dev/null
set_pause none
pgr_ok config --dir "$C" set max-parallel-units=2 health-timeout-seconds=8
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
read -r BAD GOOD <<<"$(units_with_role replica | sort -t/ -k2 -n -r | tr '\n' ' ')"
pgr_ok refresh --dir "$C" --version "$HIGH" --dry-run --format json
assert_eq "$(json_get "$OUT" "' '.join('%s:%d' % (s['unit'], s['batch']) for s in d['plan'])")" \
	"$BAD:1 $GOOD:1 $SYNC:2 $PRIMARY:3" "the plan: both replicas in batch 1"
STARTS_BEFORE="$(postmaster_start "$PRIMARY") $(postmaster_start "$SYNC")"

step "$BAD cannot start on $HIGH: the refresh halts in failed naming it; $GOOD finishes its step on $HIGH"
AUTO="$(sed -n 's/^  data_dir: //p' "$C/units/$(unit_member "$BAD")/patroni.yml" | tr -d '"')/postgresql.auto.conf"
[ -f "$AUTO" ] || fail "no $AUTO"
echo "shared_preload_libraries = 'pgr_t62_missing' # t_62: $BAD cannot start" >>"$AUTO"
start_refresh --version "$HIGH"
wait_refresh 120 failed
S=$(status_json)
assert_eq "$(json_get "$S" "d['refresh']['state']")" failed "refresh.state"
assert_eq "$(json_get "$S" "d['refresh']['batch']")" 1 "refresh.batch (the halted one)"
assert_contains "$(json_get "$S" "d['refresh']['cause']")" "$BAD failed its health gate" "refresh.cause"
assert_contains "$(json_get "$S" "d['refresh']['message']")" "pgrefresh rollback" "refresh.message"
assert_eq "$(unit_field "$BAD" state)" failed "state of $BAD"
good_done() {
	local s
	s=$(status_json) || return 1
	[ "$(json_get "$s" "['|'.join((u['version'] or '-', u['state'], u['message'])) for u in d['units'] if u['name'] == '$GOOD'][0]")" = \
		"$HIGH|active|Refreshed to $HIGH" ]
}
wait_until 60 good_done || fail "$GOOD did not finish its step on $HIGH in the halted batch: $(status_json)"
ok "$GOOD runs $HIGH, done in the record"
assert_eq "$(refresh_field state)" failed "refresh.state once $GOOD is done"
assert_eq "$(refresh_field done)" 1 "refresh.done"
assert_eq "$(unit_field "$SYNC" version) $(unit_field "$PRIMARY" version)" "$LOW $LOW" "versions of $SYNC and $PRIMARY"
assert_eq "$(postmaster_start "$PRIMARY") $(postmaster_start "$SYNC")" "$STARTS_BEFORE" \
	"postmaster start times of $PRIMARY and $SYNC (untouched)"

step "the library line removed, rollback: both replicas of the batch back on $LOW in one batch"
sed -i '/pgr_t62_missing/d' "$AUTO"
pgr_ok rollback --dir "$C"
S=$(status_json)
wait_refresh 150 rolled-back
assert_all_on "$LOW"
wait_healthy 60
H=$(history_json) || fail "history failed: $ERR"
assert_eq "$(json_get "$H" "d[-1]['outcome']")" "rolled back" "outcome"
assert_eq "$(json_get "$H" "' '.join('%s:%d:%s' % (u['unit'], u['batch'], u['step']) for u in d[-1]['units'])")" \
	"$BAD:1:done $GOOD:1:done" "the rollback's plan: the halted batch's units, one batch, done"
assert_contains "$(json_get "$H" "d[-1]['cause']")" "$BAD failed its health gate" "cause kept in history"
assert_eq "$(psql_bouncer 'select count(*) from t62')" 1 "row through PgBouncer after the rollback"
pgr_ok cluster stop --dir "$C"
