#!/usr/bin/env bash
# The pooler's repoint is applied by an agent on the pooler's host, never by the coordinator for it
# (issue 9 §3, state/pooler_intent.h):
#  1. the pooler's config said to live on a host no agent runs on (198.18.0.99 in pgrefresh.conf, the
#     agents restarted to read it): a refresh reaches the switchover, no agent takes the repoint, the
#     switchover stops before pausing PgBouncer: the refresh halts in `failed`, its message naming the
#     host and what to run; PgBouncer answers writes at once, towards the old primary; no intent left;
#  2. the host set back (127.0.0.1), agents restarted, `pgrefresh resume-refresh` (what the message
#     offers): one agent that is not the coordinator takes the repoint and applies it (its log says
#     so), the coordinator rewrites no pgbouncer.ini, SHOW DATABASES leads to the new primary, 0 failed
#     writes through PgBouncer, the refresh completes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
# how many pooler intents etcd holds
intents_left() {
	curl -s --max-time 2 -X POST "$(etcd_url)/v3/kv/range" \
		-d "{\"key\":\"$(printf '/pgrefresh/pg/poolers/' | base64 -w0)\",\"range_end\":\"$(printf '/pgrefresh/pg/poolers0' | base64 -w0)\",\"count_only\":true}" |
		python3 -c 'import json, sys; print(json.load(sys.stdin).get("count", "0"))'
}
# where PgBouncer sends the database postgres, as it says itself (SHOW DATABASES on its admin console)
bouncer_target() {
	(
		eval "$("$PGR" cluster env --dir "$C")"
		timeout 5 "$PSQL" -X -A -t -F ' ' -d pgbouncer -c "show databases"
	) | awk '$1 == "postgres" { print $2 ":" $3 }'
}
# a write through PgBouncer answers within 3 s: it is not paused, and leads to a primary
bouncer_writes() {
	(
		eval "$("$PGR" cluster env --dir "$C")"
		exec timeout 3 "$PSQL" -X -q -v ON_ERROR_STOP=1 -c 'insert into t58 default values'
	) >/dev/null 2>&1
}
has_coordinator() { [ -n "$(json_get "$(status_json)" "d['coordinator'] or ''")" ]; }
restart_agents() {
	pgr_ok cluster stop --dir "$C"
	pgr_ok cluster start --dir "$C"
	wait_until 60 has_coordinator || fail "no coordinator after cluster start: $(status_json)"
}
set_pooler_host() { # HOST
	sed -i "/^\[pooler pgbouncer\]\$/,/^\[/ s/^host = .*/host = $1/" "$C/pgrefresh.conf"
	grep -q "^host = $1\$" "$C/pgrefresh.conf" || fail "could not set the pooler's host: $(cat "$C/pgrefresh.conf")"
}

step "a 3-unit cluster on $LOW, pause=none; its pgrefresh.conf lists the pooler in a [pooler] section"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
set_pause none
grep -q '^\[pooler pgbouncer\]$' "$C/pgrefresh.conf" || fail "no [pooler pgbouncer] section: $(cat "$C/pgrefresh.conf")"
grep -q '^secret = superuser_password$' "$C/pgrefresh.conf" || fail "no secret's name: $(cat "$C/pgrefresh.conf")"
grep -qi 'password *= *[^ ]' "$C/pgrefresh.conf" && fail "a password in pgrefresh.conf"
ok "[pooler pgbouncer] names its secret, holds none"
psql_bouncer "create table t58(id serial primary key)" >/dev/null

step "the pooler's config on a host no agent runs on (198.18.0.99); agents restarted to read it"
set_pooler_host 198.18.0.99
restart_agents
wait_healthy 60
PRIMARY=$(units_with_role primary)
PRIMARY_PORT=$(unit_field "$PRIMARY" port)
bouncer_writes || fail "no write through PgBouncer before the refresh"
assert_eq "$(bouncer_target)" "127.0.0.1:$PRIMARY_PORT" "PgBouncer's target before the refresh"

step "refresh --version $HIGH: no agent takes the repoint; the switchover stops unpaused; failed"
start_refresh --version "$HIGH"
pgr_run wait --dir "$C" --timeout 180 idle
assert_rc 5 "exit of wait idle of a refresh that fails"
S=$(status_json)
assert_eq "$(json_get "$S" "d['refresh']['state']")" failed "refresh.state"
MSG=$(json_get "$S" "d['refresh']['message']")
assert_contains "$MSG" "no agent on host 198.18.0.99 took the repoint of pooler pgbouncer" "refresh.message"
assert_contains "$MSG" "in 5 s: start the agent of a unit there; nothing changed" "refresh.message"
assert_contains "$MSG" "pgrefresh resume-refresh" "refresh.message"
assert_contains "$MSG" "pgrefresh rollback" "refresh.message"
ok "failed: $MSG"
assert_eq "$(units_with_role primary)" "$PRIMARY" "primary (no switchover happened)"
bouncer_writes || fail "a write through PgBouncer does not answer within 3 s"
assert_eq "$(bouncer_target)" "127.0.0.1:$PRIMARY_PORT" "PgBouncer's target (the old primary)"
ok "PgBouncer answers writes at once, towards $PRIMARY (127.0.0.1:$PRIMARY_PORT)"
grep -h ": took the repoint to " "$C"/units/*/agent.log && fail "an agent took a repoint meant for 198.18.0.99"
assert_eq "$(intents_left)" 0 "pooler intents left in etcd"

step "the host set back; agents restarted (the primary still $PRIMARY); resume-refresh, as the message offers"
set_pooler_host 127.0.0.1
restart_agents
wait_until 60 eval '[ "$(units_with_role primary)" = "$PRIMARY" ] && [ -n "$(units_with_role sync-standby)" ]' ||
	fail "after the restart the primary is $(units_with_role primary), not $PRIMARY, or there is no sync standby: $(status_json)"
COORD=$(json_get "$(status_json)" "d['coordinator']")
# after the restart PgBouncer leads to the primary still; count the coordinators' rewrites from here
bouncer_writes || fail "no write through PgBouncer after the restart"
# PgBouncer was restarted with the agents: its SHOW DATABASES may lag the ini the agents write by a moment
wait_until 10 eval '[ "$(bouncer_target)" = "127.0.0.1:$PRIMARY_PORT" ]' ||
	fail "PgBouncer's target after the restart: $(bouncer_target), not 127.0.0.1:$PRIMARY_PORT"
ok "PgBouncer's target after the restart: 127.0.0.1:$PRIMARY_PORT"
# an agent keeping its host's PgBouncer on Patroni's leader logs "pooler pgbouncer now leads to the primary
# NAME (HOST:PORT)" (agent.c's follow_leader_poolers); count them from here
follows() { cat "$C"/units/*/agent.log | grep -c "pooler pgbouncer now leads to the primary " || true; }
FOLLOWS_BEFORE=$(follows)
start_load() {
	(
		eval "$("$PGR" cluster env --dir "$C")"
		i=0
		while [ ! -e "$T/stop" ]; do
			timeout 10 "$PSQL" -X -q -v ON_ERROR_STOP=1 -c 'insert into t58 default values' >/dev/null 2>>"$T/load.err" ||
				echo "failed $i" >>"$T/load.failed"
			i=$((i + 1))
			sleep 0.05
		done
	) &
	LOAD_PID=$!
	HOLDERS+=("$LOAD_PID")
}
start_load
pgr_ok resume-refresh --dir "$C"
wait_refresh 240 idle
touch "$T/stop"
wait "$LOAD_PID" 2>/dev/null || true
assert_all_on "$HIGH"
NEW=$(units_with_role primary)
[ "$NEW" != "$PRIMARY" ] || fail "the primary is still $PRIMARY"
NEW_PORT=$(unit_field "$NEW" port)
wait_until 10 eval '[ "$(bouncer_target)" = "127.0.0.1:$NEW_PORT" ]' ||
	fail "PgBouncer leads to $(bouncer_target), not the new primary $NEW (127.0.0.1:$NEW_PORT)"
ok "SHOW DATABASES: PgBouncer leads to the new primary $NEW (127.0.0.1:$NEW_PORT)"
APPLIED=$(grep -l "pooler pgbouncer now leads to 127.0.0.1:$NEW_PORT" "$C"/units/*/agent.log || true)
[ "$(wc -w <<<"$APPLIED")" = 1 ] || fail "not one agent applied the repoint: '$APPLIED'"
CHECKED=$(grep -l "pooler(s) lead to $NEW, repointed by their hosts' agents and checked" "$C"/units/*/agent.log || true)
[ "$(wc -w <<<"$CHECKED")" = 1 ] || fail "not one coordinator checked the repoint: '$CHECKED'"
[ "$APPLIED" != "$CHECKED" ] || fail "the coordinator applied the repoint itself ($APPLIED)"
ok "applied by the agent of $(basename "$(dirname "$APPLIED")"): $(grep -h "pooler pgbouncer now leads to" "$APPLIED" | tail -n 1)"
ok "the coordinator ($(basename "$(dirname "$CHECKED")"), elected as $COORD): $(grep -h "repointed by their hosts' agents" "$CHECKED" | tail -n 1)"
# the switchover's repoint is never the coordinator's ("now leads to HOST:PORT: ... (for the switchover)"),
# and it is the only one: while its mark is held, no agent following Patroni's leader repoints (it would
# repoint in the middle of the switchover); after it, PgBouncer leads to the leader already
grep -q "pooler pgbouncer now leads to [0-9].*(for the switchover)\|: took the repoint to " "$CHECKED" &&
	fail "the coordinator's log says it repointed PgBouncer for the switchover"
SWITCHOVER_REPOINTS=$(cat "$C"/units/*/agent.log | grep -c "pooler pgbouncer now leads to [0-9].*(for the switchover)" || true)
assert_eq "$SWITCHOVER_REPOINTS" 1 "repoints for the switchover"
FOLLOWS_AFTER=$(follows)
[ "$FOLLOWS_AFTER" = "$FOLLOWS_BEFORE" ] ||
	fail "an agent following the leader repointed PgBouncer during the refresh: $(grep -h "pooler pgbouncer now leads to the primary " "$C"/units/*/agent.log | tail -n $((FOLLOWS_AFTER - FOLLOWS_BEFORE)))"
ok "one repoint, the switchover's, by a host's agent; none by an agent following the leader"
[ -e "$T/load.failed" ] && fail "writes through PgBouncer failed: $(head -n 3 "$T/load.failed") $(tail -n 3 "$T/load.err")"
ok "$(psql_bouncer 'select count(*) from t58') rows written through PgBouncer, 0 failed writes"
assert_eq "$(intents_left)" 0 "pooler intents left in etcd"
