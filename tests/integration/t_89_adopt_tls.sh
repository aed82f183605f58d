#!/usr/bin/env bash
# t_89_adopt_tls — the Debian-style cluster of t_87 with TLS and passwords where users have them
# (lib_debian.sh's tls bed: the user's CA, etcd over https with authentication, Patroni's REST API over https
# with restapi.authentication, ctl.cacert): adopt translates them with no hand edits, pre-refresh-check and a
# refresh $LOW -> $HIGH under a writer pass (0 failed, 0 missing), unadopt gives the units back. No password
# is on a command line, in a log, in status; a wrong password or an unreadable file in the config is one
# line naming it, and nothing changes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"
. "$(dirname "$0")/lib_debian.sh"

trap 'rc=$?; set +e; debian_bed_stop; (exit $rc); lib_cleanup' EXIT

# no password of the bed's in any process's command line, in any log, or in the text given
no_password_in() { # WHAT TEXT
	local pw f
	for pw in "$BED_API_PW" "$BED_ETCD_PW" "$BED_ROOT_PW"; do
		[[ "$2" != *"$pw"* ]] || fail "$1 holds a password"
		for f in /proc/[0-9]*/cmdline; do
			if tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "$pw"; then
				fail "a password on the command line of pid $(basename "$(dirname "$f")"): $(tr '\0' ' ' <"$f")"
			fi
		done
		f=$(find "$T" -name '*.log' -type f -exec grep -lF -- "$pw" {} + 2>/dev/null | head -n 1 || true)
		[ -z "$f" ] || fail "a password in the log $f"
	done
	ok "no password in $1, in any log or on any command line"
}

step "a Debian-style Patroni cluster on $LOW with TLS and passwords; the catalog has only $HIGH"
debian_bed "$LOW" 3 tls
need_versions "$HIGH"
assert_contains "$(bed_api "${BED_API_PORT[0]}" /cluster)" "https://127.0.0.1:${BED_API_PORT[0]}/patroni" \
	"Patroni's REST API is https"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$BED_CA" -XPOST \
	"https://127.0.0.1:${BED_API_PORT[0]}/reload")" = 401 ] || fail "Patroni's REST API takes a POST without credentials"
! bed_etcdctl get --prefix / --keys-only >/dev/null 2>&1 || fail "the bed's etcd answers without credentials"
ok "etcd and Patroni want TLS and credentials"
BEFORE=$(bed_sums)

step "refusals: a wrong password, an unreadable file; each one line naming it, nothing changed"
sed "s/password: \"$BED_API_PW\"/password: \"wrong-api-pw\"/" "${BED_CONFIG[0]}" >"$T/wrong-api.yml"
pgr_run adopt --config "$T/wrong-api.yml" --dir "$(bed_confdir 0)"
assert_user_error "a wrong REST API password"
assert_rc 6
assert_contains "$ERR" "restapi.authentication" "names the credential"
sed "s/password: \"$BED_ETCD_PW\"/password: \"wrong-etcd-pw\"/" "${BED_CONFIG[0]}" >"$T/wrong-etcd.yml"
pgr_run adopt --config "$T/wrong-etcd.yml" --dir "$(bed_confdir 0)"
assert_user_error "a wrong etcd password"
assert_rc 6
assert_contains "$ERR" "etcd3.username/password (user patroni)" "names the credential"
no_password_in "the refusals' output" "$OUT$ERR"
cp "$BED_CA" "$T/root-only-ca.crt"
chmod 0600 "$T/root-only-ca.crt"
sed "s,cacert: $BED_CA,cacert: $T/root-only-ca.crt," "${BED_CONFIG[0]}" >"$T/unreadable.yml"
pgr_run adopt --config "$T/unreadable.yml" --dir "$(bed_confdir 0)"
assert_user_error "a CA file the agent cannot read"
assert_rc 6
assert_contains "$ERR" "$T/root-only-ca.crt, which pgrefresh's agent (user postgres) cannot read" "names the file"
bed_assert_unchanged "a refused adopt" "$BEFORE"

step "adopt each unit: TLS and passwords translated, secrets 0600"
for i in 0 1 2; do
	bed_adopt "$i"
	no_password_in "adopt's output" "$OUT$ERR"
	c=$(bed_confdir "$i")
	assert_eq "$(grep -E '^(etcd_|patroni_)' "$c/pgrefresh.conf" | sort | paste -sd';')" \
		"etcd_ca = $BED_CA;etcd_password_secret = etcd_patroni;etcd_user = patroni;patroni_auth_secret = patroni_api;patroni_ca = $BED_CA" \
		"node$i: pgrefresh.conf's security keys"
	assert_eq "$(stat -c '%a %U' "$c/secrets.d/etcd_patroni" "$c/secrets.d/patroni_api" | paste -sd,)" \
		"600 postgres,600 postgres" "node$i: the secrets are 0600, the agent's"
	# compared, never printed
	[ "$(cat "$c/secrets.d/patroni_api")" = "patroni:$BED_API_PW" ] || fail "node$i: secret patroni_api is not the REST API's"
	[ "$(cat "$c/secrets.d/etcd_patroni")" = "$BED_ETCD_PW" ] || fail "node$i: secret etcd_patroni is not the etcd password"
	ok "node$i: the secrets hold the REST API's credentials and the etcd password"
done
bed_restart_patroni
C=$(bed_confdir 0)

step "every unit reports; pre-refresh-check passes"
bed_adopted_ready "$C"

step "refresh $LOW -> $HIGH under a writer through the user's PgBouncer"
bed_refresh_under_writer "$C"
no_password_in "status" "$(status_json)$(pgr_run status --dir "$C"; printf '%s' "$OUT")"

step "unadopt each unit onto the catalog's $HIGH"
for i in 0 1 2; do
	pgr_ok unadopt --dir "$(bed_confdir "$i")" --bin-dir catalog
	[ ! -e "$(bed_confdir "$i")" ] || fail "unadopt left $(bed_confdir "$i"): $(ls -R "$(bed_confdir "$i")")"
	assert_contains "$(grep 'bin_dir: ' "${BED_CONFIG[$i]}")" "$T/catalog/$HIGH/bin" "node$i: bin_dir the catalog's $HIGH"
done
no_password_in "unadopt's output" "$OUT$ERR"
bed_restart_patroni
wait_until 30 bed_healthy 3 || fail "the cluster is not healthy after unadopt"
assert_eq "$(bed_versions)" "node0=$(bed_vnum "$HIGH") node1=$(bed_vnum "$HIGH") node2=$(bed_vnum "$HIGH")" "every member runs $HIGH"
debian_bed_stop
