#!/usr/bin/env bash
# Refreshes refused with nothing changed (every unit on LOW, no PostgreSQL restarted, no bin link
# moved): another major and a version not in the catalog, before anything is recorded (exit 2); a
# missing extension and a blocklisted version, each ending `incompatible` and cancelled by rollback.
# A refresh while one is in progress is refused. Then force-refresh-start --check-compatibility=false
# past the blocklist, with pause=none: it completes without ever pausing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

links() { # the bin link target of every unit
	local d
	for d in "$C"/units/*/; do printf '%s=%s ' "$(basename "$d")" "$(readlink "$d/bin")"; done
}

# nothing_changed WHAT: every unit on LOW, same postmaster start times, same bin links
nothing_changed() {
	assert_all_on "$LOW" "units after $1"
	assert_eq "$(postmaster_starts)" "$STARTS" "postmaster start times after $1 (no unit restarted)"
	assert_eq "$(links)" "$LINKS" "bin links after $1"
}

# cancel: rollback of an incompatible refresh -> idle, history "rolled back"
cancel() {
	pgr_ok rollback --dir "$C"
	wait_refresh 60 rolled-back
	assert_eq "$(json_get "$(history_json)" "d[-1]['outcome']")" "rolled back" "history of the cancelled refresh"
}

step "a catalog with $LOW, $OTHER_MAJOR and, as $HIGH, a copy of $HIGH's tree without the hstore extension"
need_versions "$LOW" "$OTHER_MAJOR"
cp -a "$(version_path "$HIGH")" "$T/nohstore"
EXTDIR=$(ls -d "$T"/nohstore/usr/share/postgresql/*/extension)
ls "$EXTDIR"/hstore.control >/dev/null || fail "no hstore.control in $EXTDIR"
rm -f "$EXTDIR"/hstore.control "$EXTDIR"/hstore--*.sql
pgr_ok versions add "$T/nohstore"
pgr_ok versions --format json
assert_contains "$OUT" "$T/nohstore" "catalog"

step "a 3-unit cluster on $LOW, a database using hstore"
create_cluster 3 "$LOW"
wait_healthy 20
psql_bouncer "create table t80(id int); insert into t80 values (1)" >/dev/null
psql_bouncer "create extension hstore" >/dev/null
STARTS=$(postmaster_starts)
LINKS=$(links)
echo "# postmaster start times: $STARTS"

step "refresh --version $OTHER_MAJOR (in the catalog): refused before anything is recorded, no force offered"
pgr_run refresh --dir "$C" --version "$OTHER_MAJOR"
assert_user_error "refresh to another major"
assert_rc 2 "exit"
assert_contains "$ERR" "another major version" "error"
assert_not_contains "$ERR" "force" "error and hint"
assert_eq "$(refresh_field state)" idle "refresh.state (nothing recorded)"
nothing_changed "the other-major refresh"

step "refresh --version 15.98 (not in any catalog): refused before anything is recorded, naming the catalog's versions"
pgr_run refresh --dir "$C" --version 15.98
assert_user_error "refresh to a missing version"
assert_rc 2 "exit"
assert_contains "$ERR" "15.98 is in no unit's catalog" "error"
assert_contains "$ERR" "$LOW" "error names the versions there are"
assert_eq "$(refresh_field state)" idle "refresh.state (nothing recorded)"
nothing_changed "the missing-version refresh"

step "refresh to $HIGH while a database uses hstore, absent from the target: incompatible (extensions-present)"
pgr_run refresh --dir "$C" --version "$HIGH"
assert_user_error "refresh to a target lacking an extension"
assert_rc 5 "exit"
assert_contains "$ERR" "extensions-present" "error names the check"
assert_contains "$ERR" "hstore" "error names the extension"
assert_contains "$ERR" "--check-workload=false" "hint"

step "while it is in progress (incompatible), another refresh is refused (exit 6) with the reason"
pgr_run refresh --dir "$C" --version "$HIGH"
assert_user_error "refresh during a refresh"
assert_rc 6 "exit"
assert_contains "$ERR" "already in progress" "error"
assert_contains "$ERR" "rollback" "hint"
cancel
nothing_changed "the missing-extension refresh"

step "drop hstore; $HIGH on the catalog's blocklist: incompatible (not-blocklisted), nothing changed"
psql_bouncer "drop extension hstore" >/dev/null
printf '# known bad\n%s\n' "$HIGH" >"$PGREFRESH_CATALOG/blocklist"
pgr_run refresh --dir "$C" --version "$HIGH"
assert_user_error "refresh to a blocklisted version"
assert_rc 5 "exit"
assert_contains "$ERR" "not-blocklisted" "error names the check"
assert_contains "$ERR" "force-refresh-start --check-compatibility=false" "hint"
nothing_changed "the blocklisted refresh"

step "force-refresh-start --check-compatibility=false with pause=none: completes, never paused"
set_pause none
SEEN=$T/states.none
: >"$SEEN"
(
	while [ ! -e "$T/stop-poll" ]; do
		"$PGR" status --dir "$C" --format json 2>/dev/null |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["refresh"]["state"])' >>"$SEEN" 2>/dev/null || true
		sleep 0.3
	done
) &
POLLER=$!
HOLDERS+=("$POLLER")
pgr_run force-refresh-start --dir "$C" --check-compatibility=false
[ "$RC" = 0 ] || fail "force-refresh-start exited $RC: $ERR"
assert_contains "$ERR" "skipping the compatibility checks" "force-refresh-start says what it skips"
wait_refresh 240 idle
touch "$T/stop-poll"
wait "$POLLER" || true
assert_all_on "$HIGH"
assert_contains "$(sort -u "$SEEN" | tr '\n' ' ')" refreshing "states seen while polling"
assert_not_contains "$(sort -u "$SEEN" | tr '\n' ' ')" paused "states seen while polling"
grep -h "check not-blocklisted skipped" "$C"/units/*/agent.log >/dev/null || fail "no coordinator logged the skipped check"
ok "the coordinator logged the skipped check"
assert_eq "$(json_get "$(history_json)" "[[h['to'], h['outcome']] for h in d][-1]")" "[\"$HIGH\", \"completed\"]" "last history entry"
wait_healthy 30
assert_eq "$(psql_bouncer 'select count(*) from t80')" 1 "row through PgBouncer"
