/*
 * test_cluster_conf_fuzz.c — what fuzzing pgrefresh.conf (tests/fuzz/fuzz_conf.c) found, as cases:
 * each input that broke a property (tests/fixtures/fuzz/conf/) fed to conf_parse, with the answer it
 * must get now, and the boundaries of the fix.
 *   - A value longer than its field was cut silently (superuser, host, etcd, catalog): the file parsed,
 *     and what conf_format wrote back read differently. Now refused, naming the key.
 *   - A [unit] before the cluster's name, or a name changed after the units: units named "/0" or "pg/0"
 *     in a cluster "g", which conf_format then wrote as a file that does not parse. Now refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/conf.h"
#include "fixture.h"

#define FIXTURES "tests/fixtures/fuzz/conf/"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define HEAD "[cluster]\nname = pg\netcd = http://127.0.0.1:2379\ncatalog = /c\n"

static char *fixture(const char *name)
{
	return fixture_load(FIXTURES, name);
}

static const struct {
	const char *file;
	const char *err_has;
} crash_cases[] = {
	{ "superuser_too_long.conf", "f.conf:5: superuser is longer than 63 bytes" },
	{ "unit_before_name.conf", "f.conf:4: [unit /0] before the cluster's name" },
	{ "name_changed_after_units.conf", "f.conf:9: the cluster name changes after its units are named pg/N" },
	{ "catalog_carriage_return.conf", "f.conf:7: catalog holds a line break" },
	{ "name_carriage_return.conf", "bad cluster name" },
};

static void test_fuzz_crashes(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(crash_cases); i++) {
		char *text = fixture(crash_cases[i].file);
		cluster_conf c;
		pgr_err err = { 0 };
		int rc = conf_parse(text, "f.conf", &c, &err);

		free(text);
		if (rc == 0 || strstr(err.msg, crash_cases[i].err_has) == NULL)
			fail_msg("%s: rc %d \"%s\", expected \"%s\"", crash_cases[i].file, rc, err.msg, crash_cases[i].err_has);
	}
}

/* Each string field at its limit parses and round-trips; one byte more is refused with the key's name. */
static void test_value_lengths(void **state)
{
	static const struct {
		const char *key;
		size_t max;
		bool unit;
	} fields[] = {
		{ "superuser", 63, false }, { "etcd", 255, false }, { "catalog", PATH_MAX - 1, false }, { "host", 63, true },
	};
	static char text[3 * PATH_MAX], out[3 * PATH_MAX], value[PATH_MAX + 1];
	static cluster_conf a, b;

	(void)state;
	for (size_t i = 0; i < COUNT(fields); i++) {
		for (size_t len = fields[i].max; len <= fields[i].max + 1; len++) {
			pgr_err err = { 0 };
			int rc;

			memset(value, 'v', len);
			value[len] = '\0';
			snprintf(text, sizeof(text), HEAD "%s%s = %s\n%s", fields[i].unit ? "[unit pg/0]\n" : "", fields[i].key,
				 value, fields[i].unit ? "pg_port = 1\napi_port = 2\n" : "");
			rc = conf_parse(text, "f.conf", &a, &err);
			if (len == fields[i].max) {
				if (rc != 0)
					fail_msg("%s of %zu bytes refused: %s", fields[i].key, len, err.msg);
				assert_int_equal(conf_format(&a, out, sizeof(out), &err), 0);
				assert_int_equal(conf_parse(out, "formatted", &b, &err), 0);
				assert_string_equal(fields[i].unit ? b.units[0].host
							 : i == 0 ? b.superuser
							 : i == 1 ? b.etcd
								  : b.catalog,
						    value);
			} else if (rc == 0 || strstr(err.msg, fields[i].key) == NULL || strstr(err.msg, "longer than") == NULL) {
				fail_msg("%s of %zu bytes: rc %d \"%s\"", fields[i].key, len, rc, err.msg);
			}
		}
	}
}

/* The order that conf_format writes, and a name repeated unchanged, still parse. */
static void test_name_order(void **state)
{
	cluster_conf c;
	pgr_err err = { 0 };

	(void)state;
	assert_int_equal(conf_parse(HEAD "[unit pg/0]\npg_port = 1\napi_port = 2\n[cluster]\nname = pg\n", "f.conf", &c, &err),
			 0);
	assert_string_equal(c.units[0].name, "pg/0");
	assert_int_equal(conf_parse("[cluster]\nname = a\nname = pg\netcd = e\ncatalog = /c\n[unit pg/1]\npg_port = 1\n"
				    "api_port = 2\n",
				    "f.conf", &c, &err),
			 0);
	assert_string_equal(c.units[0].member, "pg-1");
	assert_int_equal(conf_parse("[cluster]\netcd = e\ncatalog = /c\n[unit pg/1]\n", "f.conf", &c, &err), -1);
	assert_non_null(strstr(err.msg, "f.conf:4: [unit pg/1] before the cluster's name"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuzz_crashes),
		cmocka_unit_test(test_value_lengths),
		cmocka_unit_test(test_name_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
