#!/usr/bin/env bash
# What the package adds, on a real cluster: the bash completion offers the units that `status`
# reports; an agent started the way pgrefresh-agent@.service starts it (`pgrefresh agent --dir DIR`,
# no --unit: DIR/unit names it) runs its unit; with its stderr on the journal ($JOURNAL_STREAM naming
# it, as systemd sets it) its lines carry a syslog priority and no time stamp of their own.
# (The install tree, the man page, the unit file and the Debian package: tests/package/, make deb-check.)
. "$(dirname "$0")/lib.sh"

unit_state_is() { [ "$(unit_field "$1" state)" = "$2" ]; }
# complete WORD...: the completion's replies (sorted, on a line), as bash-completion would get them
complete_words() {
	PATH="$(dirname "$PGR"):$PATH" bash --norc --noprofile -i -c '
		. "$0"
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_pgrefresh
		printf "%s\n" "${COMPREPLY[@]}"' "$ROOT/contrib/completion/pgrefresh" "$@" 2>/dev/null |
		sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

step "a 3-unit cluster on $LOW"
need_versions "$LOW"
create_cluster 3 "$LOW"
wait_healthy 60

step "completion: units from status (--dir on the line, or \$PGREFRESH_DIR), for remove-unit, switchover --to, agent --unit"
# the binary is called "pgrefresh" on the line: a link to the one under test
mkdir -p "$T/bin"
ln -sf "$PGR" "$T/bin/pgrefresh"
PGR="$T/bin/pgrefresh"
assert_eq "$(complete_words pgrefresh --dir "$C" remove-unit "")" "pg/0 pg/1 pg/2" "remove-unit completion"
assert_eq "$(PGREFRESH_DIR=$C complete_words pgrefresh switchover --to "")" "pg/0 pg/1 pg/2" "switchover --to completion"
assert_eq "$(complete_words pgrefresh agent --dir "$C" --unit pg/1)" "pg/1" "agent --unit completion"
assert_eq "$(complete_words pgrefresh --dir "$T/nowhere" remove-unit "")" "" "no cluster: no unit offered"

step "pg/1's agent stopped (SIGTERM, by pid): its unit goes down in status"
PID=$(agent_pid pg/1)
pid_alive "$PID" || fail "agent pid $PID of pg/1 is not running"
kill -TERM "$PID"
wait_pids_gone 15 "$PID" || fail "agent $PID survived SIGTERM"
wait_until 15 unit_state_is pg/1 down || fail "pg/1 not down 15 s after its agent stopped: $(status_json)"
ok "pg/1 down"

step "no DIR/unit: \`agent --dir DIR\` alone is refused, naming the file"
pgr_run agent --dir "$C"
assert_rc 2 "agent --dir without DIR/unit"
assert_contains "$ERR" "$C/unit" "the message names DIR/unit"

step "DIR/unit names pg/1; \`agent --dir DIR\`, stderr on a \"journal\" (JOURNAL_STREAM=its dev:inode): pg/1 reports again"
printf '# the unit this host runs (pgrefresh-agent@.service)\npg/1\n' >"$C/unit"
JOURNAL=$T/journal.log
: >"$JOURNAL"
STREAM=$(stat -c '%d:%i' "$JOURNAL")
JOURNAL_STREAM=$STREAM setsid "$ROOT/build/asan/pgrefresh" agent --dir "$C" </dev/null >/dev/null 2>>"$JOURNAL" &
wait_until 30 unit_state_is pg/1 active || fail "pg/1 not active 30 s after its agent started with --dir alone: $(status_json)"
ok "pg/1 active, its agent started with --dir $C alone"
wait_healthy 60
wait_until 10 grep -q . "$JOURNAL" || fail "the agent wrote nothing on its stderr"
head -3 "$JOURNAL" | sed 's/^/# /'
assert_match "$(head -1 "$JOURNAL")" '^<[3467]>pg/1 (INFO|WARNING|ERROR|DEBUG): ' "first journal line"
if grep -vE '^<[3467]>pg/1 ' "$JOURNAL" | grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} ' >/dev/null; then
	fail "a line with its own time stamp on the journal: $(grep -E '^[0-9]{4}-' "$JOURNAL" | head -1)"
fi
ok "every line: a priority, the unit, no time stamp ($(wc -l <"$JOURNAL") lines)"

step "the same agent with stderr on a plain file (JOURNAL_STREAM naming another file): time stamps as before"
NEW=$(pgrep -f -n "pgrefresh agent --dir $C\$" || true)
[ -n "$NEW" ] || fail "the agent started with --dir alone is not found"
kill -TERM "$NEW"
wait_pids_gone 15 "$NEW" || fail "agent $NEW survived SIGTERM"
PLAIN=$T/plain.log
JOURNAL_STREAM=$STREAM setsid "$ROOT/build/asan/pgrefresh" agent --dir "$C" </dev/null >/dev/null 2>>"$PLAIN" &
wait_until 15 grep -q . "$PLAIN" || fail "the agent wrote nothing on its stderr"
assert_match "$(head -1 "$PLAIN")" '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ pg/1 ' "first plain line"
wait_healthy 60

step "that agent stopped by pid (it wrote no pidfile: cluster start did not start it); cluster start brings pg/1's own back"
NEW=$(pgrep -f -n "pgrefresh agent --dir $C\$" || true)
[ -n "$NEW" ] || fail "the agent started with --dir alone is not found"
kill -TERM "$NEW"
wait_pids_gone 15 "$NEW" || fail "agent $NEW survived SIGTERM"
pgr_ok cluster start --dir "$C"
wait_healthy 60
