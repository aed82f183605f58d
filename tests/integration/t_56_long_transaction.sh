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

message_names_holder() { # PID
	[[ "$(refresh_field message)" == *"pid $1 ('t56-holder', 127.0.0.1:"* ]]
}

step "a 3-unit cluster on $LOW, a ledger table, pause-after-unit-refresh=none"
ledger_cluster t56
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
write_answers t56 || fail "a write through PgBouncer does not answer within 3 s while the switchover waits"
ok "PgBouncer answers writes at once: not paused"
sleep 3
assert_eq "$(refresh_field state)" refreshing "refresh state 3 s later"
message_names_holder "$HPID" || fail "3 s later status no longer names the holder: $(refresh_field message)"
assert_eq "$(units_with_role primary)" "$PRIMARY" "primary while waiting"
write_answers t56 || fail "a write through PgBouncer does not answer within 3 s, 3 s later"
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
assert_load_clean "$T/load" 5000 # a PAUSE held by the transaction would stall it 10 s
echo -1 >>"$T/load/ids.txt"      # the holder's row
assert_ids_on_all "$T/load/ids.txt"

step "the logs: the wait is logged with the holder, no RESUME error"
grep -h "waits, PgBouncer not paused, for 1 open transaction: pid $HPID" "$C"/units/*/agent.log >/dev/null ||
	fail "no agent logged the wait for pid $HPID"
ok "$(grep -h "waits, PgBouncer not paused" "$C"/units/*/agent.log | head -n 1)"
if grep -h "not paused/suspended" "$C"/units/*/agent.log; then fail "a RESUME error was logged"; fi
ok "no 'not paused' error in any agent log"
