#!/usr/bin/env bash
# PgBouncer around the switchover (issue 4), with two PgBouncers in front of the cluster (paused and
# resumed together; the load goes through the first, checks write through both):
#  1. two `pgrefresh switchover`s under a write load through PgBouncer (bench/loadclient, 4 clients):
#     0 failed transactions, every acknowledged id on every unit;
#  2. a switchover that fails after PgBouncer was paused (switchover=patroni; the candidate carries
#     Patroni's nofailover tag: Patroni answers 412): one error line, exit non-zero, PgBouncer resumed
#     towards the old primary, the paused mark gone, the primary unchanged; with switchover=fast the
#     same candidate is refused before anything changes;
#  3. the `pgrefresh switchover` process killed (-9) while PgBouncer is paused: its lease expires and
#     the coordinator resumes PgBouncer, which leads to the new primary;
#  4. the coordinator's agent killed (-9) while PgBouncer is paused in a refresh's switchover: the next
#     coordinator resumes PgBouncer and finishes the refresh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

# every acknowledged id of RUNDIR is on UNIT
unit_has_acks() { # UNIT RUNDIR
	local n want
	want=$(wc -l <"$2/ids.txt")
	n=$(psql_unit "$1" "select count(*) from ledger where id in ($(paste -sd, "$2/ids.txt"))") || return 1
	[ "$n" = "$want" ]
}
assert_acks_everywhere() { # RUNDIR
	local u
	for u in pg/0 pg/1 pg/2; do
		wait_until 20 unit_has_acks "$u" "$1" || fail "$u lacks acknowledged ids of $1"
	done
	ok "all $(wc -l <"$1/ids.txt") acknowledged ids on pg/0, pg/1 and pg/2"
}

etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
MARK_KEY_B64=$(printf '/pgrefresh/pg/switchover' | base64 -w0)
mark_value() {
	curl -s --max-time 2 -X POST "$(etcd_url)/v3/kv/range" -d "{\"key\":\"$MARK_KEY_B64\"}" |
		python3 -c 'import base64, json, sys; d = json.load(sys.stdin); print(base64.b64decode(d["kvs"][0]["value"]).decode() if d.get("kvs") else "")'
}
mark_present() { [ -n "$(mark_value)" ]; }
# PgBouncer paused, as the switchover mark says
mark_paused() { [[ "$(mark_value)" == *'"pgbouncer_paused":true'* ]]; }
# a write through PgBouncer answers within 3 s: PgBouncer is not paused, and leads to a primary
# a write through every PgBouncer answers within 3 s: none is paused, each leads to a primary
bouncer_writes() {
	local port
	for port in $BOUNCERS; do
		(
			eval "$("$PGR" cluster env --dir "$C")"
			exec timeout 3 "$PSQL" -X -q -v ON_ERROR_STOP=1 -p "$port" -c 'insert into t55 default values'
		) >/dev/null 2>&1 || return 1
	done
}
gone_lines() { cat "$C"/units/*/agent.log | grep -c "left paused by a process that is gone" || true; }
# polls every 20 ms until the switchover mark says PgBouncer is paused (at most S seconds)
wait_for_paused_mark() { # S
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		mark_paused && return 0
		sleep 0.02
	done
	return 1
}
patroni_yml() { printf '%s/units/%s/patroni.yml\n' "$C" "$(unit_member "$1")"; }
patroni_reload() { curl -s --max-time 5 -X POST "http://127.0.0.1:$(api_port "$1")/reload" >/dev/null; }

step "a 3-unit cluster on $LOW with two PgBouncers; a ledger table"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW" "$T/c" --pgbouncers 2
BOUNCERS=$(json_get "$(status_json)" "' '.join(str(b['port']) for b in d['pgbouncer'])")
[ "$(wc -w <<<"$BOUNCERS")" = 2 ] || fail "status lists PgBouncers on ports '$BOUNCERS', expected two"
ok "PgBouncers on ports $BOUNCERS"
wait_healthy 20
psql_bouncer "create table ledger(id bigint primary key, client int not null, at timestamptz not null); create table t55(id serial primary key)" >/dev/null

step "two switchovers under a write load through PgBouncer: 0 failed, every acknowledged id on every unit"
start_load "$T/load1" 0
sleep 2
for n in 1 2; do
	FROM=$(units_with_role primary)
	pgr_ok switchover --dir "$C"
	assert_match "$OUT" "switched over: pg/[0-9] is the primary \(was $FROM\); clients waited [0-9]+ ms" "switchover $n"
	wait_healthy 30
done
bouncer_writes || fail "a write through one of the PgBouncers fails after the switchovers"
ok "both PgBouncers lead to the new primary"
sleep 1
stop_load "$T/load1"
assert_eq "$(load_field "$T/load1" failed)" 0 "failed transactions"
assert_eq "$(load_field "$T/load1" connect_errors)" 0 "failed connection attempts"
[ "$(load_field "$T/load1" acknowledged)" -ge 100 ] || fail "only $(load_field "$T/load1" acknowledged) acknowledged"
ok "$(load_field "$T/load1" acknowledged) acknowledged, longest zero-commit window $(load_field "$T/load1" longest_zero_commit_window_ms) ms"
assert_acks_everywhere "$T/load1"

step "a switchover Patroni refuses after PgBouncer was paused (candidate tagged nofailover): PgBouncer resumed"
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
cp "$(patroni_yml "$SYNC")" "$T/patroni.yml.saved"
sed -i 's/^tags: {}$/tags: {nofailover: true}/' "$(patroni_yml "$SYNC")"
grep -q '^tags: {nofailover: true}$' "$(patroni_yml "$SYNC")" || fail "could not tag $SYNC: $(grep '^tags' "$(patroni_yml "$SYNC")")"
patroni_reload "$SYNC"
pgr_run config --dir "$C" switchover && SW_BEFORE=$OUT
pgr_ok config --dir "$C" set switchover=patroni
start_load "$T/load2" 1000000
pgr_run switchover --dir "$C"
assert_user_error "a switchover Patroni refuses"
[ "$RC" != 0 ] || fail "exit 0"
assert_contains "$ERR" "nothing changed, PgBouncer resumed towards $(unit_member "$PRIMARY")" "error"
ok "exit $RC: $(grep 'pgrefresh: error' <<<"$ERR")"
mark_present && fail "the switchover mark is still in etcd: $(mark_value)"
ok "no switchover mark left in etcd"
bouncer_writes || fail "a write through a PgBouncer does not answer within 3 s"
ok "both PgBouncers answer writes at once"
assert_eq "$(units_with_role primary)" "$PRIMARY" "primary"
stop_load "$T/load2"
assert_eq "$(load_field "$T/load2" failed)" 0 "failed transactions around the refused switchover"
pgr_ok config --dir "$C" set switchover=fast # the same candidate, still tagged (Patroni just refused it)
pgr_run switchover --dir "$C"
assert_user_error "a fast switchover to a candidate tagged nofailover"
assert_contains "$ERR" "tagged nofailover" "error"
assert_eq "$(units_with_role primary)" "$PRIMARY" "primary"
ok "switchover=fast refuses it before anything changes: $(grep 'pgrefresh: error' <<<"$ERR")"
pgr_ok config --dir "$C" set switchover="$SW_BEFORE"
cp "$T/patroni.yml.saved" "$(patroni_yml "$SYNC")"
patroni_reload "$SYNC"
wait_healthy 30

step "pgrefresh switchover killed (-9) while PgBouncer is paused: the coordinator resumes it"
PRIMARY=$(units_with_role primary)
mark_present && fail "a switchover mark before the switchover: $(mark_value)"
pgr_bg() { "$PGR" switchover --dir "$C" >"$T/sw3.out" 2>"$T/sw3.err" & SW_PID=$!; HOLDERS+=("$SW_PID"); }
pgr_bg
wait_for_paused_mark 40 || fail "the paused mark never appeared: $(cat "$T/sw3.err")"
kill -KILL "$SW_PID"
wait "$SW_PID" 2>/dev/null || true
ok "pgrefresh switchover (pid $SW_PID) killed while PgBouncer was paused"
wait_until 30 bouncer_writes || fail "a PgBouncer still does not answer 30 s after: $(status_json)"
ok "both PgBouncers answer writes again"
wait_until 10 eval '! mark_present' || fail "the switchover mark stays: $(mark_value)"
grep -h "left paused by a process that is gone" "$C"/units/*/agent.log >/dev/null ||
	fail "no coordinator logged that it resumed PgBouncer"
ok "$(grep -h "left paused by a process that is gone" "$C"/units/*/agent.log | tail -n 1)"
# no standby left cascading from another (the dead switchover had tagged one replicatefrom)
for u in pg/0 pg/1 pg/2; do
	grep -q '^tags: {}$' "$(patroni_yml "$u")" || fail "$u still tagged: $(grep '^tags' "$(patroni_yml "$u")")"
done
ok "no unit tagged replicatefrom any more"
wait_healthy 30

step "the coordinator's agent killed (-9) while PgBouncer is paused in a refresh: the next one resumes it"
set_pause none
COORD=$(json_get "$(status_json)" "d['coordinator']")
PRIMARY=$(units_with_role primary)
if [ "$COORD" = "$PRIMARY" ]; then
	# the coordinator must survive the unit refreshes before the switchover: any unit but the primary's
	kill -KILL "$(agent_pid "$PRIMARY")"
	wait_until 20 eval '[ "$(json_get "$(status_json)" "d[\"coordinator\"]")" != "$PRIMARY" ]' || fail "no other coordinator"
	pgr_ok cluster start --dir "$C"
	wait_healthy 30
	COORD=$(json_get "$(status_json)" "d['coordinator']")
fi
GONE_BEFORE=$(gone_lines)
start_load "$T/load4" 2000000
start_refresh --version "$HIGH"
wait_for_paused_mark 200 || fail "the paused mark never appeared: $(status_json)"
COORD_PID=$(agent_pid "$COORD")
kill -KILL "$COORD_PID"
ok "the coordinator's agent ($COORD, pid $COORD_PID) killed while PgBouncer was paused"
wait_until 40 bouncer_writes || fail "a PgBouncer still does not answer 40 s after: $(status_json)"
ok "both PgBouncers answer writes again"
GONE_AFTER=$(gone_lines)
[ "$GONE_AFTER" -gt "$GONE_BEFORE" ] || fail "no coordinator logged that it resumed PgBouncer"
ok "another coordinator resumed it: $(grep -h "left paused by a process that is gone" "$C"/units/*/agent.log | sort | tail -n 1)"
pgr_ok cluster start --dir "$C"
wait_refresh 240 idle
assert_all_on "$HIGH"
stop_load "$T/load4"
assert_acks_everywhere "$T/load4"
ok "$(load_field "$T/load4" failed) failed transactions (the refresh went on without its coordinator)"
