/*
 * test_state_intent.c — the config-set intent (state/intent.h): the settings asked survive etcd in the
 * order asked, and a config-set value that is not a list of 1 to INTENT_MAX_SETTINGS names and values
 * that fit is refused whole. One case a line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/intent.h"

static void test_settings_round_trip(void **state)
{
	static const struct {
		int count;
		const char *names[INTENT_MAX_SETTINGS];
		const char *values[INTENT_MAX_SETTINGS];
		intent_answer answer;
		const char *result;
	} cases[] = {
		{ 1, { "pause-after-unit-refresh" }, { "all" }, INTENT_PENDING, "" },
		{ 2, { "lag-limit", "health-timeout" }, { "1048576", "120" }, INTENT_TAKEN, "lag-limit=1048576 health-timeout=120" },
		{ 1, { "auto-rollback" }, { "maybe \"not\"" }, INTENT_REFUSED, "auto-rollback: \"maybe\" is not true|false" },
		{ 8, { "a", "b", "c", "d", "e", "f", "g", "h" }, { "1", "2", "3", "4", "5", "6", "7", "" }, INTENT_PENDING, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		refresh_intent a, b;
		char *json = NULL;
		pgr_err err;

		memset(&a, 0, sizeof(a));
		a.ask.ask = ASK_SETTINGS;
		snprintf(a.ask.token, sizeof(a.ask.token), "host-%zu-1700000000000", i);
		for (int s = 0; s < cases[i].count; s++) {
			snprintf(a.ask.settings[s].name, sizeof(a.ask.settings[s].name), "%s", cases[i].names[s]);
			snprintf(a.ask.settings[s].value, sizeof(a.ask.settings[s].value), "%s", cases[i].values[s]);
		}
		a.ask.setting_count = cases[i].count;
		a.answer = cases[i].answer;
		snprintf(a.result, sizeof(a.result), "%s", cases[i].result);
		assert_int_equal(intent_to_json(&a, &json, &err), 0);
		assert_non_null(strstr(json, "\"ask\":\"config-set\""));
		if (intent_parse(json, &b, &err) != 0)
			fail_msg("case %zu: %s: %s", i, json, err.msg);
		free(json);
		assert_int_equal(b.ask.ask, ASK_SETTINGS);
		assert_string_equal(b.ask.token, a.ask.token);
		assert_int_equal(b.ask.setting_count, cases[i].count);
		for (int s = 0; s < cases[i].count; s++) {
			assert_string_equal(b.ask.settings[s].name, cases[i].names[s]);
			assert_string_equal(b.ask.settings[s].value, cases[i].values[s]);
		}
		assert_int_equal(b.answer, cases[i].answer);
		assert_string_equal(b.result, cases[i].result);
	}
	assert_string_equal(intent_ask_name(ASK_SETTINGS), "config-set");
}

#define CS "{\"ask\":\"config-set\",\"token\":\"t\",\"answer\":\"pending\""

static void test_settings_refused(void **state)
{
	static const struct {
		const char *json;
		const char *err_has;
	} bad[] = {
		{ CS "}", "needs 1 to 8 settings" },
		{ CS ",\"settings\":[]}", "needs 1 to 8 settings" },
		{ CS ",\"settings\":{\"lag-limit\":\"1\"}}", "needs 1 to 8 settings" },
		{ CS ",\"settings\":[1,2,3,4,5,6,7,8,9]}", "needs 1 to 8 settings" },
		{ CS ",\"settings\":[{\"name\":\"lag-limit\"}]}", "setting 1 is not" },
		{ CS ",\"settings\":[{\"name\":\"\",\"value\":\"1\"}]}", "setting 1 is not" },
		{ CS ",\"settings\":[{\"name\":\"a\",\"value\":\"1\"},{\"name\":\"b\",\"value\":2}]}", "setting 2 is not" },
		{ CS ",\"settings\":[{\"name\":\"a234567890123456789012345678901234567890\",\"value\":\"1\"}]}", "setting 1 is not" },
		{ CS ",\"settings\":[{\"name\":\"a\",\"value\":\"1234567890123456789012345678901234567890123456789012345678901234\"}]}",
		  "setting 1 is not" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		refresh_intent b;
		pgr_err err;

		pgr_err_clear(&err);
		if (intent_parse(bad[i].json, &b, &err) == 0 || strstr(err.msg, bad[i].err_has) == NULL)
			fail_msg("%s: accepted, or \"%s\" lacks \"%s\"", bad[i].json, err.msg, bad[i].err_has);
	}
	/* the longest that fit are taken */
	{
		refresh_intent b;
		pgr_err err;

		assert_int_equal(intent_parse(CS ",\"settings\":[{\"name\":\"a23456789012345678901234567890123456789\","
						 "\"value\":\"123456789012345678901234567890123456789012345678901234567890123\"}]}",
					      &b, &err),
				 0);
		assert_int_equal(strlen(b.ask.settings[0].name), 39);
		assert_int_equal(strlen(b.ask.settings[0].value), 63);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_round_trip),
		cmocka_unit_test(test_settings_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
