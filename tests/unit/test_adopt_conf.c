/*
 * test_adopt_conf.c — pgrefresh.conf of an adopted cluster: each [unit] may name its Patroni member
 * (`member = node0`, a Debian host name), written back only when it is not the default <cluster>-N.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster/conf.h"
#include "refresh/plan.h"

#define HEAD "[cluster]\nname = 15_main\netcd = http://127.0.0.1:2379\ncatalog = /c\nlocal = false\n"

static void test_member_key(void **state)
{
	static const struct {
		const char *unit; /* the [unit] section */
		const char *member; /* NULL: refused, the error holding error */
		const char *error;
		bool written; /* "member = " in the formatted file */
	} cases[] = {
		{ "[unit 15_main/0]\npg_port = 5432\napi_port = 8008\nmember = node0\n", "node0", NULL, true },
		{ "[unit 15_main/1]\nmember = db-1.example\npg_port = 5432\napi_port = 8008\n", "db-1.example", NULL, true },
		{ "[unit 15_main/2]\npg_port = 5432\napi_port = 8008\n", "15_main-2", NULL, false },
		{ "[unit 15_main/3]\npg_port = 5432\napi_port = 8008\nmember = 15_main-3\n", "15_main-3", NULL, false },
		{ "[unit 15_main/0]\npg_port = 5432\napi_port = 8008\nmember = a/b\n", NULL, "bad member name", false },
		{ "[unit 15_main/0]\npg_port = 5432\napi_port = 8008\nmember =\n", NULL, "bad member name", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], out[2048];
		cluster_conf conf, back;
		pgr_err err;
		int rc;

		pgr_err_clear(&err);
		snprintf(text, sizeof(text), "%s%s", HEAD, cases[i].unit);
		rc = conf_parse(text, "pgrefresh.conf", &conf, &err);
		if (cases[i].member == NULL) {
			assert_int_not_equal(rc, 0);
			if (strstr(err.msg, cases[i].error) == NULL)
				fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].error);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu: %s", i, err.msg);
		assert_string_equal(conf.units[0].member, cases[i].member);
		assert_int_equal(conf_format(&conf, out, sizeof(out), &err), 0);
		assert_int_equal(strstr(out, "member = ") != NULL, cases[i].written);
		assert_int_equal(conf_parse(out, "formatted", &back, &err), 0);
		assert_string_equal(back.units[0].member, cases[i].member);
		assert_false(back.local);
	}
}

/* a refresh's plan names each unit's Patroni member: an adopted one's own, else <cluster>-N */
static void test_plan_members(void **state)
{
	static const plan_input_unit units[] = {
		{ "15_main/0", "node0", 0, "primary", "15.18", false },
		{ "15_main/1", "node1", 1, "sync-standby", "15.18", false },
		{ "15_main/2", "", 2, "replica", "15.18", false },
	};
	static const struct {
		const char *unit, *member;
	} want[] = { { "15_main/2", "15_main-2" }, { "15_main/1", "node1" }, { "15_main/0", "node0" } };
	refresh_record rec;

	(void)state;
	record_new(1, "15.18", "15.20", units, 3, 0, &rec);
	assert_int_equal(rec.unit_count, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(rec.units[i].unit, want[i].unit);
		assert_string_equal(rec.units[i].member, want[i].member);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_member_key), cmocka_unit_test(test_plan_members) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
