#!/usr/bin/env bash
# Agents killed with SIGKILL mid-refresh (pause=none), in one refresh LOW -> HIGH:
#  - the agent of the unit being refreshed (the second, the sync standby): the refresh does not go
#    past that unit while the agent is down; `cluster start` brings it back and the refresh goes on;
#  - then the coordinator's agent (the first unit's, already refreshed), while the second unit is
#    still being refreshed: another agent becomes coordinator and finishes the refresh without the
#    killed agent being restarted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

coordinator() { json_get "$(status_json)" "d['coordinator']"; }
coordinator_is() { [ "$(coordinator)" = "$1" ]; }
coordinator_is_not() { local c; c=$(coordinator) && [ "$c" != null ] && [ -n "$c" ] && [ "$c" != "$1" ]; }
bin_link_on() { [ "$(readlink -f "$C/units/$(unit_member "$1")/bin")" = "$(readlink -f "$PGREFRESH_CATALOG/$2/bin")" ]; }
unit_refreshing() { # UNIT DONE: the refresh is on UNIT (refreshing) with DONE units done
	local s
	s=$(status_json) || return 1
	[ "$(json_get "$s" "'%s %s %d' % (d['refresh']['state'], d['refresh']['next_unit'], d['refresh']['done']) + ' ' +
		[u['state'] for u in d['units'] if u['name'] == '$1'][0]")" = "refreshing $1 $2 refreshing" ]
}
server_version_of() { psql_unit "$1" "select current_setting('server_version')" | cut -d' ' -f1; }

step "a 3-unit cluster on $LOW"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
REPLICA=$(units_with_role replica)
echo "# primary $PRIMARY, sync standby $SYNC, replica $REPLICA (refreshed first)"

step "make the agent of the replica (refreshed first) the coordinator: kill the two others, then cluster start"
for _ in 1 2 3; do
	REPLICA=$(units_with_role replica)
	coordinator_is "$REPLICA" && break
	for u in pg/0 pg/1 pg/2; do [ "$u" = "$REPLICA" ] || kill -KILL "$(agent_pid "$u")"; done
	wait_until 30 coordinator_is "$REPLICA" || fail "$REPLICA did not become the coordinator: $(status_json)"
	pgr_ok cluster start --dir "$C"
	wait_healthy 30
done
# the roles may have moved meanwhile
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
REPLICA=$(units_with_role replica)
assert_eq "$(coordinator)" "$REPLICA" "coordinator (the replica)"
echo "# primary $PRIMARY, sync standby $SYNC, replica $REPLICA (refreshed first)"

step "refresh to $HIGH, pause=none; when $SYNC (second) is refreshing, kill -9 its agent"
set_pause none
psql_bouncer "create table t85(id int); insert into t85 values (1)" >/dev/null
start_refresh --version "$HIGH"
# a unit now takes ~3 s: key on its agent's own log line rather than on polling status
wait_until 120 grep -q "restarting PostgreSQL through Patroni" "$C/units/$(unit_member "$SYNC")/agent.log" ||
	fail "$SYNC never refreshing after $REPLICA: $(status_json)"
VICTIM=$(agent_pid "$SYNC")
kill -KILL "$VICTIM"
wait_pids_gone 5 "$VICTIM" || fail "agent $VICTIM survived SIGKILL"
ok "agent of $SYNC (pid $VICTIM) killed while $SYNC was refreshing"

step "the refresh does not go past $SYNC while its agent is down (15 s of polls)"
wait_until 15 unit_state_is "$SYNC" down || true
for _ in $(seq 1 30); do
	S=$(status_json)
	[ "$(json_get "$S" "'%s %s %d' % (d['refresh']['state'], d['refresh']['next_unit'], d['refresh']['done'])")" = "refreshing $SYNC 1" ] ||
		fail "the refresh moved on without the agent of $SYNC: $S"
	bin_link_on "$PRIMARY" "$LOW" || fail "the bin link of $PRIMARY moved while the agent of $SYNC was down"
	sleep 0.5
done
ok "still refreshing $SYNC, 1/3 done, $PRIMARY untouched"
assert_eq "$(unit_field "$PRIMARY" role)" primary "role of $PRIMARY"

step "cluster start brings the agent of $SYNC back; the coordinator's agent ($REPLICA) is killed (-9) the moment it is"
# `cluster start` waits until the cluster is healthy, and the refresh may finish within that wait: it
# runs in the background, and the coordinator dies as soon as the new agent of $SYNC shows up
new_agent_of() { local p; p=$(agent_pid "$1") && [ -n "$p" ] && [ "$p" != "$2" ] && pid_alive "$p"; }
COORDPID=$(agent_pid "$REPLICA")
"$PGR" cluster start --dir "$C" >"$T/start.out" 2>"$T/start.err" &
START_PID=$!
wait_until 60 new_agent_of "$SYNC" "$VICTIM" || fail "no new agent for $SYNC: $(cat "$T/start.err")"
kill -KILL "$COORDPID"
wait_pids_gone 5 "$COORDPID" || fail "agent $COORDPID survived SIGKILL"
NEWPID=$(agent_pid "$SYNC")
ok "new agent of $SYNC: pid $NEWPID; coordinator agent of $REPLICA (pid $COORDPID) killed at once"
# nothing moves the refresh until another agent takes the coordinator lease: 1 or 2 units done
assert_match "$(json_get "$(status_json)" "'%s %d' % (d['refresh']['state'], d['refresh']['done'])")" '^refreshing [12]$' \
	"refresh state when the coordinator was killed"
# (cluster start goes on waiting for a healthy cluster, which it will not see with the agent of $REPLICA
# gone: it is stopped once the refresh is done)

step "another agent becomes coordinator and finishes the refresh; $REPLICA's agent is not restarted"
wait_until 30 coordinator_is_not "$REPLICA" || fail "no other coordinator: $(status_json)"
NEWCOORD=$(coordinator)
ok "coordinator $REPLICA -> $NEWCOORD"
wait_refresh 240 idle
pid_alive "$COORDPID" && fail "the killed agent runs again"
kill -TERM "$START_PID" 2>/dev/null || true
wait "$START_PID" 2>/dev/null || true
grep -qE 'Sanitizer|runtime error:' "$T/start.err" && fail "sanitizer report from cluster start: $(cat "$T/start.err")"
ok "the waiting cluster start (pid $START_PID) stopped"
[ "$(pidfile_pids "$C/units/$(unit_member "$REPLICA")" | while read -r p; do
	[[ "$(tr '\0' ' ' <"/proc/$p/cmdline")" == *" agent "* ]] && echo "$p"; done)" = "" ] ||
	fail "an agent of $REPLICA runs: the refresh needed it"
ok "no agent of $REPLICA ran"
for u in "$PRIMARY" "$SYNC"; do
	assert_eq "$(unit_field "$u" version)" "$HIGH" "version of $u"
done
assert_eq "$(server_version_of "$REPLICA")" "$HIGH" "server_version of $REPLICA (its agent down)"
assert_eq "$(json_get "$(history_json)" "[(h['from'], h['to'], h['outcome']) for h in d]")" \
	"[[\"$LOW\", \"$HIGH\", \"completed\"]]" "history"
grep -q "became the coordinator" "$C/units/$(unit_member "$NEWCOORD")/agent.log" ||
	fail "agent.log of $NEWCOORD does not say it became the coordinator"

step "cluster start: every unit active on $HIGH, the row there"
pgr_ok cluster start --dir "$C"
assert_all_on "$HIGH"
wait_healthy 30
assert_eq "$(psql_bouncer 'select count(*) from t85')" 1 "row through PgBouncer"
