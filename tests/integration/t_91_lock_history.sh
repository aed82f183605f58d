#!/usr/bin/env bash
# The operation lock and history without limit, on a real 3-unit cluster:
#  - two `switchover`s started at once: exactly one runs, the other is refused (exit 6) naming who holds
#    the lock (or the switchover it is running);
#  - a `switchover` killed with SIGKILL while it holds the lock: the lock goes with its lease (5 s), and
#    the next switchover runs;
#  - 70 refreshes in history, written straight into etcd as a cluster from before the id counter (ids
#    1..70, no counter): the next refresh gets id 71, `refresh` is refused while another process holds
#    the lock, and the coordinator takes no step of the refresh while someone else's live lock holds it
#    (a lock written under a lease of the test's own), then goes on once that lease is revoked;
#  - `history` lists all 71 (read a page at a time), each id once, FROM/TO as each record has them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

step "a 3-unit cluster on $LOW"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
ETCD=$(sed -nE 's/^etcd *= *(.*)$/\1/p' "$C/pgrefresh.conf" | tr -d ' ')
[ -n "$ETCD" ] || fail "no etcd endpoint in $C/pgrefresh.conf"
KEY=/pgrefresh/pg
ectl() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD" "$@"; }
lock_value() { ectl get --print-value-only "$KEY/lock"; }
lock_held() { [ -n "$(lock_value)" ]; }
lock_free() { [ -z "$(lock_value)" ]; }
ok "etcd at $ETCD"

step "two switchovers at once: exactly one runs, the other is refused naming the holder"
PRIMARY=$(units_with_role primary)
o1=$T/so1.out e1=$T/so1.err o2=$T/so2.out e2=$T/so2.err
"$PGR" switchover --dir "$C" >"$o1" 2>"$e1" &
p1=$!
"$PGR" switchover --dir "$C" >"$o2" 2>"$e2" &
p2=$!
rc1=0 rc2=0
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
echo "# first: exit $rc1: $(tail -n 2 "$e1" | tr '\n' ' ')"
echo "# second: exit $rc2: $(tail -n 2 "$e2" | tr '\n' ' ')"
if [ "$rc1" = 0 ]; then WIN_ERR=$e2 LOSE_RC=$rc2; else WIN_ERR=$e1 LOSE_RC=$rc1; fi
assert_eq "$(printf '%s\n' "$rc1" "$rc2" | sort | tr '\n' ' ')" "0 6 " "exit codes of the two switchovers"
LOSER=$(grep '^pgrefresh: error: ' "$WIN_ERR")
assert_match "$LOSER" "^pgrefresh: error: switchover refused: (another operation is in progress: a switchover by pgrefresh switchover \(pid [0-9]+ on [^)]*\) since [0-9-]+ [0-9:]+ \([0-9]+ s ago\)|a switchover is in progress)" "the refusal"
assert_eq "$LOSE_RC" 6 "exit of the refused one"
assert_match "$(cat "$o1" "$o2")" "switched over: pg/[0-9] is the primary \(was $PRIMARY\)" "the one that ran"
wait_until 10 lock_free || fail "the lock is still held after both ended: $(lock_value)"
ok "the lock is free again"
wait_healthy 60

step "a switchover killed with SIGKILL while it holds the lock: the lock expires with its lease"
"$PGR" switchover --dir "$C" >"$T/so3.out" 2>"$T/so3.err" &
p3=$!
wait_until 10 lock_held || fail "the switchover never took the lock: $(cat "$T/so3.err")"
HELD=$(lock_value)
assert_contains "$HELD" "\"operation\":\"switchover\"" "the lock"
assert_contains "$HELD" "pid $p3" "the lock's owner"
pgr_run add-unit --dir "$C"
assert_user_error "add-unit while a switchover holds the lock"
assert_rc 6 "exit of add-unit"
assert_match "$ERR" "add-unit refused: another operation is in progress: a switchover by pgrefresh switchover \(pid $p3 on " "refusal of add-unit"
kill -KILL "$p3"
wait "$p3" 2>/dev/null || true
KILLED_AT=$(date +%s)
ok "switchover $p3 killed"
wait_until 15 lock_free || fail "the lock of the killed switchover is still there: $(lock_value)"
ok "the lock went with the killed holder's lease after $(($(date +%s) - KILLED_AT)) s"
wait_healthy 90
pgr_ok switchover --dir "$C"
assert_match "$OUT" "switched over" "the next switchover"
wait_healthy 60

step "70 refreshes in history, written straight into etcd, as before the id counter (ids 1..70, no counter)"
NOW=$(($(date +%s) * 1000))
for id in $(seq 1 70); do
	if [ $((id % 2)) = 0 ]; then f=15.2 t=15.1 rb=true; else f=15.1 t=15.2 rb=false; fi
	ectl put "$KEY/history/$(printf '%08d' "$id")" \
		"{\"id\":$id,\"state\":\"done\",\"rollback\":$rb,\"from\":\"$f\",\"to\":\"$t\",\"original\":\"15.1\",\"units\":[],\"current\":-1,\"started_ms\":$((NOW - 100000 + id)),\"ended_ms\":$((NOW - 50000 + id))}" >/dev/null
done
ectl del "$KEY/refresh-id" >/dev/null
assert_eq "$(ectl get --prefix --keys-only "$KEY/history/" | grep -c history/)" 70 "history keys in etcd"

step "refresh refused while another process holds the lock; it names the holder"
LEASE=$(ectl lease grant 60 | awk '{print $2}')
ectl put --lease="$LEASE" "$KEY/lock" "{\"operation\":\"switchover\",\"owner\":\"t_91 on another host\",\"since_ms\":$NOW}" >/dev/null
pgr_run refresh --dir "$C" --version "$HIGH"
assert_user_error "refresh while the lock is held"
assert_rc 6 "exit of refresh"
assert_contains "$ERR" "refresh refused: another operation is in progress: a switchover by t_91 on another host since" "refusal"
assert_eq "$(json_get "$(status_json)" "d['refresh']['state']")" idle "refresh state (nothing recorded)"
ectl lease revoke "$LEASE" >/dev/null
wait_until 5 lock_free || fail "lock still there after revoking its lease"

step "refresh to $HIGH: it gets id 71, the next after the highest in history"
start_refresh --version "$HIGH"
assert_contains "$ERR" "refresh 71 recorded" "the refresh's id"
wait_refresh 150 paused
assert_eq "$(ectl get --print-value-only "$KEY/refresh-id")" 71 "the id counter"
assert_contains "$(lock_value)" "\"operation\":\"refresh\"" "the lock while the refresh is paused"
assert_contains "$(lock_value)" "coordinator pg/" "the lock's owner"

step "someone else's live lock: the coordinator takes no step of the refresh"
LEASE=$(ectl lease grant 60 | awk '{print $2}')
ectl put --lease="$LEASE" "$KEY/lock" "{\"operation\":\"switchover\",\"owner\":\"t_91 intruder\",\"since_ms\":$NOW}" >/dev/null
COORD=$(json_get "$(status_json)" "d['coordinator']")
COORD_LOG=$C/units/$(unit_member "$COORD")/agent.log
"$PGR" resume-refresh --dir "$C" >"$T/resume.out" 2>"$T/resume.err" &
RESUME=$!
wait_until 20 grep -q "waits: the operation lock is held by a switchover by t_91 intruder" "$COORD_LOG" ||
	fail "the coordinator ($COORD) did not say it waits for the lock: $(tail -n 20 "$COORD_LOG")"
ok "the coordinator waits: $(grep -m1 'waits: the operation lock' "$COORD_LOG" | cut -c1-160)"
sleep 5
# the record as the coordinator left it: still paused, no unit past the first; the resume-refresh intent
# not taken (only the coordinator writes the record: the CLI's intent waits for it)
REC=$(ectl get --print-value-only "$KEY/refresh")
assert_eq "$(json_get "$REC" "'%s %d' % (d['state'], sum(u['step'] in ('done', 'refreshing') for u in d['units']))")" \
	"paused 1" "the refresh record after 5 s of someone else's lock (state, units started)"
INTENT=$(ectl get --print-value-only "$KEY/intent")
assert_eq "$(json_get "$INTENT" "'%s %s' % (d['ask'], d['answer'])")" "resume-refresh pending" "the intent after 5 s of someone else's lock"
assert_contains "$(lock_value)" "t_91 intruder" "the lock (still the intruder's)"
ectl lease revoke "$LEASE" >/dev/null
ok "the intruder's lease revoked"
wait "$RESUME" || fail "resume-refresh failed: $(cat "$T/resume.err")"
wait_refresh 240 idle
assert_all_on "$HIGH"
wait_until 10 lock_free || fail "the lock is still held after the refresh: $(lock_value)"
ok "the lock was released with the refresh"

step "history lists all 71 refreshes, each id once, FROM/TO as recorded"
H=$(history_json) || fail "history --format json failed: $ERR"
assert_eq "$(json_get "$H" "len(d)")" 71 "history entries"
assert_eq "$(json_get "$H" "[r['id'] for r in d] == list(range(1, 72))")" true "ids 1..71 in order, each once"
assert_eq "$(json_get "$H" "'%s %s %s' % (d[69]['from'], d[69]['to'], d[69]['outcome'])")" "15.1 15.2 rolled back" "entry 70 (a rollback: FROM/TO as the user asked)"
assert_eq "$(json_get "$H" "'%s %s %s' % (d[70]['from'], d[70]['to'], d[70]['outcome'])")" "$LOW $HIGH completed" "entry 71"
pgr_ok history --dir "$C"
assert_eq "$(grep -cE '^[0-9]+ ' <<<"$OUT")" 71 "rows of the history table"
assert_match "$(tail -n 1 <<<"$OUT")" "^71 +$LOW +$HIGH " "its last row"
