# lib_secure.sh — the secrets of a cluster pgrefresh made secure (`cluster create --secure`, `--hosts N`),
# and the check that none of them shows anywhere. Sourced after lib.sh.
#
#   secrets_of DIR                          every secret of DIR: DIR/secrets.d/* and, across hosts, each
#                                           host's DIR/hosts/hN/secrets.d/* (Patroni's "patroni:" user left
#                                           out) and the passwords of DIR/secrets, one a line
#   shown_by DIR                            what status (table and JSON), config and cluster env print; fails
#                                           when one of them fails
#   with_wrong_secret DIR NAME VALUE ARGS...  pgr_run ARGS with DIR's secret NAME holding VALUE, then the
#                                           secret put back as it was (mode and owner too)
#   assert_secrets_hidden DIR MIN_LOGS SHOWN  none of them on any process's command line, in any log under
#                                           DIR (at least MIN_LOGS of them) or in SHOWN (what status, config
#                                           ... printed)

secrets_of() { # DIR
	local f s
	for f in "$1"/secrets.d/* "$1"/hosts/h*/secrets.d/*; do
		[ -f "$f" ] || continue
		s=$(head -n 1 "$f")
		printf '%s\n' "${s#patroni:}"
	done | sort -u
	sed -n 's/^[a-z_]*_password *= *//p' "$1/secrets"
}

shown_by() { # DIR
	local args
	for args in "status" "status --format json" "config" "cluster env"; do
		# shellcheck disable=SC2086 # the words of args
		"$PGR" $args --dir "$1" || { echo "pgrefresh $args exited $?" >&2; return 1; }
	done
}

with_wrong_secret() { # DIR NAME VALUE ARGS...
	local dir=$1 name=$2 value=$3
	shift 3
	cp -p "$dir/secrets.d/$name" "$T/$name.kept"
	printf '%s\n' "$value" >"$dir/secrets.d/$name"
	pgr_run "$@"
	cp -p "$T/$name.kept" "$dir/secrets.d/$name"
}

assert_secrets_hidden() { # DIR MIN_LOGS SHOWN
	local dir=$1 min_logs=$2 shown=$3 cmdlines logs s
	local -a secrets
	mapfile -t secrets < <(secrets_of "$dir")
	[ "${#secrets[@]}" -ge 6 ] || fail "found only ${#secrets[@]} secrets to look for in $dir"
	cmdlines=$(for p in /proc/[0-9]*; do tr '\0' ' ' <"$p/cmdline" 2>/dev/null; echo; done)
	logs=$(find "$dir" -type f \( -name '*.log' -o -path '*/data/log/*' \) | sort)
	[ "$(wc -l <<<"$logs")" -ge "$min_logs" ] || fail "found too few logs: $logs"
	for s in "${secrets[@]}"; do
		[ "${#s}" -ge 16 ] || fail "a secret shorter than 16 characters: the search would mean little"
		[[ "$cmdlines" != *"$s"* ]] || fail "a secret is on a command line"
		[[ "$shown" != *"$s"* ]] || fail "a secret is in what status, config or cluster env printed"
		while read -r log; do
			! grep -qF -- "$s" "$log" || fail "a secret is in $log"
		done <<<"$logs"
	done
	ok "${#secrets[@]} secrets: none in $(wc -l <<<"$cmdlines") command lines, $(wc -l <<<"$logs") logs, or what was printed"
}
