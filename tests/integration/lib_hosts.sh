# lib_hosts.sh — scenarios on a cluster of network-namespace hosts (`cluster create --hosts N`). Sourced
# after lib.sh (its psql_unit replaces lib.sh's). C is the cluster's directory, TAG its hosts' tag (from
# its bridge's name: hosts_create sets both).
#
#   hosts_create DIR N [OPTION...]  `cluster create --hosts N` at $LOW in DIR; sets C and TAG, fails the
#                                   scenario when create fails
#   psql_unit UNIT SQL [DIR]        straight to a unit's PostgreSQL at its host's address (lib.sh's goes
#                                   to 127.0.0.1)
#   conf_value KEY                  KEY's value in the CLI's pgrefresh.conf ($C)
#   hosts_leftovers                 whatever of ours is still there: namespaces, links named after TAG
#   hosts_cleanup                   (the EXIT trap, before lib_cleanup) destroy the cluster if it is there,
#                                   then remove by name what is left; keeps the logs of a failed run
#                                   (tests/faults/partition_variant.sh takes it from here too)

hosts_create() { # DIR N [OPTION...]
	local dir=$1 n=$2
	shift 2
	pgr_run cluster create --hosts "$n" "$@" --dir "$dir" --version "$LOW"
	adopt_kept_logs
	C=$dir
	TAG=$(conf_value hosts_bridge | sed 's/^pgr-//')
	[ "$RC" = 0 ] || fail "cluster create --hosts $n $* exited $RC: $ERR"
}

psql_unit() { # UNIT SQL [DIR]
	local host port
	host=$(unit_field "$1" host "${3:-$C}") || return 1
	port=$(unit_field "$1" port "${3:-$C}") || return 1
	(
		eval "$("$PGR" cluster env --dir "${3:-$C}")"
		"$PSQL" -X -A -t -v ON_ERROR_STOP=1 -h "$host" -p "$port" -c "$2"
	)
}

conf_value() { sed -n "s/^$1 = //p" "$C/pgrefresh.conf" | head -n 1; }

TAG=
hosts_leftovers() {
	[ -n "$TAG" ] || return 0
	ip netns list | awk '{print $1}' | grep -F "pgr-$TAG-" || true
	ip -br link | awk '{print $1}' | grep -F "$TAG" || true
}

hosts_cleanup() {
	local rc=$?
	set +eE
	if [ $rc != 0 ] && [ -n "${C:-}" ] && [ -d "$C" ]; then # the logs, for lib.sh to print: destroy removes them
		mkdir -p "$T/hosts-logs" && (cd "$C" && find . -name '*.log' -exec cp --parents {} "$T/hosts-logs/" \;)
	fi
	if [ -n "${C:-}" ] && [ -f "$C/pgrefresh.conf" ]; then
		"$PGR" cluster destroy --dir "$C" >/dev/null 2>&1 || echo "# cleanup: cluster destroy failed" >&2
	fi
	local ns link
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -F "pgr-$TAG-"); do
		[ -n "$TAG" ] && ip netns pids "$ns" | xargs -r kill -KILL 2>/dev/null
		[ -n "$TAG" ] && ip netns delete "$ns" && echo "# cleanup: removed namespace $ns" >&2
	done
	for link in $(ip -br link | awk '{print $1}' | sed 's/@.*//' | grep -F "${TAG:-no-tag}"); do
		ip link delete "$link" 2>/dev/null && echo "# cleanup: removed link $link" >&2
	done
	return $rc
}
