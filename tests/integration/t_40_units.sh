#!/usr/bin/env bash
# Unit operations: add-unit (a streaming replica with the data), remove-unit of a replica (gone, its
# directory too), remove-unit of the primary (refused), switchover (default: to the sync standby;
# PgBouncer follows), switchover --to an unknown unit (refused).
. "$(dirname "$0")/lib.sh"

roles_are() { # ROLE... in unit order, e.g. "primary replica sync-standby"
	local s
	s=$(status_json) || return 1
	[ "$(json_get "$s" "' '.join(u['role'] for u in d['units'])")" = "$*" ]
}

# Patroni's own view (GET /cluster from the first unit in pgrefresh.conf)
patroni_cluster_json() {
	curl -s --max-time 3 "http://127.0.0.1:$(sed -n 's/^api_port *= *//p' "$C/pgrefresh.conf" | head -n 1)/cluster"
}
patroni_members_are() {
	[ "$(json_get "$(patroni_cluster_json)" "len(d['members'])")" = "$1" ]
}

step "a 3-unit cluster on $LOW with a row"
need_versions "$LOW"
create_cluster 3 "$LOW"
wait_healthy 15
psql_bouncer "create table t40(id int primary key, v text); insert into t40 values (1, 'before add-unit')" >/dev/null

step "add-unit: a 4th unit, a streaming replica that has the row"
pgr_ok add-unit --dir "$C"
assert_contains "$OUT" "added pg/3" "add-unit output"
wait_healthy 20
S=$(status_json)
assert_eq "$(json_get "$S" "[u['name'] for u in d['units']]")" '["pg/0", "pg/1", "pg/2", "pg/3"]' "units"
assert_match "$(unit_field pg/3 role)" '^(replica|sync-standby)$' "role of pg/3"
assert_eq "$(unit_field pg/3 version)" "$LOW" "version of pg/3"
assert_eq "$(psql_unit pg/3 'select pg_is_in_recovery()')" t "pg/3 in recovery"
wait_until 10 psql_unit_eq pg/3 "select v from t40 where id = 1" "before add-unit" || fail "pg/3 lacks the row"
ok "pg/3 has the row written before it existed"
PRIMARY=$(units_with_role primary)
PPORT=$(unit_field "$PRIMARY" port)
assert_eq "$(psql_unit "$PRIMARY" "select count(*) from pg_stat_replication where application_name = 'pg-3' and state = 'streaming'")" 1 \
	"pg/3 streams from the primary $PRIMARY"
psql_bouncer "insert into t40 values (2, 'after add-unit')" >/dev/null
wait_until 10 psql_unit_eq pg/3 "select v from t40 where id = 2" "after add-unit" || fail "pg/3 does not receive new rows"
ok "pg/3 receives new rows"
grep -q '^\[unit pg/3\]' "$C/pgrefresh.conf" || fail "pgrefresh.conf has no [unit pg/3]"
ok "pgrefresh.conf lists pg/3"

step "remove-unit of a replica: 3 units left, its directory and processes gone"
REPLICA=$(units_with_role replica | sed -n 1p)
[ -n "$REPLICA" ] || fail "no replica to remove: $(status_json)"
RDIR=$C/units/${REPLICA/\//-}
RPIDS=$(pidfile_pids "$RDIR" | tr '\n' ' ')
assert_eq "$(wc -w <<<"$RPIDS")" 3 "live pids of $REPLICA (agent, Patroni, postmaster)"
pgr_ok remove-unit --dir "$C" "$REPLICA"
assert_contains "$OUT" "removed $REPLICA" "remove-unit output"
# Patroni's member key is Patroni's: remove-unit lets it expire with Patroni's lease and waits for that
# (it deletes nothing of Patroni's); when it returns, Patroni lists the member no more
assert_contains "$ERR" "waiting for Patroni to drop its member ${REPLICA/\//-}" "remove-unit progress"
patroni_members_are 3 || fail "remove-unit returned while Patroni still lists 4 members: $(patroni_cluster_json)"
ok "Patroni lists 3 members when remove-unit returns"
[ ! -e "$RDIR" ] || fail "$RDIR still exists"
ok "$RDIR removed"
for p in $RPIDS; do pid_alive "$p" && fail "pid $p of $REPLICA still runs"; done
ok "the processes of $REPLICA are gone"
grep -q "^\[unit $REPLICA\]" "$C/pgrefresh.conf" && fail "pgrefresh.conf still lists $REPLICA"
ok "pgrefresh.conf no longer lists $REPLICA"
wait_healthy 20
assert_eq "$(json_get "$(status_json)" "len(d['units'])")" 3 "units in status"
assert_eq "$(json_get "$(status_json)" "'$REPLICA' in [u['name'] for u in d['units']]")" false "$REPLICA in status"
wait_until 15 patroni_members_are 3 || fail "Patroni does not list 3 members: $(patroni_cluster_json)"
ok "Patroni lists 3 members"

step "remove-unit of the primary ($PRIMARY): refused, one error line and a hint, nothing changed"
pgr_run remove-unit --dir "$C" "$PRIMARY"
assert_user_error "remove-unit of the primary"
assert_contains "$ERR" "primary" "error"
assert_contains "$ERR" "hint: " "error"
assert_contains "$ERR" "switchover" "hint"
assert_eq "$(unit_field "$PRIMARY" role)" primary "role of $PRIMARY"
[ -d "$C/units/${PRIMARY/\//-}" ] || fail "the primary's directory is gone"
wait_healthy 5

step "remove-unit of a unit that does not exist: refused"
pgr_run remove-unit --dir "$C" pg/42
assert_user_error "remove-unit pg/42"
assert_contains "$ERR" "pg/42" "error"

step "switchover (default: to the sync standby): the primary role moves, PgBouncer follows"
OLD=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
[ -n "$SYNC" ] || fail "no sync standby: $(status_json)"
pgr_ok switchover --dir "$C"
assert_contains "$OUT" "$SYNC is the primary" "switchover output"
primary_is() { [ "$(units_with_role primary)" = "$1" ]; }
wait_until 10 primary_is "$SYNC" || fail "status does not show $SYNC as the primary: $(status_json)"
ok "status: $SYNC is the primary (was $OLD)"
wait_healthy 30
assert_eq "$(psql_unit "$SYNC" 'select pg_is_in_recovery()')" f "$SYNC accepts writes"
assert_eq "$(psql_unit "$OLD" 'select pg_is_in_recovery()')" t "$OLD is a standby now"
psql_bouncer "insert into t40 values (3, 'after switchover')" >/dev/null
ok "a write through PgBouncer succeeds after the switchover"
assert_eq "$(psql_bouncer 'select inet_server_port()')" "$(unit_field "$SYNC" port)" "PgBouncer leads to the new primary's port"
for u in $(json_get "$(status_json)" "' '.join(u['name'] for u in d['units'])"); do
	wait_until 10 psql_unit_eq "$u" "select v from t40 where id = 3" "after switchover" || fail "$u lacks the row written after the switchover"
done
ok "the row written after the switchover is on every unit"

step "switchover --to a unit that does not exist: refused, the primary stays"
pgr_run switchover --dir "$C" --to pg/9
assert_user_error "switchover --to pg/9"
assert_contains "$ERR" "pg/9" "error"
assert_eq "$(units_with_role primary)" "$SYNC" "primary"

step "switchover --to the current primary: refused"
pgr_run switchover --dir "$C" --to "$SYNC"
assert_user_error "switchover --to the primary"
assert_eq "$(units_with_role primary)" "$SYNC" "primary"
