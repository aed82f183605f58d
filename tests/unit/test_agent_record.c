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
	r->fact_count = 2;
	snprintf(r->facts[0].version, sizeof(r->facts[0].version), "15.18");
	r->facts[0].runnable = true;
	unit_facts_add_extension(&r->facts[0], "hstore");
	unit_facts_add_extension(&r->facts[0], "plpgsql");
	snprintf(r->facts[1].version, sizeof(r->facts[1].version), "15.20");
	snprintf(r->facts[1].problem, sizeof(r->facts[1].problem), "15.20 at /c/15.20 lacks psql in bin/");
	r->facts[1].extensions_cut = true;
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

/* The facts of a report: what the agent found on its own host, and hostile or oversized reports. */
static const struct {
	const char *name;
	const char *facts; /* the "facts" value */
	int count;         /* facts kept */
	/* the first one kept */
	const char *version;
	bool runnable;
	const char *problem_has;
	const char *extensions;
	bool cut;
} facts_cases[] = {
	{ "one, runnable", "[{\"version\":\"15.20\",\"runnable\":true,\"problem\":\"\",\"extensions\":[\"hstore\",\"plpgsql\"]}]", 1, "15.20", true, "", "hstore,plpgsql", false },
	{ "not runnable, no problem given", "[{\"version\":\"15.20\",\"runnable\":false,\"extensions\":[]}]", 1, "15.20", false, "does not run", "", false },
	{ "not an array", "{\"version\":\"15.20\"}", 0, NULL, false, NULL, NULL, false },
	{ "items that are not facts are skipped", "[7,null,{\"runnable\":true},{\"version\":\"\",\"runnable\":true},{\"version\":\"15.20\"},{\"version\":\"15.21\",\"runnable\":\"yes\"},{\"version\":\"15.22\",\"runnable\":true,\"extensions\":[]}]", 1, "15.22", true, "", "", false },
	{ "a version too long", "[{\"version\":\"15.2222222222222222222\",\"runnable\":true}]", 0, NULL, false, NULL, NULL, false },
	{ "no extension list: cannot tell", "[{\"version\":\"15.20\",\"runnable\":true}]", 1, "15.20", true, "", "", true },
	{ "names that are not names are dropped", "[{\"version\":\"15.20\",\"runnable\":true,\"extensions\":[\"a,b\",\"\",7,\"has space\",\"0123456789012345678901234567890123456789012345678901234567890123\",\"ok\"]}]", 1, "15.20", true, "", "ok", false },
	{ "more than 8 entries: the first 8", "[{\"version\":\"15.1\",\"runnable\":true},{\"version\":\"15.2\",\"runnable\":true},{\"version\":\"15.3\",\"runnable\":true},{\"version\":\"15.4\",\"runnable\":true},{\"version\":\"15.5\",\"runnable\":true},{\"version\":\"15.6\",\"runnable\":true},{\"version\":\"15.7\",\"runnable\":true},{\"version\":\"15.8\",\"runnable\":true},{\"version\":\"15.9\",\"runnable\":true}]", 8, "15.1", true, "", "", true },
};

static void test_facts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(facts_cases) / sizeof(facts_cases[0]); i++) {
		char json[4096];
		unit_record r;
		pgr_err err;
		const unit_version_facts *f = &r.facts[0];

		snprintf(json, sizeof(json), "{\"unit\":\"pg/0\",\"facts\":%s}", facts_cases[i].facts);
		if (unit_record_parse(json, &r, &err) != 0)
			fail_msg("%s: %s", facts_cases[i].name, err.msg);
		if (r.fact_count != facts_cases[i].count)
			fail_msg("%s: %d facts", facts_cases[i].name, r.fact_count);
		if (facts_cases[i].count == 0)
			continue;
		if (strcmp(f->version, facts_cases[i].version) != 0 || f->runnable != facts_cases[i].runnable ||
		    strstr(f->problem, facts_cases[i].problem_has) == NULL ||
		    strcmp(f->extensions, facts_cases[i].extensions) != 0 || f->extensions_cut != facts_cases[i].cut)
			fail_msg("%s: %s runnable %d \"%s\" extensions \"%s\" cut %d", facts_cases[i].name, f->version,
				 f->runnable, f->problem, f->extensions, f->extensions_cut);
	}
}

/* Extension names: exact lookups, and a list that runs out of room says so. */
static void test_facts_extensions(void **state)
{
	unit_version_facts f;
	unit_record r;
	char *json = NULL;
	pgr_err err;
	int added = 0;

	(void)state;
	memset(&f, 0, sizeof(f));
	unit_facts_add_extension(&f, "hstore");
	unit_facts_add_extension(&f, "postgis");
	assert_true(unit_facts_has_extension(&f, "hstore"));
	assert_true(unit_facts_has_extension(&f, "postgis"));
	assert_false(unit_facts_has_extension(&f, "post"));
	assert_false(unit_facts_has_extension(&f, "hstore,postgis"));
	assert_false(unit_facts_has_extension(&f, ""));
	assert_false(f.extensions_cut);
	for (int i = 0; i < 200; i++) {
		char name[32];

		snprintf(name, sizeof(name), "extension_number_%d", i);
		unit_facts_add_extension(&f, name);
		if (!f.extensions_cut)
			added++;
	}
	assert_true(f.extensions_cut);
	assert_true(added > 10 && added < 200);
	assert_true(strlen(f.extensions) < sizeof(f.extensions));
	/* a whole report with full lists stays within the bound a reader accepts */
	memset(&r, 0, sizeof(r));
	snprintf(r.unit, sizeof(r.unit), "pg/0");
	r.fact_count = UNIT_RECORD_MAX_FACTS;
	for (int i = 0; i < UNIT_RECORD_MAX_FACTS; i++) {
		r.facts[i] = f;
		snprintf(r.facts[i].version, sizeof(r.facts[i].version), "15.%d", i);
		memset(r.facts[i].problem, 'x', sizeof(r.facts[i].problem) - 1);
	}
	assert_int_equal(unit_record_to_json(&r, &json, &err), 0);
	assert_true(strlen(json) < UNIT_RECORD_MAX_JSON);
	free(json);
}

/* A report longer than UNIT_RECORD_MAX_JSON is refused before it is decoded. */
static void test_oversized(void **state)
{
	size_t len = UNIT_RECORD_MAX_JSON + 100;
	char *json = malloc(len + 1);
	unit_record r;
	pgr_err err;

	(void)state;
	assert_non_null(json);
	memset(json, ' ', len);
	memcpy(json, "{\"unit\":\"pg/0\"}", strlen("{\"unit\":\"pg/0\"}"));
	json[len] = '\0';
	assert_int_equal(unit_record_parse(json, &r, &err), -1);
	assert_non_null(strstr(err.msg, "more than"));
	json[UNIT_RECORD_MAX_JSON] = '\0'; /* at the bound: read */
	assert_int_equal(unit_record_parse(json, &r, &err), 0);
	free(json);
}

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
		cmocka_unit_test(test_facts),
		cmocka_unit_test(test_facts_extensions),
		cmocka_unit_test(test_oversized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
