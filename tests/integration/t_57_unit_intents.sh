#!/usr/bin/env bash
# Each unit's Patroni tags are written by that unit's own agent, asked through its unit intent in etcd
# (/pgrefresh/<cluster>/unit-intents/<member>), never by the coordinator or the CLI into another unit's files:
#  1. a refresh (pause none): the switchover's cascade asks the third unit (neither the old primary nor the
#     candidate) to stream from the candidate; that unit's agent logs "tags set by intent <token>:
#     replicatefrom=<candidate>", its record reports the token, the intent in etcd says who asked; no other
#     agent (the coordinator's included) logs tags set for it; the tags are cleared through intents too;
#  2. `pgrefresh switchover` while the third unit's agent is stopped (SIGSTOP) and its presence key gone (its
#     lease expired): the switchover does not wait for that agent at all (it waited the cascade's full 20 s
#     before), says its agent is down, and completes; once the agent goes on, it applies what it was asked last
#     (its tags cleared).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
etcd_value() { # KEY: its value, "" when absent
	curl -s --max-time 2 -X POST "$(etcd_url)/v3/kv/range" -d "{\"key\":\"$(printf '%s' "$1" | base64 -w0)\"}" |
		python3 -c 'import base64, json, sys; d = json.load(sys.stdin); print(base64.b64decode(d["kvs"][0]["value"]).decode() if d.get("kvs") else "")'
}
intent_of() { etcd_value "/pgrefresh/pg/unit-intents/$(unit_member "$1")"; }
record_of() { etcd_value "/pgrefresh/pg/units/$(unit_member "$1")"; }
agent_log() { cat "$C/units/$(unit_member "$1")/agent.log"; }
# the intent of UNIT asks for no tag, and its agent reports having applied it
intent_cleared_and_applied() { # UNIT
	local i r
	i=$(intent_of "$1")
	r=$(record_of "$1")
	[ -n "$i" ] && [ -n "$r" ] || return 1
	[ "$(json_get "$i" "d['tags']['replicatefrom']")" = "" ] || return 1
	[ "$(json_get "$i" "d['token']")" = "$(json_get "$r" "d.get('intent_token', '')")" ]
}

step "a 3-unit cluster on $LOW, pause none"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
set_pause none
PRIMARY=$(units_with_role primary)
SYNC=$(units_with_role sync-standby)
REPLICA=$(units_with_role replica)
echo "# primary $PRIMARY, sync standby $SYNC, replica $REPLICA"
for u in pg/0 pg/1 pg/2; do
	[ -z "$(intent_of "$u")" ] || fail "an intent for $u before anything asked: $(intent_of "$u")"
done
ok "no unit intent before the refresh"

step "refresh to $HIGH: the cascade before the switchover is set by the third unit's own agent"
start_refresh --version "$HIGH"
wait_refresh 240 idle
assert_all_on "$HIGH"
NEWPRIMARY=$(units_with_role primary)
[ "$NEWPRIMARY" != "$PRIMARY" ] || fail "the primary is still $PRIMARY after the refresh"
THIRD=""
for u in pg/0 pg/1 pg/2; do
	[ "$u" != "$PRIMARY" ] && [ "$u" != "$NEWPRIMARY" ] && THIRD=$u
done
echo "# switchover $PRIMARY -> $NEWPRIMARY; cascaded standby $THIRD"
CAND=$(unit_member "$NEWPRIMARY")
# "tags set by intent", or "tags asked by intent ..., already in force" when its own step wrote them already
SET_LINE=$(agent_log "$THIRD" | grep -E "tags (set|asked) by intent cascade:[^ ]*: replicatefrom=$CAND, nosync=false" | tail -n 1)
[ -n "$SET_LINE" ] || fail "$THIRD's agent did not log the cascade it was asked for: $(agent_log "$THIRD" | grep -i 'tags\|intent' | tail -n 5)"
ok "$THIRD's own agent set its tags: ${SET_LINE#*] }"
assert_contains "$SET_LINE" "asked by switchover $(unit_member "$PRIMARY") -> $CAND" "who asked, in $THIRD's log"
for u in pg/0 pg/1 pg/2; do
	[ "$u" = "$THIRD" ] && continue
	if agent_log "$u" | grep -qE "tags (set|asked) by intent cascade:[^ ]*: replicatefrom=$CAND"; then
		fail "$u's agent logged a cascade it was not asked for: $(agent_log "$u" | grep 'tags set by intent' | tail -n 2)"
	fi
done
ok "no other agent (the coordinator's included) logged the cascade of $THIRD"
COORD_LOGS=$(cat "$C"/units/*/agent.log | grep -c "asked 1 unit(s) to stream from $CAND (intent cascade:" || true)
[ "$COORD_LOGS" -ge 1 ] || fail "no coordinator logged the cascade it asked for"
ok "the coordinator asked through the intent ($COORD_LOGS line(s))"
wait_until 20 intent_cleared_and_applied "$THIRD" ||
	fail "$THIRD's intent not cleared, or not applied: intent $(intent_of "$THIRD"), record $(record_of "$THIRD")"
I=$(intent_of "$THIRD")
assert_match "$(json_get "$I" "d['token']")" '^uncascade:' "the last intent of $THIRD (the cascade cleared)"
assert_contains "$(json_get "$I" "d['by']")" "switchover $(unit_member "$PRIMARY") -> $CAND" "intent.by"
[ "$(json_get "$I" "d['at_revision']")" -gt 0 ] || fail "the clearing intent was not written over the cascade's revision: $I"
ok "the clearing intent replaced the cascade's by compare-and-swap (at_revision $(json_get "$I" "d['at_revision']"))"
assert_contains "$(agent_log "$THIRD")" "tags set by intent $(json_get "$I" "d['token']"): replicatefrom=none" "$THIRD's log"
wait_until 15 no_tags_left || fail "Patroni tags left: $(grep -h '^tags:' "$C"/units/*/patroni.yml | tr '\n' ' ')"
ok "no Patroni tag left"
wait_healthy 30

step "pgrefresh switchover with the cascaded standby's agent down: not waited for, the unit named, completed"
wait_until 30 bash -c "[ -n \"\$(units_with_role sync-standby)\" ]" || true
FROM=$(units_with_role primary)
TO=$(units_with_role sync-standby)
[ -n "$TO" ] || fail "no sync standby to switch over to: $(status_json)"
STOPPED=""
for u in pg/0 pg/1 pg/2; do
	[ "$u" != "$FROM" ] && [ "$u" != "$TO" ] && STOPPED=$u
done
STOPPED_PID=$(agent_pid "$STOPPED")
kill -STOP "$STOPPED_PID"
PRESENCE=/pgrefresh/pg/alive/$(unit_member "$STOPPED")
presence_gone() { [ -z "$(etcd_value "$PRESENCE")" ]; }
wait_until 20 presence_gone || { kill -CONT "$STOPPED_PID"; fail "$PRESENCE still there 20 s after its agent stopped"; }
ok "$STOPPED's presence key is gone (its agent's lease expired)"
T0=$(date +%s%N)
pgr_run switchover --dir "$C" --to "$TO"
ELAPSED_MS=$((($(date +%s%N) - T0) / 1000000))
kill -CONT "$STOPPED_PID"
[ "$RC" = 0 ] || fail "switchover with $STOPPED's agent down exited $RC: $ERR"
assert_match "$OUT" "switched over: $TO is the primary \(was $FROM\)" "switchover output"
assert_contains "$ERR" "$STOPPED: its agent is down (its presence key $PRESENCE is gone" "the switchover's log"
assert_not_contains "$ERR" "did not apply replicatefrom" "the switchover's log (no wait for a down agent)"
# the cascade's bound is 20 s; a switchover alone takes 2-5 s here
[ "$ELAPSED_MS" -lt 15000 ] || fail "the switchover took $ELAPSED_MS ms with $STOPPED's agent down: it waited for it"
ok "switchover done in $ELAPSED_MS ms with $STOPPED's agent down (not waited for)"
wait_until 20 intent_cleared_and_applied "$STOPPED" ||
	fail "$STOPPED's agent, going on, did not apply its last intent: intent $(intent_of "$STOPPED"), record $(record_of "$STOPPED")"
ok "$STOPPED's agent applied its last intent once it went on"
wait_until 15 no_tags_left || fail "Patroni tags left: $(grep -h '^tags:' "$C"/units/*/patroni.yml | tr '\n' ' ')"
wait_healthy 30
