#!/usr/bin/env bash
# The emergency stop: with pause-after-unit-refresh=none, setting it to `all` while the first unit is
# refreshing pauses the refresh after that unit (1/3), not later. Then a rollback of that one unit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

first_unit_refreshing() {
	local s
	s=$(status_json) || return 1
	[ "$(json_get "$s" "d['refresh']['state'] == 'refreshing' and d['refresh']['done'] == 0 and
		[u['state'] for u in d['units'] if u['name'] == d['refresh']['next_unit']] == ['refreshing']")" = true ]
}

step "a 3-unit cluster on $LOW, pause=none"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
REPLICA=$(units_with_role replica)
SYNC=$(units_with_role sync-standby)
set_pause none

step "refresh to $HIGH; as soon as the first unit ($REPLICA) is refreshing: config set pause-after-unit-refresh=all"
start_refresh --version "$HIGH"
# refresh returns once the checks passed and the first unit started: a unit takes seconds, so the stop
# lands while the first unit is in progress
pgr_ok config --dir "$C" set pause-after-unit-refresh=all
assert_eq "$(refresh_field next_unit)" "$REPLICA" "the unit being refreshed"
assert_eq "$(refresh_field done)" 0 "refresh.done when the stop was set (still on the first unit)"

step "the refresh pauses after the unit in progress: 1/3, next $SYNC untouched"
wait_refresh 150 paused
S=$(status_json)
assert_eq "$(json_get "$S" "'%d/%d' % (d['refresh']['done'], d['refresh']['total'])")" 1/3 "progress at the pause"
assert_eq "$(json_get "$S" "d['refresh']['next_unit']")" "$SYNC" "refresh.next_unit"
assert_eq "$(unit_field "$REPLICA" version)" "$HIGH" "version of $REPLICA"
assert_eq "$(unit_field "$SYNC" version)" "$LOW" "version of $SYNC"
assert_eq "$(unit_field "$(units_with_role primary)" version)" "$LOW" "version of the primary"
# it stays paused: no unit is touched while nobody resumes (3 s of polls, all paused 1/3)
for _ in 1 2 3 4 5 6; do
	assert_eq "$(json_get "$(status_json)" "'%s %d' % (d['refresh']['state'], d['refresh']['done'])")" "paused 1" "state"
	sleep 0.5
done
[ "$(readlink -f "$C/units/$(unit_member "$SYNC")/bin")" = "$(readlink -f "$PGREFRESH_CATALOG/$LOW/bin")" ] ||
	fail "the bin link of $SYNC moved: $(readlink "$C/units/$(unit_member "$SYNC")/bin")"
ok "the bin link of $SYNC still names $LOW"

step "every agent frozen (no coordinator): rollback is asked and never taken; it withdraws, exit 4, nothing changed"
FROZEN="$(agent_pid pg/0) $(agent_pid pg/1) $(agent_pid pg/2)"
# shellcheck disable=SC2086
kill -STOP $FROZEN
pgr_run rollback --dir "$C"
# shellcheck disable=SC2086
kill -CONT $FROZEN
assert_user_error "rollback with no coordinator to take it"
assert_rc 4 "exit"
assert_contains "$ERR" "withdrawn, nothing changed" "error"
sleep 3 # the agents are back: a leftover intent would be taken now
S=$(status_json)
assert_eq "$(json_get "$S" "'%s %s %d' % (d['refresh']['state'], d['refresh']['rollback'], d['refresh']['done'])")" \
	"paused False 1" "refresh after the withdrawn rollback"

step "rollback: the one refreshed unit goes back to $LOW; idle; history says rolled back, and why"
pgr_ok rollback --dir "$C"
assert_eq "$(refresh_field cause)" "rolled back by the user (the refresh was paused)" "refresh.cause"
wait_refresh 150 rolled-back
assert_all_on "$LOW"
H=$(history_json)
assert_eq "$(json_get "$H" "[h['outcome'] for h in d]")" '["rolled back"]' "history outcomes"
assert_eq "$(json_get "$H" "d[-1]['cause']")" "rolled back by the user (the refresh was paused)" "history cause"
pgr_ok history --dir "$C"
assert_contains "$OUT" "cause: rolled back by the user" "history table"
wait_healthy 30
