# lib.sh — helpers for the shell integration scenarios (tests/integration/t_*.sh).
#
# Sourced by each scenario. It gives the scenario:
#   - $PGR, the binary under test (the ASan+UBSan build unless PGREFRESH_BIN says otherwise);
#   - $T, a temp directory of its own (mode 755: the postgres user traverses it), with its own
#     version catalog ($PGREFRESH_CATALOG=$T/catalog, filled by need_versions);
#   - $LOW / $HIGH (lowest and highest Debian 15.x in the dist), $NPM15, $OTHER_MAJOR;
#   - a cleanup on exit (also on failure and interrupt): `cluster stop`, then every process named by a
#     pidfile under $T (and anything still running in or from $T) is stopped by pid; on failure, the
#     tail of every log under $T is printed; then $T is removed;
#   - steps (`step "text"`), assertions (assert_eq, assert_contains, assert_not_contains, assert_rc,
#     fail), polling (wait_until), JSON (json_get), running the CLI with its output captured (pgr_run),
#     psql through PgBouncer (psql_bouncer) and straight to a unit (psql_unit).
#
# A scenario is written as numbered steps that wait on states, never on fixed sleeps.
# PGR_KEEP_TMP=1 keeps $T (processes are stopped all the same).
#
# When sourced with PGR_LIB_NO_SETUP=1 only the functions are defined (tests/integration/run uses
# reap_dir from here as its own safety net).

set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PGR=${PGREFRESH_BIN:-$ROOT/build/asan/pgrefresh}
DIST=${PGREFRESH_DIST:-/var/cache/pgrefresh/dist}
PSQL=${PSQL:-/usr/bin/psql}
TEST_NAME=$(basename "${0%.sh}")

# ---------------------------------------------------------------------------------------------------
# Processes

# The start time (field 22 of /proc/PID/stat) of a live, non-zombie process; nothing when it is gone.
proc_starttime() {
	local stat rest
	stat=$(cat 2>/dev/null "/proc/$1/stat") || return 0
	rest=${stat##*) }
	# rest starts at field 3 (state)
	set -- $rest
	[ "$1" = Z ] && return 0
	printf '%s\n' "${20}"
}

pid_alive() { [ -n "$(proc_starttime "$1")" ]; }

# The pids that pidfiles under DIR name and that still run as the same process: our pidfiles hold
# "pid starttime" (checked, so a recycled pid is never touched); PostgreSQL's postmaster.pid holds the
# pid on its first line (checked to be a postgres).
pidfile_pids() {
	local dir=$1 f pid st
	[ -d "$dir" ] || return 0
	while IFS= read -r -d '' f; do
		read -r pid st <"$f" 2>/dev/null || continue
		[[ "$pid" =~ ^[0-9]+$ ]] || continue
		if [ "$(basename "$f")" = postmaster.pid ]; then
			[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] || continue
			pid_alive "$pid" && printf '%s\n' "$pid"
		elif [ -n "$st" ] && [ "$(proc_starttime "$pid")" = "$st" ]; then
			printf '%s\n' "$pid"
		fi
	done < <(find "$dir" \( -name '*.pid' -o -name postmaster.pid \) -type f -print0 2>/dev/null)
}

# Processes that run from DIR (their command line names it, or their working directory is in it:
# PostgreSQL's children sit in their data directory). Never this shell or its ancestors.
pids_using_dir() {
	local dir=$1 p cmd cwd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || cwd=
		if [[ "$cmd" == *"$dir/"* || "$cwd" == "$dir" || "$cwd" == "$dir/"* ]]; then
			case "$cmd" in
			*tests/integration/*) continue ;; # a test script or the runner, not a server
			esac
			pid_alive "$p" && printf '%s\n' "$p"
		fi
	done
	return 0
}

# wait_pids_gone TIMEOUT_S PID...: 0 when all are gone within the time.
wait_pids_gone() {
	local timeout=$1 deadline p left
	shift
	deadline=$((SECONDS + timeout))
	while :; do
		left=0
		for p in "$@"; do pid_alive "$p" && left=1; done
		[ $left = 0 ] && return 0
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.2
	done
}

# reap_dir DIR: the safety net. SIGTERM then SIGKILL to every process a pidfile under DIR names, then to
# anything still running from DIR; waits until they are gone. Prints what it had to stop.
reap_dir() {
	local dir=$1 pids round
	for round in pidfiles leftovers; do
		if [ $round = pidfiles ]; then
			pids=$(pidfile_pids "$dir" | sort -u)
		else
			pids=$(pids_using_dir "$dir" | sort -u)
		fi
		[ -n "$pids" ] || continue
		echo "# safety net ($round): stopping $(echo $pids | wc -w) process(es) left in $dir:" >&2
		ps -o pid=,args= -p "$(echo $pids | tr ' ' ,)" 2>/dev/null | sed 's/^/#   /' | cut -c1-160 >&2 || true
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		# shellcheck disable=SC2086
		if ! wait_pids_gone 15 $pids; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			# shellcheck disable=SC2086
			wait_pids_gone 10 $pids || echo "# safety net: some processes survived SIGKILL: $pids" >&2
		fi
		LEFTOVERS=1
	done
	return 0
}

# ---------------------------------------------------------------------------------------------------
# Output, steps, assertions

STEP=0
FAILED=0
LEFTOVERS=0

step() {
	STEP=$((STEP + 1))
	printf '# %s step %d: %s\n' "$TEST_NAME" "$STEP" "$*"
}

ok() { printf 'ok - %s\n' "$*"; }

fail() {
	FAILED=1
	printf 'not ok - step %d: %s\n' "$STEP" "$*" >&2
	exit 1
}

assert_eq() { # ACTUAL EXPECTED WHAT
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$2', got '$1'"
	ok "${3:-value} = '$2'"
}

assert_contains() { # HAYSTACK NEEDLE WHAT
	[[ "$1" == *"$2"* ]] || fail "${3:-output} does not contain '$2'; it is: $1"
	ok "${3:-output} contains '$2'"
}

assert_not_contains() { # HAYSTACK NEEDLE WHAT
	[[ "$1" != *"$2"* ]] || fail "${3:-output} contains '$2'; it is: $1"
	ok "${3:-output} does not contain '$2'"
}

assert_match() { # HAYSTACK ERE WHAT
	[[ "$1" =~ $2 ]] || fail "${3:-output} does not match /$2/; it is: $1"
	ok "${3:-output} matches /$2/"
}

# known_bug TEXT: a product bug this check found (described in the test report). The scenario goes on
# with its other checks but fails at the end: the bug stays visible until it is fixed.
KNOWN_BUGS=0
known_bug() {
	FAILED=1
	KNOWN_BUGS=$((KNOWN_BUGS + 1))
	printf 'not ok - step %d: KNOWN BUG: %s\n' "$STEP" "$*" >&2
}

# wait_until TIMEOUT_S CMD...: polls CMD every 0.2 s until it succeeds; returns 1 on timeout.
wait_until() {
	local timeout=$1 deadline
	shift
	deadline=$(($(date +%s%N) + timeout * 1000000000))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		[ "$(date +%s%N)" -ge $deadline ] && return 1
		sleep 0.2
	done
}

# json_get JSON EXPR: evaluates the Python expression EXPR with the parsed document bound to `d`;
# strings print bare, None prints "null", lists/dicts print as JSON.
json_get() {
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2], {"d": d, "len": len, "sorted": sorted})
if v is None: print("null")
elif isinstance(v, bool): print("true" if v else "false")
elif isinstance(v, (list, dict)): print(json.dumps(v, sort_keys=True))
else: print(v)
' "$1" "$2"
}

# pgr_run ARGS...: runs $PGR with ARGS, capturing stdout in $OUT, stderr in $ERR and the exit code in
# $RC (it never fails itself). A sanitizer report on stderr fails the scenario.
pgr_run() {
	local o=$T/.out.$BASHPID e=$T/.err.$BASHPID
	RC=0
	"$PGR" "$@" >"$o" 2>"$e" || RC=$?
	OUT=$(cat "$o")
	ERR=$(cat "$e")
	rm -f "$o" "$e"
	if grep -qE 'Sanitizer|runtime error:' <<<"$ERR"; then
		# also recorded in a file: pgr_run may run in a subshell (a poll), whose exit is not ours
		printf 'pgrefresh %s\n%s\n' "$*" "$ERR" >>"$T/.sanitizer"
		printf '%s\n' "$ERR" >&2
		fail "sanitizer report from: pgrefresh $*"
	fi
	return 0
}

# pgr_ok ARGS...: pgr_run, and the command must succeed.
pgr_ok() {
	pgr_run "$@"
	[ "$RC" = 0 ] || fail "pgrefresh $* exited $RC: $ERR"
	return 0
}

# assert_rc EXPECTED WHAT: after pgr_run.
assert_rc() {
	[ "$RC" = "$1" ] || fail "${2:-exit code}: expected $1, got $RC (stderr: $ERR)"
	ok "${2:-exit code} = $1"
}

# assert_user_error WHAT: after pgr_run of a command that must fail as ux.md says: a non-zero exit and
# stderr ending with one "pgrefresh: error: ..." line, optionally followed by one "hint: ..." line.
# Progress lines a command logged before the failure may precede them (habit 5: logs go to stderr).
assert_user_error() {
	local what=$1 last prev errline nerr
	[ "$RC" != 0 ] || fail "$what: exited 0, expected an error (stdout: $OUT)"
	last=$(printf '%s\n' "$ERR" | tail -n 1)
	prev=$(printf '%s\n' "$ERR" | tail -n 2 | head -n 1)
	if [[ "$last" == "hint: "* ]]; then
		errline=$prev
	else
		errline=$last
	fi
	[[ "$errline" == "pgrefresh: error: "* ]] ||
		fail "$what: stderr does not end with 'pgrefresh: error: ...' [+ 'hint: ...']; it is: $ERR"
	nerr=$(printf '%s\n' "$ERR" | grep -c '^pgrefresh: error: ' || true)
	[ "$nerr" = 1 ] || fail "$what: $nerr 'pgrefresh: error:' lines on stderr, expected one: $ERR"
	[ "$(printf '%s\n' "$ERR" | grep -c '^hint: ' || true)" -le 1 ] || fail "$what: more than one hint line: $ERR"
	ok "$what: exit $RC, '$errline'"
}

# ---------------------------------------------------------------------------------------------------
# Versions and clusters

# The Debian 15.x trees of the dist (those with usr/lib/postgresql), lowest first.
debian15_versions() {
	local d
	for d in "$DIST"/15.*; do
		[ -d "$d/usr/lib/postgresql" ] && basename "$d"
	done | sort -V
}

version_path() { printf '%s/%s\n' "$DIST" "$1"; }

# need_versions V...: adds each version's tree to this scenario's catalog.
need_versions() {
	local v
	for v in "$@"; do
		[ -d "$(version_path "$v")" ] || fail "version $v is not in $DIST (run scripts/fetch-versions)"
		pgr_ok versions add "$(version_path "$v")"
	done
}

# create_cluster N VERSION [DIR]: a local cluster in DIR (default $T/c), healthy when it returns.
# A failed create keeps its logs in a directory of its own under /tmp and names it in the error:
# moved into $T, they are printed with the others and removed with $T.
adopt_kept_logs() {
	local kept
	kept=$(sed -n 's/.*(logs kept in \([^)]*\)).*/\1/p' <<<"$ERR" | head -n 1)
	if [ -n "$kept" ] && [ -d "$kept" ]; then
		mkdir -p "$T/kept-logs"
		mv "$kept" "$T/kept-logs/" && echo "# logs of the failed create moved from $kept to $T/kept-logs/"
	fi
	return 0
}

create_cluster() { # N VERSION [DIR [MORE OPTIONS...]]
	local n=$1 v=$2 dir=${3:-$T/c}
	shift $(($# < 3 ? $# : 3))
	pgr_run cluster create --dir "$dir" --units "$n" --version "$v" "$@"
	adopt_kept_logs
	local tries=1
	while [ "$RC" != 0 ] && [[ "$ERR" == *"is in use by another program"* ]] && [ $tries -lt 3 ]; do
		# create picks ports that are free when it looks, but a cluster created at the same time by
		# another program (not by these tests: they run one at a time) may bind one of them first.
		echo "# create lost a port race with another program on this machine; once more: $ERR"
		tries=$((tries + 1))
		pgr_run cluster create --dir "$dir" --units "$n" --version "$v" "$@"
		adopt_kept_logs
	done
	[ "$RC" = 0 ] || fail "cluster create --units $n --version $v exited $RC: $ERR"
	C=$dir
	ok "cluster of $n unit(s) on $v created in $dir"
}

# status_json [DIR]: the `status --format json` document on stdout; fails when status fails.
status_json() {
	local dir=${1:-$C}
	pgr_run status --dir "$dir" --format json
	[ "$RC" = 0 ] || return 1
	printf '%s\n' "$OUT"
}

# unit_field UNIT FIELD [DIR]: one field of one unit in status json.
unit_field() {
	local s
	s=$(status_json "${3:-$C}") || return 1
	json_get "$s" "[u for u in d['units'] if u['name'] == '$1'][0]['$2']"
}

# units_with_role ROLE [DIR]: the names of the units that have ROLE, one a line.
units_with_role() {
	local s
	s=$(status_json "${2:-$C}") || return 1
	json_get "$s" "'\\n'.join(u['name'] for u in d['units'] if u['role'] == '$1')"
}

# cluster_healthy [DIR]: status says one primary, one sync standby, every other unit a replica, all
# active with no message, a coordinator elected.
cluster_healthy() {
	local s
	s=$(status_json "${1:-$C}") || return 1
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
u = d["units"]
roles = sorted(x["role"] for x in u)
want = sorted(["primary", "sync-standby"] + ["replica"] * (len(u) - 2)) if len(u) > 1 else ["primary"]
ok = roles == want and all(x["state"] == "active" and x["message"] == "" for x in u) and d["coordinator"]
sys.exit(0 if ok else 1)
' "$s"
}

# wait_healthy [TIMEOUT_S] [DIR]
wait_healthy() {
	local timeout=${1:-30} dir=${2:-$C}
	wait_until "$timeout" cluster_healthy "$dir" ||
		fail "cluster in $dir not healthy after ${timeout}s: $(status_json "$dir" || echo "$ERR")"
	ok "cluster healthy (1 primary, 1 sync standby, replicas, all active, a coordinator)"
}

# The pid an agent's pidfile names (units/pg-N/agent.pid holds "pid starttime").
agent_pid() { # UNIT [DIR]
	local member=${1/\//-}
	cut -d' ' -f1 "${2:-$C}/units/$member/agent.pid"
}

# psql_bouncer SQL [DIR]: one statement through PgBouncer, with the client settings of `cluster env`.
psql_bouncer() {
	(
		eval "$("$PGR" cluster env --dir "${2:-$C}")"
		"$PSQL" -X -A -t -v ON_ERROR_STOP=1 -c "$1"
	)
}

# psql_unit UNIT SQL [DIR]: straight to a unit's PostgreSQL, its port read from status json.
psql_unit() {
	local port
	port=$(unit_field "$1" port "${3:-$C}") || return 1
	(
		eval "$("$PGR" cluster env --dir "${3:-$C}")"
		"$PSQL" -X -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -c "$2"
	)
}

# psql_unit_eq UNIT SQL EXPECTED: for wait_until.
psql_unit_eq() {
	[ "$(psql_unit "$1" "$2" 2>/dev/null)" = "$3" ]
}

# port_free PORT: nobody listens on 127.0.0.1:PORT.
port_free() {
	! python3 -c '
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
' "$1"
}

port_taken() { ! port_free "$1"; }

# port_listeners PORT: the pids listening on 127.0.0.1:PORT (from ss), one a line.
port_listeners() {
	ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

# port_not_ours PORT DIR: nothing from DIR listens on PORT. Another program may: on a shared machine
# another cluster can take a port right after ours freed it (create picks ports that are free).
port_not_ours() {
	local p cmd cwd
	for p in $(port_listeners "$1"); do
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		cwd=$(readlink "/proc/$p/cwd" 2>/dev/null) || cwd=
		[[ "$cmd" == *"$2/"* || "$cwd" == "$2"* ]] && return 1
	done
	return 0
}

# cluster_ports [DIR]: every port the cluster's pgrefresh.conf names (etcd, etcd peer, PgBouncer, units).
cluster_ports() {
	local conf=${1:-$C}/pgrefresh.conf
	sed -nE 's/^etcd *= *.*:([0-9]+).*/\1/p; s/^(etcd_peer_port|pg_port|api_port) *= *([0-9]+)/\2/p' "$conf"
	# pgbouncer = host:port[,host:port...]
	sed -nE 's/^pgbouncer *= *//p' "$conf" | tr ',' '\n' | sed -nE 's/.*:([0-9]+) *$/\1/p'
	# [pooler NAME] admin = host:port
	sed -nE 's/^admin *= *.*:([0-9]+) *$/\1/p' "$conf"

}

# ---------------------------------------------------------------------------------------------------
# Cleanup

print_logs() {
	local f
	echo "# ---- logs of $TEST_NAME (tail) ----" >&2
	while IFS= read -r -d '' f; do
		echo "# ==== $f" >&2
		tail -n 30 "$f" | sed 's/^/#   /' >&2
	done < <(find "$T" -name '*.log' -type f -print0 2>/dev/null | sort -z)
}

# Sanitizer reports of the daemons (agents run the ASan build too; their stderr is agent.log).
check_daemon_sanitizers() {
	local hits
	hits=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
		$(find "$T" -name 'agent.log' -type f 2>/dev/null) /dev/null 2>/dev/null || true)
	[ -s "$T/.sanitizer" ] && hits="$hits $T/.sanitizer"
	if [ -n "$hits" ]; then
		echo "not ok - sanitizer reports in: $hits" >&2
		grep -hE -A20 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' $hits | head -60 | sed 's/^/#   /' >&2
		return 1
	fi
	return 0
}

lib_cleanup() {
	local rc=$? conf
	set +eE
	trap - ERR
	[ $FAILED = 1 ] && [ $rc = 0 ] && rc=1
	if [ -n "${T:-}" ] && [ -d "$T" ]; then
		# every cluster of this scenario, stopped the way a user would
		while IFS= read -r conf; do
			"$PGR" cluster stop --dir "$(dirname "$conf")" >/dev/null 2>"$T/.stop.err" ||
				{ echo "# cleanup: cluster stop in $(dirname "$conf") failed: $(cat "$T/.stop.err")" >&2; }
		done < <(find "$T" -name pgrefresh.conf -type f 2>/dev/null)
		for pf in "${HOLDERS[@]:-}"; do [ -n "$pf" ] && kill -KILL "$pf" 2>/dev/null; done
		reap_dir "$T"
		if [ $LEFTOVERS = 1 ] && [ $rc = 0 ]; then
			echo "not ok - processes were left running after cluster stop (see above)" >&2
			rc=1
		fi
		check_daemon_sanitizers || { [ $rc = 0 ] && rc=1; }
		[ $rc != 0 ] && print_logs
		if [ -n "${PGR_KEEP_TMP:-}" ]; then
			echo "# kept $T" >&2
		else
			rm -rf "$T"
		fi
	fi
	if [ $rc = 0 ]; then
		echo "# $TEST_NAME: all $STEP steps passed"
	elif [ $KNOWN_BUGS -gt 0 ]; then
		echo "# $TEST_NAME: FAILED (exit $rc), last step $STEP; $KNOWN_BUGS known product bug(s) reported above" >&2
	else
		echo "# $TEST_NAME: FAILED at step $STEP (exit $rc)" >&2
	fi
	exit $rc
}

on_err() {
	local rc=$? line=$1 cmd=$2
	[ "$BASHPID" = $$ ] || return 0 # a subshell's failure is its caller's business
	FAILED=1
	printf 'not ok - step %d: command failed (exit %d) at %s line %s: %s\n' "$STEP" "$rc" "$0" "$line" "$cmd" >&2
}

# background processes a scenario starts itself (e.g. port holders): killed at cleanup
HOLDERS=()

# hold_port PORT: something else listens on 127.0.0.1:PORT until release_port; sets HOLDER_PID.
hold_port() {
	python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may have TIME_WAIT connections
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(600)
' "$1" &
	HOLDER_PID=$!
	HOLDERS+=("$HOLDER_PID")
	wait_until 5 port_taken "$1" || fail "could not hold port $1"
	ok "port $1 held by pid $HOLDER_PID"
}

release_port() {
	kill -TERM "$HOLDER_PID" 2>/dev/null || true
	wait "$HOLDER_PID" 2>/dev/null || true
}

lib_setup() {
	[ -x "$PGR" ] || { echo "not ok - $PGR is missing: run \`make asan\` first" >&2; exit 1; }
	T=$(mktemp -d "/tmp/pgr-it-$TEST_NAME.XXXXXX")
	chmod 0755 "$T"
	[ -n "${PGR_IT_REGISTRY:-}" ] && echo "$T" >>"$PGR_IT_REGISTRY"
	# A copy of the binary for the whole scenario: a rebuild in the tree while it runs (make relinks
	# build/asan/pgrefresh in place) must not change or break the program under test halfway.
	PGR_BUILT=$PGR
	local tries=0
	until cp "$PGR_BUILT" "$T/pgrefresh.new" 2>/dev/null && "$T/pgrefresh.new" --help >/dev/null 2>&1; do
		tries=$((tries + 1))
		[ $tries -lt 60 ] || { echo "not ok - $PGR_BUILT does not run" >&2; rm -rf "$T"; exit 1; }
		sleep 0.5
	done
	mv "$T/pgrefresh.new" "$T/pgrefresh"
	PGR=$T/pgrefresh
	export PGREFRESH_CATALOG=$T/catalog
	unset PGREFRESH_DIR
	C=$T/c
	trap lib_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'on_err $LINENO "$BASH_COMMAND"' ERR

	mapfile -t _d15 < <(debian15_versions)
	[ ${#_d15[@]} -ge 2 ] || fail "need two Debian 15.x trees in $DIST (run scripts/fetch-versions)"
	LOW=${_d15[0]}
	HIGH=${_d15[${#_d15[@]} - 1]}
	NPM15=15.17
	OTHER_MAJOR=16.14
	echo "# $TEST_NAME: dir $T, binary $PGR_BUILT, LOW=$LOW HIGH=$HIGH"
}

if [ -z "${PGR_LIB_NO_SETUP:-}" ]; then
	lib_setup
fi
