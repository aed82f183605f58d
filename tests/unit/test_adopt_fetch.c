/*
 * test_adopt_fetch.c — `versions fetch`: what apt-cache madison offers, the package version picked for a
 * PostgreSQL version, and the list a refusal names (catalog/fetch.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "catalog/fetch.h"

#define MADISON                                                                                              \
	"postgresql-15 | 15.20-0+deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n" \
	"postgresql-15 | 15.18-0+deb12u1 | http://deb.debian.org/debian bookworm/main amd64 Packages\n"                  \
	"postgresql-15 | 15.18-0+deb12u1 | http://mirror.example/debian bookworm/main amd64 Packages\n"                  \
	"postgresql-15 | 15.9-1.pgdg120+1 | http://apt.postgresql.org/pub/repos/apt bookworm-pgdg/main amd64 Packages\n"   \
	"postgresql-15 | 1:15.21-2 | http://example/epoch Packages\n"                                                      \
	"postgresql-16 | 16.4-1 | http://other Packages\n"                                                                 \
	"garbage line\n"

static void test_madison(void **state)
{
	static const struct {
		const char *version, *debian; /* NULL: not offered */
	} cases[] = {
		{ "15.20", "15.20-0+deb12u1" }, { "15.18", "15.18-0+deb12u1" }, { "15.9", "15.9-1.pgdg120+1" },
		{ "15.21", "1:15.21-2" },       { "16.4", NULL },               { "15.99", NULL },
	};
	fetch_candidates c;
	char list[256];

	(void)state;
	fetch_madison_parse(MADISON, "postgresql-15", &c);
	assert_int_equal(c.count, 4); /* 15.18 listed twice, kept once; postgresql-16 not ours */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = fetch_pick(&c, cases[i].version);

		if (cases[i].debian == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].debian);
	}
	fetch_list(&c, list, sizeof(list));
	assert_string_equal(list, "15.9, 15.18, 15.20, 15.21");
	fetch_madison_parse("", "postgresql-15", &c);
	assert_int_equal(c.count, 0);
	fetch_list(&c, list, sizeof(list));
	assert_string_equal(list, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_madison) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
