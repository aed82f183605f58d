/*
 * test_state_presence.c — the presence key of an agent (state/presence.h): its key, its JSON (hostile
 * values refused), and the liveness verdict, which comes from etcd alone (no clock is compared).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/presence.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void test_key(void **state)
{
	char key[128];

	(void)state;
	presence_key("/pgrefresh/pg/", "pg-1", key, sizeof(key));
	assert_string_equal(key, "/pgrefresh/pg/alive/pg-1");
	assert_string_equal(presence_member_of_leaf("alive/pg-1"), "pg-1");
	assert_string_equal(presence_member_of_leaf("units/pg-1"), "");
	assert_string_equal(presence_member_of_leaf("alive"), "");
}

static void test_round_trip(void **state)
{
	presence in = { "pg/2", 4242, 5 }, out;
	char *json = NULL;
	pgr_err err;

	(void)state;
	assert_int_equal(presence_to_json(&in, &json, &err), 0);
	assert_string_equal(json, "{\"pid\":4242,\"ttl_s\":5,\"unit\":\"pg/2\"}");
	assert_int_equal(presence_parse(json, &out, &err), 0);
	assert_string_equal(out.unit, "pg/2");
	assert_int_equal(out.pid, 4242);
	assert_int_equal(out.ttl_s, 5);
	free(json);
}

static void test_parse_hostile(void **state)
{
	static const struct {
		const char *json;
		int rc;
		const char *err_has;
	} cases[] = {
		{ "{\"unit\":\"pg/0\",\"pid\":1,\"ttl_s\":5}", 0, NULL },
		{ "", -1, "not JSON" },
		{ "[]", -1, "lacks" },
		{ "{\"unit\":\"pg/0\",\"pid\":1}", -1, "lacks" },
		{ "{\"unit\":7,\"pid\":1,\"ttl_s\":5}", -1, "lacks" },
		{ "{\"unit\":\"pg/0\",\"pid\":0,\"ttl_s\":5}", -1, "in range" },
		{ "{\"unit\":\"pg/0\",\"pid\":-4,\"ttl_s\":5}", -1, "in range" },
		{ "{\"unit\":\"pg/0\",\"pid\":99999999999,\"ttl_s\":5}", -1, "in range" },
		{ "{\"unit\":\"pg/0\",\"pid\":1,\"ttl_s\":0}", -1, "in range" },
		{ "{\"unit\":\"pg/0\",\"pid\":1,\"ttl_s\":\"5\"}", -1, "lacks" },
		{ "{\"unit\":\"pg/0123456789012345678901234567890123456789\",\"pid\":1,\"ttl_s\":5}", -1, "lacks" },
	};
	char big[PRESENCE_MAX_JSON + 64];
	presence p;
	pgr_err err;

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		int rc = presence_parse(cases[i].json, &p, &err);

		if (rc != cases[i].rc || (rc != 0 && strstr(err.msg, cases[i].err_has) == NULL))
			fail_msg("case %zu (%s): rc %d, err \"%s\"", i, cases[i].json, rc, rc ? err.msg : "");
	}
	/* oversized: refused before it is parsed */
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "{\"unit\":\"pg/0\",\"pid\":1,\"ttl_s\":5}", 33);
	assert_int_equal(presence_parse(big, &p, &err), -1);
	assert_non_null(strstr(err.msg, "more than"));
}

/* The liveness verdict: from the presence key and the record, nothing else. */
static void test_judge(void **state)
{
	static const struct {
		bool have_report, alive;
		presence_verdict want;
	} cases[] = {
		{ true, true, PRESENCE_REPORTING },
		{ false, true, PRESENCE_REPORTING }, /* alive, its first report on its way */
		{ true, false, PRESENCE_GONE },
		{ false, false, PRESENCE_NEVER },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++)
		assert_int_equal(presence_judge(cases[i].have_report, cases[i].alive), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_judge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
