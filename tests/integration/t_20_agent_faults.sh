#!/usr/bin/env bash
# Agents killed with SIGKILL: the unit shows `down` within its lease's TTL (its presence key in etcd is
# gone: no clock is compared), with the time of its last report, and `active` again after
# `cluster start`; the coordinator's death elects another agent.
. "$(dirname "$0")/lib.sh"

# unit_state_is UNIT STATE
unit_state_is() { [ "$(unit_field "$1" state)" = "$2" ]; }
etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
etcdctl_c() { ETCDCTL_API=3 etcdctl --endpoints="$(etcd_url)" --command-timeout=3s "$@"; }
coordinator_is_not() {
	local s c
	s=$(status_json) || return 1
	c=$(json_get "$s" "d['coordinator']")
	[ "$c" != null ] && [ "$c" != "$1" ]
}

step "a 3-unit cluster on $LOW"
need_versions "$LOW"
create_cluster 3 "$LOW"
wait_healthy 15
COORD=$(json_get "$(status_json)" "d['coordinator']")
assert_match "$COORD" '^pg/[0-2]$' "coordinator"
VICTIM=
for u in pg/0 pg/1 pg/2; do [ "$u" != "$COORD" ] && VICTIM=$u && break; done
echo "# coordinator $COORD; killing the agent of $VICTIM first"

step "kill -9 the agent of $VICTIM (not the coordinator): down within its lease TTL (5 s), its lease named"
PID=$(agent_pid "$VICTIM")
pid_alive "$PID" || fail "agent pid $PID of $VICTIM is not running"
kill -KILL "$PID"
wait_pids_gone 5 "$PID" || fail "agent $PID survived SIGKILL"
START=$(date +%s%N)
wait_until 10 unit_state_is "$VICTIM" down || fail "$VICTIM not down 10 s after its agent died: $(status_json)"
TOOK_MS=$((($(date +%s%N) - START) / 1000000))
ok "$VICTIM down after $TOOK_MS ms"
# the lease's TTL is 5 s; etcd checks expiry about every 500 ms, and status is polled: 7 s at most
[ "$TOOK_MS" -le 7000 ] || fail "$VICTIM down only after $TOOK_MS ms, its lease's TTL is 5 s"
[ -z "$(etcdctl_c get --print-value-only "/pgrefresh/pg/alive/${VICTIM/\//-}")" ] || fail "the presence key of $VICTIM outlived its lease"
MSG=$(unit_field "$VICTIM" message)
assert_contains "$MSG" "Agent not reporting (its lease expired; last report" "message of the down unit"
assert_match "$MSG" 'last report [0-9]{2}:[0-9]{2}:[0-9]{2} UTC' "message of the down unit names its last report"
assert_contains "$MSG" "cluster start" "message of the down unit"
pgr_ok status --dir "$C"
assert_match "$(grep -E "^$VICTIM " <<<"$OUT")" "^$VICTIM +[a-z-]+ +[0-9.-]+ +down " "tabular line of $VICTIM"
for u in pg/0 pg/1 pg/2; do
	[ "$u" = "$VICTIM" ] || assert_eq "$(unit_field "$u" state)" active "state of $u"
done
assert_eq "$(json_get "$(status_json)" "d['coordinator']")" "$COORD" "coordinator unchanged"

step "cluster start: $VICTIM active again, with a new agent"
pgr_ok cluster start --dir "$C"
NEWPID=$(agent_pid "$VICTIM")
[ "$NEWPID" != "$PID" ] && pid_alive "$NEWPID" || fail "no new agent for $VICTIM (pidfile says $NEWPID)"
ok "new agent of $VICTIM: pid $NEWPID"
wait_until 10 unit_state_is "$VICTIM" active || fail "$VICTIM not active 10 s after cluster start: $(status_json)"
ok "$VICTIM active"
wait_healthy 15

step "kill -9 the coordinator's agent ($COORD): another agent becomes coordinator within 15 s"
PID=$(agent_pid "$COORD")
kill -KILL "$PID"
wait_pids_gone 5 "$PID" || fail "agent $PID survived SIGKILL"
START=$SECONDS
wait_until 15 coordinator_is_not "$COORD" ||
	fail "no other coordinator 15 s after the agent of $COORD died: $(status_json)"
NEWCOORD=$(json_get "$(status_json)" "d['coordinator']")
ok "coordinator $COORD -> $NEWCOORD after $((SECONDS - START)) s"
wait_until 10 unit_state_is "$COORD" down || fail "$COORD not down: $(status_json)"
ok "$COORD down"
grep -q "became the coordinator" "$C/units/${NEWCOORD/\//-}/agent.log" || fail "agent.log of $NEWCOORD does not say it became the coordinator"
ok "agent.log of $NEWCOORD says it became the coordinator"

step "cluster start brings $COORD back; the coordinator stays $NEWCOORD"
pgr_ok cluster start --dir "$C"
wait_until 10 unit_state_is "$COORD" active || fail "$COORD not active after cluster start: $(status_json)"
ok "$COORD active"
wait_healthy 15
assert_eq "$(json_get "$(status_json)" "d['coordinator']")" "$NEWCOORD" "coordinator"
N=0
for u in pg/0 pg/1 pg/2; do
	# exactly one live agent believes it coordinates: the last "became"/"no longer" line of the log
	# since that agent started
	last=$(awk '/agent started/ { last = "" } /became the coordinator|no longer coordinator/ { last = $0 }
		END { print last }' "$C/units/${u/\//-}/agent.log")
	[[ "$last" == *"became the coordinator"* ]] && pid_alive "$(agent_pid "$u")" && N=$((N + 1))
done
assert_eq "$N" 1 "live agents that last became coordinator"

step "the data path still works: a write through PgBouncer"
psql_bouncer "create table t20(id int); insert into t20 values (20)" >/dev/null
assert_eq "$(psql_bouncer 'select id from t20')" 20 "row through PgBouncer"
