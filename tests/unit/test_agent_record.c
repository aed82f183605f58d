/*
 * test_agent_record.c — what an agent reports into etcd (state/unit_record.h): JSON round trip,
 * malformed records, and the version text from PostgreSQL's server_version_num.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/unit_record.h"

static void fill(unit_record *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->unit, sizeof(r->unit), "pg/1");
	snprintf(r->member, sizeof(r->member), "pg-1");
	snprintf(r->host, sizeof(r->host), "127.0.0.1");
	r->port = 5441;
	snprintf(r->role, sizeof(r->role), "sync-standby");
	snprintf(r->server_version, sizeof(r->server_version), "15.18");
	snprintf(r->linked_version, sizeof(r->linked_version), "15.20");
	snprintf(r->patroni_state, sizeof(r->patroni_state), "running");
	r->streaming = true;
	r->lag_bytes = INT64_C(5000000000);
	r->timeline = 3;
	r->tag_nosync = true;
	snprintf(r->tag_replicatefrom, sizeof(r->tag_replicatefrom), "pg-2");
	r->catalog_count = 3;
	snprintf(r->catalog[0], sizeof(r->catalog[0]), "15.18");
	snprintf(r->catalog[1], sizeof(r->catalog[1]), "15.20");
	snprintf(r->catalog[2], sizeof(r->catalog[2]), "16.14");
	r->heartbeat_ms = INT64_C(1764089493123);
	r->agent_pid = 4242;
	snprintf(r->message, sizeof(r->message), "relinking to \"15.20\"\n→ then restart");
}

static void test_round_trip(void **state)
{
	unit_record a, b;
	char *json = NULL, *json2 = NULL;
	pgr_err err;

	(void)state;
	fill(&a);
	assert_int_equal(unit_record_to_json(&a, &json, &err), 0);
	assert_int_equal(unit_record_parse(json, &b, &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(unit_record_to_json(&b, &json2, &err), 0);
	assert_string_equal(json, json2);
	free(json);
	free(json2);

	/* the edges: nothing running, lag unknown, an empty catalog, a full catalog */
	fill(&a);
	memset(a.server_version, 0, sizeof(a.server_version));
	memset(a.patroni_state, 0, sizeof(a.patroni_state));
	a.streaming = false;
	a.lag_bytes = -1;
	a.catalog_count = 0;
	memset(a.catalog, 0, sizeof(a.catalog));
	assert_int_equal(unit_record_to_json(&a, &json, &err), 0);
	assert_int_equal(unit_record_parse(json, &b, &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(json);
	a.catalog_count = UNIT_RECORD_MAX_VERSIONS;
	for (int i = 0; i < UNIT_RECORD_MAX_VERSIONS; i++)
		snprintf(a.catalog[i], sizeof(a.catalog[i]), "15.%d", i);
	assert_int_equal(unit_record_to_json(&a, &json, &err), 0);
	assert_int_equal(unit_record_parse(json, &b, &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	free(json);
}

static const struct {
	const char *json;
	int ok;
	const char *err_has;
} parse_cases[] = {
	{ "not json", 0, "not JSON" },
	{ "", 0, "not JSON" },
	{ "{\"unit\":", 0, "not JSON" },
	{ "[]", 0, "no \"unit\"" },
	{ "42", 0, "not JSON" }, /* jansson decodes only objects and arrays */
	{ "{}", 0, "no \"unit\"" },
	{ "{\"unit\":7}", 0, "no \"unit\"" },
	{ "{\"unit\":null}", 0, "no \"unit\"" },
	{ "{\"unit\":\"pg/0\"}", 1, NULL },
	{ "{\"unit\":\"pg/0\",\"catalog\":[\"15.18\",7,null,\"15.20\"],\"lag_bytes\":\"x\",\"extra\":{}}", 1, NULL },
};

static void test_parse(void **state)
{
	unit_record r;
	pgr_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		int rc;

		pgr_err_clear(&err);
		rc = unit_record_parse(parse_cases[i].json, &r, &err);
		if (parse_cases[i].ok ? rc != 0 : rc == 0 || strstr(err.msg, parse_cases[i].err_has) == NULL)
			fail_msg("%s: rc %d \"%s\"", parse_cases[i].json, rc, err.msg);
	}
	/* missing fields take their "unknown" values; non-strings in the catalog are dropped */
	assert_int_equal(unit_record_parse("{\"unit\":\"pg/0\"}", &r, &err), 0);
	assert_string_equal(r.unit, "pg/0");
	assert_string_equal(r.role, "");
	assert_int_equal(r.lag_bytes, -1);
	assert_false(r.streaming);
	assert_int_equal(r.catalog_count, 0);
	assert_false(r.tag_nosync); /* a record of an older agent: no tags */
	assert_string_equal(r.tag_replicatefrom, "");
	assert_int_equal(unit_record_parse(parse_cases[9].json, &r, &err), 0);
	assert_int_equal(r.lag_bytes, -1);
	assert_int_equal(r.catalog_count, 2);
	assert_string_equal(r.catalog[1], "15.20");
	/* too long strings are cut, not overflowed */
	assert_int_equal(unit_record_parse("{\"unit\":\"pg/0\",\"role\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", &r, &err), 0);
	assert_int_equal(strlen(r.role), sizeof(r.role) - 1);
}

static const struct {
	int num;
	const char *text;
} version_cases[] = {
	{ 150018, "15.18" }, { 160004, "16.4" },  { 150000, "15.0" }, { 100023, "10.23" }, { 170002, "17.2" },
	{ 90624, "9.6.24" }, { 90600, "9.6.0" }, { 0, "" },          { -1, "" },
};

static void test_version_string(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(version_cases) / sizeof(version_cases[0]); i++) {
		char buf[16] = "junk";

		unit_record_version_string(version_cases[i].num, buf, sizeof(buf));
		if (strcmp(buf, version_cases[i].text) != 0)
			fail_msg("%d: \"%s\", expected \"%s\"", version_cases[i].num, buf, version_cases[i].text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_version_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
