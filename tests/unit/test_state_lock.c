/*
 * test_state_lock.c — the operation lock's pure parts (state/lock.h): its JSON both ways, values that
 * are not a lock (refused with the reason), a lock read from an etcd kv (the lease is etcd's, not the
 * value's), and the sentence that names who holds it and since when. Tables, one case a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "state/lock.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_known_operations(void **state)
{
	static const struct {
		const char *op;
		bool known;
	} cases[] = {
		{ "refresh", true },	   { "switchover", true }, { "add-unit", true },  { "remove-unit", true },
		{ "Refresh", false },	   { "", false },	   { "rollback", false }, { "add-unit ", false },
		{ "switchover\n", false }, { NULL, false },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++)
		assert_int_equal(state_lock_known_operation(cases[i].op), cases[i].known);
}

static void test_round_trip(void **state)
{
	static const struct {
		const char *op, *owner;
		int64_t since;
	} cases[] = {
		{ "switchover", "pgrefresh switchover (pid 42 on db1)", 1764428400123 },
		{ "refresh", "coordinator pg/2", 1 },
		{ "add-unit", "", 0 },
		{ "remove-unit", "quotes \" and \\ and ünïcode", 9007199254740993 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		state_lock in, out;
		char *json = NULL;
		pgr_err err;

		memset(&in, 0, sizeof(in));
		snprintf(in.operation, sizeof(in.operation), "%s", cases[i].op);
		snprintf(in.owner, sizeof(in.owner), "%s", cases[i].owner);
		in.since_ms = cases[i].since;
		in.lease = 77;
		assert_int_equal(state_lock_to_json(&in, &json, &err), 0);
		assert_null(strstr(json, "lease")); /* the lease is the key's, never the value's */
		memset(&out, 0, sizeof(out));
		out.lease = 5;
		assert_int_equal(state_lock_parse(json, &out, &err), 0);
		assert_string_equal(out.operation, cases[i].op);
		assert_string_equal(out.owner, cases[i].owner);
		assert_int_equal(out.since_ms, cases[i].since);
		assert_int_equal(out.lease, 5); /* untouched */
		free(json);
	}
}

static void test_to_json_refuses_unknown_operation(void **state)
{
	state_lock in;
	char *json = (char *)"x";
	pgr_err err;

	(void)state;
	memset(&in, 0, sizeof(in));
	snprintf(in.operation, sizeof(in.operation), "rollback");
	assert_int_equal(state_lock_to_json(&in, &json, &err), -1);
	assert_null(json);
	assert_non_null(strstr(err.msg, "rollback"));
}

static void test_parse_bad(void **state)
{
	static const struct {
		const char *json, *error;
	} cases[] = {
		{ "", "not a JSON object" },
		{ "{", "not a JSON object" },
		{ "[]", "another JSON value" },
		{ "\"switchover\"", "not a JSON object" },
		{ "{}", "\"operation\"" },
		{ "{\"operation\":\"backup\",\"owner\":\"x\"}", "\"operation\"" },
		{ "{\"operation\":7,\"owner\":\"x\"}", "\"operation\"" },
		{ "{\"operation\":\"refresh\"}", "\"owner\"" },
		{ "{\"operation\":\"refresh\",\"owner\":3}", "\"owner\"" },
		{ "{\"operation\":\"refresh\",\"owner\":\"c\",\"since_ms\":\"12\"}", "since_ms" },
		{ NULL, "not a JSON object" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		state_lock out;
		pgr_err err;

		memset(&out, 0x5a, sizeof(out));
		err.msg[0] = '\0';
		assert_int_equal(state_lock_parse(cases[i].json, &out, &err), -1);
		if (strstr(err.msg, cases[i].error) == NULL)
			fail_msg("case %zu (%s): \"%s\" does not mention %s", i, cases[i].json ? cases[i].json : "NULL",
				 err.msg, cases[i].error);
		assert_string_equal(out.operation, ""); /* never half-filled */
	}
}

static void test_from_kv(void **state)
{
	etcd_kv kv = { .key = (char *)"/pgrefresh/pg/lock",
		       .value = (char *)"{\"operation\":\"switchover\",\"owner\":\"o\",\"since_ms\":5}",
		       .create_revision = 10,
		       .mod_revision = 12,
		       .lease = 0x694d8b5e1a2b3c4d };
	etcd_kv bad = { .key = (char *)"/pgrefresh/pg/lock", .value = (char *)"garbage", .mod_revision = 3, .lease = 9 };
	state_lock lock;
	pgr_err err;

	(void)state;
	assert_int_equal(state_lock_from_kv(&kv, &lock, &err), 0);
	assert_string_equal(lock.operation, "switchover");
	assert_int_equal(lock.lease, 0x694d8b5e1a2b3c4d);
	assert_int_equal(lock.mod_revision, 12);
	/* a value that is not a lock: the error names the key; lease and revision are still known */
	assert_int_equal(state_lock_from_kv(&bad, &lock, &err), -1);
	assert_non_null(strstr(err.msg, "/pgrefresh/pg/lock"));
	assert_int_equal(lock.lease, 9);
	assert_int_equal(lock.mod_revision, 3);
}

static void test_describe(void **state)
{
	/* TZ=UTC: 1764428400000 is 2025-11-29 15:00:00 */
	static const struct {
		const char *op, *owner;
		int64_t since, now;
		const char *text;
	} cases[] = {
		{ "switchover", "pgrefresh switchover (pid 42 on db1)", 1764428400000, 1764428412500,
		  "a switchover by pgrefresh switchover (pid 42 on db1) since 2025-11-29 15:00:00 (12 s ago)" },
		{ "refresh", "coordinator pg/2", 1764428400000, 1764428400000,
		  "a refresh by coordinator pg/2 since 2025-11-29 15:00:00 (0 s ago)" },
		/* the reader's clock behind the taker's: never a negative age */
		{ "add-unit", "x", 1764428400000, 1764428300000, "a add-unit by x since 2025-11-29 15:00:00 (0 s ago)" },
		{ "remove-unit", "", 0, 1764428400000, "a remove-unit by an unnamed owner since an unknown time" },
		{ "", "y", 0, 5, "a operation by y since an unknown time" },
	};

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < COUNT(cases); i++) {
		state_lock lock;
		char text[300];

		memset(&lock, 0, sizeof(lock));
		snprintf(lock.operation, sizeof(lock.operation), "%s", cases[i].op);
		snprintf(lock.owner, sizeof(lock.owner), "%s", cases[i].owner);
		lock.since_ms = cases[i].since;
		state_lock_describe(&lock, cases[i].now, text, sizeof(text));
		assert_string_equal(text, cases[i].text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_operations), cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_to_json_refuses_unknown_operation),
		cmocka_unit_test(test_parse_bad), cmocka_unit_test(test_from_kv),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
