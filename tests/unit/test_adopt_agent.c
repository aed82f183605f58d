/*
 * test_adopt_agent.c — who runs an adopted unit's agent: systemd (pgrefresh-agent@INSTANCE) or pgrefresh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "adopt/adopt_agent.h"

static void test_decide(void **state)
{
	static const struct {
		bool pid1, installed;
		const char *confdir, *root;
		adopt_agent_how how;
		const char *instance;
	} cases[] = {
		{ true, true, "/etc/pgrefresh/15-main", "/etc/pgrefresh", ADOPT_AGENT_SYSTEMD, "15-main" },
		{ true, true, "/etc/pgrefresh/15-main/", "/etc/pgrefresh/", ADOPT_AGENT_SYSTEMD, "15-main" },
		{ true, true, "/etc/pgrefresh/pg_1.x", "/etc/pgrefresh", ADOPT_AGENT_SYSTEMD, "pg_1.x" },
		/* no systemd as PID 1 (a container, CI), or the unit not installed: pgrefresh starts it */
		{ false, true, "/etc/pgrefresh/15-main", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
		{ true, false, "/etc/pgrefresh/15-main", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
		/* a conf dir the service does not read */
		{ true, true, "/tmp/x/15-main", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
		{ true, true, "/etc/pgrefresh", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
		{ true, true, "/etc/pgrefreshX/a", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
		{ true, true, "/etc/pgrefresh/a/b", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
		/* an instance systemd would need escaped, or a hidden one */
		{ true, true, "/etc/pgrefresh/a b", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
		{ true, true, "/etc/pgrefresh/.a", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
		{ true, true, "/etc/pgrefresh/a@b", "/etc/pgrefresh", ADOPT_AGENT_SELF, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char instance[64] = "junk";
		adopt_agent_how how = adopt_agent_decide(cases[i].pid1, cases[i].installed, cases[i].confdir, cases[i].root,
							 instance, sizeof(instance));

		if (how != cases[i].how)
			fail_msg("case %zu (%s): got %d", i, cases[i].confdir, (int)how);
		assert_string_equal(instance, cases[i].instance);
	}
}

static void test_decide_short_buffer(void **state)
{
	char instance[4];

	(void)state;
	assert_int_equal(adopt_agent_decide(true, true, "/etc/pgrefresh/15-main", "/etc/pgrefresh", instance,
					    sizeof(instance)),
			 ADOPT_AGENT_SELF);
	assert_string_equal(instance, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_decide_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
