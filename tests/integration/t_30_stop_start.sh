#!/usr/bin/env bash
# `cluster stop` leaves no process of the cluster and frees every port; `cluster start` brings it back
# healthy with the data intact; both are idempotent.
. "$(dirname "$0")/lib.sh"

# every_pidfile_pid_gone: no pid named by a pidfile under $C is alive (our pidfiles are checked by start
# time; postmaster.pid by its first line).
every_pidfile_pid_gone() {
	local f pid
	while IFS= read -r -d '' f; do
		read -r pid _ <"$f" || continue
		[[ "$pid" =~ ^[0-9]+$ ]] || continue
		if pid_alive "$pid" && { [ "$(basename "$f")" != postmaster.pid ] ||
			[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; }; then
			echo "$f names pid $pid, still running: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-120)"
			return 1
		fi
	done < <(find "$C" \( -name '*.pid' -o -name postmaster.pid \) -type f -print0)
	return 0
}

step "a 3-unit cluster on $LOW with a row written through PgBouncer"
need_versions "$LOW"
create_cluster 3 "$LOW"
wait_healthy 15
psql_bouncer "create table t30(id int primary key, v text); insert into t30 select g, 'row ' || g from generate_series(1, 1000) g" >/dev/null
assert_eq "$(psql_bouncer 'select count(*) from t30')" 1000 "rows written"
mapfile -t PORTS < <(cluster_ports)
assert_eq "${#PORTS[@]}" 9 "ports in pgrefresh.conf (etcd, etcd peer, PgBouncer, 3 x PostgreSQL and REST)"
# every pid the cluster runs now, to check after the stop (pidfiles may be removed by the stop)
RUNNING=$(pidfile_pids "$C" | sort -u | tr '\n' ' ')
assert_eq "$(wc -w <<<"$RUNNING")" 11 "live pids in pidfiles (etcd, PgBouncer, 3 x agent, Patroni, postmaster)"

step "cluster stop: every process gone, every port free"
pgr_ok cluster stop --dir "$C"
assert_contains "$OUT" "stopped" "stop output"
for p in $RUNNING; do
	pid_alive "$p" && fail "pid $p still runs after cluster stop: $(tr '\0' ' ' <"/proc/$p/cmdline")"
done
ok "none of the $(wc -w <<<"$RUNNING") pids runs"
OUTPUT=$(every_pidfile_pid_gone) || fail "$OUTPUT"
ok "no pidfile under the cluster names a live process"
LEFT=$(pids_using_dir "$C" | tr '\n' ' ')
[ -z "$LEFT" ] || fail "processes still run from $C: $(ps -o pid=,args= -p "${LEFT// /,}" | cut -c1-150)"
ok "no process runs from $C (postgres backends included)"
for p in "${PORTS[@]}"; do
	if port_free "$p"; then
		continue
	fi
	port_not_ours "$p" "$C" || fail "port $p still held by the cluster after cluster stop: $(ss -Hltnp "sport = :$p")"
	echo "# port $p was taken by another program after the stop: $(ss -Hltnp "sport = :$p" | grep -o 'users:.*')"
done
ok "ports ${PORTS[*]}: none held by the cluster"

step "status while stopped: etcd unreachable, exit 7"
pgr_run status --dir "$C"
assert_rc 7 "status exit code"
assert_user_error "status of a stopped cluster"

step "cluster stop again: nothing to do, still success"
pgr_ok cluster stop --dir "$C"

step "cluster start: healthy, the rows are still there"
pgr_ok cluster start --dir "$C"
assert_contains "$OUT" "running" "start output"
wait_healthy 20
assert_eq "$(psql_bouncer 'select count(*) from t30')" 1000 "rows through PgBouncer after restart"
assert_eq "$(psql_bouncer "select v from t30 where id = 777")" "row 777" "a row's value"
for u in pg/0 pg/1 pg/2; do
	wait_until 10 psql_unit_eq "$u" "select count(*) from t30" 1000 || fail "$u does not have the 1000 rows"
	ok "$u has the 1000 rows"
done

step "cluster start again: idempotent, the same processes"
BEFORE=$(pidfile_pids "$C" | sort -u | tr '\n' ' ')
pgr_ok cluster start --dir "$C"
AFTER=$(pidfile_pids "$C" | sort -u | tr '\n' ' ')
assert_eq "$AFTER" "$BEFORE" "pids before and after a second start"
wait_healthy 10

step "a write after the restart"
psql_bouncer "insert into t30 values (1001, 'after restart')" >/dev/null
assert_eq "$(psql_bouncer 'select count(*) from t30')" 1001 "rows"
