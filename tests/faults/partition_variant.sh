# partition_variant.sh — sourced by tests/faults/cell.sh when PGR_FAULT_VARIANT names it (tests/faults/partition
# does): the same cell, across hosts, with a host cut off instead of a process killed.
#
# What differs from the matrix's cell, and only that:
#   - the cluster is `cluster create --hosts 3` (namespaces on a bridge of its own, 198.18.0.0/24): every
#     namespace, veth and bridge it made is removed when the cell ends, however it ends (trap);
#   - the fault is partitionlib.py's fire (a host's link down for 30 s, then up: it returns healed), and
#     the writer, sampler and count are faultlib.py's through it, over the bridge from outside the hosts;
#   - the judging adds "at most one coordinator acting at any time" (partitionlib.py coordinators): a
#     transition recorded by an agent after another became coordinator is 2 COORDINATORS.
# FAULT is the host cut off (unit, coordinator, primary, etcd-leader), STEP when (restart, switchover).

FL=$ROOT/tests/faults/partitionlib.py
export PGR # partitionlib.py asks `pgrefresh status`

if [ "$(id -u)" != 0 ] || ! [ -x /usr/sbin/ip ]; then
	echo "# SKIP partition $FAULT × $AT: needs root and iproute2 to make network namespaces"
	[ -n "${PGR_FAULT_RESULT:-}" ] && printf 'skipped\t0\t-\t-\t-\t-\tneeds root (network namespaces)\n' >"$PGR_FAULT_RESULT"
	exit 0
fi

# On any exit: destroy the cluster (its logs copied for lib.sh to print first when the cell failed), then
# whatever of its network is left, by name (TAG: the bridge's); lib.sh's cleanup follows with the cell's
# exit status. The hosts scenarios' cleanup, taken from their lib rather than written twice.
TAG=
eval "$(sed -n '/^hosts_cleanup() {/,/^}/p' "$ROOT/tests/integration/lib_hosts.sh")"
[ "$(type -t hosts_cleanup)" = function ] || fail "no hosts_cleanup in tests/integration/lib_hosts.sh"
trap 'hosts_cleanup; lib_cleanup' EXIT

# create_cluster N VERSION: the cluster across N hosts (lib.sh's, with --hosts)
create_cluster() {
	pgr_run cluster create --hosts "$1" --dir "$T/c" --version "$2"
	adopt_kept_logs
	C=$T/c
	[ -f "$C/pgrefresh.conf" ] && TAG=$(sed -n 's/^hosts_bridge = pgr-//p' "$C/pgrefresh.conf" | head -n 1)
	[ "$RC" = 0 ] || fail "cluster create --hosts $1 --version $2 exited $RC: $ERR"
	ok "cluster across $1 hosts on $2 created (bridge pgr-$TAG)"
}

# variant_judge: at most one coordinator acting at any time; sets VARIANT_BAD when not
variant_judge() {
	local logs
	if [ -n "${PGR_FAULT_KEEP:-}" ]; then # every case's logs, good or bad: beside keep/<case>, logs/<case>
		logs=${PGR_FAULT_KEEP%/keep/*}/logs/${PGR_FAULT_KEEP##*/}
		rm -rf "$logs" && mkdir -p "$logs" && (cd "$C" && find . -name '*.log' -exec cp --parents {} "$logs/" \;) || true
	fi
	"$PY" "$FL" coordinators "$C" >"$W/coordinators.json" 2>"$W/coordinators.err" ||
		{ note "the coordinators' logs could not be judged: $(head -c 300 "$W/coordinators.err")"; VARIANT_BAD=ERROR; return; }
	echo "# coordinators: $(cat "$W/coordinators.json")"
	note "coordinators: $(json_get "$(cat "$W/coordinators.json")" "'%d transitions recorded, %d handover(s), %d by a coordinator replaced' % (d['writes'], len(d['handovers']) - 1, d['stale'])")"
	if [ "$(json_get "$(cat "$W/coordinators.json")" "d['stale']")" != 0 ]; then
		note "written after a handover: $(json_get "$(cat "$W/coordinators.json")" "d['first_stale']")"
		VARIANT_BAD="2 COORDINATORS"
	fi
	[ -s "$W/fire.json" ] && note "status 20 s into the cut: $(json_get "$(cat "$W/fire.json")" "str(d.get('during'))")"
}
