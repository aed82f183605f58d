#!/usr/bin/env bash
# A client holding a transaction open through PgBouncer while the refresh reaches its switchover
# (issue 12 section 4). PgBouncer's PAUSE would wait for that transaction, and every other client with
# it: the switchover waits instead, without pausing, names the holder in status, and goes on once the
# transaction ends.
#  1. a 3-unit cluster, a writer through PgBouncer (bench/loadclient, 4 clients) and a holder (psql
#     through PgBouncer, application_name t56-holder, BEGIN + INSERT, then idle in transaction);
#  2. the refresh (pause none) reaches the switchover and waits: status names the holder (pid,
#     application, client address, age), PgBouncer answers writes at once (not paused);
#  3. the holder commits: the refresh completes; the writer lost nothing (0 failed, every
#     acknowledged id and the holder's row on every unit) and its longest stall is the switchover's own,
#     far under the 10 s of a PAUSE held by the transaction; no RESUME error in any log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

LC=$T/loadclient
cc -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags libpq) "$ROOT/bench/loadclient.c" -o "$LC" \
	$(pkg-config --libs libpq) -lpthread || fail "could not build bench/loadclient.c"

start_load() { # RUNDIR ID_BASE
	mkdir -p "$1"
	(
		eval "$("$PGR" cluster env --dir "$C")"
		exec "$LC" --out "$1" --clients 4 --rate 200 --id-base "$2" --stop-file "$1/stop" >"$1/stdout" 2>"$1/stderr"
	) &
	LOAD_PID=$!
	HOLDERS+=("$LOAD_PID")
}
stop_load() { # RUNDIR
	touch "$1/stop"
	wait "$LOAD_PID" 2>/dev/null || true
	[ -s "$1/result.json" ] || fail "the load client wrote no result: $(cat "$1/stderr")"
}
load_field() { json_get "$(cat "$1/result.json")" "d['$2']"; }
unit_has_ids() { # UNIT FILE: every id of FILE is on UNIT
	local n want
	want=$(wc -l <"$2")
	n=$(psql_unit "$1" "select count(*) from ledger where id in ($(paste -sd, "$2"))") || return 1
	[ "$n" = "$want" ]
}

# the holder: psql through PgBouncer reading its statements from a FIFO (fd 7), so that the
# transaction stays open until the scenario says
open_holder() {
	rm -f "$T/holder.in"
	mkfifo "$T/holder.in"
	(
		eval "$("$PGR" cluster env --dir "$C")"
		export PGAPPNAME=t56-holder
		exec "$PSQL" -X -q -v ON_ERROR_STOP=1 <"$T/holder.in" >"$T/holder.out" 2>"$T/holder.err"
	) &
	HOLDER_PID=$!
	HOLDERS+=("$HOLDER_PID")
	exec 7>"$T/holder.in"
	echo "BEGIN; INSERT INTO ledger VALUES (-1, -1, now());" >&7
}
holder_backend() { # the holder's backend pid on the primary, once it is idle in its transaction
	local pid
	pid=$(psql_unit "$(units_with_role primary)" \
		"select pid from pg_stat_activity where application_name = 't56-holder' and state = 'idle in transaction'") || return 1
	[ -n "$pid" ] && printf '%s\n' "$pid"
}
close_holder() { # SQL: the last statement, then end of input; sets HOLDER_RC
	echo "$1" >&7
	exec 7>&-
	HOLDER_RC=0
	wait "$HOLDER_PID" || HOLDER_RC=$?
}
write_answers() { # a write through PgBouncer answers within 3 s: PgBouncer is not paused
	(
		eval "$("$PGR" cluster env --dir "$C")"
		exec timeout 3 "$PSQL" -X -q -v ON_ERROR_STOP=1 -c 'insert into t56 default values'
	) >/dev/null 2>&1
}
message_names_holder() { # PID
	[[ "$(refresh_field message)" == *"pid $1 ('t56-holder', 127.0.0.1:"* ]]
}

step "a 3-unit cluster on $LOW, a ledger table, pause-after-unit-refresh=none"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 30
psql_bouncer "create table ledger(id bigint primary key, client int not null, at timestamptz not null); create table t56(id serial primary key)" >/dev/null
set_pause none
assert_eq "$(pgr_run config --dir "$C" switchover-wait-seconds && echo "$OUT")" 60 "switchover-wait-seconds (default)"
assert_eq "$(pgr_run config --dir "$C" switchover-terminate-clients && echo "$OUT")" false "switchover-terminate-clients (default)"

step "a writer through PgBouncer, and a client holding a transaction open through PgBouncer"
start_load "$T/load" 0
open_holder
wait_until 10 holder_backend || fail "the holder is not idle in a transaction on the primary: $(cat "$T/holder.err")"
HPID=$(holder_backend)
[ -n "$HPID" ] || fail "no backend pid for the holder"
ok "pid $HPID (t56-holder) idle in transaction on the primary ($(units_with_role primary))"

step "the refresh reaches the switchover and waits without pausing; status names the holder"
PRIMARY=$(units_with_role primary)
start_refresh --version "$HIGH"
wait_until 180 message_names_holder "$HPID" ||
	fail "status never named the holder: $(status_json || true)"
MSG=$(refresh_field message)
ok "status: $MSG"
assert_match "$MSG" "^Switchover waits, PgBouncer not paused, for 1 open transaction: pid $HPID \('t56-holder', 127\.0\.0\.1:[0-9]+, open [0-9]+ s\)\. Halts in [0-9]+ s \(switchover-wait-seconds=60\)$" "status message"
write_answers || fail "a write through PgBouncer does not answer within 3 s while the switchover waits"
ok "PgBouncer answers writes at once: not paused"
sleep 3
assert_eq "$(refresh_field state)" refreshing "refresh state 3 s later"
message_names_holder "$HPID" || fail "3 s later status no longer names the holder: $(refresh_field message)"
assert_eq "$(units_with_role primary)" "$PRIMARY" "primary while waiting"
write_answers || fail "a write through PgBouncer does not answer within 3 s, 3 s later"
ok "still waiting, unpaused: $(refresh_field message)"

step "the holder commits: the switchover goes on and the refresh completes"
close_holder "COMMIT;"
assert_eq "$HOLDER_RC" 0 "the holder's psql exit code (its COMMIT succeeded): $(cat "$T/holder.err")"
wait_refresh 180 idle
assert_all_on "$HIGH"
[ "$(units_with_role primary)" != "$PRIMARY" ] || fail "the primary did not move"
ok "primary moved from $PRIMARY to $(units_with_role primary)"

step "the writer: 0 failed, a stall far under 10 s, every acknowledged id and the holder's row on every unit"
sleep 1
stop_load "$T/load"
assert_eq "$(load_field "$T/load" failed)" 0 "failed transactions"
assert_eq "$(load_field "$T/load" connect_errors)" 0 "failed connection attempts"
STALL=$(load_field "$T/load" longest_zero_commit_window_ms)
awk -v s="$STALL" 'BEGIN { exit !(s < 5000) }' || fail "longest zero-commit window $STALL ms (the transaction held the PAUSE?)"
ok "$(load_field "$T/load" acknowledged) acknowledged, longest zero-commit window $STALL ms"
echo -1 >>"$T/load/ids.txt"
for u in pg/0 pg/1 pg/2; do
	wait_until 20 unit_has_ids "$u" "$T/load/ids.txt" || fail "$u lacks acknowledged ids or the holder's row"
done
ok "all $(wc -l <"$T/load/ids.txt") ids (the writer's and the holder's) on pg/0, pg/1 and pg/2"

step "the logs: the wait is logged with the holder, no RESUME error"
grep -h "waits, PgBouncer not paused, for 1 open transaction: pid $HPID" "$C"/units/*/agent.log >/dev/null ||
	fail "no agent logged the wait for pid $HPID"
ok "$(grep -h "waits, PgBouncer not paused" "$C"/units/*/agent.log | head -n 1)"
if grep -h "not paused/suspended" "$C"/units/*/agent.log; then fail "a RESUME error was logged"; fi
ok "no 'not paused' error in any agent log"
