#!/usr/bin/env bash
# The command line as a new user meets it (issue 9, bad input): options parsed by getopt_long for every
# command, `COMMAND --help` and `--version`; refresh refusing, before anything is recorded, the version
# the cluster already runs (exit 0, "nothing to refresh"), a version in no catalog and another major
# (exit 2, no force offered); `versions` warning once; `wait` telling a rolled-back refresh (exit 9,
# state rolled-back) from a completed one (exit 0, idle); history's FROM/TO as the user asked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

# nothing_recorded WHAT: status json shows no refresh, history is empty
nothing_recorded() {
	assert_eq "$(refresh_field state)" idle "refresh.state after $1"
	assert_eq "$(refresh_field from)" null "refresh.from after $1 (no refresh record)"
	assert_eq "$(json_get "$(history_json)" "len(d)")" 0 "history entries after $1"
}

etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
etcdctl_c() { ETCDCTL_API=3 etcdctl --endpoints="$(etcd_url)" --command-timeout=3s "$@"; }

# usage_error WHAT COMMAND: exit 2, one error line, a hint naming `pgrefresh COMMAND --help`
usage_error() {
	assert_user_error "$1"
	assert_rc 2 "$1: exit code"
	assert_contains "$(tail -n 1 <<<"$ERR")" "hint: see \`pgrefresh $2 --help\`" "$1: hint"
}

step "no cluster needed: --version, --help of one command, usage errors"
pgr_ok --version
assert_match "$OUT" '^pgrefresh [0-9]+\.[0-9]+' "pgrefresh --version"
pgr_ok refresh --help
assert_match "$(head -n 1 <<<"$OUT")" '^Usage: pgrefresh refresh \[--version V\] \[--dry-run\]' "refresh --help usage line"
assert_contains "$OUT" "--dry-run" "refresh --help options"
assert_contains "$OUT" "Example:" "refresh --help example"
assert_not_contains "$OUT" "cluster create" "refresh --help (not the whole usage)"
pgr_ok wait --help
assert_contains "$OUT" "rolled-back" "wait --help states"
assert_contains "$OUT" "9 rolled back" "wait --help exit codes"
pgr_ok --help
assert_contains "$OUT" "pgrefresh refresh [--version V] [--dry-run]" "overview"
assert_contains "$OUT" "pgrefresh cluster create" "overview"
pgr_run refresh --dir "$T/nowhere" --version --dry-run
usage_error "refresh --version --dry-run" refresh
assert_contains "$ERR" "option --version needs a value" "error"
pgr_run refresh --dir "$T/nowhere" --version
usage_error "refresh --version (no value)" refresh
pgr_run rollback --dir "$T/nowhere" --dry-run
usage_error "rollback --dry-run" rollback
assert_contains "$ERR" "unknown option --dry-run" "error"
pgr_run wait --dir "$T/nowhere" --timeout
usage_error "wait --timeout (no value)" wait
pgr_run status --dir "$T/nowhere" --watch=yes
usage_error "status --watch=yes" status
pgr_run cluster
assert_user_error "cluster (no subcommand)"
assert_rc 2 "cluster: exit code"
[ ! -e "$T/nowhere" ] || fail "$T/nowhere was created"
ok "$T/nowhere not created"

step "versions: an incomplete installation is warned about once"
mkdir -p "$T/incomplete/bin"
cp -a "$(version_path "$LOW")"/usr/lib/postgresql/*/bin/. "$T/incomplete/bin/"
cp -a "$(version_path "$LOW")"/usr/lib/postgresql/*/lib "$T/incomplete/" 2>/dev/null || true
mkdir -p "$T/incomplete/share"
cp -a "$(version_path "$LOW")"/usr/share/postgresql/*/. "$T/incomplete/share/" 2>/dev/null || true
rm -f "$T/incomplete/bin/psql" "$T/incomplete/bin/pg_basebackup"
chmod -R a+rX "$T/incomplete"
pgr_ok versions add "$T/incomplete" --catalog "$T/cat2"
pgr_ok versions --catalog "$T/cat2"
assert_contains "$OUT" "$LOW" "versions"
assert_eq "$(grep -c 'WARNING' <<<"$ERR" || true)" 1 "warning lines of versions ($ERR)"
assert_contains "$ERR" "psql" "the warning names what is missing"
pgr_run versions add "$T/incomplete" --catalog "$T/cat2"
assert_rc 0 "versions add again"
assert_eq "$(grep -c 'WARNING' <<<"$ERR" || true)" 1 "warning lines of versions add ($ERR)"
DEB=$(ls "$DIST"/.debs/postgresql-15_"$HIGH"-*.deb 2>/dev/null | head -n 1 || true)
if [ -n "$DEB" ]; then
	mkdir -p "$T/debs"
	cp "$DEB" "$T/debs/"
	chmod -R a+rX "$T/debs"
	pgr_run versions add "$T/debs/$(basename "$DEB")" --catalog "$T/cat3"
	assert_rc 0 "versions add of a .deb without its client package"
	assert_eq "$(grep -c 'WARNING' <<<"$ERR" || true)" 1 "warning lines of versions add .deb ($ERR)"
	assert_contains "$ERR" "postgresql-client-15" "the warning names the missing client package"
else
	echo "# no postgresql-15_$HIGH .deb in $DIST/.debs: the .deb case is not run"
fi

step "a 2-unit cluster on $LOW; the catalog has $LOW, $HIGH and $OTHER_MAJOR"
need_versions "$LOW" "$HIGH" "$OTHER_MAJOR"
create_cluster 2 "$LOW"
wait_healthy 20
nothing_recorded "create"

step "refresh --version $LOW (what every unit runs): nothing to refresh, exit 0, nothing recorded"
pgr_run refresh --dir "$C" --version "$LOW"
assert_rc 0 "exit code"
assert_eq "$OUT" "already on $LOW: nothing to refresh" "stdout"
nothing_recorded "refresh --version $LOW"
pgr_run refresh --dir "$C" --version "$LOW" --dry-run
assert_rc 0 "--dry-run: exit code"
assert_eq "$OUT" "already on $LOW: nothing to refresh" "--dry-run: stdout"

step "refresh --version 99.1 (in no catalog): exit 2, names the versions there are, no force, nothing recorded"
pgr_run refresh --dir "$C" --version 99.1
assert_user_error "refresh --version 99.1"
assert_rc 2 "exit code"
assert_contains "$ERR" "99.1 is in no unit's catalog" "error"
assert_contains "$ERR" "$LOW, $HIGH, $OTHER_MAJOR" "error names the versions there are"
assert_not_contains "$ERR" "force" "error and hint"
nothing_recorded "refresh --version 99.1"
pgr_run pre-refresh-check --dir "$C" --version 99.1
assert_rc 3 "pre-refresh-check --version 99.1: exit code"
assert_contains "$OUT" "99.1 is in no unit's catalog" "pre-refresh-check --version 99.1: the problem"

step "refresh --version $OTHER_MAJOR (another major, in the catalog): exit 2, no force, nothing recorded"
pgr_run refresh --dir "$C" --version "$OTHER_MAJOR"
assert_user_error "refresh --version $OTHER_MAJOR"
assert_rc 2 "exit code"
assert_contains "$ERR" "$OTHER_MAJOR is another major version than $LOW" "error"
assert_not_contains "$ERR" "force" "error and hint"
nothing_recorded "refresh --version $OTHER_MAJOR"

step "refresh --version --dry-run: a usage error, nothing recorded; the options in either order work"
pgr_run refresh --dir "$C" --version --dry-run
usage_error "refresh --version --dry-run" refresh
nothing_recorded "refresh --version --dry-run"
pgr_ok refresh --dry-run --dir "$C" --version "$HIGH"
assert_contains "$OUT" "dry run: nothing changed" "refresh --dry-run --version $HIGH"
assert_contains "$OUT" "$LOW → $HIGH" "the plan"
nothing_recorded "refresh --dry-run"

step "refresh to $HIGH, paused after the first unit; rollback: wait idle exits 9, wait rolled-back 0"
start_refresh --version "$HIGH"
wait_refresh 150 paused
pgr_ok rollback --dir "$C"
pgr_run wait --dir "$C" --timeout 150 idle
assert_user_error "wait idle of a refresh that was rolled back"
assert_rc 9 "exit code of wait idle"
assert_contains "$ERR" "rolled back" "error"
assert_contains "$ERR" "$LOW→$HIGH" "error names the refresh as asked"
pgr_run wait --dir "$C" --timeout 10 rolled-back
assert_rc 0 "exit code of wait rolled-back"
assert_eq "$OUT" rolled-back "wait rolled-back prints"
pgr_run wait --dir "$C" --timeout 10 idle rolled-back
assert_rc 0 "exit code of wait idle rolled-back"
assert_all_on "$LOW"
wait_healthy 60

step "history: the rolled-back refresh as asked, FROM $LOW TO $HIGH"
assert_eq "$(json_get "$(history_json)" "[(h['from'], h['to'], h['outcome']) for h in d]")" \
	"[[\"$LOW\", \"$HIGH\", \"rolled back\"]]" "history json"
pgr_ok history --dir "$C"
assert_match "$(grep -E "^1 " <<<"$OUT")" "^1 +$LOW +$HIGH .* rolled back" "history table"
assert_contains "$OUT" "cause: rolled back by the user" "history table: the cause"

step "pause=none; refresh to $HIGH completes: wait idle exits 0 and prints idle"
set_pause none
start_refresh --version "$HIGH"
wait_refresh 240 idle
assert_eq "$OUT" idle "wait idle prints"
assert_all_on "$HIGH"
assert_eq "$(json_get "$(history_json)" "[(h['from'], h['to'], h['outcome']) for h in d]")" \
	"[[\"$LOW\", \"$HIGH\", \"rolled back\"], [\"$LOW\", \"$HIGH\", \"completed\"]]" "history json"
pgr_run refresh --dir "$C"
assert_rc 0 "refresh with no --version on the highest of the major: exit code"
assert_eq "$OUT" "already on $HIGH: nothing to refresh" "stdout"
assert_eq "$(refresh_field state)" idle "refresh.state"

step "config set with every agent stopped: no coordinator takes it in 30 s: exit 4, withdrawn, nothing changed"
pgr_ok config --dir "$C" health-timeout-seconds
BEFORE=$OUT
[ "$BEFORE" != 77 ] || fail "health-timeout-seconds is 77 already"
AGENTS="$(agent_pid pg/0) $(agent_pid pg/1)"
kill -KILL $AGENTS
wait_pids_gone 5 $AGENTS || fail "agents $AGENTS survived SIGKILL"
pgr_run config --dir "$C" set health-timeout-seconds=77
assert_user_error "config set with no agent running"
assert_rc 4 "exit code"
assert_contains "$ERR" "no coordinator took the config-set within 30 s: withdrawn, nothing changed" "error"
assert_contains "$ERR" "pgrefresh cluster start" "hint"
pgr_ok config --dir "$C" health-timeout-seconds
assert_eq "$OUT" "$BEFORE" "health-timeout-seconds after the refused set"
assert_eq "$(etcdctl_c get --print-value-only /pgrefresh/pg/intent)" "" "the intent key (withdrawn)"
pgr_run config --dir "$C" set health-timeout-seconds=soon
assert_user_error "config set of a malformed value"
assert_rc 2 "exit code of a malformed value (refused before anything is written)"

step "agents started again: a coordinator takes a new config set"
pgr_ok cluster start --dir "$C"
wait_healthy 30
pgr_ok config --dir "$C" set health-timeout-seconds=77
assert_eq "$OUT" "health-timeout-seconds=77" "config set prints what it set"
pgr_ok config --dir "$C" health-timeout-seconds
assert_eq "$OUT" 77 "health-timeout-seconds once the coordinator took it"
