/*
 * test_switchover.c — the mark of a switchover in progress (cluster/switchover.h), as stored in etcd:
 * it round-trips, and a value that is not a mark (garbage, an older form) reads as a mark without an
 * owner, which the coordinator treats as an owner that is gone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cluster/switchover.h"

static void test_mark_round_trip(void **state)
{
	static const int64_t leases[] = { 1, 42, 7668682473292569807LL, INT64_MAX };
	char value[512];

	(void)state;
	for (size_t i = 0; i < sizeof(leases) / sizeof(leases[0]); i++) {
		switchover_mark in = { .lease = leases[i], .pgbouncer_paused = i % 2 == 0 }, out;

		snprintf(in.from, sizeof(in.from), "pg-%zu", i);
		snprintf(in.to, sizeof(in.to), "pg-\"%zu\"", i + 1);
		switchover_mark_format(&in, value, sizeof(value));
		switchover_mark_parse(value, &out);
		assert_true(out.lease == in.lease);
		assert_int_equal(out.pgbouncer_paused, in.pgbouncer_paused);
		assert_string_equal(out.from, in.from);
		assert_string_equal(out.to, in.to);
	}
}

static void test_mark_without_owner(void **state)
{
	static const char *values[] = { "true", "", "{}", "{\"lease\": }", "{\"lease\": -5}", "{\"lease\": 0}",
					"{\"lease\": \"12\"}", "[1]", "{\"lease\": 1.5}" };

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		switchover_mark m;

		memset(&m, 0x5a, sizeof(m));
		switchover_mark_parse(values[i], &m);
		if (m.lease != 0)
			fail_msg("\"%s\" read as lease %lld", values[i], (long long)m.lease);
		assert_false(m.pgbouncer_paused);
		assert_string_equal(m.from, "");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mark_round_trip),
		cmocka_unit_test(test_mark_without_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
