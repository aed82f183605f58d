/*
 * test_etcd.c — the pure half of the etcd client: base64, request bodies, and the parsing of replies
 * captured from a real etcd 3.4.23 (tests/fixtures/etcd/, see its README), malformed ones included.
 * Runs from the project root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "etcd/etcd.h"
#include "etcd/etcd_parse.h"
#include "fixture.h"

#define FIXTURES "tests/fixtures/etcd/"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The whole fixture file as a heap string (test fails if it cannot be read). */
static char *fixture(const char *name)
{
	return fixture_load(FIXTURES, name);
}

static void assert_err_contains(const pgr_err *err, const char *needle)
{
	if (needle != NULL && strstr(err->msg, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err->msg, needle);
}

/* ------------------------------------------------------------ base64 */

static void test_b64_round_trip(void **state)
{
	static const struct {
		const char *plain;
		size_t len;
		const char *encoded;
	} cases[] = {
		{ "", 0, "" },
		{ "f", 1, "Zg==" },
		{ "fo", 2, "Zm8=" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg==" },
		{ "fooba", 5, "Zm9vYmE=" },
		{ "foobar", 6, "Zm9vYmFy" },
		{ "/pgrefresh/pg/state", 19, "L3BncmVmcmVzaC9wZy9zdGF0ZQ==" },
		{ "\xff\xfe\x00\x01", 4, "//4AAQ==" },
		{ "\xfb\xff", 2, "+/8=" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *enc = etcd_b64_encode(cases[i].plain, cases[i].len);
		char *dec = NULL;
		size_t declen = 0;
		pgr_err err = { 0 };

		assert_non_null(enc);
		assert_string_equal(enc, cases[i].encoded);
		assert_int_equal(etcd_b64_decode(enc, &dec, &declen, &err), 0);
		assert_int_equal(declen, cases[i].len);
		assert_memory_equal(dec, cases[i].plain, cases[i].len);
		assert_int_equal(dec[declen], '\0');
		free(enc);
		free(dec);
	}
}

static void test_b64_decode_invalid(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
		{ "abc", "not a multiple of 4" },
		{ "eA=", "not a multiple of 4" },
		{ "!!!!", "bad character at offset 0" },
		{ "ab=c", "bad character at offset 2" },
		{ "a===", "bad character at offset 1" },
		{ "====", "bad character at offset 0" },
		{ "Zg==Zg==", "bad character at offset 2" },
		{ "Zm9v\n", "not a multiple of 4" },
		{ "Zm 9", "bad character at offset 2" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *dec = (char *)1;
		pgr_err err = { 0 };

		assert_int_equal(etcd_b64_decode(cases[i].text, &dec, NULL, &err), -1);
		assert_null(dec);
		assert_err_contains(&err, cases[i].err);
	}
}

static void test_prefix_range_end(void **state)
{
	static const struct {
		const char *prefix;
		const char *end;
		size_t len;
	} cases[] = {
		{ "/pgrefresh/pg/", "/pgrefresh/pg0", 14 },
		{ "a", "b", 1 },
		{ "a\xff", "b", 1 },
		{ "a\xff\xff", "b", 1 },
		{ "\xff", "\0", 1 },
		{ "", "\0", 1 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *end = NULL;
		size_t len = 0;
		pgr_err err = { 0 };

		assert_int_equal(etcd_prefix_range_end(cases[i].prefix, &end, &len, &err), 0);
		assert_int_equal(len, cases[i].len);
		assert_memory_equal(end, cases[i].end, len);
		free(end);
	}
}

/* ------------------------------------------------------------ request bodies */

enum build_kind { B_RANGE, B_PUT, B_DELETE, B_PUT_IF, B_DELETE_IF, B_GRANT, B_LEASE_ID, B_WATCH };

static void test_build_requests(void **state)
{
	/* k = "/k" = L2s=, p = "/p/" = L3Av, "/p0" = L3Aw, "v" = dg== */
	static const struct {
		enum build_kind kind;
		const char *key;
		const char *value;
		bool prefix;
		int64_t n1, n2;
		const char *json;
	} cases[] = {
		{ B_RANGE, "/k", NULL, false, 0, 0, "{\"key\":\"L2s=\"}" },
		{ B_RANGE, "/k", NULL, false, 42, 0, "{\"key\":\"L2s=\",\"revision\":\"42\"}" },
		{ B_RANGE, "/p/", NULL, true, 0, 0,
		  "{\"key\":\"L3Av\",\"range_end\":\"L3Aw\",\"sort_order\":\"ASCEND\",\"sort_target\":\"KEY\"}" },
		{ B_PUT, "/k", "v", false, 0, 0, "{\"key\":\"L2s=\",\"value\":\"dg==\"}" },
		{ B_PUT, "/k", "", false, 0, 0, "{\"key\":\"L2s=\",\"value\":\"\"}" },
		{ B_PUT, "/k", "v", false, 7587869893395384334LL, 0,
		  "{\"key\":\"L2s=\",\"value\":\"dg==\",\"lease\":\"7587869893395384334\"}" },
		{ B_DELETE, "/k", NULL, false, 0, 0, "{\"key\":\"L2s=\"}" },
		{ B_DELETE, "/p/", NULL, true, 0, 0, "{\"key\":\"L3Av\",\"range_end\":\"L3Aw\"}" },
		{ B_PUT_IF, "/k", "v", false, 12, 0,
		  "{\"compare\":[{\"key\":\"L2s=\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"12\"}],"
		  "\"success\":[{\"request_put\":{\"key\":\"L2s=\",\"value\":\"dg==\"}},"
		  "{\"request_range\":{\"key\":\"L2s=\"}}],"
		  "\"failure\":[{\"request_range\":{\"key\":\"L2s=\"}}]}" },
		{ B_PUT_IF, "/k", "v", false, 0, 5,
		  "{\"compare\":[{\"key\":\"L2s=\",\"target\":\"CREATE\",\"result\":\"EQUAL\","
		  "\"create_revision\":\"0\"}],"
		  "\"success\":[{\"request_put\":{\"key\":\"L2s=\",\"value\":\"dg==\",\"lease\":\"5\"}},"
		  "{\"request_range\":{\"key\":\"L2s=\"}}],"
		  "\"failure\":[{\"request_range\":{\"key\":\"L2s=\"}}]}" },
		{ B_DELETE_IF, "/k", NULL, false, 9, 0,
		  "{\"compare\":[{\"key\":\"L2s=\",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"9\"}],"
		  "\"success\":[{\"request_delete_range\":{\"key\":\"L2s=\"}}],"
		  "\"failure\":[{\"request_range\":{\"key\":\"L2s=\"}}]}" },
		{ B_GRANT, NULL, NULL, false, 10, 0, "{\"TTL\":\"10\"}" },
		{ B_LEASE_ID, NULL, NULL, false, 7587869893395384334LL, 0, "{\"ID\":\"7587869893395384334\"}" },
		{ B_WATCH, "/k", NULL, false, 0, 0, "{\"create_request\":{\"key\":\"L2s=\"}}" },
		{ B_WATCH, "/p/", NULL, true, 30, 0,
		  "{\"create_request\":{\"key\":\"L3Av\",\"range_end\":\"L3Aw\",\"start_revision\":\"30\"}}" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *body = NULL;
		pgr_err err = { 0 };
		json_t *got, *want;
		int rc = -1;

		switch (cases[i].kind) {
		case B_RANGE:
			rc = etcd_build_range(cases[i].key, cases[i].prefix, cases[i].n1, &body, &err);
			break;
		case B_PUT:
			rc = etcd_build_put(cases[i].key, cases[i].value, cases[i].n1, &body, &err);
			break;
		case B_DELETE:
			rc = etcd_build_delete(cases[i].key, cases[i].prefix, &body, &err);
			break;
		case B_PUT_IF:
			rc = etcd_build_txn_put_if(cases[i].key, cases[i].value, cases[i].n1, cases[i].n2, &body, &err);
			break;
		case B_DELETE_IF:
			rc = etcd_build_txn_delete_if(cases[i].key, cases[i].n1, &body, &err);
			break;
		case B_GRANT:
			rc = etcd_build_lease_grant((int)cases[i].n1, &body, &err);
			break;
		case B_LEASE_ID:
			rc = etcd_build_lease_id(cases[i].n1, &body, &err);
			break;
		case B_WATCH:
			rc = etcd_build_watch(cases[i].key, cases[i].prefix, cases[i].n1, &body, &err);
			break;
		}
		assert_int_equal(rc, 0);
		got = json_loads(body, 0, NULL);
		want = json_loads(cases[i].json, 0, NULL);
		assert_non_null(want);
		if (!json_equal(got, want))
			fail_msg("case %zu: built %s, want %s", i, body, cases[i].json);
		json_decref(got);
		json_decref(want);
		free(body);
	}
}

/* ------------------------------------------------------------ replies */

static void test_parse_range(void **state)
{
	static const struct {
		const char *file;
		int rc;
		int count;
		int64_t revision;
		const char *key0, *value0; /* first kv */
		int64_t create0, mod0, version0, lease0;
		const char *value1; /* second kv's value, if any */
		const char *err;
	} cases[] = {
		{ "range_one.json", 0, 1, 4, "/pgrefresh/pg/state", "{\"state\":\"idle\"}", 2, 2, 1, 0, NULL, NULL },
		{ "range_none.json", 0, 0, 4, NULL, NULL, 0, 0, 0, 0, NULL, NULL },
		/* the second key has an empty value: etcd leaves "value" out */
		{ "range_prefix.json", 0, 2, 4, "/pgrefresh/pg/units/pg-0", "running 15.18", 3, 3, 1, 0, "", NULL },
		{ "range_leased.json", 0, 1, 23, "/pgrefresh/pg/leased", "alive", 23, 23, 1, 2324035612858659880LL,
		  NULL, NULL },
		{ "error_bad_request.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL,
		  "etcd error (code 3): illegal base64 data at input byte 0" },
		{ "error_compacted.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL,
		  "(code 11): etcdserver: mvcc: required revision has been compacted" },
		{ "malformed_truncated.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL, "malformed JSON at line 1" },
		{ "not_json.txt", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL, "malformed JSON" },
		{ "malformed_not_object.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL, "expected a JSON object" },
		{ "malformed_no_header.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL, "no \"header\"" },
		{ "malformed_kvs_not_array.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL,
		  "field \"kvs\" is not an array" },
		{ "malformed_revision_not_number.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL,
		  "field \"mod_revision\" is not an integer: \"12x\"" },
		{ "malformed_revision_wrong_type.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL,
		  "field \"mod_revision\" is not an integer" },
		{ "malformed_bad_base64_key.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL,
		  "field \"key\": invalid base64" },
		{ "malformed_bad_base64_value.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL,
		  "key /pgrefresh/pg/state: field \"value\": invalid base64" },
		{ "malformed_nul_in_key.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL, "holds a NUL byte" },
		{ "malformed_no_key.json", -1, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL, "no string \"key\"" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *body = fixture(cases[i].file);
		etcd_kvs kvs;
		pgr_err err = { 0 };
		int rc = etcd_parse_range(body, &kvs, &err);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", cases[i].file, rc, cases[i].rc, err.msg);
		assert_err_contains(&err, cases[i].err);
		if (rc != 0) {
			assert_null(kvs.items);
			assert_int_equal(kvs.count, 0);
		}
		assert_int_equal(kvs.count, cases[i].count);
		assert_int_equal(kvs.revision, cases[i].revision);
		if (cases[i].key0 != NULL) {
			assert_string_equal(kvs.items[0].key, cases[i].key0);
			assert_string_equal(kvs.items[0].value, cases[i].value0);
			assert_int_equal(kvs.items[0].create_revision, cases[i].create0);
			assert_int_equal(kvs.items[0].mod_revision, cases[i].mod0);
			assert_int_equal(kvs.items[0].version, cases[i].version0);
			assert_int_equal(kvs.items[0].lease, cases[i].lease0);
		}
		if (cases[i].value1 != NULL)
			assert_string_equal(kvs.items[1].value, cases[i].value1);
		etcd_kvs_free(&kvs);
		assert_null(kvs.items);
		free(body);
	}
}

static void test_parse_txn(void **state)
{
	static const struct {
		const char *file;
		int rc;
		bool succeeded;
		int count;
		const char *key, *value;
		int64_t mod;
		const char *err;
	} cases[] = {
		{ "txn_put_swapped.json", 0, true, 1, "/pgrefresh/pg/state", "{\"state\":\"paused\"}", 44, NULL },
		{ "txn_create_swapped.json", 0, true, 1, "/pgrefresh/pg/new2", "new", 45, NULL },
		{ "txn_put_failed.json", 0, false, 1, "/pgrefresh/pg/state", "{\"state\":\"refreshing\"}", 16, NULL },
		{ "txn_create_exists.json", 0, false, 1, "/pgrefresh/pg/state", "{\"state\":\"refreshing\"}", 16,
		  NULL },
		{ "txn_put_failed_absent.json", 0, false, 0, NULL, NULL, 0, NULL },
		{ "txn_delete_swapped.json", 0, true, 0, NULL, NULL, 0, NULL },
		{ "malformed_txn_succeeded_string.json", -1, false, 0, NULL, NULL, 0,
		  "field \"succeeded\" is not a boolean" },
		{ "error_empty_key.json", -1, false, 0, NULL, NULL, 0, "(code 3): etcdserver: key is not provided" },
		{ "malformed_truncated.json", -1, false, 0, NULL, NULL, 0, "etcd txn reply: malformed JSON" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *body = fixture(cases[i].file);
		etcd_kvs kvs;
		bool ok = !cases[i].succeeded;
		pgr_err err = { 0 };
		int rc = etcd_parse_txn(body, &ok, &kvs, &err);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", cases[i].file, rc, cases[i].rc, err.msg);
		assert_err_contains(&err, cases[i].err);
		assert_int_equal(ok, cases[i].succeeded);
		assert_int_equal(kvs.count, cases[i].count);
		if (cases[i].key != NULL) {
			assert_string_equal(kvs.items[0].key, cases[i].key);
			assert_string_equal(kvs.items[0].value, cases[i].value);
			assert_int_equal(kvs.items[0].mod_revision, cases[i].mod);
		}
		etcd_kvs_free(&kvs);
		/* range is optional */
		assert_int_equal(etcd_parse_txn(body, &ok, NULL, &err), cases[i].rc);
		free(body);
	}
}

enum simple_kind { S_HEADER, S_DELETERANGE, S_GRANT, S_KEEPALIVE, S_TIMETOLIVE, S_HEALTH };

static void test_parse_simple_replies(void **state)
{
	static const struct {
		enum simple_kind kind;
		const char *file;
		int rc;
		int64_t n1, n2; /* revision | deleted | id,ttl | ttl_left | healthy */
		const char *err;
	} cases[] = {
		{ S_HEADER, "put.json", 0, 2, 0, NULL },
		{ S_HEADER, "lease_revoke.json", 0, 24, 0, NULL },
		{ S_HEADER, "error_lease_not_found.json", -1, 0, 0, "(code 5): etcdserver: requested lease not found" },
		{ S_HEADER, "malformed_truncated.json", -1, 0, 0, "malformed JSON" },
		{ S_DELETERANGE, "deleterange.json", 0, 2, 0, NULL },
		{ S_DELETERANGE, "put.json", 0, 0, 0, NULL }, /* "deleted" absent: zero */
		{ S_DELETERANGE, "not_json.txt", -1, 0, 0, "etcd deleterange reply: malformed JSON" },
		{ S_GRANT, "lease_grant.json", 0, 2324035612858659878LL, 5, NULL },
		{ S_GRANT, "put.json", -1, 0, 0, "no lease \"ID\"" },
		{ S_GRANT, "error_bad_request.json", -1, 0, 0, "illegal base64" },
		{ S_KEEPALIVE, "lease_keepalive.json", 0, 60, 0, NULL },
		{ S_KEEPALIVE, "lease_keepalive_expired.json", 0, 0, 0, NULL },
		{ S_KEEPALIVE, "put.json", -1, 0, 0, "no \"result\"" },
		{ S_TIMETOLIVE, "lease_timetolive.json", 0, 3, 0, NULL },
		{ S_TIMETOLIVE, "lease_timetolive_expired.json", 0, 0, 0, NULL },
		{ S_TIMETOLIVE, "lease_timetolive_zero.json", 0, 0, 0, NULL }, /* past its TTL, not revoked yet */
		{ S_TIMETOLIVE, "put.json", -1, 0, 0, "TTL" },
		{ S_HEALTH, "health.json", 0, 1, 0, NULL },
		{ S_HEALTH, "put.json", -1, 0, 0, "no string \"health\"" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *body = fixture(cases[i].file);
		pgr_err err = { 0 };
		int64_t a = -1, b = -1;
		bool healthy = false;
		char reason[64];
		int rc = -2;

		switch (cases[i].kind) {
		case S_HEADER:
			rc = etcd_parse_header(body, &a, &err);
			break;
		case S_DELETERANGE:
			rc = etcd_parse_deleterange(body, &a, &err);
			break;
		case S_GRANT:
			rc = etcd_parse_lease_grant(body, &a, &b, &err);
			break;
		case S_KEEPALIVE:
			rc = etcd_parse_lease_keepalive(body, &a, &err);
			break;
		case S_TIMETOLIVE:
			rc = etcd_parse_lease_timetolive(body, &a, &err);
			break;
		case S_HEALTH:
			rc = etcd_parse_health(body, &healthy, reason, sizeof(reason), &err);
			a = healthy;
			break;
		}
		if (rc != cases[i].rc)
			fail_msg("case %zu %s: rc %d, want %d (%s)", i, cases[i].file, rc, cases[i].rc, err.msg);
		assert_err_contains(&err, cases[i].err);
		if (rc == 0) {
			assert_int_equal(a, cases[i].n1);
			if (cases[i].kind == S_GRANT)
				assert_int_equal(b, cases[i].n2);
		}
		free(body);
	}
}

static void test_parse_error(void **state)
{
	static const struct {
		const char *body;
		bool is_error;
		int code;
		const char *msg;
	} cases[] = {
		{ "{\"error\":\"etcdserver: requested lease not found\",\"message\":\"etcdserver: requested lease not "
		  "found\",\"code\":5}",
		  true, 5, "etcdserver: requested lease not found" },
		{ "{\"error\":\"only the error text\"}", true, -1, "only the error text" },
		{ "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\"}}", true, 14,
		  "etcdserver: no leader" },
		{ "{\"header\":{\"revision\":\"2\"}}", false, -1, "" },
		{ "{\"error\":\"\"}", false, -1, "" },
		{ "Not Found", false, -1, "" },
		{ "", false, -1, "" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		int code = 0;
		char msg[128];

		assert_int_equal(etcd_parse_error(cases[i].body, &code, msg, sizeof(msg)), cases[i].is_error);
		assert_int_equal(code, cases[i].code);
		assert_string_equal(msg, cases[i].msg);
	}
}

static void test_parse_watch_stream(void **state)
{
	static const struct {
		const char *file;
		bool truncated_ok;
		int rc;
		bool created;
		int count;
		int64_t revision;
		const char *err;
	} cases[] = {
		{ "watch_stream.json", false, 0, true, 2, 28, NULL },
		{ "watch_stream_cut.json", true, 0, true, 1, 27, NULL },
		{ "watch_stream_cut.json", false, -1, false, 0, 0, "etcd watch reply: malformed JSON at byte" },
		{ "watch_compacted.json", false, -1, false, 0, 0, "compacted (compact_revision 20)" },
		{ "malformed_watch_event_type.json", false, -1, false, 0, 0, "unknown event type \"BOGUS\"" },
		{ "error_lease_not_found.json", false, -1, false, 0, 0, "(code 5)" },
		{ "put.json", false, -1, false, 0, 0, "no \"result\"" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *body = fixture(cases[i].file);
		etcd_kvs events;
		bool created = !cases[i].created;
		pgr_err err = { 0 };
		int rc = etcd_parse_watch_stream(body, cases[i].truncated_ok, &events, &created, &err);

		if (rc != cases[i].rc)
			fail_msg("case %zu %s: rc %d, want %d (%s)", i, cases[i].file, rc, cases[i].rc, err.msg);
		assert_err_contains(&err, cases[i].err);
		assert_int_equal(created, cases[i].created);
		assert_int_equal(events.count, cases[i].count);
		assert_int_equal(events.revision, cases[i].revision);
		if (cases[i].count >= 1) {
			/* a PUT event (no "type") */
			assert_string_equal(events.items[0].key, "/pgrefresh/pg/w/a");
			assert_string_equal(events.items[0].value, "one");
			assert_int_equal(events.items[0].mod_revision, 27);
		}
		if (cases[i].count >= 2) {
			/* a DELETE event: value NULL */
			assert_string_equal(events.items[1].key, "/pgrefresh/pg/w/a");
			assert_null(events.items[1].value);
			assert_int_equal(events.items[1].mod_revision, 28);
		}
		etcd_kvs_free(&events);
		free(body);
	}
}

/* ------------------------------------------------------------ diff (the polling watch) */

static void test_kvs_diff(void **state)
{
	/* keys a..e; "before" at revision 10, "now" at 20; since 11 */
	static etcd_kv before_items[] = {
		{ "a", "1", 2, 2, 1, 0 },
		{ "b", "1", 3, 3, 1, 0 },
		{ "c", "1", 4, 4, 1, 0 },
		{ "e", "1", 5, 9, 2, 0 },
	};
	static etcd_kv now_items[] = {
		{ "a", "1", 2, 2, 1, 0 },   /* unchanged */
		{ "b", "2", 3, 12, 2, 0 },  /* modified */
		{ "d", "new", 15, 15, 1, 0 }, /* created; c deleted */
		{ "e", "1", 5, 11, 3, 0 },  /* modified exactly at since */
	};
	static const struct {
		bool with_before;
		int64_t since;
		const char *want; /* key=value or key=- (deleted), comma-separated */
	} cases[] = {
		{ true, 11, "b=2,d=new,e=1,c=-" },
		{ true, 13, "d=new,c=-" },
		{ true, 21, "c=-" },
		{ false, 11, "b=2,d=new,e=1" },
		{ false, 1, "a=1,b=2,d=new,e=1" },
	};
	etcd_kvs before = { before_items, (int)COUNT(before_items), 10 };
	etcd_kvs now = { now_items, (int)COUNT(now_items), 20 };

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		etcd_kvs changes;
		pgr_err err = { 0 };
		char got[256] = "";
		size_t used = 0;
		const etcd_kvs *b = cases[i].with_before ? &before : NULL;

		assert_int_equal(etcd_kvs_diff(b, &now, cases[i].since, &changes, &err), 0);
		assert_int_equal(changes.revision, 20);
		for (int k = 0; k < changes.count; k++)
			used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s=%s", k ? "," : "",
						 changes.items[k].key,
						 changes.items[k].value ? changes.items[k].value : "-");
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got %s, want %s", i, got, cases[i].want);
		etcd_kvs_free(&changes);
	}
}

/* ------------------------------------------------------------ client settings */

static void test_client_init(void **state)
{
	static const struct {
		const char *endpoints;
		int rc;
		int count;
		const char *first, *second;
		const char *err;
	} cases[] = {
		{ "http://127.0.0.1:2379", 0, 1, "http://127.0.0.1:2379", NULL, NULL },
		{ "http://a:1/, http://b:2", 0, 2, "http://a:1", "http://b:2", NULL },
		{ " https://a:1 ,,http://b:2,", 0, 2, "https://a:1", "http://b:2", NULL },
		{ "", -1, 0, NULL, NULL, "no etcd endpoint" },
		{ " , ", -1, 0, NULL, NULL, "no etcd endpoint" },
		{ "127.0.0.1:2379", -1, 0, NULL, NULL, "is not an http:// or https:// URL" },
		{ "http://", -1, 0, NULL, NULL, "is not an http:// or https:// URL" },
		{ "http://a,http://b,http://c,http://d,http://e", -1, 0, NULL, NULL, "too many etcd endpoints" },
		{ "http://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1",
		  -1, 0, NULL, NULL, "is too long" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		etcd_client client;
		pgr_err err = { 0 };
		int rc = etcd_client_init(&client, cases[i].endpoints, &err);

		if (rc != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d (%s)", cases[i].endpoints, rc, cases[i].rc, err.msg);
		assert_err_contains(&err, cases[i].err);
		if (rc != 0)
			continue;
		assert_int_equal(client.endpoint_count, cases[i].count);
		assert_int_equal(client.timeout_ms, 3000);
		assert_string_equal(client.endpoints[0], cases[i].first);
		if (cases[i].second)
			assert_string_equal(client.endpoints[1], cases[i].second);
	}
}

static void test_kv_free_is_safe(void **state)
{
	etcd_kv kv = { 0 };
	etcd_kvs kvs = { 0 };
	etcd_kv copy;
	etcd_kv src = { "k", NULL, 1, 2, 3, 4 };
	pgr_err err = { 0 };

	(void)state;
	etcd_kv_free(&kv);
	etcd_kv_free(NULL);
	etcd_kvs_free(&kvs);
	etcd_kvs_free(NULL);
	assert_int_equal(etcd_kv_copy(&src, &copy, &err), 0);
	assert_string_equal(copy.key, "k");
	assert_null(copy.value);
	assert_int_equal(copy.lease, 4);
	etcd_kv_free(&copy);
	assert_null(copy.key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_round_trip),	     cmocka_unit_test(test_b64_decode_invalid),
		cmocka_unit_test(test_prefix_range_end),     cmocka_unit_test(test_build_requests),
		cmocka_unit_test(test_parse_range),	     cmocka_unit_test(test_parse_txn),
		cmocka_unit_test(test_parse_simple_replies), cmocka_unit_test(test_parse_error),
		cmocka_unit_test(test_parse_watch_stream),   cmocka_unit_test(test_kvs_diff),
		cmocka_unit_test(test_client_init),	     cmocka_unit_test(test_kv_free_is_safe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
