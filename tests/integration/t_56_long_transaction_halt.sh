#!/usr/bin/env bash
# A client holding a transaction open through PgBouncer past switchover-wait-seconds (issue 12
# section 4): the refresh halts, naming the holder and what to run; with
# switchover-terminate-clients=true, resume-refresh waits again, ends the holder's session and completes.
#  1. a 3-unit cluster; bad values of the two settings refused by `config set`; switchover-wait-seconds=5;
#  2. a writer through PgBouncer (bench/loadclient) and a holder the check cannot see (named like
#     Patroni's sessions, which it leaves out: it stands for a transaction begun between the check and
#     the PAUSE): each PAUSE times out after 2 s and is undone at once (the writer's longest stall under
#     3 s, no RESUME error logged), tried again after a back-off, then the refresh halts in failed;
#  2b. a holder (t56-holder, BEGIN + INSERT, then idle in transaction); resume-refresh: it halts again
#     after switchover-wait-seconds=5, status names the holder and the setting; nothing changed (same
#     primary, PgBouncer answers writes), the holder's session untouched;
#  3. switchover-terminate-clients=true, resume-refresh: the holder's session is ended (its row never
#     committed), the refresh completes; the writer: 0 failed, every acknowledged id on every unit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

step "a 3-unit cluster on $LOW; bad values of the switchover settings refused; switchover-wait-seconds=5"
ledger_cluster t56
for bad in switchover-wait-seconds=soon switchover-wait-seconds=-1 switchover-wait-seconds=86401 \
	switchover-terminate-clients=yes switchover-terminate-clients=; do
	pgr_run config --dir "$C" set "$bad"
	assert_user_error "config set $bad"
	assert_contains "$ERR" "${bad%%=*}" "the error names the setting"
done
assert_eq "$(pgr_run config --dir "$C" switchover-wait-seconds && echo "$OUT")" 60 "switchover-wait-seconds after refused sets"
pgr_ok config --dir "$C" set switchover-wait-seconds=5
assert_eq "$(pgr_run config --dir "$C" switchover-wait-seconds && echo "$OUT")" 5 "switchover-wait-seconds"

step "a transaction the check cannot see holds the PAUSE: each PAUSE undone within its 2 s bound, then a halt"
# Patroni's own sessions are left out of the check (they never go through PgBouncer): a client named
# like one stands for a transaction begun between the check and the PAUSE
start_load "$T/load" 0
open_holder Patroni-t56 -2
wait_until 10 holder_backend Patroni-t56 || fail "the hidden holder is not idle in a transaction: $(cat "$T/holder.err")"
PRIMARY=$(units_with_role primary)
ok "pid $(holder_backend Patroni-t56) (Patroni-t56) idle in transaction on $PRIMARY"
start_refresh --version "$HIGH"
pgr_run wait --dir "$C" --timeout 180 failed
[ "$RC" = 0 ] || fail "the refresh did not halt in failed: wait exited $RC: $ERR; $(status_json || true)"
MSG=$(refresh_field message)
ok "status: $MSG"
assert_match "$MSG" "switchover failed: PgBouncer's PAUSE did not complete within 2000 ms [0-9]+ times in [0-9]+ s" "the halt says the PAUSE timed out"
N=$(cat "$C"/units/*/agent.log | grep -c "PAUSE did not complete within 2000 ms" || true)
[ "$N" -ge 2 ] || fail "$N PAUSE timeouts logged, expected at least 2 (tried again after the first)"
ok "$N PAUSEs timed out and were undone: $(grep -h "PAUSE did not complete within 2000 ms" "$C"/units/*/agent.log | head -n 1)"
assert_eq "$(units_with_role primary)" "$PRIMARY" "primary after the halt"
write_answers t56 || fail "a write through PgBouncer does not answer within 3 s after the halt"
ok "PgBouncer answers writes: not left paused"
if grep -h "not paused/suspended" "$C"/units/*/agent.log; then fail "a RESUME error was logged"; fi
ok "no 'not paused' error in any agent log"
close_holder "COMMIT;"
assert_eq "$HOLDER_RC" 0 "the hidden holder's COMMIT"
sleep 1
stop_load "$T/load"
assert_eq "$(load_field "$T/load" failed)" 0 "failed transactions"
STALL=$(load_field "$T/load" longest_zero_commit_window_ms)
awk -v s="$STALL" 'BEGIN { exit !(s < 3000) }' || fail "longest zero-commit window $STALL ms: a PAUSE held clients past its 2 s bound"
ok "longest zero-commit window $STALL ms while PAUSEs timed out (bound 2000 ms each)"

step "a client holding a transaction open: resume-refresh halts again after 5 s, naming it"
start_load "$T/load2" 1000000
open_holder
wait_until 10 holder_backend || fail "the holder is not idle in a transaction: $(cat "$T/holder.err")"
HPID=$(holder_backend)
ok "pid $HPID (t56-holder) idle in transaction on $PRIMARY"
pgr_ok resume-refresh --dir "$C"
wait_until 20 eval '! refresh_state_is failed' || fail "resume-refresh was not taken: $(status_json || true)"
pgr_run wait --dir "$C" --timeout 120 failed
[ "$RC" = 0 ] || fail "the refresh did not halt in failed: wait exited $RC: $ERR; $(status_json || true)"
MSG=$(refresh_field message)
ok "status: $MSG"
assert_match "$MSG" "switchover failed: a transaction outlasted the 5 s wait: pid $HPID \\('t56-holder', 127\\.0\\.0\\.1:[0-9]+, open [0-9]+ s\\); end it or set switchover-terminate-clients=true" "the halt names the holder (pid, application, address, age) and the setting"
assert_contains "$MSG" "pgrefresh rollback" "the halt names the rollback"
assert_eq "$(units_with_role primary)" "$PRIMARY" "primary after the halt"
write_answers t56 || fail "a write through PgBouncer does not answer within 3 s after the halt"
ok "PgBouncer answers writes: not left paused"
assert_eq "$(holder_backend)" "$HPID" "the holder's session after the halt (untouched)"

step "switchover-terminate-clients=true, resume-refresh: the holder's session is ended, the refresh completes"
pgr_ok config --dir "$C" set switchover-terminate-clients=true
pgr_ok resume-refresh --dir "$C"
wait_refresh 180 idle
assert_all_on "$HIGH"
[ "$(units_with_role primary)" != "$PRIMARY" ] || fail "the primary did not move"
grep -h "ended the session of pid $HPID ('t56-holder', 127.0.0.1:" "$C"/units/*/agent.log >/dev/null ||
	fail "no agent logged that it ended pid $HPID: $(grep -h 'ended the session\|switchover' "$C"/units/*/agent.log | tail -n 5)"
ok "$(grep -h "ended the session of pid $HPID" "$C"/units/*/agent.log | head -n 1)"
close_holder "COMMIT;"
[ "$HOLDER_RC" != 0 ] || fail "the holder's COMMIT succeeded after its session was ended"
ok "the holder's psql: exit $HOLDER_RC ($(tr '\n' ' ' <"$T/holder.err" | cut -c1-160))"
assert_eq "$(psql_unit "$(units_with_role primary)" 'select count(*) from ledger where id = -1')" 0 "the holder's row (never committed)"

step "the writer: 0 failed, every acknowledged id on every unit; no RESUME error logged"
sleep 1
stop_load "$T/load2"
assert_load_clean "$T/load2" 5000
cat "$T/load/ids.txt" "$T/load2/ids.txt" >"$T/ids.txt" # both writers'
assert_ids_on_all "$T/ids.txt"
if grep -h "not paused/suspended" "$C"/units/*/agent.log; then fail "a RESUME error was logged"; fi
ok "no 'not paused' error in any agent log"
