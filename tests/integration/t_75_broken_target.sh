#!/usr/bin/env bash
# A broken target installation: a copy of HIGH whose postgres answers --version (15.99) but cannot
# start. The checks pass, the first unit does not come back: `failed` naming it; rollback restores
# every unit. Then the same with auto-rollback=true: back on LOW without a manual rollback.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

BROKEN=15.99

step "a broken installation $BROKEN: a copy of $HIGH's tree whose postgres only answers --version"
need_versions "$LOW"
cp -a "$(version_path "$HIGH")" "$T/broken"
PGBIN=$(ls -d "$T"/broken/usr/lib/postgresql/*/bin)
rm -f "$PGBIN/postgres"
cat >"$PGBIN/postgres" <<EOF
#!/bin/sh
case "\$1" in
--version | -V) echo "postgres (PostgreSQL) $BROKEN"; exit 0 ;;
esac
echo "postgres: this installation is broken on purpose (test $TEST_NAME)" >&2
exit 1
EOF
chmod 0755 "$PGBIN/postgres"
pgr_ok versions add "$T/broken"
pgr_ok versions --format json
assert_contains "$OUT" "\"$BROKEN\"" "catalog"

step "a 3-unit cluster on $LOW; health-timeout-seconds=20, pause=none"
create_cluster 3 "$LOW"
wait_healthy 20
REPLICA=$(units_with_role replica)
pgr_ok config --dir "$C" set health-timeout-seconds=20
set_pause none
psql_bouncer "create table t75(id int); insert into t75 values (1)" >/dev/null

step "refresh --version $BROKEN: the checks pass; $REPLICA cannot start; failed, naming $REPLICA"
start_refresh --version "$BROKEN"
pgr_run wait --dir "$C" --timeout 120 idle
assert_user_error "wait idle of a refresh that fails"
assert_rc 5 "exit of wait idle"
S=$(status_json)
assert_eq "$(json_get "$S" "d['refresh']['state']")" failed "refresh.state"
assert_contains "$(json_get "$S" "d['refresh']['message']")" "$REPLICA" "refresh.message"
assert_contains "$(json_get "$S" "d['refresh']['message']")" "pgrefresh rollback" "refresh.message"
assert_eq "$(unit_field "$REPLICA" state)" failed "state of $REPLICA"
assert_eq "$(json_get "$S" "d['refresh']['done']")" 0 "refresh.done"
assert_contains "$(json_get "$S" "d['refresh']['cause']")" "$REPLICA failed its health gate: " "refresh.cause"
pgr_ok status --dir "$C"
assert_contains "$OUT" "$REPLICA failed its health gate" "the status table's Cause line"
for u in $(units_with_role primary) $(units_with_role sync-standby); do
	assert_eq "$(unit_field "$u" version)" "$LOW" "version of $u (untouched)"
done

step "rollback: every unit back on $LOW and healthy; history says rolled back"
pgr_ok rollback --dir "$C"
wait_refresh 150 rolled-back
assert_all_on "$LOW"
wait_healthy 60
H=$(history_json)
assert_eq "$(json_get "$H" "[(h['from'], h['to'], h['outcome']) for h in d]")" "[[\"$LOW\", \"$BROKEN\", \"rolled back\"]]" "history"
assert_contains "$(json_get "$H" "d[-1]['cause']")" "$REPLICA failed its health gate: " "history: the halt's cause"
assert_contains "$(json_get "$H" "d[-1]['cause']")" "; then rolled back by the user (the refresh was failed)" "history: the rollback's cause"
assert_eq "$(psql_bouncer 'select count(*) from t75')" 1 "row through PgBouncer"

step "auto-rollback=true; refresh --version $BROKEN again: it fails and rolls back by itself"
pgr_ok config --dir "$C" set auto-rollback=true
start_refresh --version "$BROKEN"
SEEN=$T/states.auto
: >"$SEEN"
deadline=$((SECONDS + 150))
while :; do
	S=$(status_json) || { sleep 0.3; continue; }
	st=$(json_get "$S" "'%s rollback=%s' % (d['refresh']['state'], d['refresh']['rollback'])")
	echo "$st" >>"$SEEN"
	[[ "$st" == idle* ]] && break
	[ $SECONDS -lt $deadline ] || fail "no idle after 150 s: $(sort -u "$SEEN" | tr '\n' ';') $S"
	sleep 0.3
done
assert_contains "$(sort -u "$SEEN" | tr '\n' ';')" "rollback=True" "states seen (a rollback ran)"
# a script's `pgrefresh wait idle` tells the rolled-back refresh from a completed one (exit 9)
pgr_run wait --dir "$C" --timeout 10 idle
assert_user_error "wait idle after an auto-rollback"
assert_rc 9 "exit of wait idle after an auto-rollback"
assert_all_on "$LOW"
wait_healthy 60
H=$(history_json)
assert_eq "$(json_get "$H" "[h['outcome'] for h in d]")" '["rolled back", "rolled back"]' "history outcomes"
assert_contains "$(json_get "$H" "d[-1]['cause']")" "failed its health gate: " "history: the halt's cause"
assert_contains "$(json_get "$H" "d[-1]['cause']")" "; then auto-rollback after " "history: the auto-rollback's cause"
grep -h "auto-rollback" "$C"/units/*/agent.log >/dev/null || fail "no coordinator logged the auto-rollback"
ok "logged: $(grep -h "auto-rollback" "$C"/units/*/agent.log | head -n 1)"
