/*
 * test_state_unit_intent.c — the unit intent's pure parts (state/unit_intent.h): its JSON both ways,
 * hostile values refused with the field named, its key, and the tags as a log shows them. Tables, one case
 * a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state/unit_intent.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_round_trip(void **state)
{
	static const struct {
		const char *rf;
		bool nosync;
		const char *token, *by;
		int64_t at;
	} cases[] = {
		{ "pg-1", false, "pg/2:1764428400123", "coordinator pg/2", 41 },
		{ "", false, "t", "", 0 },
		{ "", true, "pg/0:1", "pgrefresh switchover (pid 42 on db1)", 1 },
		{ "member \"quoted\" and \\ ünï", true, "x", "by \"quotes\"", 9007199254740993 },
		{ "a-63-characters-long-member-name-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", false,
		  "a-63-characters-long-token-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "b", 2 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		unit_intent in, out;
		char *json = NULL;
		pgr_err err;

		memset(&in, 0, sizeof(in));
		snprintf(in.tags.replicatefrom, sizeof(in.tags.replicatefrom), "%s", cases[i].rf);
		in.tags.nosync = cases[i].nosync;
		snprintf(in.token, sizeof(in.token), "%s", cases[i].token);
		snprintf(in.by, sizeof(in.by), "%s", cases[i].by);
		in.at_revision = cases[i].at;
		in.mod_revision = 99;
		assert_int_equal(unit_intent_to_json(&in, &json, &err), 0);
		assert_int_equal(unit_intent_parse(json, &out, &err), 0);
		assert_string_equal(out.tags.replicatefrom, cases[i].rf);
		assert_int_equal(out.tags.nosync, cases[i].nosync);
		assert_string_equal(out.token, cases[i].token);
		assert_string_equal(out.by, cases[i].by);
		assert_int_equal(out.at_revision, cases[i].at);
		assert_int_equal(out.mod_revision, 0); /* etcd's, never the value's */
		free(json);
	}
}

/* What the writer refuses to write. */
static void test_refused_to_write(void **state)
{
	static const struct {
		const char *rf, *token, *by, *why;
	} cases[] = {
		{ "pg-1", "", "x", "token" },
		{ "pg-1", "has space", "x", "token" },
		{ "pg-1", "tab\there", "x", "token" },
		{ "pg-1", "nl\n", "x", "token" },
		{ "pg\n1", "t", "x", "control" },
		{ "pg-1", "t", "two\nlines", "control" },
		{ "\x7f", "t", "x", "control" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		unit_intent in;
		char *json = (char *)1;
		pgr_err err;

		memset(&in, 0, sizeof(in));
		snprintf(in.tags.replicatefrom, sizeof(in.tags.replicatefrom), "%s", cases[i].rf);
		snprintf(in.token, sizeof(in.token), "%s", cases[i].token);
		snprintf(in.by, sizeof(in.by), "%s", cases[i].by);
		assert_int_equal(unit_intent_to_json(&in, &json, &err), -1);
		assert_null(json);
		assert_non_null(strstr(err.msg, cases[i].why));
	}
}

/* What the reader accepts, and what it makes of it. */
static void test_parse_accepted(void **state)
{
	static const struct {
		const char *json, *rf, *token, *by;
		bool nosync;
		int64_t at;
	} cases[] = {
		{ "{\"tags\":{},\"token\":\"t\"}", "", "t", "", false, 0 },
		{ "{\"tags\":{\"replicatefrom\":null,\"nosync\":false},\"token\":\"t\"}", "", "t", "", false, 0 },
		{ "{\"tags\":{\"nosync\":true},\"token\":\"t\",\"by\":\"me\",\"at_revision\":7}", "", "t", "me", true, 7 },
		{ "{\"tags\":{\"replicatefrom\":\"pg-2\"},\"token\":\"t\",\"extra\":[1,2],\"by\":\"\"}", "pg-2", "t", "",
		  false, 0 },
		{ "{\"token\":\"u\",\"tags\":{\"replicatefrom\":\"pg-0\",\"other\":1}}", "pg-0", "u", "", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		unit_intent out;
		pgr_err err;

		assert_int_equal(unit_intent_parse(cases[i].json, &out, &err), 0);
		assert_string_equal(out.tags.replicatefrom, cases[i].rf);
		assert_string_equal(out.token, cases[i].token);
		assert_string_equal(out.by, cases[i].by);
		assert_int_equal(out.tags.nosync, cases[i].nosync);
		assert_int_equal(out.at_revision, cases[i].at);
	}
}

/* Hostile and corrupt values: refused, naming what is wrong, and nothing half-filled. */
static void test_parse_refused(void **state)
{
	static const struct {
		const char *json, *names;
	} cases[] = {
		{ NULL, "not a JSON object" },
		{ "", "not a JSON object" },
		{ "{", "not a JSON object" },
		{ "[]", "another JSON value" },
		{ "\"tags\"", "not a JSON object" },
		{ "{\"token\":\"t\"}", "\"tags\"" },
		{ "{\"tags\":[],\"token\":\"t\"}", "\"tags\"" },
		{ "{\"tags\":\"pg-1\",\"token\":\"t\"}", "\"tags\"" },
		{ "{\"tags\":{},\"token\":\"\"}", "\"token\"" },
		{ "{\"tags\":{}}", "\"token\"" },
		{ "{\"tags\":{},\"token\":7}", "\"token\"" },
		{ "{\"tags\":{},\"token\":\"a b\"}", "\"token\"" },
		{ "{\"tags\":{},\"token\":\"a\\nb\"}", "\"token\"" },
		{ "{\"tags\":{},\"token\":\"0123456789012345678901234567890123456789012345678901234567890123\"}", "\"token\"" },
		{ "{\"tags\":{\"replicatefrom\":5},\"token\":\"t\"}", "replicatefrom" },
		{ "{\"tags\":{\"replicatefrom\":\"pg-1\\nnosync: true\"},\"token\":\"t\"}", "replicatefrom" },
		{ "{\"tags\":{\"replicatefrom\":\"pg\\u0000x\"},\"token\":\"t\"}", "not a JSON object" },
		{ "{\"tags\":{\"replicatefrom\":\"0123456789012345678901234567890123456789012345678901234567890123\"},"
		  "\"token\":\"t\"}",
		  "replicatefrom" },
		{ "{\"tags\":{\"nosync\":\"true\"},\"token\":\"t\"}", "nosync" },
		{ "{\"tags\":{\"nosync\":1},\"token\":\"t\"}", "nosync" },
		{ "{\"tags\":{},\"token\":\"t\",\"by\":3}", "\"by\"" },
		{ "{\"tags\":{},\"token\":\"t\",\"by\":\"a\\rb\"}", "\"by\"" },
		{ "{\"tags\":{},\"token\":\"t\",\"at_revision\":-1}", "at_revision" },
		{ "{\"tags\":{},\"token\":\"t\",\"at_revision\":\"5\"}", "at_revision" },
		{ "{\"tags\":{},\"token\":\"t\",\"at_revision\":1.5}", "at_revision" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		unit_intent out;
		pgr_err err;

		memset(&out, 0x55, sizeof(out));
		assert_int_equal(unit_intent_parse(cases[i].json, &out, &err), -1);
		if (strstr(err.msg, cases[i].names) == NULL)
			fail_msg("case %zu: \"%s\" does not name %s", i, err.msg, cases[i].names);
		assert_string_equal(out.token, "");
		assert_string_equal(out.tags.replicatefrom, "");
	}
}

static void test_key_and_text(void **state)
{
	static const struct {
		const char *rf;
		bool nosync;
		const char *text;
	} cases[] = {
		{ "pg-2", false, "replicatefrom=pg-2, nosync=false" },
		{ "", true, "replicatefrom=none, nosync=true" },
		{ "", false, "replicatefrom=none, nosync=false" },
	};
	char key[256];

	(void)state;
	unit_intent_key("/pgrefresh/pg/", "pg-1", key, sizeof(key));
	assert_string_equal(key, "/pgrefresh/pg/unit-intents/pg-1");
	/* never under units/, which the store reads as the agents' reports */
	assert_null(strstr(key, "/units/"));
	for (size_t i = 0; i < COUNT(cases); i++) {
		unit_intent_tags tags = { .nosync = cases[i].nosync };
		char text[128];

		snprintf(tags.replicatefrom, sizeof(tags.replicatefrom), "%s", cases[i].rf);
		unit_intent_tags_text(&tags, text, sizeof(text));
		assert_string_equal(text, cases[i].text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),	 cmocka_unit_test(test_refused_to_write),
		cmocka_unit_test(test_parse_accepted), cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_key_and_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
