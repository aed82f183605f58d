#!/usr/bin/env bash
# The error cases of issue 2: each prints one "pgrefresh: error:" line (and an optional "hint:" line) on
# stderr, exits non-zero, and leaves nothing behind (no directory created, no process running).
#
# Not tested: a missing dependency (etcd, Patroni and PgBouncer are run by absolute path, so it cannot
# be simulated without removing the Debian packages from this machine).
. "$(dirname "$0")/lib.sh"

# nothing_runs_from DIR: no process runs from DIR.
nothing_runs_from() {
	local left
	left=$(pids_using_dir "$1" | tr '\n' ' ')
	[ -z "$left" ] || fail "processes run from $1: $(ps -o pid=,args= -p "${left// /,}" | cut -c1-150)"
	ok "no process runs from $1"
}

conf_sum() { md5sum <"$C/pgrefresh.conf"; }

step "a 3-unit cluster on $LOW (the errors below must leave it healthy)"
need_versions "$LOW"
create_cluster 3 "$LOW"
wait_healthy 15
psql_bouncer "create table t50(id int); insert into t50 values (50)" >/dev/null
SUM=$(conf_sum)

step "cluster create with a version not in the catalog (15.99): error, no directory created"
pgr_run cluster create --dir "$T/x" --units 3 --version 15.99
assert_user_error "create --version 15.99"
assert_contains "$ERR" "15.99" "error"
[ ! -e "$T/x" ] || fail "$T/x was created: $(ls -la "$T/x")"
ok "$T/x not created"
nothing_runs_from "$T/x"

step "cluster create with an unknown version into an existing empty directory: it stays empty"
mkdir "$T/empty"
pgr_run cluster create --dir "$T/empty" --units 3 --version 15.99
assert_user_error "create --version 15.99 into an empty dir"
assert_eq "$(ls -A "$T/empty" | wc -l)" 0 "entries in $T/empty"

step "cluster create into the directory of this cluster: error naming it; the cluster unchanged and healthy"
pgr_run cluster create --dir "$C" --units 3 --version "$LOW"
assert_user_error "create into an existing cluster"
assert_contains "$ERR" "$C" "error"
assert_contains "$ERR" "already" "error"
assert_eq "$(conf_sum)" "$SUM" "pgrefresh.conf checksum"
wait_healthy 10
assert_eq "$(psql_bouncer 'select id from t50')" 50 "row through PgBouncer"

step "bad command lines: unknown command, unknown option, bad format, create without --version"
pgr_run frobnicate --dir "$C"
assert_user_error "unknown command"
assert_rc 2 "unknown command exit code"
assert_contains "$ERR" "frobnicate" "error"
pgr_run status --dir "$C" --bogus
assert_user_error "unknown option"
assert_rc 2 "unknown option exit code"
pgr_run status --dir "$C" --format xml
assert_user_error "unknown format"
assert_rc 2 "unknown format exit code"
pgr_run cluster create --dir "$T/y" --units 3
assert_user_error "create without --version"
assert_rc 2 "create without --version exit code"
[ ! -e "$T/y" ] || fail "$T/y was created"
pgr_run cluster create --dir "$T/y" --units zero --version "$LOW"
assert_user_error "create --units zero"
[ ! -e "$T/y" ] || fail "$T/y was created"
for b in 0 9 two; do
	pgr_run cluster create --dir "$T/y" --units 3 --version "$LOW" --pgbouncers "$b"
	assert_user_error "create --pgbouncers $b"
	assert_rc 2 "create --pgbouncers $b exit code"
	assert_contains "$ERR" "--pgbouncers must be a number from 1 to 5" "create --pgbouncers $b"
	[ ! -e "$T/y" ] || fail "$T/y was created"
done

step "status with no --dir and no PGREFRESH_DIR: usage error naming both"
(
	cd /
	unset PGREFRESH_DIR
	pgr_run status
	printf '%s\n%s\n' "$RC" "$ERR" >"$T/nodir"
)
RC=$(sed -n 1p "$T/nodir")
ERR=$(sed -n '2,$p' "$T/nodir")
assert_user_error "status without a cluster directory"
assert_contains "$ERR" "--dir" "error"
assert_contains "$ERR" "PGREFRESH_DIR" "error"
if [ "$RC" = 2 ]; then
	ok "exit code 2 (usage)"
else
	known_bug "status without --dir or PGREFRESH_DIR exits $RC, not 2 (usage): src/cli/cmd_status.c returns PGR_EXIT_ERROR whenever conf_load fails"
fi
pgr_run status --dir "$T/does-not-exist"
assert_user_error "status --dir of a missing directory"
assert_contains "$ERR" "$T/does-not-exist" "error"
pgr_run status --dir "$T/empty"
assert_user_error "status --dir of a directory with no cluster"
assert_contains "$ERR" "pgrefresh.conf" "error"

step "versions add of a path that does not exist, and of a directory without PostgreSQL: refused"
pgr_ok versions --format json
CATALOG_BEFORE=$OUT
pgr_run versions add /nonexistent
assert_user_error "versions add /nonexistent"
assert_contains "$ERR" "/nonexistent" "error"
pgr_run versions add /tmp
assert_user_error "versions add /tmp"
assert_contains "$ERR" "/tmp" "error"
mkdir -p "$T/fake/bin"
printf '#!/bin/sh\necho "not postgres"\n' >"$T/fake/bin/postgres"
chmod 755 "$T/fake/bin/postgres"
pgr_run versions add "$T/fake"
assert_user_error "versions add of a tree whose postgres does not tell its version"
pgr_ok versions --format json
[ "$OUT" = "$CATALOG_BEFORE" ] || fail "the catalog changed after refused adds: $OUT"
ok "catalog unchanged by the refused adds"

step "a malformed pgrefresh.conf: status names the file and the line"
cp "$C/pgrefresh.conf" "$T/pgrefresh.conf.saved"
# garbage on a known line, after the [cluster] section and its blank line
LINE=$(($(grep -n '^\[unit ' "$C/pgrefresh.conf" | head -n 1 | cut -d: -f1) + 1))
sed -i "${LINE}s/.*/this line is garbage/" "$C/pgrefresh.conf"
pgr_run status --dir "$C"
assert_user_error "status with a malformed pgrefresh.conf"
assert_contains "$ERR" "$C/pgrefresh.conf" "error"
assert_contains "$ERR" "this line is garbage" "error"
# (conf_parse once counted lines with strtok_r, which skips blank lines: this line is after one)
assert_contains "$ERR" "pgrefresh.conf:$LINE:" "error (file:line of the garbage)"
printf '[cluster\nname = pg\n' >"$C/pgrefresh.conf"
pgr_run status --dir "$C"
assert_user_error "status with a broken section header"
assert_contains "$ERR" "pgrefresh.conf:1:" "error"
cp "$T/pgrefresh.conf.saved" "$C/pgrefresh.conf"
pgr_ok status --dir "$C"
ok "status works again with the conf restored"
wait_healthy 10

step "status with etcd unreachable (cluster stopped): error, exit 7"
pgr_ok cluster stop --dir "$C"
nothing_runs_from "$C"
pgr_run status --dir "$C"
assert_user_error "status of a stopped cluster"
assert_rc 7 "status exit code"
assert_contains "$ERR" "etcd" "error"
assert_contains "$ERR" "cluster start" "hint"

ETCD_PORT=$(sed -nE 's/^etcd *= *.*:([0-9]+).*/\1/p' "$C/pgrefresh.conf")
BOUNCER_PORT=$(sed -nE 's/^(pgbouncer|admin) *= *.*:([0-9]+)/\2/p' "$C/pgrefresh.conf" | head -n 1)

step "cluster start while another program holds the etcd port ($ETCD_PORT): error naming the port, nothing started"
hold_port "$ETCD_PORT"
pgr_run cluster start --dir "$C"
assert_user_error "start with the etcd port taken"
assert_contains "$ERR" "$ETCD_PORT" "error"
nothing_runs_from "$C"
release_port

step "cluster start while another program holds the PgBouncer port ($BOUNCER_PORT): error naming the port, nothing started"
hold_port "$BOUNCER_PORT"
pgr_run cluster start --dir "$C"
assert_user_error "start with the PgBouncer port taken"
assert_contains "$ERR" "$BOUNCER_PORT" "error"
LEFT=$(pids_using_dir "$C" | tr '\n' ' ')
if [ -z "$LEFT" ]; then
	ok "no process runs from $C"
else
	known_bug "cluster start with the PgBouncer port taken fails but leaves $(wc -w <<<"$LEFT") processes running (etcd, agents, Patroni, PostgreSQL): src/cluster/local.c local_cluster_start checks PgBouncer's port only after starting etcd and the agents"
	pgr_ok cluster stop --dir "$C"
	nothing_runs_from "$C"
fi
release_port

step "cluster start with the ports free again: healthy, the row is there"
pgr_ok cluster start --dir "$C"
wait_healthy 20
assert_eq "$(psql_bouncer 'select id from t50')" 50 "row through PgBouncer"
