#!/usr/bin/env bash
# A 3-unit cluster at LOW: roles and versions in status (json and tabular), a row written through
# PgBouncer read on every unit, `cluster env` with psql, the catalog naming the units that use LOW.
. "$(dirname "$0")/lib.sh"

step "catalog with $LOW; create a 3-unit cluster"
need_versions "$LOW"
create_cluster 3 "$LOW"
assert_contains "$OUT" "3 unit(s)" "create output"

step "status --format json: one primary, one sync standby, one replica, all $LOW and active, a coordinator"
wait_healthy 15
S=$(status_json)
assert_eq "$(json_get "$S" "d['cluster']")" pg "cluster name"
assert_eq "$(json_get "$S" "d['version']")" "$LOW" "cluster version"
assert_eq "$(json_get "$S" "len(d['units'])")" 3 "unit count"
assert_eq "$(json_get "$S" "sorted(u['role'] for u in d['units'])")" '["primary", "replica", "sync-standby"]' "roles"
assert_eq "$(json_get "$S" "sorted(set(u['version'] for u in d['units']))")" "[\"$LOW\"]" "unit versions"
assert_eq "$(json_get "$S" "sorted(set(u['state'] for u in d['units']))")" '["active"]' "unit states"
assert_eq "$(json_get "$S" "sorted(u['name'] for u in d['units'])")" '["pg/0", "pg/1", "pg/2"]' "unit names"
assert_eq "$(json_get "$S" "sorted(set(u['host'] for u in d['units']))")" '["127.0.0.1"]' "unit hosts"
assert_eq "$(json_get "$S" "d['refresh']['state']")" idle "refresh state"
COORD=$(json_get "$S" "d['coordinator']")
assert_match "$COORD" '^pg/[0-2]$' "coordinator"
assert_eq "$(json_get "$S" "len(d['pgbouncer'])")" 1 "PgBouncer count"
BOUNCER_PORT=$(json_get "$S" "d['pgbouncer'][0]['port']")
assert_match "$(json_get "$S" "[u['lag_bytes'] for u in d['units']]")" '^\[[0-9, ]+\]$' "lag_bytes are numbers"

step "tabular status: the cluster line, the unit header and 3 unit lines"
pgr_ok status --dir "$C"
assert_match "$(sed -n 1p <<<"$OUT")" '^Cluster +Version +Refresh +Message' "cluster header"
assert_match "$(sed -n 2p <<<"$OUT")" "^pg +$LOW +idle " "cluster line"
assert_match "$OUT" $'\nUnit +Role +Version +State +Lag +Message' "unit header"
assert_eq "$(grep -cE "^pg/[0-9]\*? +(primary|sync-standby|replica) +$LOW +active " <<<"$OUT")" 3 "active unit lines"
for role in primary sync-standby replica; do
	assert_eq "$(grep -cE "^pg/[0-9]\*? +$role " <<<"$OUT")" 1 "lines with role $role"
done
assert_eq "$(grep -c "^${COORD}\* " <<<"$OUT")" 1 "coordinator marked with *"

step "cluster env: exports for psql, leading to PgBouncer"
pgr_ok cluster env --dir "$C"
assert_contains "$OUT" "export PGHOST=127.0.0.1" "cluster env"
assert_contains "$OUT" "export PGPORT=$BOUNCER_PORT" "cluster env"
assert_match "$OUT" 'export PGPASSFILE=[^ ]+/pgpass' "cluster env"
PASSFILE=$(sed -n 's/^export PGPASSFILE=//p' <<<"$OUT")
assert_eq "$(stat -c %a "$PASSFILE")" 600 "PGPASSFILE mode"
assert_eq "$(psql_bouncer 'select 1')" 1 "psql through PgBouncer with cluster env"

step "a row written through PgBouncer"
psql_bouncer "create table t10(id int primary key, v text); insert into t10 values (1, 'written through pgbouncer')" >/dev/null
PRIMARY=$(units_with_role primary)
assert_eq "$(psql_unit "$PRIMARY" 'select pg_is_in_recovery()')" f "PgBouncer leads to the primary ($PRIMARY)"

step "the row is readable straight on every unit"
for u in pg/0 pg/1 pg/2; do
	wait_until 10 psql_unit_eq "$u" "select v from t10 where id = 1" "written through pgbouncer" ||
		fail "the row did not reach $u within 10 s: $(psql_unit "$u" 'select v from t10' 2>&1 || true)"
	ok "row readable on $u"
done
for u in $(units_with_role replica) $(units_with_role sync-standby); do
	assert_eq "$(psql_unit "$u" 'select pg_is_in_recovery()')" t "$u is a standby"
done

step "versions lists $LOW with the units using it"
pgr_ok versions --dir "$C"
assert_match "$(grep -E "^$LOW " <<<"$OUT")" "^$LOW +$(version_path "$LOW")/usr/lib/postgresql/15 +" "catalog line of $LOW"
LINE=$(grep -E "^$LOW " <<<"$OUT")
for u in pg/0 pg/1 pg/2; do assert_contains "$LINE" "$u" "catalog line of $LOW"; done
pgr_ok versions --dir "$C" --format json
assert_eq "$(json_get "$OUT" "sorted([x for x in d['versions'] if x['version'] == '$LOW'][0]['units'])")" '["pg/0", "pg/1", "pg/2"]' "versions json: units of $LOW"
