# lib_refresh.sh — helpers for the refresh scenarios (t_60 .. t_9x). Sourced after lib.sh.
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
