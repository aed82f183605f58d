/*
 * test_state_switchover_mark.c — the mark of a switchover in progress (state/switchover_mark.h), as stored
 * in etcd: it round-trips, and a value that is not a mark (garbage, an older form) reads as a mark without
 * an owner, which the coordinator treats as an owner that is gone. Its compare-and-swap against a live
 * etcd: tests/integration/test_state_live.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "state/switchover_mark.h"

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

/* a mark that waits for clients: every field survives etcd, names past the room are counted */
static void test_mark_waiting_round_trip(void **state)
{
	switchover_mark in, out;
	char value[4096];

	(void)state;
	memset(&in, 0, sizeof(in)); /* padding too: compared whole below */
	in.lease = 77;
	in.attempt = 1764430000123;
	in.cascaded = true;
	in.waiting_since_ms = 1764430001000;
	in.wait_s = 60;
	in.terminate = true;
	in.pause_timeouts = 2;
	in.pause_not_before_ms = 1764430009000;
	in.holder_count = 6;
	in.holders_seen_ms = 1764430005000;
	in.patroni_way = true;
	snprintf(in.from, sizeof(in.from), "pg-0");
	snprintf(in.to, sizeof(in.to), "pg-1");
	for (int i = 0; i < SWITCHOVER_MAX_HOLDERS; i++) {
		in.holders[i].pid = 1000 + i;
		snprintf(in.holders[i].application, sizeof(in.holders[i].application), "app \"%d\"", i);
		snprintf(in.holders[i].client, sizeof(in.holders[i].client), "127.0.0.1:%d", 50000 + i);
		snprintf(in.holders[i].state, sizeof(in.holders[i].state), "idle in transaction");
		in.holders[i].xact_start_us = 1764430000000000LL + i;
		in.holders[i].age_ms = 5000 - i;
	}
	switchover_mark_format(&in, value, sizeof(value));
	switchover_mark_parse(value, &out);
	assert_memory_equal(&in, &out, sizeof(in));

	/* a plain mark (no attempt, nothing waited for) stays in its old, short form */
	{
		switchover_mark plain = { .lease = 5, .pgbouncer_paused = true };

		snprintf(plain.from, sizeof(plain.from), "pg-2");
		snprintf(plain.to, sizeof(plain.to), "pg-0");
		switchover_mark_format(&plain, value, sizeof(value));
		assert_string_equal(value, "{\"lease\":5,\"pgbouncer_paused\":true,\"from\":\"pg-2\",\"to\":\"pg-0\"}");
	}
	/* a count below the names given, or holders that are not objects with a pid, read sanely */
	switchover_mark_parse("{\"lease\":3,\"waiting_for_count\":0,\"waiting_for\":[{\"pid\":9},{\"pid\":\"x\"},{\"pid\":10}]}",
			      &out);
	assert_int_equal(out.holder_count, 1);
	assert_int_equal(out.holders[0].pid, 9);
	switchover_mark_parse("{\"lease\":3,\"waiting_for\":7,\"wait_s\":-4,\"waiting_since_ms\":\"1\"}", &out);
	assert_int_equal(out.holder_count, 0);
	assert_int_equal(out.wait_s, 0);
	assert_true(out.waiting_since_ms == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mark_round_trip),
		cmocka_unit_test(test_mark_without_owner),
		cmocka_unit_test(test_mark_waiting_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
