#!/usr/bin/env bash
# The emergency stop: with pause-after-unit-refresh=none, setting it to `all` while the first unit is
# refreshing pauses the refresh after the unit in progress when the coordinator took it (1/4), not later.
# Then a rollback of what was refreshed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

step "a 4-unit cluster on $LOW, pause=none (two replicas: the stop lands before the primary even when the first unit is done before the coordinator takes it, on a loaded machine)"
need_versions "$LOW" "$HIGH"
create_cluster 4 "$LOW"
wait_healthy 20
set_pause none

step "refresh to $HIGH; as soon as the first unit is refreshing: config set pause-after-unit-refresh=all"
start_refresh --version "$HIGH"
read -r -a ORDER <<<"$(sed -n 's/.*in this order: //p' <<<"$OUT" | head -n 1)"
assert_eq "${#ORDER[@]}" 4 "units in the plan (${ORDER[*]})"
# refresh returns once the checks passed and the first unit started; the coordinator takes the setting at
# its next tick and says where the refresh was then: the stop lands after the unit in progress at that moment
# (the first one, unless that unit was already done when the coordinator took it, on a loaded machine)
pgr_ok config --dir "$C" set pause-after-unit-refresh=all
TAKEN=$(grep -o 'taken during refresh.*' <<<"$ERR") || fail "config set did not say where the refresh was: $ERR"
ok "config set: $TAKEN"
DONE_THEN=$(sed -nE 's|.*, ([0-9]+)/4 done, .*|\1|p' <<<"$TAKEN")
IN_PROGRESS=$(sed -nE 's|.*done, ([^ ]+) in progress.*|\1|p' <<<"$TAKEN")
[ -n "$DONE_THEN" ] && [ -n "$IN_PROGRESS" ] || fail "no unit in progress when the setting was taken: $TAKEN"
[ "$DONE_THEN" -lt 3 ] || fail "the last unit was already in progress when the setting was taken: $TAKEN"
assert_eq "$IN_PROGRESS" "${ORDER[$DONE_THEN]}" "the unit in progress when the setting was taken"
[ "$DONE_THEN" = 0 ] || echo "    (the first unit was done before the coordinator took the setting: the stop lands after ${ORDER[$DONE_THEN]})"
PAUSED_AT=$((DONE_THEN + 1))
NEXT=${ORDER[$PAUSED_AT]}

step "the refresh pauses after the unit in progress: $PAUSED_AT/4, next $NEXT untouched"
wait_refresh 150 paused
S=$(status_json)
assert_eq "$(json_get "$S" "'%d/%d' % (d['refresh']['done'], d['refresh']['total'])")" "$PAUSED_AT/4" "progress at the pause"
assert_eq "$(json_get "$S" "d['refresh']['next_unit']")" "$NEXT" "refresh.next_unit"
for i in 0 1 2 3; do
	want=$LOW
	[ "$i" -ge "$PAUSED_AT" ] || want=$HIGH
	assert_eq "$(unit_field "${ORDER[$i]}" version)" "$want" "version of ${ORDER[$i]}"
done
# it stays paused: no unit is touched while nobody resumes (3 s of polls, all paused at the same unit)
for _ in 1 2 3 4 5 6; do
	assert_eq "$(json_get "$(status_json)" "'%s %d' % (d['refresh']['state'], d['refresh']['done'])")" "paused $PAUSED_AT" "state"
	sleep 0.5
done
[ "$(readlink -f "$C/units/$(unit_member "$NEXT")/bin")" = "$(readlink -f "$PGREFRESH_CATALOG/$LOW/bin")" ] ||
	fail "the bin link of $NEXT moved: $(readlink "$C/units/$(unit_member "$NEXT")/bin")"
ok "the bin link of $NEXT still names $LOW"

step "every agent frozen (no coordinator): rollback is asked and never taken; it withdraws, exit 4, nothing changed"
FROZEN="$(agent_pid pg/0) $(agent_pid pg/1) $(agent_pid pg/2) $(agent_pid pg/3)"
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
	"paused False $PAUSED_AT" "refresh after the withdrawn rollback"

step "rollback: the refreshed units go back to $LOW; idle; history says rolled back, and why"
# pause=all would pause the rollback too after each unit it takes back: none, so it runs to its end
set_pause none
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
