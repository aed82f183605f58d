/*
 * test_pg_activity.c — the primary's open transactions (pg/activity.h): the JSON answer of the
 * pg_stat_activity query parsed, bad answers refused, more rows than room counted, and how a
 * transaction is named to a person.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pg/activity.h"

static const struct {
	const char *json;
	int max;
	int ok;
	int count;         /* when ok */
	int first_pid;     /* when ok and count > 0 */
	const char *first_app, *first_client;
	long long first_age_ms;
} cases[] = {
	{ "[]", 8, 1, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": 4242, \"application\": \"longtx\", \"client\": \"127.0.0.1:50000\", \"state\": \"idle in transaction\","
	  " \"xact_start_us\": 1764430000123456, \"age_ms\": 15234}]",
	  8, 1, 1, 4242, "longtx", "127.0.0.1:50000", 15234 },
	/* a Unix socket client has no address: "local"; no application_name: "" */
	{ "[{\"pid\": 7, \"application\": \"\", \"client\": \"local\", \"state\": \"active\", \"xact_start_us\": 1,"
	  " \"age_ms\": 1000}]",
	  8, 1, 1, 7, "", "local", 1000 },
	/* missing texts read as empty / local; extra keys are ignored */
	{ "[{\"pid\": 8, \"xact_start_us\": 5, \"age_ms\": 2000, \"extra\": true}]", 8, 1, 1, 8, "", "local", 2000 },
	/* more rows than room: the first max kept, all counted */
	{ "[{\"pid\": 1, \"xact_start_us\": 1, \"age_ms\": 3000}, {\"pid\": 2, \"xact_start_us\": 2, \"age_ms\": 2000},"
	  " {\"pid\": 3, \"xact_start_us\": 3, \"age_ms\": 1000}]",
	  2, 1, 3, 1, "", "local", 3000 },
	{ "", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "null", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "{}", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[1]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": \"12\", \"xact_start_us\": 1, \"age_ms\": 1}]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": 0, \"xact_start_us\": 1, \"age_ms\": 1}]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": -3, \"xact_start_us\": 1, \"age_ms\": 1}]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": 4294967297, \"xact_start_us\": 1, \"age_ms\": 1}]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": 12, \"age_ms\": 1}]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": 12, \"xact_start_us\": 1}]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": 12, \"xact_start_us\": 1.5, \"age_ms\": 1}]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": 1, \"xact_start_us\": 1, \"age_ms\": 1}, {\"pid\": null}]", 8, 0, 0, 0, NULL, NULL, 0 },
	{ "[{\"pid\": 1, \"xact_start_us\": 1, \"age_ms\": 1}", 8, 0, 0, 0, NULL, NULL, 0 },
};

static void test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pg_xact xacts[8];
		pgr_err err;
		int count = -1;
		int rc;

		memset(xacts, 0x5a, sizeof(xacts));
		pgr_err_clear(&err);
		rc = pg_activity_parse(cases[i].json, xacts, cases[i].max, &count, &err);
		if (!cases[i].ok) {
			if (rc == 0)
				fail_msg("case %zu (%s) was accepted", i, cases[i].json);
			assert_int_equal(count, 0);
			assert_true(strstr(err.msg, "pg_stat_activity") != NULL);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu (%s): %s", i, cases[i].json, err.msg);
		assert_int_equal(count, cases[i].count);
		if (count == 0)
			continue;
		assert_int_equal(xacts[0].pid, cases[i].first_pid);
		assert_string_equal(xacts[0].application, cases[i].first_app);
		assert_string_equal(xacts[0].client, cases[i].first_client);
		assert_int_equal(xacts[0].age_ms, cases[i].first_age_ms);
		/* never written past max */
		if (cases[i].count > cases[i].max)
			assert_int_equal(xacts[cases[i].max].pid, 0x5a5a5a5a);
	}
}

static void test_fields(void **state)
{
	pg_xact x[1];
	pgr_err err;
	int count;

	(void)state;
	assert_int_equal(pg_activity_parse("[{\"pid\": 99, \"application\": \"app\", \"client\": \"10.0.0.1:5\", \"state\":"
					   " \"idle in transaction (aborted)\", \"xact_start_us\": -5, \"age_ms\": 0}]",
					   x, 1, &count, &err),
			 0);
	assert_int_equal(count, 1);
	assert_string_equal(x[0].state, "idle in transaction (aborted)");
	assert_true(x[0].xact_start_us == -5);
}

static void test_describe(void **state)
{
	static const struct {
		pg_xact x;
		const char *text;
	} d[] = {
		{ { .pid = 4242, .application = "longtx", .client = "127.0.0.1:50000", .age_ms = 15999 },
		  "pid 4242 ('longtx', 127.0.0.1:50000, open 15 s)" },
		{ { .pid = 1, .application = "", .client = "local", .age_ms = 999 },
		  "pid 1 (no application_name, local, open 0 s)" },
	};
	char buf[200];

	(void)state;
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		pg_activity_describe(&d[i].x, buf, sizeof(buf));
		assert_string_equal(buf, d[i].text);
	}
	/* a short buffer is cut, never overrun */
	pg_activity_describe(&d[0].x, buf, 10);
	assert_string_equal(buf, "pid 4242 ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
