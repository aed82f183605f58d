#!/usr/bin/env bash
# The fast switchover (switchover=fast, docs/fast-switchover.md) on a 3-unit cluster with PgBouncer:
#  1. `config set switchover=fast`; two `pgrefresh switchover`s while a writer inserts through PgBouncer
#     and every unit's pg_is_in_recovery() is sampled every 20 ms (tests/faults/faultlib.py): 0 failed
#     writes, 0 acknowledged ids missing on any unit, 0 moments with two writable units;
#  2. each switchover took the fast path's steps (logged), the old primary rejoined as a replica, Patroni
#     is out of maintenance mode, no synchronous_standby_names override is left on the new primary, the
#     progress key and its owner key are gone, the pg intents' work is done.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

PY=/usr/bin/python3 # Debian's: it has psycopg2
FL=$ROOT/tests/faults/faultlib.py
W=$T/w
mkdir -p "$W"
STOP=$W/stop

etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
etcd_value() { # KEY
	curl -s --max-time 2 -X POST "$(etcd_url)/v3/kv/range" -d "{\"key\":\"$(printf '%s' "$1" | base64 -w0)\"}" |
		python3 -c 'import base64, json, sys; d = json.load(sys.stdin); print(base64.b64decode(d["kvs"][0]["value"]).decode() if d.get("kvs") else "")'
}
paused_in_patroni() {
	curl -s --max-time 2 "http://127.0.0.1:$(api_port "$1")/cluster" | python3 -c 'import json, sys; print(json.load(sys.stdin).get("pause", False))'
}
auto_conf_override() { # UNIT: the synchronous_standby_names of postgresql.auto.conf, "" when none
	psql_unit "$1" "select coalesce((select setting from pg_file_settings where name = 'synchronous_standby_names' and sourcefile like '%postgresql.auto.conf'), '')"
}
acked_over() { [ "$(wc -l <"$W/acked" 2>/dev/null || echo 0)" -gt "$1" ]; }

step "a 3-unit cluster on $LOW with PgBouncer; switchover=fast; a writer and a sampler of every unit"
need_versions "$LOW"
create_cluster 3 "$LOW" "$T/c"
wait_healthy 30
pgr_ok config --dir "$C" set switchover=fast
pgr_ok config --dir "$C" switchover
assert_eq "$OUT" fast "switchover setting"
psql_bouncer "create table faults_w(id bigint primary key)" >/dev/null
start_writer_and_sampler "$W" "$STOP" # faultlib.py's writer and sampler (SAMPLER, WRITER)
wait_until 20 acked_over 20 || fail "the writer acknowledged nothing: $(cat "$W/writer.err")"
ok "writer and sampler running"

for n in 1 2; do
	step "fast switchover $n under the writer"
	FROM=$(units_with_role primary)
	pgr_ok switchover --dir "$C"
	assert_match "$OUT" "switched over: pg/[0-9] is the primary \(was $FROM\); clients waited [0-9]+ ms" "switchover $n"
	ok "$OUT"
	TO=$(sed -nE 's/^switched over: (pg\/[0-9]+) is the primary.*/\1/p' <<<"$OUT")
	[ -n "$TO" ] && [ "$TO" != "$FROM" ] || fail "no new primary named: $OUT"
	# each agent did its own part (agent/pg_action.c): the old primary's stop, the candidate's promotion
	fast_lines() { cat "$C/units/$(unit_member "$1")/agent.log" | grep -c "$2 ensured for intent fast:.*(asked by fast switchover $(unit_member "$FROM") -> $(unit_member "$TO"))" || true; }
	[ "$(fast_lines "$FROM" stop)" -ge 1 ] || fail "$FROM's agent did not log its stop for the fast switchover"
	[ "$(fast_lines "$TO" promote)" -ge 1 ] || fail "$TO's agent did not log its promotion for the fast switchover"
	[ "$(fast_lines "$TO" sync-reset)" -ge 1 ] || fail "$TO's agent did not reset its override"
	ok "$(grep -h "ensured for intent fast:" "$C/units/$(unit_member "$FROM")/agent.log" "$C/units/$(unit_member "$TO")/agent.log" | grep "$(unit_member "$FROM") -> $(unit_member "$TO")" | sed 's/^.* INFO: //; s/ for intent [^ ]* (asked by [^)]*)//' | paste -sd';')"
	wait_healthy 40
	assert_eq "$(units_with_role primary)" "$TO" "the primary status shows"
	assert_eq "$(paused_in_patroni "$TO")" False "Patroni's maintenance mode after switchover $n"
	assert_eq "$(auto_conf_override "$TO")" "" "the override left in $TO's postgresql.auto.conf"
	assert_eq "$(etcd_value /pgrefresh/pg/switchover-fast)" "" "the fast switchover's progress key"
	assert_eq "$(etcd_value /pgrefresh/pg/switchover-fast-owner)" "" "the fast switchover's owner key"
	ok "$FROM rejoined as a replica; maintenance mode ended; no override, no progress left"
	sleep 1
done

step "stop the writer and the sampler: 0 failed, 0 missing, 0 moments with two writable units"
touch "$STOP"
wait "$WRITER" "$SAMPLER" 2>/dev/null || true
echo "# writer: $(cat "$W/writer.json")"
echo "# sampler: $(json_get "$(cat "$W/sampler.json")" "{k: d[k] for k in ('overlaps', 'samples', 'writable_samples')}")"
assert_eq "$(json_get "$(cat "$W/writer.json")" "d['failed']")" 0 "failed writes"
assert_eq "$(json_get "$(cat "$W/sampler.json")" "d['overlaps']")" 0 "moments with two writable units"
missing_zero() {
	(
		eval "$("$PGR" cluster env --dir "$C")"
		"$PY" "$FL" missing "$C" "$W"
	) >"$W/missing.json" 2>&1 && [ "$(json_get "$(cat "$W/missing.json")" "all(v == 0 for v in d.values())")" = true ]
}
wait_until 30 missing_zero || fail "acknowledged ids missing: $(cat "$W/missing.json")"
ok "$(wc -l <"$W/acked") acknowledged ids on every unit; longest gap $(json_get "$(cat "$W/writer.json")" "d['longest_gap_ms']") ms"
