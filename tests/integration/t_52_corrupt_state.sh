#!/usr/bin/env bash
# Bad input and corrupt state (issue 9, section 7):
#   - `cluster create` refuses a directory that holds the user's files, and writes nothing there;
#   - a cluster in a directory whose path has a quote works end to end (patroni.yml quotes it);
#   - a corrupt unit record: status says so (not "no report"), and the unit's agent rewrites it;
#   - a corrupt refresh record: status shows it and exits 1 naming the key and the repair, other
#     commands exit 1 (not "unreachable"), the coordinator waits without crashing, and
#     `repair-refresh-record` keeps the value aside and removes it;
#   - `cluster destroy` removes only what create made: a file the user put there survives.
. "$(dirname "$0")/lib.sh"

etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
etcdctl_c() { ETCDCTL_API=3 etcdctl --endpoints="$(etcd_url)" --command-timeout=3s "$@"; }

step "catalog with $LOW and $HIGH"
need_versions "$LOW" "$HIGH"

step "cluster create refuses a directory holding the user's files, and writes nothing there"
MINE=$T/mine
mkdir -p "$MINE"
echo "my work" >"$MINE/mywork.txt"
pgr_run cluster create --dir "$MINE" --units 2 --version "$LOW"
assert_user_error "create in a non-empty directory"
assert_rc 1 "create in a non-empty directory"
assert_contains "$ERR" "is not empty and holds no pgrefresh cluster (mywork.txt)" "the error names what is there"
assert_contains "$ERR" "hint: choose a new or empty directory" "the hint"
assert_eq "$(ls -A "$MINE")" "mywork.txt" "nothing written next to the user's file"
assert_eq "$(cat "$MINE/mywork.txt")" "my work" "the user's file unchanged"

step "a cluster in a directory whose path holds a quote: create, healthy, status"
QDIR="$T/o'brien"
create_cluster 2 "$LOW" "$QDIR"
wait_healthy 30
assert_contains "$(cat "$QDIR/units/pg-0/patroni.yml")" "data_dir: \"$QDIR/units/pg-0/data\"" "patroni.yml: a double-quoted path"
pgr_ok status --dir "$QDIR"
assert_match "$(sed -n 2p <<<"$OUT")" "^pg +$LOW +idle +All 2 units active on $LOW" "cluster line"
pgr_ok pre-refresh-check --dir "$QDIR"
assert_contains "$OUT$ERR" "lag within" "pre-refresh-check: units healthy, lag judged"

step "a corrupt unit record: status says it is corrupt, not that no agent reported"
AGENT1=$(agent_pid pg/1)
pid_alive "$AGENT1" || fail "agent of pg/1 not running"
kill -STOP "$AGENT1" # hold its next report back, so that status is seen before the rewrite
etcdctl_c put /pgrefresh/pg/units/pg-1 '{"unit": "pg/1", truncated' >/dev/null
pgr_run status --dir "$C" --format json
kill -CONT "$AGENT1"
assert_rc 0 "status with a corrupt unit record"
MSG=$(json_get "$OUT" "[u for u in d['units'] if u['name'] == 'pg/1'][0]['message']")
assert_contains "$MSG" "record /pgrefresh/pg/units/pg-1 is corrupt" "pg/1's message"
assert_not_contains "$MSG" "No report from its agent" "pg/1's message"

step "its agent rewrites it: pg/1 active again"
wait_healthy 20

step "a corrupt refresh record: status shows it, names the key and the repair, exits 1"
etcdctl_c put /pgrefresh/pg/refresh '{"id": 7, "state": "refreshing", "units": [' >/dev/null
pgr_run status --dir "$C"
assert_user_error "status with a corrupt refresh record"
assert_rc 1 "status with a corrupt refresh record"
assert_match "$(sed -n 2p <<<"$OUT")" "^pg +$LOW +corrupt record +The refresh record at /pgrefresh/pg/refresh is corrupt" "cluster line"
assert_contains "$OUT" '`pgrefresh repair-refresh-record`' "cluster line names the repair"
assert_contains "$ERR" "pgrefresh: error: the refresh record at /pgrefresh/pg/refresh is corrupt" "the error names the key"
assert_contains "$ERR" "hint: \`pgrefresh repair-refresh-record\`" "the hint names the repair"
assert_not_contains "$ERR" "unreachable" "not 'unreachable'"
pgr_run status --dir "$C" --format json
assert_rc 1 "status --format json with a corrupt refresh record"
COORD=$(json_get "$OUT" "d['coordinator']")
assert_eq "$(json_get "$OUT" "d['refresh']['state']")" corrupt "refresh.state"
assert_contains "$(json_get "$OUT" "d['message']")" "/pgrefresh/pg/refresh is corrupt" "top message"

step "other commands refuse with exit 1, naming the key"
for cmd in refresh resume-refresh rollback; do
	pgr_run "$cmd" --dir "$C"
	assert_user_error "$cmd with a corrupt refresh record"
	assert_rc 1 "$cmd with a corrupt refresh record"
	assert_contains "$ERR" "/pgrefresh/pg/refresh is corrupt" "$cmd names the key"
done

step "the coordinator waits on it without crashing, and says so once"
wait_until 10 grep -q "refresh record is corrupt" "$C"/units/*/agent.log ||
	fail "no agent logged the corrupt refresh record"
sleep 3 # several coordinator ticks: the message must not repeat, the agents must stay up
assert_eq "$(cat "$C"/units/*/agent.log | grep -c "refresh record is corrupt")" 1 "logged once"
for u in pg/0 pg/1; do
	pid_alive "$(agent_pid "$u")" || fail "agent of $u died"
done
ok "agents alive (coordinator was $COORD)"

step "repair-refresh-record keeps the value aside, removes it; status is idle again"
pgr_ok repair-refresh-record --dir "$C"
assert_contains "$OUT" "Removed the corrupt refresh record /pgrefresh/pg/refresh" "repair output"
KEPT=$(sed -n 's/.*its value is kept at \(\/pgrefresh\/pg\/corrupt\/[0-9]*\).*/\1/p' <<<"$OUT")
assert_match "$KEPT" '^/pgrefresh/pg/corrupt/[0-9]+$' "kept under corrupt/"
assert_eq "$(etcdctl_c get --print-value-only "$KEPT")" '{"id": 7, "state": "refreshing", "units": [' "the value kept as it was"
assert_eq "$(etcdctl_c get --print-value-only /pgrefresh/pg/refresh)" "" "the refresh key removed"
assert_contains "$OUT" "pg/0   runs $LOW" "repair lists what the units run"
pgr_ok status --dir "$C" --format json
assert_eq "$(json_get "$OUT" "d['refresh']['state']")" idle "refresh state after the repair"
pgr_ok repair-refresh-record --dir "$C"
assert_contains "$OUT" "nothing to repair" "a second repair"

step "cluster destroy removes only what pgrefresh made: the user's file survives, the directory stays"
echo "my notes" >"$C/mywork.txt"
pgr_ok cluster destroy --dir "$C"
assert_contains "$OUT" "the directory stays" "destroy output"
assert_eq "$(cat "$C/mywork.txt")" "my notes" "the user's file survives"
assert_eq "$(ls -A "$C")" "mywork.txt" "nothing of pgrefresh left"

step "and create refuses that directory now"
pgr_run cluster create --dir "$C" --units 2 --version "$LOW"
assert_user_error "create where the user's file is"
assert_eq "$(ls -A "$C")" "mywork.txt" "nothing written"

step "destroy of a directory holding only the cluster removes the directory"
create_cluster 1 "$LOW" "$T/plain"
pgr_ok cluster destroy --dir "$T/plain"
[ ! -e "$T/plain" ] || fail "$T/plain still exists: $(ls -A "$T/plain")"
ok "$T/plain removed"
