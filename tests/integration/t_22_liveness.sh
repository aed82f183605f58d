#!/usr/bin/env bash
# Liveness is bounded: a coordinator agent that stops making progress (SIGSTOP) loses the coordinator
# role to another agent within its lease's bound, and after SIGCONT it knows it is no longer the
# coordinator; while etcd is down, each agent says "etcd unreachable" once (not once per call), and
# "etcd reachable again after N s" when it is back.
. "$(dirname "$0")/lib.sh"

coordinator_is_not() {
	local s c
	s=$(status_json) || return 1
	c=$(json_get "$s" "d['coordinator']")
	[ "$c" != null ] && [ "$c" != "$1" ]
}
unit_state_is() { [ "$(unit_field "$1" state)" = "$2" ]; }
STOPPED=
# a stopped agent would not stop at cleanup: continue it first, whatever happens
cont_stopped() { [ -n "$STOPPED" ] && kill -CONT "$STOPPED" 2>/dev/null; STOPPED=; }
fail_cont() { cont_stopped; fail "$@"; }

step "a 3-unit cluster on $LOW"
need_versions "$LOW"
create_cluster 3 "$LOW"
wait_healthy 30
COORD=$(json_get "$(status_json)" "d['coordinator']")
assert_match "$COORD" '^pg/[0-2]$' "coordinator"
LOG=$C/units/${COORD/\//-}/agent.log

step "SIGSTOP the coordinator's agent ($COORD): another agent coordinates within 12 s (lease TTL 5 s)"
PID=$(agent_pid "$COORD")
pid_alive "$PID" || fail "agent pid $PID of $COORD is not running"
kill -STOP "$PID"
STOPPED=$PID
START=$(date +%s%N)
wait_until 12 coordinator_is_not "$COORD" || fail_cont "still no other coordinator 12 s after SIGSTOP: $(status_json)"
TOOK_MS=$((($(date +%s%N) - START) / 1000000))
NEWCOORD=$(json_get "$(status_json)" "d['coordinator']")
ok "coordinator $COORD -> $NEWCOORD after $TOOK_MS ms"
grep -q "became the coordinator" "$C/units/${NEWCOORD/\//-}/agent.log" ||
	fail_cont "agent.log of $NEWCOORD does not say it became the coordinator"

step "SIGCONT: $COORD's agent learns it is no longer the coordinator, reports again, and $NEWCOORD stays"
cont_stopped
wait_until 10 grep -q "no longer coordinator" "$LOG" || fail "agent.log of $COORD never says it is no longer coordinator"
ok "$COORD: $(grep "no longer coordinator" "$LOG" | tail -1)"
wait_until 10 unit_state_is "$COORD" active || fail "$COORD not active after SIGCONT: $(status_json)"
ok "$COORD active again"
sleep 3
assert_eq "$(json_get "$(status_json)" "d['coordinator']")" "$NEWCOORD" "coordinator 3 s after SIGCONT"
wait_healthy 30

step "etcd down for 8 s: each agent logs \"etcd unreachable\" once, then \"etcd reachable again\""
EPID=$(cut -d' ' -f1 "$C/etcd/etcd.pid")
pid_alive "$EPID" || fail "etcd pid $EPID is not running"
for u in pg/0 pg/1 pg/2; do
	f=$C/units/${u/\//-}/agent.log
	grep -c "etcd unreachable" "$f" >"$T/before-${u/\//-}" || true
done
kill -KILL "$EPID"
wait_pids_gone 5 "$EPID" || fail "etcd $EPID survived SIGKILL"
sleep 8
pgr_ok cluster start --dir "$C"
for u in pg/0 pg/1 pg/2; do
	f=$C/units/${u/\//-}/agent.log
	wait_until 20 grep -q "etcd reachable again after" "$f" || fail "agent.log of $u never says etcd is reachable again"
	before=$(cat "$T/before-${u/\//-}")
	after=$(grep -c "etcd unreachable" "$f" || true)
	assert_eq "$((after - before))" 1 "\"etcd unreachable\" lines of $u during the outage"
	N=$(grep -c "WARNING: could not report to etcd\|WARNING: lease keep-alive failed" "$f" || true)
	assert_eq "$N" 0 "unthrottled etcd failure lines of $u"
	ok "$u: $(grep "etcd unreachable" "$f" | tail -1 | cut -c1-160)"
	ok "$u: $(grep "etcd reachable again" "$f" | tail -1)"
done
wait_healthy 60
