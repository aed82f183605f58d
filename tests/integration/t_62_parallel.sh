#!/usr/bin/env bash
# Replicas refreshed in parallel batches (issue 12 section 2, max-parallel-units):
#  1. a 5-unit cluster on LOW, a ledger through PgBouncer; bad values of max-parallel-units refused by
#     `config set` (one error line, a hint, exit 2, nothing written); max-parallel-units=2, pause none;
#  2. refresh --dry-run: the plan in 4 batches, the two highest-numbered replicas together first, then
#     the third replica, the sync standby, the primary (text and JSON);
#  3. the refresh under a writer through PgBouncer (bench/loadclient, 4 clients): while it runs, status
#     shows the batches (refresh.batch/batches, each unit's batch, both units of batch 1 refreshing, the
#     table's Batch column and "batch 1/4"); it completes: every unit on HIGH, 0 failed transactions,
#     every acknowledged id on every unit;
#  4. the two replicas of batch 1 were restarting at once: judged from their agents' logs (each one's
#     "restarting PostgreSQL through Patroni" to its "Patroni restarted PostgreSQL": the two spans
#     overlap), and history has them started by the same transition.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

# TIME of a log line ("2026-11-30 00:10:01.234 ...") as ms since the epoch
line_ms() { python3 -c 'import sys, datetime; print(int(datetime.datetime.strptime(sys.argv[1] + " " + sys.argv[2], "%Y-%m-%d %H:%M:%S.%f").timestamp() * 1000))' "$1" "$2"; }
# UNIT: "START END" (ms) of its last restart to HIGH, as its agent logged it
restart_span() {
	local log start end
	log="$C/units/$(unit_member "$1")/agent.log"
	start=$(grep -h "restarting PostgreSQL through Patroni to run $HIGH" "$log" | tail -n 1 | awk '{ print $1 " " $2 }')
	[ -n "$start" ] || return 1
	# the first "Patroni restarted PostgreSQL" after that line
	end=$(awk -v s="$start" '($1 " " $2) >= s && /Patroni restarted PostgreSQL/ { print $1 " " $2; exit }' "$log")
	[ -n "$end" ] || return 1
	echo "$(line_ms $start) $(line_ms $end)"
}

step "a 5-unit cluster on $LOW; a ledger through PgBouncer; pause none"
need_versions "$LOW" "$HIGH"
create_cluster 5 "$LOW"
wait_healthy 60
psql_bouncer "create table ledger(id bigint primary key, client int not null, at timestamptz not null)" >/dev/null
set_pause none

step "max-parallel-units: bad values refused, nothing written; then 2"
assert_eq "$(pgr_run config --dir "$C" max-parallel-units && echo "$OUT")" 1 "max-parallel-units (default)"
for bad in 0 33 two -1 2.5 ""; do
	pgr_run config --dir "$C" set "max-parallel-units=$bad"
	assert_user_error "config set max-parallel-units=$bad"
	assert_rc 2 "exit of config set max-parallel-units=$bad"
	assert_contains "$ERR" "max-parallel-units (expected 1 to 32)" "error"
done
assert_eq "$(pgr_run config --dir "$C" max-parallel-units && echo "$OUT")" 1 "max-parallel-units after refused sets"
pgr_ok config --dir "$C" set max-parallel-units=2
assert_eq "$(pgr_run config --dir "$C" max-parallel-units && echo "$OUT")" 2 "max-parallel-units"

step "refresh --dry-run: 4 batches, the two highest replicas together, then a replica, the sync standby, the primary"
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
REPLICAS=$(units_with_role replica | sort -t/ -k2 -n -r | tr '\n' ' ' | sed 's/ $//')
read -r R1 R2 R3 <<<"$REPLICAS"
pgr_ok refresh --dir "$C" --version "$HIGH" --dry-run
assert_contains "$OUT" "in 4 batches (max-parallel-units=2" "dry-run plan"
assert_match "$OUT" "1\. $R1 +replica +$LOW → $HIGH  batch 1" "dry-run: $R1 in batch 1"
assert_match "$OUT" "2\. $R2 +replica +$LOW → $HIGH  batch 1" "dry-run: $R2 in batch 1"
assert_match "$OUT" "3\. $R3 +replica +$LOW → $HIGH  batch 2" "dry-run: $R3 in batch 2"
assert_match "$OUT" "4\. $SYNC +sync-standby +$LOW → $HIGH  batch 3" "dry-run: $SYNC in batch 3"
assert_match "$OUT" "5\. $PRIMARY +primary +$LOW → $HIGH  batch 4" "dry-run: $PRIMARY in batch 4"
assert_contains "$OUT" "stops it after the current batch" "dry-run pause sentence"
pgr_ok refresh --dir "$C" --version "$HIGH" --dry-run --format json
assert_eq "$(json_get "$OUT" "' '.join('%s:%d' % (s['unit'], s['batch']) for s in d['plan'])")" \
	"$R1:1 $R2:1 $R3:2 $SYNC:3 $PRIMARY:4" "dry-run JSON plan"
assert_eq "$(json_get "$OUT" "d['batches']")" 4 "dry-run JSON batches"
assert_eq "$(refresh_field state)" idle "nothing recorded by the dry run"
pgr_ok pre-refresh-check --dir "$C" --format json
assert_eq "$(json_get "$OUT" "'%d %d' % (d['max_parallel_units'], d['batches'])")" "2 4" "pre-refresh-check JSON"

step "the refresh under a writer through PgBouncer; status polled while it runs"
start_load "$T/load" 0
sleep 1
start_refresh --version "$HIGH"
assert_contains "$OUT" "in 4 batches (the units of a batch at once): $R1 $R2 | $R3 | $SYNC | $PRIMARY" "refresh output"
DEADLINE=$((SECONDS + 150))
: >"$T/polls.jsonl"
: >"$T/tables.txt"
while :; do
	if pgr_run status --dir "$C" --format json && [ "$RC" = 0 ]; then
		json_get "$OUT" "d" >>"$T/polls.jsonl"
		[ "$(json_get "$OUT" "d['refresh']['state']")" = idle ] && break
	fi
	pgr_run status --dir "$C"
	[ "$RC" = 0 ] && printf '%s\n----\n' "$OUT" >>"$T/tables.txt"
	[ $SECONDS -lt $DEADLINE ] || fail "the refresh did not end within 150 s: $(status_json || true)"
done
sleep 1
stop_load "$T/load"
assert_all_on "$HIGH"
wait_healthy 60
assert_load_clean "$T/load" 5000
assert_ids_on_all "$T/load/ids.txt"

step "status showed the batches while the refresh ran"
# one poll with batch 1 of 4 running and both its replicas refreshing, each unit's batch as planned
SEEN=$(python3 - "$T/polls.jsonl" "$R1" "$R2" <<'EOF'
import json, sys
hits = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    r = d["refresh"]
    u = {x["name"]: x for x in d["units"]}
    if r.get("batch") == 1 and r.get("batches") == 4 and u[sys.argv[2]]["state"] == "refreshing" \
            and u[sys.argv[3]]["state"] == "refreshing" and u[sys.argv[2]]["batch"] == 1 and u[sys.argv[3]]["batch"] == 1:
        hits += 1
print(hits)
EOF
)
[ "$SEEN" -ge 1 ] || fail "no status poll showed batch 1 of 4 with $R1 and $R2 both refreshing ($(wc -l <"$T/polls.jsonl") polls)"
ok "$SEEN polls showed batch 1/4 with $R1 and $R2 both refreshing"
assert_eq "$(python3 -c '
import json, sys
seen = {}
for line in open(sys.argv[1]):
    for x in json.loads(line)["units"]:
        if x["batch"] is not None:
            seen.setdefault(x["name"], set()).add(x["batch"])
print(" ".join("%s:%s" % (n, ",".join(map(str, sorted(b)))) for n, b in sorted(seen.items())))
' "$T/polls.jsonl")" "$(for u in $R1:1 $R2:1 $R3:2 $SYNC:3 $PRIMARY:4; do echo "$u"; done | sort | tr '\n' ' ' | sed 's/ $//')" \
	"each unit's batch in status --format json (every poll)"
assert_contains "$(cat "$T/tables.txt")" "batch 1/4" "the status table's cluster line"
assert_match "$(cat "$T/tables.txt")" "Lag +Batch Message" "the status table's Batch column"

step "the two replicas of batch 1 were restarting at once (their agents' logs), started together (history)"
S1=$(restart_span "$R1") || fail "no restart of $R1 to $HIGH in its agent's log"
S2=$(restart_span "$R2") || fail "no restart of $R2 to $HIGH in its agent's log"
read -r A0 A1 <<<"$S1"
read -r B0 B1 <<<"$S2"
LATEST_START=$((A0 > B0 ? A0 : B0))
EARLIEST_END=$((A1 < B1 ? A1 : B1))
[ $LATEST_START -lt $EARLIEST_END ] ||
	fail "the restarts of $R1 ($A0-$A1) and $R2 ($B0-$B1) did not overlap"
ok "restarts overlapped for $((EARLIEST_END - LATEST_START)) ms ($R1 $((A1 - A0)) ms, $R2 $((B1 - B0)) ms)"
# the third replica restarted only after both of batch 1 were done
S3=$(restart_span "$R3") || fail "no restart of $R3 to $HIGH in its agent's log"
read -r C0 C1 <<<"$S3"
[ "$C0" -ge "$EARLIEST_END" ] || fail "$R3 (batch 2) restarted at $C0, before batch 1 ended ($A1, $B1)"
ok "$R3 (batch 2) restarted after batch 1"
H=$(history_json) || fail "history failed: $ERR"
assert_eq "$(json_get "$H" "d[-1]['outcome']")" completed "outcome"
assert_eq "$(json_get "$H" "' '.join(u['unit'] for u in d[-1]['units'])")" "$R1 $R2 $R3 $SYNC $PRIMARY" "unit order in history"
assert_eq "$(json_get "$H" "d[-1]['units'][0]['started_ms'] == d[-1]['units'][1]['started_ms'] > 0")" true \
	"the units of batch 1 started by one transition"
assert_eq "$(json_get "$H" "d[-1]['units'][2]['started_ms'] >= max(d[-1]['units'][0]['done_ms'], d[-1]['units'][1]['done_ms'])")" \
	true "batch 2 started once batch 1 was done"
pgr_ok cluster stop --dir "$C"
