# lib_debian.sh — a Patroni cluster set up the way a Debian user sets one up, with files pgrefresh did
# not write: the test bed of `pgrefresh adopt` (t_87_adopt.sh, t_89_adopt_tls.sh). Sourced after lib.sh.
#
#   debian_bed VERSION [N] [tls]   in $T/deb (default N = 3 members):
#     - "Debian's installation" of VERSION: $T/deb/root/usr/lib/postgresql/15 and usr/share/postgresql/15,
#       copied from the dist's unpacked Debian packages (the machine's own postgresql-15 is one version, and
#       an apt upgrade of it is what the user fears); BED_BIN_DIR is its bin;
#     - the user's own etcd: one member on 127.0.0.1, its own data dir and ports (BED_ETCD);
#     - one Patroni config per member, $T/deb/patroni/15-main-N.yml, rendered from Debian's own template
#       (/etc/patroni/config.yml.in, the one pg_createconfig_patroni 15 main fills into
#       /etc/patroni/15-main.yml) with that script's substitutions, plus what one machine running three
#       members needs: each its own ports, data dir and socket dir on 127.0.0.1, no pg_createcluster
#       bootstrap (it writes /etc/postgresql), and the tuning such a user makes (a superuser password,
#       synchronous_mode, loop_wait 2);
#     - Patroni run directly as postgres (systemd is not PID 1 here), pids in $T/deb/*.pid;
#     - the user's PgBouncer in front, BED_PGB_PORT, its ini $T/deb/pgbouncer/pgbouncer.ini;
#     - with tls: the user's own CA (openssl, $T/deb/pki: BED_CA) and one certificate for 127.0.0.1; etcd
#       serving https with authentication on (users root and patroni, the latter readwrite on every key);
#       each Patroni's REST API over https with restapi.authentication, ctl.cacert naming the CA, and its
#       etcd3 section with protocol https, cacert, username and password. The passwords are drawn per run
#       (BED_API_PW, BED_ETCD_PW, BED_ROOT_PW) and never put on a command line: curl reads them from
#       $T/deb/curlrc (bed_curl), etcdctl from stdin and its environment.
#   Sets BED_CONFIG[i], BED_PG_PORT[i], BED_API_PORT[i], BED_MEMBER[i], BED_SUPERPW, BED_SCHEME.
#   debian_bed_stop          stops what debian_bed started, by pid (lib.sh's cleanup reaps the rest).
#   bed_restart_patroni      every Patroni restarted in maintenance mode (PostgreSQL keeps running): how bin_dir
#                            takes effect (Patroni 3.0.2 reads it only at its start).
#   bed_leader               the member Patroni names leader; bed_versions: each member's server_version.
#
# The bed adopted (t_87, t_89; these need lib_refresh.sh too):
#   bed_confdir I            where member I is adopted: $T/etc/pgrefresh/15-main-I (BED_ETC the parent)
#   bed_vnum V               15.18 -> 150018, as Patroni says it
#   bed_sums                 the members' Patroni configs' sha256 sums, on one line
#   bed_env                  exports libpq's variables of the user's clients: through their PgBouncer
#   psql_bed SQL             SQL through the user's PgBouncer; psql_member I SQL: on member I directly
#   bed_adopt I              `pgrefresh adopt` of member I into bed_confdir I, with the user's PgBouncer
#   bed_assert_unchanged WHAT SUMS   nothing of pgrefresh's written (BED_ETC absent), the configs' sums SUMS
#   bed_adopted_ready DIR    every adopted unit reports active (60 s), then pre-refresh-check passes
#   bed_refresh_under_writer DIR
#                            the writer (bench/loadclient) through the user's PgBouncer into a new `ledger`
#                            while DIR's cluster refreshes to $HIGH (pause none): 0 failed, every
#                            acknowledged id on every member, every member on $HIGH

BED=
BED_ETC=
BED_SUPERPW=bed-super-pw
BED_TLS=0
BED_SCHEME=http
declare -a BED_CONFIG BED_PG_PORT BED_API_PORT BED_MEMBER

# a port free on 127.0.0.1 and not handed out before by this bed; below Linux's ephemeral range (32768 on),
# where an outgoing connection's local port is not seen by port_free and makes a server's bind fail
BED_PORTS_TAKEN=" "
bed_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		[[ "$BED_PORTS_TAKEN" == *" $p "* ]] && continue
		port_free "$p" || continue
		BED_PORTS_TAKEN="$BED_PORTS_TAKEN$p "
		printf '%s\n' "$p"
		return 0
	done
}

# bed_spawn NAME CMD...: runs CMD detached as postgres, log $BED/NAME.log, pidfile "pid starttime" $BED/NAME.pid
bed_spawn() {
	local name=$1 pid
	shift
	setsid runuser -u postgres -- "$@" >"$BED/$name.log" 2>&1 </dev/null &
	pid=$!
	# runuser forks the command as its child: record the command itself, when it appears
	local child= i
	for i in $(seq 50); do
		child=$(pgrep -P "$pid" | head -n 1 || true)
		[ -n "$child" ] && break
		sleep 0.1
	done
	[ -n "$child" ] || child=$pid
	printf '%s %s\n' "$child" "$(proc_starttime "$child")" >"$BED/$name.pid"
	printf '%s %s\n' "$pid" "$(proc_starttime "$pid")" >"$BED/$name.runuser.pid"
}

# curl with the bed's CA and REST credentials (from a file: nothing on the command line)
bed_curl() { curl -s -K "$BED/curlrc" "$@"; }
bed_api() { bed_curl --max-time 3 "$BED_SCHEME://127.0.0.1:$1$2"; }

# etcdctl, before etcd asks for credentials
bed_etcdctl() {
	ETCDCTL_API=3 etcdctl --endpoints "https://$BED_ETCD" --cacert "$BED_CA" "$@"
}

# the user's CA and a certificate for 127.0.0.1 (server and client), in $BED/pki, Patroni's and etcd's to read
bed_pki() {
	local d=$BED/pki
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/ca.key" \
		-out "$d/ca.crt" -days 2 -subj "/CN=the user's CA" 2>"$d/openssl.log" || fail "openssl: the CA"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/server.key" \
		-out "$d/server.csr" -subj "/CN=127.0.0.1" 2>>"$d/openssl.log" || fail "openssl: the request"
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext" -out "$d/server.crt" 2>>"$d/openssl.log" || fail "openssl: the certificate"
	chown -R postgres: "$d"
	chmod 0600 "$d"/*.key
	BED_CA=$d/ca.crt
}

bed_leader() {
	bed_api "${BED_API_PORT[0]}" /cluster | python3 -c '
import json, sys
try:
    members = json.load(sys.stdin)["members"]
except ValueError:
    sys.exit(1)
for m in members:
    if m["role"] == "leader": print(m["name"])'
}

bed_leads() { [ "$(bed_leader 2>/dev/null)" = "$1" ]; } # MEMBER

# "node0=150018 node1=150018 ..." from each member's own /patroni
bed_versions() {
	local i out=
	for i in "${!BED_MEMBER[@]}"; do
		out="$out ${BED_MEMBER[$i]}=$(bed_api "${BED_API_PORT[$i]}" /patroni |
			python3 -c 'import json, sys; print(json.load(sys.stdin).get("server_version", ""))' 2>/dev/null)"
	done
	printf '%s\n' "${out# }"
}

# every member running, one leader, every replica streaming
bed_healthy() {
	bed_api "${BED_API_PORT[0]}" /cluster | python3 -c '
import json, sys
try:
    ms = json.load(sys.stdin)["members"]
except ValueError:
    sys.exit(1)
ok = len(ms) == int(sys.argv[1]) and all(m["state"] in ("running", "streaming") for m in ms)
ok = ok and sum(m["role"] == "leader" for m in ms) == 1 and any(m["role"] == "sync_standby" for m in ms)
sys.exit(0 if ok else 1)' "$1"
}

debian_bed() {
	local version=$1 n=${2:-3} i tree etcd_port etcd_peer tmpl=/etc/patroni/config.yml.in etcd_tls=()
	BED=$T/deb
	BED_ETC=$T/etc/pgrefresh
	mkdir -p "$BED/root/usr/lib/postgresql" "$BED/root/usr/share/postgresql" "$BED/patroni"
	: >"$BED/curlrc"
	chmod 0600 "$BED/curlrc"
	if [ "${3:-}" = tls ]; then
		BED_TLS=1
		BED_SCHEME=https
		BED_API_PW=$(openssl rand -hex 12)
		BED_ETCD_PW=$(openssl rand -hex 12)
		BED_ROOT_PW=$(openssl rand -hex 12)
		bed_pki
		printf 'cacert = "%s"\nuser = "patroni:%s"\n' "$BED_CA" "$BED_API_PW" >"$BED/curlrc"
		etcd_tls=(--cert-file "$BED/pki/server.crt" --key-file "$BED/pki/server.key")
	fi
	tree=$(version_path "$version")
	[ -d "$tree/usr/lib/postgresql/15" ] || fail "$version is not a Debian tree in $DIST"
	[ -r "$tmpl" ] || fail "Debian's Patroni template $tmpl is missing (the patroni package)"
	cp -a "$tree/usr/lib/postgresql/15" "$BED/root/usr/lib/postgresql/"
	cp -a "$tree/usr/share/postgresql/15" "$BED/root/usr/share/postgresql/"
	BED_BIN_DIR=$BED/root/usr/lib/postgresql/15/bin

	etcd_port=$(bed_port)
	etcd_peer=$(bed_port)
	BED_ETCD=127.0.0.1:$etcd_port
	mkdir -p "$BED/etcd"
	chown postgres: "$BED" "$BED/etcd" "$BED/patroni"
	bed_spawn etcd etcd --name e0 --data-dir "$BED/etcd/data" --logger=zap "${etcd_tls[@]}" \
		--listen-client-urls "$BED_SCHEME://$BED_ETCD" --advertise-client-urls "$BED_SCHEME://$BED_ETCD" \
		--listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
		--initial-cluster "e0=http://127.0.0.1:$etcd_peer" --initial-cluster-state new
	wait_until 20 bed_curl -f "$BED_SCHEME://$BED_ETCD/health" || fail "the bed's etcd did not start"
	if [ "$BED_TLS" = 1 ]; then
		# the user's etcd authentication: root, and a user for Patroni (passwords on stdin)
		printf '%s\n' "$BED_ROOT_PW" | bed_etcdctl user add root --interactive=false >/dev/null &&
			bed_etcdctl user grant-role root root >/dev/null &&
			printf '%s\n' "$BED_ETCD_PW" | bed_etcdctl user add patroni --interactive=false >/dev/null &&
			bed_etcdctl role add patroni >/dev/null &&
			bed_etcdctl role grant-permission patroni --prefix=true readwrite / >/dev/null &&
			bed_etcdctl user grant-role patroni patroni >/dev/null &&
			bed_etcdctl auth enable >/dev/null || fail "could not turn on the bed's etcd authentication"
	fi

	for ((i = 0; i < n; i++)); do
		BED_MEMBER[$i]=node$i
		BED_PG_PORT[$i]=$(bed_port)
		BED_API_PORT[$i]=$((BED_PG_PORT[$i] + 2576)) # pg_createconfig_patroni's rule: API = 8008 - 5432 + PORT
		if [ "${BED_API_PORT[$i]}" -ge 32768 ] || [[ "$BED_PORTS_TAKEN" == *" ${BED_API_PORT[$i]} "* ]] ||
			! port_free "${BED_API_PORT[$i]}"; then
			BED_API_PORT[$i]=$(bed_port)
		else
			BED_PORTS_TAKEN="$BED_PORTS_TAKEN${BED_API_PORT[$i]} "
		fi
		BED_CONFIG[$i]=$BED/patroni/15-main-$i.yml
		mkdir -p "$BED/node$i/run" "$BED/node$i/log"
		chown -R postgres: "$BED/node$i"
		# pg_createconfig_patroni's substitutions of Debian's template (its sed, with this machine's values)
		sed -e "s/@VERSION@/15/g" -e "s/@CLUSTER@/main/g" -e "s/@HOSTNAME@/node$i/g" \
			-e "s/@HOSTIP@/127.0.0.1/g" -e "s/@PORT@/${BED_PG_PORT[$i]}/g" -e "s/@API_PORT@/${BED_API_PORT[$i]}/g" \
			-e "s,@DATADIR_BASE@/15/main,$BED/node$i/data,g" -e "s,@NETWORK@,127.0.0.1/32,g" -e "s/@LISTEN_VIP@//g" \
			-e "s,^@DCS_CONFIG@,etcd3:\n  hosts: $BED_ETCD," \
			"$tmpl" |
			# what one machine with three members needs, and the user's own tuning
			python3 -c '
import re, sys
bed, i, bindir, pw, tls, ca, api_pw, etcd_pw = sys.argv[1:]
t = sys.stdin.read()
t = re.sub(r"\n  method: pg_createcluster\n  pg_createcluster:\n    command: [^\n]*\n", "\n", t)
t = re.sub(r"  create_replica_method:\n    - pg_clonecluster\n  pg_clonecluster:\n    command: [^\n]*\n", "", t)
t = re.sub(r"\n  config_dir: [^\n]*", "", t)
t = re.sub(r"\nzookeeper:\n  hosts: [^\n]*\n?", "\n", t)
t = t.replace("  listen: \"*:", "  listen: \"127.0.0.1:")
t = t.replace("    ttl: 30\n    loop_wait: 10\n    retry_timeout: 10\n",
              "    ttl: 10\n    loop_wait: 2\n    retry_timeout: 4\n    synchronous_mode: true\n")
t = re.sub(r"  bin_dir: [^\n]*", "  bin_dir: " + bindir, t)
t = re.sub(r"  pgpass: [^\n]*", "  pgpass: %s/node%s/pgpass" % (bed, i), t)
t = t.replace("      username: \"postgres\"\n      password:\n", "      username: \"postgres\"\n      password: \"%s\"\n" % pw)
t = t.replace("/var/run/postgresql/", "%s/node%s/run" % (bed, i))
t = t.replace("/var/log/postgresql", "%s/node%s/log" % (bed, i))
t = t.replace("      parameters:\n#        wal_level", "      parameters:\n        wal_keep_size: 256MB\n#        wal_level")
if tls == "1":
    crt, key = ca.replace("ca.crt", "server.crt"), ca.replace("ca.crt", "server.key")
    t = re.sub(r"(\netcd3:\n  hosts: [^\n]*\n)", lambda m: m.group(1) +
               "  protocol: https\n  cacert: %s\n  username: patroni\n  password: \"%s\"\n" % (ca, etcd_pw), t)
    t = re.sub(r"#  certfile: [^\n]*\n#  keyfile: [^\n]*\n#  authentication:\n#    username: [^\n]*\n#    password: [^\n]*\n",
               "  certfile: %s\n  keyfile: %s\n  authentication:\n    username: patroni\n    password: \"%s\"\n"
               % (crt, key, api_pw), t)
    t = re.sub(r"# ctl:\n(#   [^\n]*\n)*", "ctl:\n  cacert: %s\n" % ca, t)
    assert "protocol: https" in t and "  keyfile: " in t and "\nctl:\n" in t, "the template changed"
sys.stdout.write(t)' "$BED" "$i" "$BED_BIN_DIR" "$BED_SUPERPW" "$BED_TLS" "${BED_CA:-}" "${BED_API_PW:-}" \
				"${BED_ETCD_PW:-}" >"${BED_CONFIG[$i]}" || fail "could not render the bed's config"
		grep -q '/etc/' "${BED_CONFIG[$i]}" && grep -n '^[^#]*/etc/' "${BED_CONFIG[$i]}" &&
			fail "the bed's config still names /etc"
		chown postgres: "${BED_CONFIG[$i]}"
		chmod 0600 "${BED_CONFIG[$i]}"
		bed_spawn "patroni-$i" patroni "${BED_CONFIG[$i]}"
		if [ "$i" = 0 ]; then
			wait_until 60 bed_leads node0 || fail "the bed's first member did not lead"
		fi
	done
	wait_until 90 bed_healthy "$n" || fail "the bed's cluster did not become healthy: $(bed_api "${BED_API_PORT[0]}" /cluster)"

	# the user's PgBouncer, in front of the leader
	BED_PGB_PORT=$(bed_port)
	mkdir -p "$BED/pgbouncer"
	printf '"postgres" "%s"\n' "$BED_SUPERPW" >"$BED/pgbouncer/userlist.txt"
	cat >"$BED/pgbouncer/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=${BED_PG_PORT[0]} dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BED_PGB_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $BED/pgbouncer/userlist.txt
admin_users = postgres
pool_mode = transaction
server_login_retry = 1
server_connect_timeout = 3
query_wait_timeout = 60
ignore_startup_parameters = extra_float_digits
EOF
	chown -R postgres: "$BED/pgbouncer"
	chmod 0600 "$BED/pgbouncer/userlist.txt"
	bed_spawn pgbouncer pgbouncer "$BED/pgbouncer/pgbouncer.ini"
	wait_until 10 port_taken "$BED_PGB_PORT" || fail "the bed's PgBouncer did not start"
	ok "a Debian-style Patroni cluster of $n members on $version (etcd $BED_ETCD, PgBouncer $BED_PGB_PORT)"
}

bed_paused() { bed_api "${BED_API_PORT[0]}" /cluster | grep -q '"pause": *true'; }

# Patroni (3.0.2) reads bin_dir only when it starts: restart every member's Patroni the way a user does
# without stopping PostgreSQL (maintenance mode: patronictl pause; systemctl restart patroni@...; resume).
bed_restart_patroni() {
	local i pid st
	bed_curl -f --max-time 5 -XPATCH -d '{"pause": true}' "$BED_SCHEME://127.0.0.1:${BED_API_PORT[0]}/config" >/dev/null ||
		fail "could not pause the bed's cluster"
	wait_until 20 bed_paused || fail "the bed's cluster did not pause"
	for i in "${!BED_MEMBER[@]}"; do
		read -r pid st <"$BED/patroni-$i.pid"
		kill -TERM "$pid"
		wait_pids_gone 30 "$pid" || fail "Patroni of node$i did not stop"
		bed_spawn "patroni-$i" patroni "${BED_CONFIG[$i]}"
		wait_until 30 bed_curl -f --max-time 2 "$BED_SCHEME://127.0.0.1:${BED_API_PORT[$i]}/patroni" ||
			fail "Patroni of node$i did not come back"
	done
	bed_curl -f --max-time 5 -XPATCH -d '{"pause": false}' "$BED_SCHEME://127.0.0.1:${BED_API_PORT[0]}/config" >/dev/null ||
		fail "could not resume the bed's cluster"
	wait_until 20 eval "! bed_paused" || fail "the bed's cluster did not resume"
	wait_until 60 bed_healthy "${#BED_MEMBER[@]}" || fail "not healthy after Patroni's restart"
	ok "every member's Patroni restarted in maintenance mode, PostgreSQL kept running"
}

debian_bed_stop() {
	local f pid st
	[ -n "$BED" ] || return 0
	for f in "$BED"/pgbouncer.pid "$BED"/patroni-*.pid "$BED"/etcd.pid; do
		[ -f "$f" ] || continue
		read -r pid st <"$f"
		if [ -n "$st" ] && [ "$(proc_starttime "$pid")" = "$st" ]; then
			kill -TERM "$pid" 2>/dev/null || true
			wait_pids_gone 60 "$pid" || kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

# ---- the bed adopted -------------------------------------------------------------------------------------
bed_confdir() { printf '%s/15-main-%s\n' "$BED_ETC" "$1"; }
bed_vnum() { printf '%d\n' $(( ${1%%.*} * 10000 + ${1#*.} )); }
bed_sums() { sha256sum "${BED_CONFIG[@]}" | awk '{print $1}' | paste -sd,; }
bed_env() {
	export PGHOST=127.0.0.1 PGPORT=$BED_PGB_PORT PGUSER=postgres PGDATABASE=postgres PGPASSWORD=$BED_SUPERPW
}
psql_bed() { (bed_env && "$PSQL" -X -A -t -v ON_ERROR_STOP=1 -c "$1"); }
psql_member() { (bed_env && PGPORT=${BED_PG_PORT[$1]} && "$PSQL" -X -A -t -v ON_ERROR_STOP=1 -c "$2"); }
bed_member_has_ids() { # I FILE
	[ "$(psql_member "$1" "select count(*) from ledger where id in ($(paste -sd, "$2"))")" = "$(wc -l <"$2")" ]
}
bed_adopt() { # I
	pgr_ok adopt --config "${BED_CONFIG[$1]}" --dir "$(bed_confdir "$1")" --pgbouncer "127.0.0.1:$BED_PGB_PORT" \
		--pgbouncer-config "$BED/pgbouncer/pgbouncer.ini"
}
bed_assert_unchanged() { # WHAT SUMS
	[ ! -e "$BED_ETC" ] || fail "$1 wrote $BED_ETC"
	assert_eq "$(bed_sums)" "$2" "the Patroni configs are untouched"
}
bed_all_active() { # DIR
	local s
	s=$(status_json "$1") || return 1
	[ "$(json_get "$s" "sorted(u['state'] for u in d['units'])")" = '["active", "active", "active"]' ]
}

bed_adopted_ready() { # DIR
	wait_until 60 bed_all_active "$1" || fail "the adopted units do not all report: $(status_json "$1")"
	ok "status: $(json_get "$(status_json "$1")" "[(u['name'], u['role'], u['version']) for u in d['units']]")"
	pgr_ok pre-refresh-check --dir "$1"
	ok "pre-refresh-check: $(head -n 1 <<<"$OUT")"
}

bed_refresh_under_writer() { # DIR
	local i t0 lc=$T/loadclient all=""
	psql_bed "create table ledger(id bigint primary key, client int not null, at timestamptz not null)" >/dev/null
	cc -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags libpq) "$ROOT/bench/loadclient.c" -o "$lc" \
		$(pkg-config --libs libpq) -lpthread || fail "could not build bench/loadclient.c"
	mkdir -p "$T/load"
	(bed_env && exec "$lc" --out "$T/load" --clients 4 --rate 200 --id-base 1000000 --stop-file "$T/load/stop" \
		>"$T/load/stdout" 2>"$T/load/stderr") &
	LOAD_PID=$!
	HOLDERS+=("$LOAD_PID")
	pgr_ok config set pause-after-unit-refresh=none --dir "$1"
	t0=$SECONDS
	pgr_ok refresh --version "$HIGH" --dir "$1"
	pgr_run wait idle --timeout 150 --dir "$1"
	[ "$RC" = 0 ] || fail "the refresh did not complete (wait exited $RC): $(status_json "$1")"
	ok "refreshed in $((SECONDS - t0)) s"
	stop_load "$T/load"
	assert_load_clean "$T/load" 5000
	cp "$T/load/ids.txt" "$T/acked"
	for i in "${!BED_MEMBER[@]}"; do
		wait_until 20 bed_member_has_ids "$i" "$T/acked" || fail "node$i lacks acknowledged ids"
		all+="${all:+ }node$i=$(bed_vnum "$HIGH")"
	done
	ok "all $(wc -l <"$T/acked") acknowledged ids on every member"
	assert_eq "$(bed_versions)" "$all" "every member runs $HIGH"
}
