#!/usr/bin/env bash
# A secure local cluster (issue 10 §2): `cluster create --secure`, then
#  1. its files: keys and secrets 0600, owned by the service user; no password in pgrefresh.conf;
#  2. etcd: no client certificate, a certificate of no user, a wrong password, a key outside pgrefresh's role:
#     each refused;
#  3. Patroni's REST API: https only; /switchover without credentials or with wrong ones: 401;
#  4. PgBouncer's admin console: its admin user by SCRAM, refused without its password or with a wrong one;
#  5. PostgreSQL: scram-sha-256 stored passwords, pg_hba's host lines 127.0.0.1/32 only, a wrong password
#     refused; no server process runs as root;
#  6. a refresh to $HIGH under a writer through PgBouncer: 0 failed, 0 acknowledged ids missing;
#  7. no secret in any process's command line, in any log, in status (table and JSON) or config;
#  8. pgrefresh with a wrong or missing credential: a clear error naming it, and nothing changed;
#  9. cluster stop and start: as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_refresh.sh"
. "$(dirname "$0")/lib_secure.sh"

secret_of() { head -n 1 "$C/secrets.d/$1"; }
etcd_url() { sed -n 's/^etcd = //p' "$C/pgrefresh.conf" | cut -d, -f1; }
ETCD_CURL() { curl -s --max-time 5 --cacert "$C/pki/ca.crt" "$@"; }
etcd_token() { # USER PASSWORD: etcd's answer to /v3/auth/authenticate (the password in a 0600 file, never
	# on curl's command line)
	(umask 077 && printf '{"name":"%s","password":"%s"}' "$1" "$2" >"$T/auth.json")
	ETCD_CURL --cert "$C/pki/pgrefresh.crt" --key "$C/pki/pgrefresh.key" -X POST "$(etcd_url)/v3/auth/authenticate" \
		-d @"$T/auth.json"
	rm -f "$T/auth.json"
}
admin_psql() { # USER PASSFILE SQL: PgBouncer's admin console
	PGPASSFILE=$2 PGCONNECT_TIMEOUT=5 "$PSQL" -X -A -t -w -h 127.0.0.1 -p "$BOUNCER_PORT" -U "$1" -d pgbouncer -c "$3" 2>&1
}

step "cluster create --secure: 3 units on $LOW"
ledger_cluster t59 --secure
BOUNCER_PORT=$(json_get "$(status_json)" "d['pgbouncer'][0]['port']")
assert_contains "$(etcd_url)" "https://127.0.0.1:" "etcd's URL"

step "files: keys and secrets 0600 and the service user's; pgrefresh.conf holds names, not passwords"
SERVICE_USER=$(stat -c %U "$C/units/pg-0/patroni.yml")
for f in "$C"/pki/*.key "$C"/secrets.d/*; do
	assert_eq "$(stat -c %a "$f")" 600 "mode of ${f#$C/}"
	assert_eq "$(stat -c %U "$f")" "$SERVICE_USER" "owner of ${f#$C/}"
done
assert_eq "$(stat -c %a "$C/secrets.d")" 700 "mode of secrets.d"
for name in etcd_ca etcd_cert etcd_key etcd_user etcd_password_secret patroni_ca patroni_auth_secret; do
	grep -q "^$name = " "$C/pgrefresh.conf" || fail "pgrefresh.conf has no $name"
done
ok "pgrefresh.conf names every security key"
openssl verify -CAfile "$C/pki/ca.crt" "$C/pki/server.crt" "$C/pki/pgrefresh.crt" >/dev/null ||
	fail "the certificates do not verify against the cluster's CA (openssl verify)"
ok "openssl verify: the server and client certificates are the CA's"

step "etcd: refused without a client certificate, to a certificate alone, to a wrong password, outside the role"
ETCD_CURL -o /dev/null -X POST "$(etcd_url)/v3/kv/range" -d '{"key":"Lw=="}' && fail "etcd's TLS accepted no client certificate"
ok "no client certificate: the TLS handshake fails"
R=$(ETCD_CURL --cert "$C/pki/pgrefresh.crt" --key "$C/pki/pgrefresh.key" -X POST "$(etcd_url)/v3/kv/range" -d '{"key":"Lw=="}')
assert_contains "$R" "user name is empty" "a client certificate without a user"
R=$(etcd_token pgrefresh wrong-password)
assert_contains "$R" "authentication failed" "pgrefresh with a wrong password"
TOKEN=$(json_get "$(etcd_token pgrefresh "$(secret_of etcd_pgrefresh)")" "d['token']")
[ -n "$TOKEN" ] || fail "pgrefresh's own password got no token"
PUT='{"key":"'$(printf '/service/pg/config' | base64 -w0)'","value":"eA=="}'
R=$(ETCD_CURL --cert "$C/pki/pgrefresh.crt" --key "$C/pki/pgrefresh.key" -H "Authorization: $TOKEN" -X POST "$(etcd_url)/v3/kv/put" -d "$PUT")
assert_contains "$R" "permission denied" "pgrefresh writing Patroni's /service/pg/config"
R=$(ETCD_CURL --cert "$C/pki/pgrefresh.crt" --key "$C/pki/pgrefresh.key" -H "Authorization: $TOKEN" -X POST "$(etcd_url)/v3/kv/range" \
	-d '{"key":"'$(printf '/service/pg/leader' | base64 -w0)'"}')
assert_contains "$R" '"kvs"' "pgrefresh reading Patroni's leader key"

step "Patroni's REST API: https only; POST /switchover without or with wrong credentials: 401"
API=$(api_port pg/0)
PRIMARY=$(units_with_role primary)
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$API/patroni" || true)
[ "$CODE" != 200 ] || fail "Patroni answered plain http"
ok "plain http: no answer ($CODE)"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$C/pki/ca.crt" -X POST "https://127.0.0.1:$API/switchover" \
	-d "{\"leader\":\"$(unit_member "$PRIMARY")\"}")
assert_eq "$CODE" 401 "/switchover without credentials"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$C/pki/ca.crt" -u patroni:wrong -X POST \
	"https://127.0.0.1:$API/switchover" -d "{\"leader\":\"$(unit_member "$PRIMARY")\"}")
assert_eq "$CODE" 401 "/switchover with a wrong password"
assert_eq "$(units_with_role primary)" "$PRIMARY" "the primary"

step "PgBouncer's admin console: pgbouncer_admin by SCRAM; no password, a wrong one, the superuser: refused"
grep -q '^"pgbouncer_admin" "SCRAM-SHA-256\$4096:' "$C/pgbouncer/userlist.txt" || fail "userlist.txt has no SCRAM secret for pgbouncer_admin"
grep -q '^admin_users = pgbouncer_admin$' "$C/pgbouncer/pgbouncer.ini" || fail "pgbouncer.ini's admin_users is not pgbouncer_admin"
printf '*:*:*:pgbouncer_admin:%s\n' "$(secret_of pgbouncer_admin)" >"$T/admin.pgpass"
printf '*:*:*:pgbouncer_admin:wrong\n' >"$T/wrong.pgpass"
chmod 600 "$T/admin.pgpass" "$T/wrong.pgpass"
R=$(admin_psql pgbouncer_admin /dev/null 'SHOW VERSION' || true)
assert_contains "$R" "password" "the admin console without a password"
R=$(admin_psql pgbouncer_admin "$T/wrong.pgpass" 'SHOW VERSION' || true)
assert_contains "$R" "authentication failed" "the admin console with a wrong password"
R=$(admin_psql postgres "$C/pgpass" 'SHOW VERSION' || true)
assert_contains "$R" "not allowed" "the superuser on the admin console"
R=$(admin_psql pgbouncer_admin "$T/admin.pgpass" 'SHOW VERSION')
assert_contains "$R" "PgBouncer" "the admin console with its password"

step "PostgreSQL: scram-sha-256, host lines of pg_hba for 127.0.0.1/32 only, a wrong password refused, not root"
assert_eq "$(psql_unit "$PRIMARY" 'show password_encryption')" scram-sha-256 "password_encryption"
assert_eq "$(psql_unit "$PRIMARY" "select count(*) from pg_authid where rolcanlogin and rolpassword is not null and rolpassword not like 'SCRAM-SHA-256\$%'")" 0 \
	"roles with a password stored other than by SCRAM"
assert_eq "$(psql_unit "$PRIMARY" "select string_agg(distinct coalesce(address, 'local') || '/' || coalesce(netmask, ''), ',' order by coalesce(address, 'local') || '/' || coalesce(netmask, '')) from pg_hba_file_rules")" \
	"127.0.0.1/255.255.255.255,local/" "pg_hba's addresses"
assert_eq "$(psql_unit "$PRIMARY" "select count(*) from pg_hba_file_rules where type like 'host%' and auth_method <> 'scram-sha-256'")" 0 \
	"host lines of pg_hba not scram-sha-256"
R=$(PGPASSWORD=wrong PGCONNECT_TIMEOUT=5 "$PSQL" -X -w -h 127.0.0.1 -p "$(unit_field "$PRIMARY" port)" -U postgres -c 'select 1' 2>&1 || true)
assert_contains "$R" "password authentication failed" "PostgreSQL with a wrong password"
for pidfile in "$C"/units/*/data/postmaster.pid "$C"/units/*/patroni.pid "$C"/etcd/etcd.pid "$C"/pgbouncer/pgbouncer.pid; do
	pid=$(head -n 1 "$pidfile" | cut -d' ' -f1)
	assert_eq "$(stat -c %U "/proc/$pid")" "$SERVICE_USER" "user of ${pidfile#$C/} (pid $pid)"
	[ "$SERVICE_USER" != root ] || fail "the servers run as root"
done

step "a refresh to $HIGH under a writer through PgBouncer: 0 failed, every acknowledged id on every unit"
start_load "$T/load" 1
ledger_has_rows() { [ "$(psql_bouncer 'select count(*) > 0 from ledger')" = t ]; }
wait_until 20 ledger_has_rows || fail "the writer committed nothing in 20 s: $(cat "$T/load/stderr")"
start_refresh
wait_refresh 300 idle
stop_load "$T/load"
assert_all_on "$HIGH"
assert_load_clean "$T/load" 10000
[ "$(load_field "$T/load" acknowledged)" -gt 100 ] || fail "the writer acknowledged only $(load_field "$T/load" acknowledged)"
assert_ids_on_all "$T/load/ids.txt"

step "no secret on any command line, in any log, in status, status JSON or config"
SHOWN=$(shown_by "$C") || fail "status, config or cluster env failed"
assert_secrets_hidden "$C" 8 "$SHOWN"

step "a wrong or missing credential of pgrefresh: an error naming it, nothing changed"
BEFORE=$(pgr_run config --dir "$C"; printf '%s' "$OUT")
with_wrong_secret "$C" etcd_pgrefresh wrong-password config set --dir "$C" pause-after-unit-refresh=all
assert_user_error "config set with a wrong etcd password"
assert_contains "$ERR" "etcd refused pgrefresh's credentials (user pgrefresh)" "the error"
chmod 644 "$C/secrets.d/etcd_pgrefresh"
pgr_run config --dir "$C"
chmod 600 "$C/secrets.d/etcd_pgrefresh"
assert_user_error "config with a secret others may read"
assert_contains "$ERR" "chmod 600" "the error"
mv "$C/pki/pgrefresh.key" "$T/pgrefresh.key.kept"
pgr_run config set --dir "$C" pause-after-unit-refresh=all
mv "$T/pgrefresh.key.kept" "$C/pki/pgrefresh.key"
assert_user_error "config set without pgrefresh's client key"
assert_contains "$ERR" "etcd_key $C/pki/pgrefresh.key unreadable" "the error"
AFTER=$(pgr_run config --dir "$C"; printf '%s' "$OUT")
assert_eq "$AFTER" "$BEFORE" "the settings after the refused commands"
PRIMARY=$(units_with_role primary)
with_wrong_secret "$C" patroni_api patroni:wrong-password switchover --dir "$C"
assert_user_error "switchover with a wrong Patroni password"
assert_contains "$ERR" "refused pgrefresh's credentials (HTTP 401): check secret patroni_api" "the error"
wait_healthy 60
assert_eq "$(units_with_role primary)" "$PRIMARY" "the primary after the refused switchover"
write_answers t59 || fail "PgBouncer does not answer writes after the refused switchover"
ok "PgBouncer answers writes"

step "cluster stop, then start: etcd with TLS and its users as they were, healthy again"
pgr_ok cluster stop --dir "$C"
pgr_ok cluster start --dir "$C"
wait_healthy 60
write_answers t59 || fail "PgBouncer does not answer writes after cluster start"
ok "PgBouncer answers writes"

step "destroy removes the CA and the secrets with the rest"
pgr_ok cluster destroy --dir "$C"
[ ! -e "$C" ] || fail "$C still exists: $(ls -A "$C")"
ok "$C removed"
