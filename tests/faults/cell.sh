#!/usr/bin/env bash
# tests/faults/cell.sh FAULT STEP — one cell of the fault matrix (tests/faults/matrix runs them all).
#
# A 3-unit cluster on LOW (4 units for the STEP `batch`, max-parallel-units=2: the two replicas are one
# batch, the smallest cluster with a batch of two), a writer through PgBouncer (unique ids, each acknowledged one recorded) and
# a sampler asking every unit pg_is_in_recovery() every 20 ms; a refresh to HIGH (pause-after-unit-
# refresh=none; =first for the STEP `paused`); the moment the refresh reaches STEP, FAULT is fired
# (kill -9; see faultlib.py for the steps, the faults and whom they hit). Then, as a user would:
#   - etcd killed: started again on its data at once (`cluster start`); etcd20: 20 s later;
#   - the refresh is watched; a unit `down` for 10 s, or no progress for 45 s: `pgrefresh cluster start`
#     (what status says to run for a unit whose agent is gone);
#   - halted (paused, failed, incompatible): the status message must name the command to run; paused:
#     `resume-refresh`; failed or incompatible: `rollback`; until the refresh is idle.
# Then the writer stops and the cell is judged, worst first:
#   2 WRITERS        the sampler saw two units accept writes at the same moment
#   LOST n           n acknowledged ids are missing on some unit (the most on any unit)
#   stuck            not idle within the bound, or not healthy / not all on one version after it
#   NO HINT          halted, or no progress for 45 s, with a status that names no command
#   not reached      the step never came (the refresh went past it, or never reached it)
#   halted→finished  it needed `cluster start`, `resume-refresh` or `rollback` and then finished
#   completed        the refresh completed by itself (the planned resume of `paused` aside)
# The clients are judged too, and reported (not part of the verdict: a killed primary fails transactions):
# the writer's failed transactions and its longest window without a commit, the sampler's overlaps (two
# units accepting writes) and the acknowledged ids missing (the most on any unit).
# The verdict is printed and, with PGR_FAULT_RESULT=FILE, written there as one line:
#   VERDICT<TAB>SECONDS<TAB>FAILED<TAB>LONGEST_GAP_MS<TAB>OVERLAPS<TAB>MISSING<TAB>DETAIL
# ("-" where not known: the cell ended before the writer or the count did)
# With PGR_FAULT_KEEP=DIR the logs of a bad cell are copied there. Exit 0 for completed and
# halted→finished, 1 otherwise.
FAULT=${1:?usage: cell.sh FAULT STEP}
AT=${2:?usage: cell.sh FAULT STEP}
shift 2
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/lib_refresh.sh"

PY=/usr/bin/python3 # Debian's: it has psycopg2
FL=$ROOT/tests/faults/faultlib.py
W=$T/faults
mkdir -p "$W"
# a variant of the cell (tests/faults/partition: across hosts) redefines in its file what differs
[ -n "${PGR_FAULT_VARIANT:-}" ] && . "$PGR_FAULT_VARIANT"
CELL_START=$SECONDS
ACTIONS=()
NOTES=()
BG=()

note() { NOTES+=("$*"); echo "# note: $*"; }

# bg_start NAME CMD...: a background process of this cell, stopped at the end (and by lib.sh's cleanup)
bg_start() {
	local name=$1
	shift
	"$@" >"$W/$name.out" 2>"$W/$name.err" &
	BG+=("$!")
	HOLDERS+=("$!")
}

cluster_start_bg() {
	ACTIONS+=("cluster start")
	echo "# $(date +%T.%N | cut -c1-12) pgrefresh cluster start (in the background)"
	bg_start "cluster-start-${#ACTIONS[@]}" timeout 180 "$PGR" cluster start --dir "$C"
}

etcd_healthy() { curl -sf --max-time 1 "$(sed -nE 's/^etcd *= *//p' "$C/pgrefresh.conf")/health" | grep -q true; }

verdict() { # VERDICT: writes the result and ends the cell
	local v=$1 detail secs keep
	secs=$((SECONDS - CELL_START))
	detail="fault at $(json_get "$(cat "$W/fire.json" 2>/dev/null || echo '{}')" "'%s (%s, state %s, +%s ms)' % (d.get('victim'), d.get('what'), d.get('record_state'), d.get('fired_ms'))")"
	[ ${#ACTIONS[@]} -gt 0 ] && detail="$detail; ran: $(IFS=,; echo "${ACTIONS[*]}")"
	[ ${#NOTES[@]} -gt 0 ] && detail="$detail; $(printf '%s; ' "${NOTES[@]}" | sed 's/; $//')"
	clients=$(json_get "$(cat "$W/writer.json" 2>/dev/null || echo '{}')" "'%s\t%s' % (d.get('failed', '-'), d.get('longest_gap_ms', '-'))")
	echo "# CELL $FAULT × $AT: $v in ${secs}s — $detail"
	[ -n "${PGR_FAULT_RESULT:-}" ] &&
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$secs" "$clients" "${OVERLAPS:--}" "${LOST:--}" "$detail" >"$PGR_FAULT_RESULT"
	case "$v" in
	completed | halted→finished) ;;
	*)
		if [ -n "${PGR_FAULT_KEEP:-}" ]; then
			keep=$(realpath -m "$PGR_FAULT_KEEP")
			mkdir -p "$keep"
			(cd "$T" && find . \( -name '*.log' -o -path './faults/*' \) -type f -print0 |
				xargs -0 -r cp --parents -t "$keep") 2>/dev/null || true
			status_json >"$keep/status.json" 2>/dev/null || true
			echo "# logs kept in $keep"
		fi
		fail "cell $FAULT × $AT: $v ($detail)"
		;;
	esac
}

UNITS=3
[ "$AT" = batch ] && UNITS=4 # a batch of two replicas; the sync standby stays up while it restarts
step "a $UNITS-unit cluster on $LOW; a writer through PgBouncer and a sampler of every unit"
need_versions "$LOW" "$HIGH"
create_cluster $UNITS "$LOW"
wait_healthy 30
if [ "$AT" = batch ]; then
	pgr_ok config --dir "$C" set max-parallel-units=2
	# the plan must have a batch of two (the two replicas), else the cell tests nothing of a batch
	first_batch_of_two() {
		pgr_run refresh --dir "$C" --version "$HIGH" --dry-run --format json
		[ "$RC" = 0 ] && [ "$(json_get "$OUT" "sum(1 for s in d['plan'] if s['batch'] == 1)")" = 2 ]
	}
	wait_until 30 first_batch_of_two || fail "no batch of two in the plan: $OUT $ERR"
	ok "plan: $(json_get "$OUT" "' | '.join('%s %s batch %d' % (s['unit'], s.get('role', ''), s['batch']) for s in d['plan'])")"
fi
if [ "$AT" = paused ]; then set_pause first; else set_pause none; fi
case $AT in # the fast switchover's own steps; the steps of Patroni's switchover (the default is fast)
fast-*) pgr_ok config --dir "$C" set switchover=fast ;;
sw-before | sw-after | old-primary) pgr_ok config --dir "$C" set switchover=patroni ;;
esac
psql_bouncer "create table faults_w(id bigint primary key)" >/dev/null
STOP=$W/stop
start_writer_and_sampler "$W" "$STOP" # faultlib.py's writer and sampler (SAMPLER, WRITER)
acked_over() { [ "$(wc -l <"$W/acked" 2>/dev/null || echo 0)" -gt "$1" ]; }
wait_until 20 acked_over 20 || fail "the writer acknowledged nothing: $(cat "$W/writer.err")"
ok "writer and sampler running ($(wc -l <"$W/acked") ids acknowledged so far)"

step "refresh to $HIGH; kill -9 ($FAULT) the moment it reaches $AT"
(
	eval "$("$PGR" cluster env --dir "$C")" # it asks units pg_is_in_recovery()
	exec "$PY" "$FL" fire "$AT" "$FAULT" "$C" "$HIGH" "$W/fire.json" 150
) >"$W/fire.out" 2>"$W/fire.err" &
FIRE=$!
HOLDERS+=("$FIRE")
sleep 0.2 # the watch is reading before the refresh is recorded
# (etcd may be killed before the command returns: its failure is noted, not fatal)
pgr_run refresh --dir "$C" --version "$HIGH"
[ "$RC" = 0 ] && ok "refresh started: $(head -n 1 <<<"$OUT")" || note "refresh exited $RC: $(tail -n 2 <<<"$ERR" | tr '\n' ' ')"
FIRE_RC=0
wait "$FIRE" || FIRE_RC=$?
[ -s "$W/fire.json" ] || fail "faultlib fire wrote no report: $(cat "$W/fire.err")"
echo "# fire: $(cat "$W/fire.json")"
REACHED=$(json_get "$(cat "$W/fire.json")" "d.get('reached') and d.get('killed', False)")
[ "$REACHED" = true ] || note "$(json_get "$(cat "$W/fire.json")" "d.get('note', '')")"

case "$FAULT" in
etcd | etcd20)
	if [ "$REACHED" = true ]; then
		[ "$FAULT" = etcd20 ] && { echo "# etcd down for 20 s"; sleep 20; }
		cluster_start_bg
		ACTIONS=() # etcd's restart is the fault's second half, not the user's answer to a halt
		wait_until 30 etcd_healthy || note "etcd not healthy 30 s after cluster start"
		ok "etcd back ($FAULT)"
	fi
	;;
esac

step "watch the refresh; act as a user would until it is idle"
DEADLINE=$((SECONDS + 300))
LAST_KEY=
LAST_CHANGE=$SECONDS
DOWN_SINCE=
PLANNED_RESUME=0
[ "$AT" = paused ] && PLANNED_RESUME=1
RESUMES=0
NOHINT=0
END=stuck
while [ $SECONDS -lt $DEADLINE ]; do
	S=$(status_json 2>/dev/null) || {
		sleep 1
		continue
	}
	KEY=$(json_get "$S" "'%s %s %s %s' % (d['refresh']['state'], d['refresh']['done'], d['refresh']['next_unit'], d['refresh']['rollback'])")
	UNITS=$(json_get "$S" "' '.join('%s=%s/%s/%s%s' % (u['name'], u['role'], u['version'], u['state'], '' if u['state'] == 'active' else ' (' + u['message'] + ')') for u in d['units'])")
	if [ "$KEY" != "$LAST_KEY" ]; then
		echo "# $(date +%T) refresh: $KEY — $(json_get "$S" "d['refresh']['message']")"
		LAST_KEY=$KEY
		LAST_CHANGE=$SECONDS
	fi
	UKEY=$(sed -E 's/[0-9]+ ?s\b/Ns/g' <<<"$UNITS")
	if [ "$UKEY" != "${LAST_UNITS:-}" ]; then
		echo "# $(date +%T)   units: $UNITS"
		LAST_UNITS=$UKEY
	fi
	STATE=${KEY%% *}
	MSG=$(json_get "$S" "d['refresh']['message']")
	case "$STATE" in
	idle)
		END=idle
		break
		;;
	paused | failed | incompatible)
		if [[ "$MSG" != *"pgrefresh "* ]]; then
			note "halted ($STATE) with a message naming no command: $MSG"
			NOHINT=1
		fi
		if [ "$STATE" = paused ]; then
			if [ $PLANNED_RESUME = 1 ]; then
				PLANNED_RESUME=0
			else
				ACTIONS+=("resume-refresh")
			fi
			RESUMES=$((RESUMES + 1))
			pgr_run resume-refresh --dir "$C"
			echo "# resume-refresh: exit $RC $(head -n 2 <<<"$ERR")"
			if [ "$RC" != 0 ]; then
				note "resume-refresh refused (exit $RC): $(grep -m1 'error:' <<<"$ERR")"
				[ $RESUMES -ge 4 ] && { ACTIONS+=("rollback"); pgr_run rollback --dir "$C"; echo "# rollback: exit $RC $ERR"; }
				sleep 5
			fi
		else
			note "halted in $STATE: $MSG"
			ACTIONS+=("rollback")
			pgr_run rollback --dir "$C"
			echo "# rollback: exit $RC $(head -n 2 <<<"$ERR")"
			[ "$RC" = 0 ] || { note "rollback refused (exit $RC): $(grep -m1 'error:' <<<"$ERR")"; sleep 5; }
		fi
		LAST_CHANGE=$SECONDS
		;;
	*)
		# a unit whose agent is gone: `down`, or the refreshing unit's "its agent does not report"
		if [ "$(json_get "$S" "any(u['state'] == 'down' or 'does not report' in u['message'] for u in d['units'])")" = true ]; then
			[ -n "$DOWN_SINCE" ] || DOWN_SINCE=$SECONDS
		else
			DOWN_SINCE=
		fi
		if { [ -n "$DOWN_SINCE" ] && [ $((SECONDS - DOWN_SINCE)) -ge 10 ]; } || [ $((SECONDS - LAST_CHANGE)) -ge 45 ]; then
			if [ -n "$DOWN_SINCE" ]; then
				note "agent gone $((SECONDS - DOWN_SINCE)) s, status: $(json_get "$S" "'; '.join(u['name'] + ' ' + u['state'] + ': ' + u['message'] for u in d['units'] if u['state'] == 'down' or 'does not report' in u['message'])")"
			else
				note "no progress for 45 s"
				# a user waiting that long must be told by status what is wrong and what to run
				if [ "$(json_get "$S" "'pgrefresh ' in d['refresh']['message'] or any('pgrefresh ' in u['message'] for u in d['units'])")" != true ]; then
					note "stalled with a status naming no command: $(json_get "$S" "d['refresh']['message'] + ' | ' + '; '.join(u['name'] + ' ' + u['state'] + ': ' + u['message'] for u in d['units'] if u['message'])")"
					NOHINT=1
				fi
			fi
			cluster_start_bg
			DOWN_SINCE=
			LAST_CHANGE=$SECONDS
		fi
		;;
	esac
	sleep 1
done
OUTCOME=
if [ "$END" = idle ]; then
	OUTCOME=$(json_get "$(history_json || echo '[]')" "d[-1]['outcome'] if d else 'none'")
	ok "idle: the refresh ended ($OUTCOME)"
else
	note "not idle after 300 s: $(json_get "$(status_json 2>/dev/null || echo '{}')" "d.get('refresh', {}).get('state', '?') + ': ' + str(d.get('refresh', {}).get('message'))")"
fi

step "stop the writer and the sampler; judge"
# units that were still starting (a `cluster start` running) settle first
for p in "${BG[@]}"; do
	wait_pids_gone 60 "$p" || kill -TERM "$p" 2>/dev/null || true
done
# healthy, or once: a unit whose agent is gone after the end (killed at the last step, the refresh
# finished without it), and what status says to run for it, as a user would
STARTED_AFTER=0
healthy_else_start() {
	local s
	cluster_healthy && return 0
	[ $STARTED_AFTER = 0 ] && s=$(status_json 2>/dev/null) || return 1
	# an agent gone (its lease expired, or never reported): not a PostgreSQL that its Patroni is starting again
	# by itself (a killed postmaster: "PostgreSQL not running (Patroni: starting)"), which needs nothing
	[ "$(json_get "$s" "any(u['state'] == 'down' and ('Agent not reporting' in u['message'] or
		'No report from its agent yet. Start it' in u['message']) for u in d['units'])")" = true ] || return 1
	STARTED_AFTER=1
	note "after the end, an agent gone: $(json_get "$s" "d['message']")"
	if [[ "$(json_get "$s" "d['message']")" == *"pgrefresh cluster start"* ]]; then
		cluster_start_bg
	else
		NOHINT=1
	fi
	return 1
}
HEALTHY=true
wait_until 60 healthy_else_start || { HEALTHY=false; note "not healthy 60 s after the end: $(status_json 2>/dev/null | tr -d '\n' | cut -c1-400)"; }
touch "$STOP"
wait "$WRITER" || true
wait "$SAMPLER" || true
echo "# writer: $(cat "$W/writer.json" 2>/dev/null)"
echo "# sampler: $(cat "$W/sampler.json" 2>/dev/null)"
OVERLAPS=$(json_get "$(cat "$W/sampler.json" 2>/dev/null || echo '{}')" "d.get('overlaps', -1)")
missing_zero() {
	(
		eval "$("$PGR" cluster env --dir "$C")"
		"$PY" "$FL" missing "$C" "$W"
	) >"$W/missing.json" 2>&1 && [ "$(json_get "$(cat "$W/missing.json")" "all(v == 0 for v in d.values())")" = true ]; }
wait_until 30 missing_zero || true
echo "# acknowledged ids missing per unit: $(cat "$W/missing.json")"
[ "$(json_get "$(cat "$W/missing.json")" 1 2>/dev/null)" = 1 ] || echo '{"all": "the count failed"}' >"$W/missing.json"
LOST=$(json_get "$(cat "$W/missing.json")" "max([v for v in d.values() if isinstance(v, int)] or [0])")
UNREACH=$(json_get "$(cat "$W/missing.json")" "[k for k, v in d.items() if not isinstance(v, int)]")
[ "$UNREACH" = "[]" ] || note "units unreachable for the count: $UNREACH"
EXPECT=$HIGH
[ "$OUTCOME" = completed ] || EXPECT=$LOW
ON_ONE=true
if [ "$END" = idle ]; then
	wait_until 30 all_units_on "$EXPECT" || { ON_ONE=false; note "not all on $EXPECT: $(unit_versions)"; }
fi
note "writer $(json_get "$(cat "$W/writer.json" 2>/dev/null || echo '{}')" "'%s acked, %s failed, longest gap %s ms' % (d.get('acked'), d.get('failed'), d.get('longest_gap_ms'))")"
[ -n "$OUTCOME" ] && note "outcome $OUTCOME"

VARIANT_BAD=
[ "$(type -t variant_judge)" = function ] && variant_judge
if [ "$OVERLAPS" != 0 ]; then
	note "overlaps: $(json_get "$(cat "$W/sampler.json" 2>/dev/null || echo '{}')" "d.get('first_overlaps')")"
	verdict "2 WRITERS"
elif [ "$LOST" != 0 ]; then
	verdict "LOST $LOST"
elif [ -n "$VARIANT_BAD" ]; then
	verdict "$VARIANT_BAD"
elif [ "$END" = stuck ] || [ $HEALTHY = false ] || [ $ON_ONE = false ] || [ "$UNREACH" != "[]" ]; then
	verdict stuck
elif [ $NOHINT = 1 ]; then
	verdict "NO HINT"
elif [ "$REACHED" != true ]; then
	verdict "not reached"
elif [ ${#ACTIONS[@]} -gt 0 ]; then
	verdict "halted→finished"
else
	verdict completed
fi
