/*
 * test_state_pooler_intent.c — a pooler's repoint intent as stored in etcd (state/pooler_intent.h): its
 * JSON both ways, every hostile or missing field refused, the key. One case a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/pooler_intent.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static pooler_intent sample(pooler_intent_state state)
{
	pooler_intent in;

	memset(&in, 0, sizeof(in));
	snprintf(in.pooler, sizeof(in.pooler), "pgbouncer");
	snprintf(in.host, sizeof(in.host), "198.18.0.12");
	snprintf(in.target_host, sizeof(in.target_host), "198.18.0.11");
	in.target_port = 5441;
	in.attempt = 1764428400000;
	in.state = state;
	if (state != POOLER_INTENT_REQUESTED)
		snprintf(in.by, sizeof(in.by), "pg/1");
	return in;
}

static void test_round_trip(void **state)
{
	(void)state;
	for (int s = POOLER_INTENT_REQUESTED; s <= POOLER_INTENT_FAILED; s++) {
		pooler_intent in = sample((pooler_intent_state)s), out;
		char *json = NULL;
		pgr_err err = { 0 };

		if (s == POOLER_INTENT_FAILED)
			snprintf(in.message, sizeof(in.message), "RELOAD: could not connect: it's \"down\"");
		assert_int_equal(pooler_intent_to_json(&in, &json, &err), 0);
		out.mod_revision = 42; /* the key's, kept: not in the JSON */
		out.lease = 9;
		if (pooler_intent_parse(json, &out, &err) != 0)
			fail_msg("%s: %s", json, err.msg);
		in.mod_revision = 42;
		in.lease = 9;
		assert_memory_equal(&in, &out, sizeof(in));
		free(json);
	}
	{
		pooler_intent in = sample(POOLER_INTENT_ARMED);
		char *json = NULL;
		pgr_err err = { 0 };

		assert_int_equal(pooler_intent_to_json(&in, &json, &err), 0);
		assert_string_equal(json, "{\"pooler\":\"pgbouncer\",\"host\":\"198.18.0.12\",\"target_host\":\"198.18.0.11\","
					  "\"target_port\":5441,\"attempt\":1764428400000,\"state\":\"armed\",\"by\":\"pg/1\","
					  "\"message\":\"\"}");
		free(json);
	}
}

#define OK_FIELDS "\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":5441,\"attempt\":1,\"by\":\"pg/1\",\"message\":\"\""

static void test_parse_refuses(void **state)
{
	static const struct {
		const char *json;
		const char *err_has;
	} cases[] = {
		{ "", "not a JSON object" },
		{ "[1]", "not a JSON object" },
		{ "{" OK_FIELDS ",\"state\":\"armed\"", "not a JSON object" },
		{ "{" OK_FIELDS "}", "\"state\" is missing" },
		{ "{" OK_FIELDS ",\"state\":\"done\"}", "unknown state \"done\"" },
		{ "{" OK_FIELDS ",\"state\":7}", "\"state\" is missing or not a string" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":0,\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "not a port" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":65536,\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "not a port" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":\"5441\",\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "not a port" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":5441,\"attempt\":1.5,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "\"attempt\" is not an integer" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t host=evil\",\"target_port\":5441,\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "bad target_host" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\\nx\",\"target_port\":5441,\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "bad target_host" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\\u0000x\",\"target_port\":5441,\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "is not allowed" },
		{ "{\"pooler\":\"../p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":5441,\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "bad pooler name" },
		{ "{\"pooler\":\"p\",\"host\":\"\",\"target_host\":\"t\",\"target_port\":5441,\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "bad host" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":5441,\"attempt\":1,\"state\":\"go\",\"by\":\"\",\"message\":\"\"}", "needs the unit that took it" },
		{ "{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":5441,\"attempt\":1,\"state\":\"failed\",\"by\":\"u\",\"message\":\"a\\nb\"}", "line break" },
		{ "{\"pooler\":\"ppppppppppppppppppppppppppppppppppppppppp\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":5441,\"attempt\":1,\"state\":\"go\",\"by\":\"u\",\"message\":\"\"}", "\"pooler\" is longer than 31 bytes" },
		{ "{" OK_FIELDS ",\"state\":\"go\",\"state\":\"armed\"}", "not a JSON object" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		pooler_intent out;
		pgr_err err = { 0 };

		out.mod_revision = 7;
		out.lease = 0;
		if (pooler_intent_parse(cases[i].json, &out, &err) != -1 || strstr(err.msg, cases[i].err_has) == NULL)
			fail_msg("case %zu: \"%s\", expected \"%s\"", i, err.msg, cases[i].err_has);
		assert_string_equal(out.pooler, "");
		assert_int_equal(out.target_port, 0);
		assert_int_equal(out.mod_revision, 7);
	}
	/* a requested intent has no taker yet */
	{
		pooler_intent out = { .mod_revision = 0 };
		pgr_err err = { 0 };

		assert_int_equal(pooler_intent_parse("{\"pooler\":\"p\",\"host\":\"h\",\"target_host\":\"t\",\"target_port\":1,"
						     "\"attempt\":-3,\"state\":\"requested\",\"by\":\"\",\"message\":\"\"}",
						     &out, &err),
				 0);
		assert_int_equal(out.state, POOLER_INTENT_REQUESTED);
		assert_int_equal(out.attempt, -3);
	}
}

static void test_to_json_refuses(void **state)
{
	pooler_intent in;
	char *json = (char *)"untouched";
	pgr_err err = { 0 };

	(void)state;
	in = sample(POOLER_INTENT_GO);
	in.target_port = 0;
	assert_int_equal(pooler_intent_to_json(&in, &json, &err), -1);
	assert_null(json);
	in = sample(POOLER_INTENT_GO);
	snprintf(in.target_host, sizeof(in.target_host), "a b");
	assert_int_equal(pooler_intent_to_json(&in, &json, &err), -1);
	in = sample(POOLER_INTENT_ARMED);
	in.by[0] = '\0';
	assert_int_equal(pooler_intent_to_json(&in, &json, &err), -1);
	in = sample(POOLER_INTENT_REQUESTED);
	in.state = (pooler_intent_state)9;
	assert_int_equal(pooler_intent_to_json(&in, &json, &err), -1);
	assert_string_equal(pooler_intent_state_name((pooler_intent_state)9), "unknown");
	assert_string_equal(pooler_intent_state_name(POOLER_INTENT_GO), "go");
}

static void test_key(void **state)
{
	char key[128];

	(void)state;
	pooler_intent_key("/pgrefresh/pg/", "pgbouncer-1", key, sizeof(key));
	assert_string_equal(key, "/pgrefresh/pg/poolers/pgbouncer-1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_to_json_refuses),
		cmocka_unit_test(test_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
