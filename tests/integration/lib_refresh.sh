# lib_refresh.sh — helpers for the refresh scenarios (t_55 .. t_9x, tests/faults). Sourced after lib.sh.
#
#   refresh_field FIELD [DIR]        one field of status json's "refresh" object
#   refresh_state_is STATE [DIR]     for wait_until
#   unit_versions [DIR]              "pg/0=15.18 pg/1=15.18 ..." (status json, unit order)
#   all_units_on V [DIR]             every unit reports version V and is active (or waiting)
#   assert_all_on V [WHAT]           the same, as an assertion (waits up to 30 s for reports to settle)
#   wait_refresh TIMEOUT STATE...    `pgrefresh wait STATE... --timeout`, must exit 0
#   start_refresh ARGS...            `pgrefresh refresh ARGS`, must exit 0
#   set_pause first|all|none
#   history_json [DIR]               `history --format json`
#   relink_order V [DIR]             units in the order their agents logged "relinked bin to V"
#   postmaster_start UNIT [DIR]      Patroni's postmaster_start_time of the unit
#   unit_member UNIT                 pg/1 -> pg-1
#   unit_state_is UNIT STATE [DIR]

unit_member() { printf '%s\n' "${1/\//-}"; }

refresh_field() {
	local s
	s=$(status_json "${2:-$C}") || return 1
	json_get "$s" "d['refresh'].get('$1')"
}

# paused_at DONE [DIR]: the refresh is paused with DONE units done (after resume-refresh, `wait paused`
# may still see the pause just resumed: wait on the count instead)
paused_at() {
	local s
	s=$(status_json "${2:-$C}") || return 1
	[ "$(json_get "$s" "'%s %d' % (d['refresh']['state'], d['refresh']['done'])")" = "paused $1" ]
}

refresh_state_is() { [ "$(refresh_field state "${2:-$C}")" = "$1" ]; }

unit_state_is() { [ "$(unit_field "$1" state "${3:-$C}")" = "$2" ]; }

unit_versions() {
	local s
	s=$(status_json "${1:-$C}") || return 1
	json_get "$s" "' '.join(u['name'] + '=' + u['version'] for u in d['units'])"
}

all_units_on() {
	local s
	s=$(status_json "${2:-$C}") || return 1
	[ "$(json_get "$s" "all(u['version'] == '$1' and u['state'] in ('active', 'waiting') for u in d['units'])")" = true ]
}

assert_all_on() {
	wait_until 30 all_units_on "$1" "${3:-$C}" ||
		fail "${2:-units} not all active on $1: $(unit_versions "${3:-$C}"): $(status_json "${3:-$C}" || true)"
	ok "${2:-every unit} active on $1 ($(unit_versions "${3:-$C}"))"
}

wait_refresh() { # TIMEOUT STATE...
	local timeout=$1
	shift
	pgr_run wait --dir "$C" --timeout "$timeout" "$@"
	[ "$RC" = 0 ] || fail "wait $* exited $RC: $ERR; status: $(status_json || true)"
	ok "refresh state $OUT"
}

start_refresh() {
	pgr_run refresh --dir "$C" "$@"
	[ "$RC" = 0 ] || fail "refresh $* exited $RC: $ERR"
	ok "refresh $* started: $(head -n 1 <<<"$OUT")"
}

set_pause() {
	pgr_ok config --dir "$C" set "pause-after-unit-refresh=$1"
	assert_eq "$(pgr_run config --dir "$C" pause-after-unit-refresh && echo "$OUT")" "$1" "pause-after-unit-refresh"
}

history_json() {
	pgr_run history --dir "${1:-$C}" --format json
	[ "$RC" = 0 ] || return 1
	printf '%s\n' "$OUT"
}

# The units whose agents logged "relinked bin to V", ordered by the time of that line (the last such
# line of each agent).
relink_order() {
	local v=$1 dir=${2:-$C} f u
	for f in "$dir"/units/*/agent.log; do
		u=$(basename "$(dirname "$f")")
		grep -h "relinked bin to $v " "$f" | tail -n 1 | awk -v u="${u/-//}" '{ print $1 " " $2 " " u }'
	done | sort | awk '{ print $3 }' | tr '\n' ' ' | sed 's/ $//'
}

unit_tags() { # UNIT [DIR]: the Patroni tags of UNIT as its patroni.yml has them ("{}" for none)
	sed -n 's/^tags: //p' "${2:-$C}/units/${1/\//-}/patroni.yml"
}

no_tags_left() { # [DIR]: true when no unit has a Patroni tag
	local f
	for f in "${1:-$C}"/units/*/patroni.yml; do
		grep -qx 'tags: {}' "$f" || return 1
	done
}

api_port() { # UNIT [DIR]: the Patroni REST port of UNIT from pgrefresh.conf
	awk -v u="[unit $1]" '$0 == u { f = 1; next } /^\[/ { f = 0 } f && /^api_port/ { print $3; exit }' "${2:-$C}/pgrefresh.conf"
}

postmaster_start() { # UNIT [DIR]
	curl -s --max-time 3 "http://127.0.0.1:$(api_port "$1" "${2:-$C}")/patroni" |
		python3 -c 'import json, sys; print(json.load(sys.stdin).get("postmaster_start_time", ""))'
}

postmaster_starts() { # [DIR]: "pg/0=... pg/1=..." for every unit in pgrefresh.conf
	local u out=
	for u in $(sed -n 's/^\[unit \(.*\)\]$/\1/p' "${1:-$C}/pgrefresh.conf"); do
		out="$out $u=$(postmaster_start "$u" "${1:-$C}")"
	done
	printf '%s\n' "${out# }"
}

# psql_count_on_all TABLE EXPECTED [DIR]: every unit has EXPECTED rows in TABLE
count_on_all() {
	local u
	for u in $(sed -n 's/^\[unit \(.*\)\]$/\1/p' "${3:-$C}/pgrefresh.conf"); do
		[ "$(psql_unit "$u" "select count(*) from $1" "${3:-$C}" 2>/dev/null)" = "$2" ] || return 1
	done
}

# ---- a writer and open transactions through PgBouncer (t_55, t_56) ----------------------------------
#   ledger_cluster TABLE [CREATE OPTIONS...]  a healthy 3-unit cluster on $LOW, pause-after-unit-refresh
#                                    none, and through PgBouncer the writer's `ledger` and TABLE(id serial)
#   start_load RUNDIR ID_BASE        bench/loadclient (built once into $T): 4 clients, 200 a second, through
#                                    PgBouncer, ids from ID_BASE, until stop_load (LOAD_PID)
#   stop_load RUNDIR                 stops it; it must have written RUNDIR/result.json
#   load_field RUNDIR FIELD          a field of its result (failed, acknowledged, longest_zero_commit_window_ms...)
#   assert_load_clean RUNDIR MAX_MS  0 failed transactions, 0 failed connections, longest zero-commit
#                                    window under MAX_MS
#   unit_has_ids UNIT FILE           every id of FILE (one a line) is in UNIT's ledger
#   assert_ids_on_all FILE           ... on every unit (waits up to 20 s each)
#   open_holder [APP [ID]]           psql through PgBouncer (application_name APP, default t56-holder)
#                                    that begins a transaction inserting ledger id ID (default -1) and
#                                    stays idle in it (HOLDER_PID; its input is fd 7)
#   holder_backend [APP]             the holder's backend pid on the primary once idle in its transaction
#   close_holder SQL                 the holder's last statement, then end of input; sets HOLDER_RC
#   write_answers TABLE              a write into TABLE through PgBouncer answers within 3 s (not paused)

ledger_cluster() {
	local table=$1
	shift
	need_versions "$LOW" "$HIGH"
	create_cluster 3 "$LOW" "$T/c" "$@"
	wait_healthy 30
	psql_bouncer "create table ledger(id bigint primary key, client int not null, at timestamptz not null); create table $table(id serial primary key)" >/dev/null
	set_pause none
}

start_load() { # RUNDIR ID_BASE
	local lc=$T/loadclient
	if [ ! -x "$lc" ]; then
		cc -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags libpq) "$ROOT/bench/loadclient.c" -o "$lc" \
			$(pkg-config --libs libpq) -lpthread || fail "could not build bench/loadclient.c"
	fi
	mkdir -p "$1"
	(
		eval "$("$PGR" cluster env --dir "$C")"
		exec "$lc" --out "$1" --clients 4 --rate 200 --id-base "$2" --stop-file "$1/stop" >"$1/stdout" 2>"$1/stderr"
	) &
	LOAD_PID=$!
	HOLDERS+=("$LOAD_PID")
}

stop_load() { # RUNDIR
	touch "$1/stop"
	wait "$LOAD_PID" 2>/dev/null || true
	[ -s "$1/result.json" ] || fail "the load client wrote no result: $(cat "$1/stderr")"
}

load_field() { json_get "$(cat "$1/result.json")" "d['$2']"; }

assert_load_clean() { # RUNDIR MAX_MS
	local stall
	assert_eq "$(load_field "$1" failed)" 0 "failed transactions"
	assert_eq "$(load_field "$1" connect_errors)" 0 "failed connection attempts"
	stall=$(load_field "$1" longest_zero_commit_window_ms)
	awk -v s="$stall" -v m="$2" 'BEGIN { exit !(s < m) }' || fail "longest zero-commit window $stall ms (bound $2 ms)"
	ok "$(load_field "$1" acknowledged) acknowledged, longest zero-commit window $stall ms"
}

unit_has_ids() { # UNIT FILE
	local n want
	want=$(wc -l <"$2")
	n=$(psql_unit "$1" "select count(*) from ledger where id in ($(paste -sd, "$2"))") || return 1
	[ "$n" = "$want" ]
}

assert_ids_on_all() { # FILE
	local u units
	units=$(sed -n 's/^\[unit \(.*\)\]$/\1/p' "$C/pgrefresh.conf")
	for u in $units; do
		wait_until 20 unit_has_ids "$u" "$1" || fail "$u lacks acknowledged ids of $1"
	done
	ok "all $(wc -l <"$1") ids of $(basename "$1") on $(echo $units | sed 's/ /, /g')"
}

open_holder() { # [APP [ID]]
	rm -f "$T/holder.in"
	mkfifo "$T/holder.in"
	(
		eval "$("$PGR" cluster env --dir "$C")"
		export PGAPPNAME=${1:-t56-holder}
		exec "$PSQL" -X -q -v ON_ERROR_STOP=1 <"$T/holder.in" >"$T/holder.out" 2>"$T/holder.err"
	) &
	HOLDER_PID=$!
	HOLDERS+=("$HOLDER_PID")
	exec 7>"$T/holder.in"
	echo "BEGIN; INSERT INTO ledger VALUES (${2:--1}, -1, now());" >&7
}

holder_backend() { # [APP]: fails while there is none
	local pid
	pid=$(psql_unit "$(units_with_role primary)" \
		"select pid from pg_stat_activity where application_name = '${1:-t56-holder}' and state = 'idle in transaction'") || return 1
	[ -n "$pid" ] && printf '%s\n' "$pid"
}

close_holder() { # SQL
	echo "$1" >&7
	exec 7>&-
	HOLDER_RC=0
	wait "$HOLDER_PID" || HOLDER_RC=$?
}

write_answers() { # TABLE
	(
		eval "$("$PGR" cluster env --dir "$C")"
		exec timeout 3 "$PSQL" -X -q -v ON_ERROR_STOP=1 -c "insert into $1 default values"
	) >/dev/null 2>&1
}

# faultlib.py's writer (unique ids through PgBouncer, each acknowledged one in W/acked) and sampler (every
# unit's pg_is_in_recovery() every 20 ms) on cluster $C until the file STOP exists; their pids in WRITER and
# SAMPLER, both in HOLDERS (stopped by lib.sh at the end). Needs PY (Debian's python3) and FL (faultlib.py).
start_writer_and_sampler() { # W STOP
	(
		eval "$("$PGR" cluster env --dir "$C")"
		exec "$PY" "$FL" sampler "$C" "$1" "$2"
	) >"$1/sampler.out" 2>"$1/sampler.err" &
	SAMPLER=$!
	HOLDERS+=("$SAMPLER")
	(
		eval "$("$PGR" cluster env --dir "$C")"
		exec "$PY" "$FL" writer "$1" "$2"
	) >"$1/writer.out" 2>"$1/writer.err" &
	WRITER=$!
	HOLDERS+=("$WRITER")
}
