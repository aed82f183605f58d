#!/usr/bin/env bash
# The operation lock: while a refresh is paused, add-unit, remove-unit and switchover are refused
# (exit 6, one error line naming the refresh, a hint with resume-refresh/rollback) and change nothing;
# a bad setting value is refused at `config set` (exit 2). After the refresh, add-unit works again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"

step "a 3-unit cluster on $LOW; refresh to $HIGH paused after the first unit"
need_versions "$LOW" "$HIGH"
create_cluster 3 "$LOW"
wait_healthy 20
PRIMARY=$(units_with_role primary)
REPLICA=$(units_with_role replica)
start_refresh --version "$HIGH"
wait_refresh 150 paused
CONF_BEFORE=$(cat "$C/pgrefresh.conf")

refused() { # WHAT: after pgr_run of a cluster operation during the refresh
	assert_user_error "$1 during a paused refresh"
	assert_rc 6 "exit of $1"
	assert_match "$ERR" "pgrefresh: error: $1 refused: a refresh is in progress \(paused $LOW→$HIGH 1/3\)" "error of $1"
	assert_contains "$ERR" "pgrefresh resume-refresh" "hint of $1"
	assert_contains "$ERR" "pgrefresh rollback" "hint of $1"
}

step "add-unit is refused"
pgr_run add-unit --dir "$C"
refused add-unit

step "remove-unit $REPLICA is refused"
pgr_run remove-unit --dir "$C" "$REPLICA"
refused remove-unit

step "switchover is refused"
pgr_run switchover --dir "$C"
refused switchover

step "nothing changed: 3 units, same primary, same pgrefresh.conf, still paused 1/3"
assert_eq "$(json_get "$(status_json)" "len(d['units'])")" 3 "units"
assert_eq "$(unit_field "$PRIMARY" role)" primary "role of $PRIMARY"
assert_eq "$(cat "$C/pgrefresh.conf")" "$CONF_BEFORE" "pgrefresh.conf"
assert_eq "$(json_get "$(status_json)" "'%s %d' % (d['refresh']['state'], d['refresh']['done'])")" "paused 1" "refresh"

step "config set pause-after-unit-refresh=bogus: refused at set (exit 2); the setting is unchanged"
pgr_run config --dir "$C" set pause-after-unit-refresh=bogus
assert_user_error "a bad pause value"
assert_rc 2 "exit"
assert_contains "$ERR" "bogus" "error"
pgr_ok config --dir "$C" pause-after-unit-refresh
assert_eq "$OUT" first "pause-after-unit-refresh"
pgr_run config --dir "$C" set health-timeout-seconds=soon
assert_user_error "a bad health timeout"
assert_rc 2 "exit"

step "resume-refresh: idle, every unit on $HIGH"
pgr_ok resume-refresh --dir "$C"
wait_refresh 240 idle
assert_all_on "$HIGH"
wait_healthy 30

step "after the refresh, add-unit works again: a 4th unit on $HIGH"
pgr_ok add-unit --dir "$C"
wait_healthy 60
assert_eq "$(json_get "$(status_json)" "len(d['units'])")" 4 "units"
assert_eq "$(unit_field pg/3 version)" "$HIGH" "version of pg/3"
