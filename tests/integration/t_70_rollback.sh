#!/usr/bin/env bash
# Rollback from paused (after the first unit) and after the switchover (the old primary, now a
# replica on the target, failed its gate because its agent hung): every unit back on the original
# version, the primary role back on an original-version unit through a switchover, rows written
# through PgBouncer before, during and after all present on every unit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

coordinator() { json_get "$(status_json)" "d['coordinator']"; }
coordinator_is_not() { local c; c=$(coordinator) && [ "$c" != null ] && [ -n "$c" ] && [ "$c" != "$1" ]; }
patroni_leader() { # Patroni's own view, from the unit given
	curl -s --max-time 3 "http://127.0.0.1:$(api_port "$1")/cluster" |
		python3 -c 'import json, sys; print([m["name"] for m in json.load(sys.stdin)["members"] if m["role"] == "leader"][0])'
}
patroni_leader_is() { [ "$(patroni_leader "$2")" = "$1" ]; }
bin_link_on() { [ "$(readlink -f "$C/units/$(unit_member "$1")/bin")" = "$(readlink -f "$PGREFRESH_CATALOG/$2/bin")" ]; }

# A writer through PgBouncer: one row every 0.2 s, its id appended to $T/committed when the commit
# returned (failures around the switchovers are allowed; a committed row must never be lost).
start_writer() {
	(
		eval "$("$PGR" cluster env --dir "$C")"
		i=$1
		while [ ! -e "$T/stop-writer" ]; do
			if "$PSQL" -X -q -v ON_ERROR_STOP=1 -c "insert into t70 values ($i, '$2')" >/dev/null 2>&1; then
				echo "$i" >>"$T/committed"
			fi
			i=$((i + 1))
			sleep 0.2
		done
	) &
	WRITER=$!
	HOLDERS+=("$WRITER")
}
stop_writer() {
	touch "$T/stop-writer"
	wait "$WRITER" 2>/dev/null || true
	rm -f "$T/stop-writer"
}
# every committed id is on UNIT
unit_has_committed() {
	local want have
	want=$(sort -n "$T/committed" | tr '\n' ',')
	have=$(psql_unit "$1" "select string_agg(id::text, ',' order by id) from t70 where id = any('{${want%,}}'::int[])")
	[ "$have," = "$want" ]
}

step "a 3-unit cluster on $LOW, pause=first; a row before anything"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
REPLICA=$(units_with_role replica)
psql_bouncer "create table t70(id int primary key, phase text); insert into t70 values (0, 'before')" >/dev/null
echo 0 >"$T/committed"

step "refresh to $HIGH, paused after $REPLICA; rollback: the status shows a rollback; $REPLICA back on $LOW"
start_refresh --version "$HIGH"
wait_refresh 150 paused
assert_eq "$(unit_field "$REPLICA" version)" "$HIGH" "version of $REPLICA at the pause"
pgr_ok rollback --dir "$C"
S=$(status_json)
assert_eq "$(json_get "$S" "d['refresh']['rollback']")" true "refresh.rollback right after the rollback command"
assert_eq "$(json_get "$S" "d['refresh']['from'] + ' ' + d['refresh']['to']")" "$HIGH $LOW" "rollback from/to"
assert_eq "$(json_get "$S" "d['refresh']['total']")" 1 "units to roll back"
pgr_ok status --dir "$C"
assert_contains "$(head -n 2 <<<"$OUT")" "rollback" "tabular cluster line"
wait_refresh 150 rolled-back
assert_all_on "$LOW"
bin_link_on "$REPLICA" "$LOW" || fail "the bin link of $REPLICA is $(readlink "$C/units/$(unit_member "$REPLICA")/bin")"
ok "the bin link of $REPLICA names $LOW again"
H=$(history_json)
assert_eq "$(json_get "$H" "[(h['from'], h['to'], h['outcome']) for h in d]")" "[[\"$LOW\", \"$HIGH\", \"rolled back\"]]" "history"
wait_healthy 30

step "the coordinator is not the primary's agent (the old primary's agent is frozen later)"
if [ "$(coordinator)" = "$PRIMARY" ]; then
	kill -KILL "$(agent_pid "$PRIMARY")"
	wait_until 20 coordinator_is_not "$PRIMARY" || fail "no other coordinator: $(status_json)"
	pgr_ok cluster start --dir "$C"
	wait_healthy 30
fi
COORD=$(coordinator)
[ "$COORD" != "$PRIMARY" ] || fail "the coordinator is still $PRIMARY"
ok "coordinator $COORD"

step "pause=all, a writer through PgBouncer; refresh to $HIGH, resume twice: the switchover to $SYNC"
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
set_pause all
start_writer 1000 during
start_refresh --version "$HIGH"
wait_refresh 150 paused
assert_eq "$(refresh_field next_unit)" "$SYNC" "next after the first pause"
pgr_ok resume-refresh --dir "$C"
wait_until 150 paused_at 2 || fail "no pause after 2 units: $(status_json)"
assert_eq "$(refresh_field next_unit)" "$PRIMARY" "next after the second pause"
pgr_ok config --dir "$C" set health-timeout-seconds=20
pgr_ok resume-refresh --dir "$C"
# The old primary's agent relinks its bin before the switchover; then freeze that agent (SIGSTOP):
# the switchover goes on (Patroni does it), but the old primary's gate cannot pass without reports.
wait_until 60 bin_link_on "$PRIMARY" "$HIGH" || fail "the agent of $PRIMARY never relinked it: $(status_json)"
# the coordinator starts the switchover once that agent has reported the new link
wait_until 60 eval "grep -qh 'switchover: $PRIMARY -> ' \"\$C\"/units/*/agent.log" ||
	fail "the coordinator never started the switchover from $PRIMARY: $(status_json)"
FROZEN=$(agent_pid "$PRIMARY")
kill -STOP "$FROZEN"
ok "agent of $PRIMARY (pid $FROZEN) frozen after it relinked to $HIGH"
# the candidate is whichever refreshed standby is synchronous at that moment
patroni_leader_moved() { local l; l=$(patroni_leader "$SYNC") && [ -n "$l" ] && [ "$l" != "$(unit_member "$PRIMARY")" ]; }
wait_until 90 patroni_leader_moved || fail "no switchover from $PRIMARY: $(status_json)"
NEWLEAD=$(patroni_leader "$SYNC")
NEWLEAD="pg/${NEWLEAD#pg-}"
ok "Patroni: $NEWLEAD leads (switched over from $PRIMARY)"

step "the old primary $PRIMARY fails its gate (its agent does not report); unfreeze it; rollback"
pgr_run wait --dir "$C" --timeout 90 failed
assert_rc 0 "wait failed"
assert_contains "$(refresh_field message)" "$PRIMARY" "refresh.message names the unit"
kill -CONT "$FROZEN"
wait_until 30 eval '[ "$(unit_field "$PRIMARY" role)" = replica ] || [ "$(unit_field "$PRIMARY" role)" = sync-standby ]' ||
	fail "$PRIMARY does not report a standby role: $(status_json)"
ok "$PRIMARY reports again, as $(unit_field "$PRIMARY" role), on $(unit_field "$PRIMARY" version)"
assert_eq "$(unit_field "$NEWLEAD" role)" primary "role of $NEWLEAD (on $HIGH)"
pgr_ok config --dir "$C" set health-timeout-seconds=120
pgr_ok rollback --dir "$C"
assert_eq "$(refresh_field rollback)" true "refresh.rollback"
assert_eq "$(refresh_field total)" 3 "units to roll back (all three are on $HIGH)"

step "the rollback honours pause=all; it ends with every unit on $LOW and the primary on a $LOW unit"
PAUSES=0
for n in 1 2; do
	wait_until 200 paused_at $n || fail "the rollback did not pause after $n unit(s): $(status_json)"
	PAUSES=$((PAUSES + 1))
	pgr_ok resume-refresh --dir "$C"
done
wait_refresh 240 rolled-back
assert_eq "$PAUSES" 2 "pauses of the rollback"
stop_writer
assert_all_on "$LOW"
wait_healthy 30
NEWPRIMARY=$(units_with_role primary)
[ "$NEWPRIMARY" != "$NEWLEAD" ] || fail "the primary is still $NEWLEAD"
ok "the primary moved back from $NEWLEAD to $NEWPRIMARY"
grep -h "switchover: $NEWLEAD -> " "$C"/units/*/agent.log >/dev/null || fail "no coordinator logged a switchover from $NEWLEAD"
ok "a coordinator logged the switchover from $NEWLEAD: $(grep -h "switchover: $NEWLEAD -> " "$C"/units/*/agent.log | head -n 1)"
H=$(history_json)
assert_eq "$(json_get "$H" "[h['outcome'] for h in d]")" '["rolled back", "rolled back"]' "history outcomes"

step "rows committed before, during and after are on every unit"
psql_bouncer "insert into t70 values (9999, 'after')" >/dev/null
echo 9999 >>"$T/committed"
N=$(wc -l <"$T/committed")
[ "$N" -ge 20 ] || fail "only $N rows committed: the writer did not run"
for u in pg/0 pg/1 pg/2; do
	wait_until 20 unit_has_committed "$u" || fail "$u lacks committed rows"
done
ok "all $N committed rows on pg/0, pg/1 and pg/2"
