#!/usr/bin/env bash
# A backup first (refresh/backup_check.h): a 2-unit cluster made with `cluster create --backup`
# (pgBackRest, its repository in the cluster's directory, WAL archived, a first full backup).
# pre-refresh-check reports WAL archiving and the backup's age, checked against pg_stat_archiver and
# pgBackRest's own `info`, not against constants. require-backup-within-hours: a bad value refused,
# a backup within it passes; the stanza deleted (pgbackrest stanza-delete), the refresh is refused
# naming the check `backup`, and force-refresh-start --check-backup=false skips it by name. destroy
# removes the repository with the cluster. (--hosts with --backup: refused, one line.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

# pgbackrest ARGS...: Debian's pgBackRest with the cluster's config, as the user PostgreSQL runs as
pgbackrest_c() {
	local cmd=(/usr/bin/pgbackrest --config="$C/pgbackrest/pgbackrest.conf" --stanza=pg "$@")
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=postgres --regid=postgres --clear-groups env HOME=/tmp "${cmd[@]}"
	else
		"${cmd[@]}"
	fi
}

# check_detail JSON NAME: the detail of check NAME in a pre-refresh-check --format json document
check_detail() { json_get "$1" "[c['detail'] for c in d['checks'] if c['name'] == '$2'][0]"; }
check_verdict() { json_get "$1" "[c['verdict'] + ' ' + c['group'] for c in d['checks'] if c['name'] == '$2'][0]"; }

step "--hosts with --backup: refused before anything is made"
pgr_run cluster create --dir "$T/h" --hosts 3 --version "$LOW" --backup
assert_user_error "create --hosts --backup"
assert_rc 2 "exit"
assert_contains "$ERR" "--backup with --hosts is not supported" "error"
[ ! -e "$T/h" ] || fail "$T/h was made"

step "a 2-unit cluster on $LOW with --backup: stanza pg, WAL archived, a first full backup"
need_versions "$LOW" "$HIGH"
create_cluster 2 "$LOW" "$T/c" --backup
assert_match "$OUT" "backup: stanza pg in $C/pgbackrest, WAL archived, full backup [0-9]{8}-[0-9]{6}F taken" "create's output"
INFO=$(pgbackrest_c --output=json info)
LABEL=$(json_get "$INFO" "[b['label'] for b in d[0]['backup'] if b['type'] == 'full'][-1]")
STOP=$(json_get "$INFO" "[b['timestamp']['stop'] for b in d[0]['backup'] if b['type'] == 'full'][-1]")
assert_contains "$OUT" "full backup $LABEL taken" "the label create printed is pgBackRest's"
assert_eq "$(grep -c '^pgbackrest_config = ' "$C/pgrefresh.conf")" 1 "pgbackrest_config in pgrefresh.conf"
PRIMARY=$(units_with_role primary)
assert_eq "$(psql_unit "$PRIMARY" "show archive_mode")" on "archive_mode on the primary"
assert_contains "$(psql_unit "$PRIMARY" "show archive_command")" "archive-push %p" "archive_command"

step "pre-refresh-check: archiving and the backup's age, as pg_stat_archiver and pgbackrest info say"
ARCH_SQL="select archived_count || ' ' || last_archived_wal from pg_stat_archiver"
read -r N_BEFORE _ <<<"$(psql_unit "$PRIMARY" "$ARCH_SQL")"
[ "$N_BEFORE" -ge 1 ] || fail "nothing archived after the first backup: $(psql_unit "$PRIMARY" "select * from pg_stat_archiver")"
pgr_run pre-refresh-check --dir "$C" --format json
[ "$RC" = 0 ] || fail "pre-refresh-check exited $RC: $OUT $ERR"
CHECK=$OUT
read -r N_AFTER WAL_AFTER <<<"$(psql_unit "$PRIMARY" "$ARCH_SQL")"
ARCH=$(check_detail "$CHECK" wal-archiving)
assert_eq "$(check_verdict "$CHECK" wal-archiving)" "pass backup" "wal-archiving verdict and group"
N_SAID=$(sed -n 's/.*; \([0-9]*\) segment(s) archived.*/\1/p' <<<"$ARCH")
[ -n "$N_SAID" ] && [ "$N_SAID" -ge "$N_BEFORE" ] && [ "$N_SAID" -le "$N_AFTER" ] ||
	fail "wal-archiving says $N_SAID segments, pg_stat_archiver said $N_BEFORE before and $N_AFTER after: $ARCH"
ok "wal-archiving: $N_SAID segment(s), between pg_stat_archiver's $N_BEFORE and $N_AFTER"
[ "$N_SAID" != "$N_AFTER" ] || assert_contains "$ARCH" "the last ($WAL_AFTER)" "the last archived segment"
BK=$(check_detail "$CHECK" backup)
assert_eq "$(check_verdict "$CHECK" backup)" "pass backup" "backup verdict and group"
assert_contains "$BK" "last full backup $LABEL (stanza pg) is " "backup detail names pgBackRest's label"
AGE_S=$(($(date +%s) - STOP))
if [ "$AGE_S" -lt 60 ]; then
	assert_match "$BK" " is [0-9]+ s old \(no limit set\)" "the age, in seconds"
	SAID=$(sed -n 's/.* is \([0-9]*\) s old.*/\1/p' <<<"$BK")
	[ "$SAID" -le "$AGE_S" ] && [ "$SAID" -ge $((AGE_S - 10)) ] || fail "age $SAID s, pgBackRest's stop was $AGE_S s ago"
	ok "age $SAID s, pgBackRest's stop $AGE_S s ago"
else
	assert_match "$BK" " is [0-9]+ min old \(no limit set\)" "the age, in minutes"
fi
pgr_ok pre-refresh-check --dir "$C"
assert_match "$OUT" "ok +wal-archiving +archive_mode is on" "tabular wal-archiving"
assert_match "$OUT" "ok +backup +last full backup $LABEL" "tabular backup"

step "require-backup-within-hours: malformed values refused; 1 h passes with this backup"
for bad in abc -1 1.5 87601; do
	pgr_run config --dir "$C" set "require-backup-within-hours=$bad"
	assert_user_error "require-backup-within-hours=$bad"
	assert_contains "$ERR" "bad value \"$bad\" for require-backup-within-hours" "error"
done
pgr_ok config --dir "$C" set require-backup-within-hours=1
pgr_ok config --dir "$C" require-backup-within-hours
assert_eq "$OUT" 1 "config require-backup-within-hours"
pgr_run pre-refresh-check --dir "$C" --format json
[ "$RC" = 0 ] || fail "pre-refresh-check exited $RC with a backup within the limit: $OUT $ERR"
assert_contains "$(check_detail "$OUT" backup)" "$LABEL (stanza pg) is " "backup"
assert_contains "$(check_detail "$OUT" backup)" "old (limit 1 h)" "backup within the limit"

step "the stanza deleted (pgbackrest stop, stanza-delete, start): pre-refresh-check and refresh fail on check backup"
pgbackrest_c stop >/dev/null
pgbackrest_c stanza-delete --force >/dev/null
pgbackrest_c start >/dev/null
pgbackrest_c --output=json info >/dev/null
MSG=$(json_get "$(pgbackrest_c --output=json info)" "d[0]['status']['message']")
pgr_run pre-refresh-check --dir "$C"
assert_user_error "pre-refresh-check without a backup"
assert_rc 3 "exit"
assert_contains "$OUT" "backup: no full backup (stanza pg: $MSG), require-backup-within-hours=1: take one: \`" "the problem, in pgBackRest's words"
assert_contains "$OUT" "pgbackrest --config=$C/pgbackrest/pgbackrest.conf --stanza=pg backup --type=full" "the command to take one"
STARTS=$(postmaster_starts)
set_pause first
pgr_run refresh --dir "$C" --version "$HIGH"
assert_user_error "refresh without a backup"
assert_rc 5 "exit"
assert_contains "$ERR" "backup check backup failed" "error names the check"
assert_contains "$ERR" "force-refresh-start --check-backup=false" "hint"
assert_eq "$(refresh_field state)" incompatible "refresh.state"
assert_contains "$(refresh_field message)" "Nothing changed: backup check backup failed: no full backup" "status message"
assert_eq "$(postmaster_starts)" "$STARTS" "postmaster start times (nothing touched)"

step "force-refresh-start --check-backup=false: the refresh starts, the check skipped by name; rollback"
pgr_run force-refresh-start --dir "$C" --check-backup=false
[ "$RC" = 0 ] || fail "force-refresh-start exited $RC: $ERR"
assert_contains "$ERR" "skipping the backup checks" "force-refresh-start says what it skips"
wait_refresh 60 paused
grep -h "check backup skipped: skipped (--check-backup=false)" "$C"/units/*/agent.log >/dev/null ||
	fail "no coordinator logged the skipped check"
ok "the coordinator logged check backup skipped"
pgr_ok rollback --dir "$C"
wait_refresh 60 rolled-back
assert_all_on "$LOW"

step "destroy removes the repository with the cluster"
pgr_ok cluster destroy --dir "$C"
[ ! -e "$C" ] || fail "$C still exists: $(ls -A "$C")"
ok "$C removed, pgbackrest/ with it"
