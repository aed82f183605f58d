#!/usr/bin/env bash
# A full refresh with each pause mode. `first` (LOW -> HIGH): one pause after the first unit, then the
# rest; order replicas (highest number first), sync standby, primary; history. On the refreshed
# cluster: rollback refused (nothing in progress), a downgrade ends `incompatible` with nothing
# changed, rollback cancels it. `all` (a second cluster, LOW -> HIGH): a pause after every unit but
# the last. (`none` is in t_80.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

step "a 3-unit cluster on $LOW, a row through PgBouncer"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
psql_bouncer "create table t60(id int primary key); insert into t60 values (1)" >/dev/null
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
REPLICA=$(units_with_role replica)
assert_eq "$(wc -w <<<"$PRIMARY $SYNC $REPLICA")" 3 "units with a role"
echo "# primary $PRIMARY, sync standby $SYNC, replica $REPLICA"

step "pre-refresh-check: ready, names the rollback command and what pause=first will do"
pgr_ok pre-refresh-check --dir "$C"
assert_contains "$OUT" "ready" "pre-refresh-check"
assert_contains "$OUT" "pgrefresh rollback" "pre-refresh-check"
assert_contains "$OUT" "pause-after-unit-refresh=first" "pre-refresh-check"
assert_eq "$(json_get "$(status_json)" "d['refresh']['state']")" idle "refresh state before"

step "refresh (default target = $HIGH, default pause = first): pauses after the first unit, $REPLICA"
start_refresh
assert_contains "$OUT" "$LOW → $HIGH" "refresh output"
wait_refresh 150 paused
S=$(status_json)
assert_eq "$(json_get "$S" "d['refresh']['state']")" paused "refresh.state"
assert_eq "$(json_get "$S" "d['refresh']['done']")" 1 "refresh.done"
assert_eq "$(json_get "$S" "d['refresh']['total']")" 3 "refresh.total"
assert_eq "$(json_get "$S" "d['refresh']['from']")" "$LOW" "refresh.from"
assert_eq "$(json_get "$S" "d['refresh']['to']")" "$HIGH" "refresh.to"
assert_eq "$(json_get "$S" "d['refresh']['next_unit']")" "$SYNC" "refresh.next_unit"
assert_contains "$(json_get "$S" "d['refresh']['message']")" "pgrefresh resume-refresh" "refresh.message"
assert_contains "$(json_get "$S" "d['refresh']['message']")" "pgrefresh rollback" "refresh.message"
assert_eq "$(unit_field "$REPLICA" version)" "$HIGH" "version of the refreshed $REPLICA"
assert_eq "$(unit_field "$SYNC" version)" "$LOW" "version of $SYNC"
assert_eq "$(unit_field "$PRIMARY" version)" "$LOW" "version of $PRIMARY"
assert_contains "$(unit_field "$PRIMARY" message)" "Refreshes last" "message of the primary $PRIMARY"
assert_eq "$(unit_field "$PRIMARY" role)" primary "role of $PRIMARY at the pause"
pgr_ok status --dir "$C"
assert_contains "$OUT" "paused" "tabular status"
assert_contains "$OUT" "1/3" "tabular status"

step "resume-refresh while the refreshed $REPLICA does not report (its agent frozen): refused after a grace"
FROZEN=$(agent_pid "$REPLICA")
kill -STOP "$FROZEN"
wait_until 20 unit_state_is "$REPLICA" down || { kill -CONT "$FROZEN"; fail "$REPLICA not down with its agent frozen: $(status_json)"; }
T0=$(date +%s)
pgr_run resume-refresh --dir "$C"
kill -CONT "$FROZEN"
assert_user_error "resume-refresh with a refreshed unit not reporting"
assert_rc 6 "exit of resume-refresh"
assert_contains "$ERR" "refreshed unit $REPLICA is not healthy" "error"
[ $(($(date +%s) - T0)) -ge 9 ] || fail "resume-refresh refused before its 10 s for the unit to be healthy"
ok "refused after $(($(date +%s) - T0)) s"
assert_eq "$(refresh_field state)" paused "refresh state after the refusal"
wait_until 30 unit_state_is "$REPLICA" active || fail "$REPLICA not active again after its agent went on: $(status_json)"
ok "$REPLICA reports again"

step "resume-refresh: the rest go without another pause; idle, every unit on $HIGH"
pgr_ok resume-refresh --dir "$C"
wait_refresh 240 idle
assert_all_on "$HIGH"
wait_healthy 30
assert_eq "$(json_get "$(status_json)" "d['version']")" "$HIGH" "cluster version"
NEWPRIMARY=$(units_with_role primary)
[ "$NEWPRIMARY" = "$SYNC" ] || [ "$NEWPRIMARY" = "$REPLICA" ] ||
	fail "the primary after the switchover is $NEWPRIMARY, not a unit refreshed before $PRIMARY"
ok "the primary moved from $PRIMARY to $NEWPRIMARY (a refreshed standby)"
assert_eq "$(psql_bouncer 'select count(*) from t60')" 1 "row through PgBouncer after the refresh"
# the sync standby stood aside before its restart: Patroni never had to wait to release it itself
assert_contains "$(cat "$C/units/${SYNC/\//-}/agent.log")" "standing aside before the restart (nosync" "agent log of $SYNC"
assert_not_contains "$(cat "$C/units/${SYNC/\//-}/patroni.log")" "Waiting for primary to release us" "patroni log of $SYNC"
wait_until 10 no_tags_left || fail "Patroni tags left after the refresh: $(grep -h '^tags:' "$C"/units/*/patroni.yml | tr '\n' ' ')"
ok "no Patroni tag left on any unit"

step "history: one completed refresh $LOW -> $HIGH with three per-unit timings, in role order"
H=$(history_json) || fail "history failed: $ERR"
assert_eq "$(json_get "$H" "len(d)")" 1 "history entries"
assert_eq "$(json_get "$H" "d[0]['outcome']")" completed "outcome"
assert_eq "$(json_get "$H" "d[0]['from'] + ' ' + d[0]['to']")" "$LOW $HIGH" "from/to"
assert_eq "$(json_get "$H" "' '.join(u['unit'] for u in d[0]['units'])")" "$REPLICA $SYNC $PRIMARY" "unit order in history"
assert_eq "$(json_get "$H" "all(u['step'] == 'done' and u['done_ms'] > u['started_ms'] > 0 for u in d[0]['units'])")" true \
	"every unit done with a timing"
assert_eq "$(json_get "$H" "d[0]['ended_ms'] > d[0]['started_ms'] > 0")" true "start and end"
assert_eq "$(relink_order "$HIGH")" "$REPLICA $SYNC $PRIMARY" "order of the agents' 'relinked bin to $HIGH' lines"
pgr_ok history --dir "$C"
assert_contains "$OUT" "completed" "tabular history"

step "rollback after the refresh completed: refused, nothing in progress"
pgr_run rollback --dir "$C"
assert_user_error "rollback after completion"
assert_rc 6 "exit of rollback"
assert_contains "$ERR" "no refresh in progress" "error"

step "refresh --version $LOW (a downgrade): incompatible, nothing changed; rollback cancels it"
STARTS=$(postmaster_starts)
pgr_run refresh --dir "$C" --version "$LOW"
assert_user_error "refresh to a lower version"
assert_rc 5 "exit of the downgrade"
assert_contains "$ERR" "higher-version" "error names the check"
S=$(status_json)
assert_eq "$(json_get "$S" "d['refresh']['state']")" incompatible "refresh.state"
assert_contains "$(json_get "$S" "d['refresh']['message']")" "Nothing changed" "refresh.message"
assert_all_on "$HIGH"
pgr_ok rollback --dir "$C"
wait_refresh 60 rolled-back
assert_all_on "$HIGH"
assert_eq "$(postmaster_starts)" "$STARTS" "postmaster start times (no unit restarted)"
H=$(history_json)
assert_eq "$(json_get "$H" "d[-1]['outcome']")" "rolled back" "outcome of the cancelled downgrade in history"
wait_healthy 20
pgr_ok cluster stop --dir "$C"

# The npm 15.17 tree does not make a reliable Patroni cluster (its pg_rewind is 15.18's: a create
# failed with a unit never streaming), so pause=all runs on a second cluster at LOW; pause=none is
# checked by t_80 (the forced refresh), polling status throughout.
step "a second 3-unit cluster on $LOW; pause=all"
create_cluster 3 "$LOW" "$T/c2"
wait_healthy 20
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
REPLICA=$(units_with_role replica)
set_pause all
pgr_ok pre-refresh-check --dir "$C"
assert_contains "$OUT" "pause-after-unit-refresh=all" "pre-refresh-check"

step "refresh to $HIGH with pause=all: a pause after each unit but the last"
start_refresh
PAUSES=0
for expect in "1 $SYNC" "2 $PRIMARY"; do
	if [ $PAUSES = 1 ]; then
		# a script's loop: resume-refresh, then `wait paused`; the wait must not return on the pause
		# that was just resumed
		pgr_run wait --dir "$C" --timeout 180 paused idle
		assert_rc 0 "wait paused idle after the first resume"
		D=$(refresh_field done)
		[ "$D" = 2 ] || known_bug "\`pgrefresh wait paused\` right after \`resume-refresh\` returned at once, on the pause just resumed (done $D/3)"
	fi
	wait_until 180 paused_at "${expect%% *}" || fail "no pause after ${expect%% *} unit(s): $(status_json)"
	PAUSES=$((PAUSES + 1))
	S=$(status_json)
	assert_eq "$(json_get "$S" "'%d %s' % (d['refresh']['done'], d['refresh']['next_unit'])")" "$expect" "done and next_unit at pause $PAUSES"
	# paused: the cascade the old sync standby came back with is undone (it streams from the primary)
	wait_until 10 no_tags_left "$C" || fail "Patroni tags left at pause $PAUSES: $(grep -h '^tags:' "$C"/units/*/patroni.yml | tr '\n' ' ')"
	pgr_ok resume-refresh --dir "$C"
done
wait_refresh 240 idle
assert_eq "$PAUSES" 2 "pauses"
assert_all_on "$HIGH"
assert_eq "$(relink_order "$HIGH")" "$REPLICA $SYNC $PRIMARY" "order of the agents' 'relinked bin to $HIGH' lines"
H=$(history_json)
assert_eq "$(json_get "$H" "[(h['from'], h['to'], h['outcome']) for h in d]")" \
	"[[\"$LOW\", \"$HIGH\", \"completed\"]]" "history of the second cluster"
wait_healthy 30
