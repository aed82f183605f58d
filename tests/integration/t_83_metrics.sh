#!/usr/bin/env bash
# The agents' Prometheus metrics during a refresh (pause=first, LOW -> HIGH on 3 units): every agent is
# scraped with curl at its metrics_port, each scrape checked with `promtool check metrics`; one agent
# says it is the coordinator and carries the refresh's metrics, which move as the refresh does (state,
# units done), and the version each unit runs follows its restart. At the end: idle, 3/3, the start and
# end, each unit's restart and gate seconds, and the switchover's write stall.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

command -v promtool >/dev/null || fail "promtool is missing (Debian's prometheus: scripts/install-deps)"

metrics_port() { # UNIT: its agent's metrics port from pgrefresh.conf
	awk -v u="[unit $1]" '$0 == u { f = 1; next } /^\[/ { f = 0 } f && /^metrics_port/ { print $3; exit }' "$C/pgrefresh.conf"
}

N=0
# scrape UNIT: its metrics into $M (and $T/scrapes/N.txt), checked by promtool; 1 when it does not answer
scrape() {
	local port
	port=$(metrics_port "$1")
	M=$(curl -sf --max-time 3 "http://127.0.0.1:$port/metrics") || return 1
	N=$((N + 1))
	printf '%s\n' "$M" >"$T/scrapes/$N.txt"
	promtool check metrics <"$T/scrapes/$N.txt" >"$T/scrapes/$N.promtool" 2>&1 ||
		fail "promtool check metrics on $1's scrape: $(cat "$T/scrapes/$N.promtool")"
}

# value NAME_WITH_LABELS: the sample's value in $M, empty when absent
value() { awk -v k="$1" 'index($0, k " ") == 1 { print $2 }' <<<"$M"; }

# coordinator_scrape: scrapes every unit; $M is the coordinator's (exactly one says it is)
coordinator_scrape() {
	local u found="" keep=""
	for u in $UNITS; do
		scrape "$u" || return 1
		if [ "$(value "pgrefresh_is_coordinator{scope=\"pg\",unit=\"$u\"}")" = 1 ]; then
			[ -z "$found" ] || fail "both $found and $u say they are the coordinator"
			found=$u
			keep=$M
		fi
	done
	[ -n "$found" ] || return 1
	M=$keep
	COORD=$found
}

state_of() { # the refresh state whose series is 1 in $M
	awk -F'"' '/^pgrefresh_refresh_state\{/ && $NF ~ /} 1$/ { print $4 }' <<<"$M"
}

# scrape_until TIMEOUT STATE/DONE: scrapes every agent until the coordinator says STATE with DONE units
# done; $SEEN: each STATE/DONE it said, in order (repeats folded)
scrape_until() {
	local deadline=$((SECONDS + $1)) s
	SEEN=""
	while :; do
		if coordinator_scrape; then
			s="$(state_of)/$(value 'pgrefresh_refresh_units_done{scope="pg"}')"
			[ "${SEEN##* }" = "$s" ] || SEEN="$SEEN $s"
			[ "$s" = "$2" ] && return 0
		fi
		[ $SECONDS -lt $deadline ] || fail "metrics never said $2; seen:$SEEN"
		sleep 0.3
	done
}

step "a 3-unit cluster on $LOW: every unit has a metrics port"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
mkdir -p "$T/scrapes"
UNITS=$(awk '/^\[unit /{ sub(/]$/, "", $2); print $2 }' "$C/pgrefresh.conf" | tr '\n' ' ')
for u in $UNITS; do
	[ -n "$(metrics_port "$u")" ] || fail "$u has no metrics_port in pgrefresh.conf"
done
ok "metrics ports: $(for u in $UNITS; do printf '%s=%s ' "$u" "$(metrics_port "$u")"; done)"

step "before the refresh: each agent says what its unit runs; one is the coordinator, idle"
for u in $UNITS; do
	wait_until 10 scrape "$u" || fail "no metrics from $u"
	assert_eq "$(value "pgrefresh_unit_version_info{scope=\"pg\",unit=\"$u\",version=\"$LOW\"}")" 1 "$u runs $LOW"
	assert_eq "$(value "pgrefresh_postgres_running{scope=\"pg\",unit=\"$u\"}")" 1 "$u running"
done
wait_until 10 coordinator_scrape || fail "no agent says it is the coordinator"
assert_eq "$(state_of)" idle "refresh state on $COORD"
assert_eq "$(value 'pgrefresh_refresh_units{scope="pg"}')" 0 "units total before any refresh"
assert_contains "$M" "# TYPE pgrefresh_refresh_state gauge" "the coordinator's scrape"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(metrics_port "$COORD")/other")" = 404 ] ||
	fail "a path other than /metrics is not 404"
ok "coordinator $COORD; other paths 404"

step "refresh (pause=first): refreshing while the first unit goes, then paused at 1/3"
start_refresh
scrape_until 150 paused/1
assert_contains "$SEEN" "refreshing/0" "states seen by scraping"
ok "seen:$SEEN"
assert_eq "$(value 'pgrefresh_refresh_units{scope="pg"}')" 3 "units total"
FIRST=$(awk -F'"' '/^pgrefresh_unit_gate_seconds\{/ { print $4 }' <<<"$M")
[ -n "$FIRST" ] && [ "$(wc -w <<<"$FIRST")" = 1 ] || fail "gate seconds not for one unit at the pause: $M"
R=$(value "pgrefresh_unit_restart_seconds{scope=\"pg\",unit=\"$FIRST\"}")
G=$(value "pgrefresh_unit_gate_seconds{scope=\"pg\",unit=\"$FIRST\"}")
python3 -c "import sys; r, g = float('$R'), float('$G'); sys.exit(0 if 0 < r < 60 and 0 <= g < 60 else 1)" ||
	fail "restart $R s, gate $G s of $FIRST out of bounds"
ok "$FIRST: restart $R s, gate $G s"
[ -n "$(value 'pgrefresh_last_refresh_start_timestamp_seconds{scope="pg"}')" ] || fail "no start timestamp: $M"
scrape "$FIRST" || fail "no metrics from $FIRST"
assert_eq "$(value "pgrefresh_unit_version_info{scope=\"pg\",unit=\"$FIRST\",version=\"$HIGH\"}")" 1 "$FIRST runs $HIGH"

step "resume: scraped until idle, units done only grow, the switchover's write stall appears"
pgr_ok resume-refresh --dir "$C"
scrape_until 240 idle/3
ok "seen:$SEEN"
python3 - "$SEEN" <<'PY' || fail "units done went down or skipped states:$SEEN"
import sys
done = [int(s.split('/')[1]) for s in sys.argv[1].split()]
sys.exit(0 if done == sorted(done) and done[-1] == 3 else 1)
PY
STALL=$(value 'pgrefresh_last_switchover_write_stall_seconds{scope="pg"}')
START=$(value 'pgrefresh_last_refresh_start_timestamp_seconds{scope="pg"}')
END=$(value 'pgrefresh_last_refresh_end_timestamp_seconds{scope="pg"}')
python3 -c "import sys; s, a, b = float('$STALL'), float('$START'), float('$END'); sys.exit(0 if 0 < s < 30 and a < b < a + 600 else 1)" ||
	fail "stall '$STALL', start '$START', end '$END' out of bounds: $M"
ok "write stall $STALL s; refresh from $START to $END"
for u in $UNITS; do
	[ -n "$(value "pgrefresh_unit_restart_seconds{scope=\"pg\",unit=\"$u\"}")" ] || fail "no restart seconds for $u: $M"
	[ -n "$(value "pgrefresh_unit_gate_seconds{scope=\"pg\",unit=\"$u\"}")" ] || fail "no gate seconds for $u: $M"
done
ok "restart and gate seconds for every unit"
wait_healthy 30
for u in $UNITS; do
	scrape "$u" || fail "no metrics from $u"
	assert_eq "$(value "pgrefresh_unit_version_info{scope=\"pg\",unit=\"$u\",version=\"$HIGH\"}")" 1 "$u runs $HIGH"
done
ok "$N scrapes, each passed promtool check metrics"
