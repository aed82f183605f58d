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

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cluster/switchover.h"
#include "status/status.h"

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

static switchover_mark waiting_mark(int count, bool terminate)
{
	switchover_mark m = { .lease = 1, .waiting_since_ms = 100000, .wait_s = 60, .terminate = terminate,
			      .holder_count = count, .holders_seen_ms = 110000 };

	for (int i = 0; i < count && i < SWITCHOVER_MAX_HOLDERS; i++) {
		m.holders[i].pid = 4242 + i;
		snprintf(m.holders[i].application, sizeof(m.holders[i].application), "%s", i == 0 ? "longtx" : "");
		snprintf(m.holders[i].client, sizeof(m.holders[i].client), "127.0.0.1:%d", 50000 + i);
		m.holders[i].age_ms = 12000;
	}
	return m;
}

static void test_waiting_text(void **state)
{
	static const struct {
		int count;
		bool terminate;
		long long now_ms;
		const char *text;
	} cases[] = {
		{ 0, false, 120000, "" },
		{ 1, false, 110000,
		  "Switchover waits, PgBouncer not paused, for 1 open transaction: pid 4242 ('longtx', 127.0.0.1:50000, "
		  "open 12 s). Halts in 50 s (switchover-wait-seconds=60)" },
		/* the age goes on from when it was read; the time left counts down */
		{ 1, false, 125000,
		  "Switchover waits, PgBouncer not paused, for 1 open transaction: pid 4242 ('longtx', 127.0.0.1:50000, "
		  "open 27 s). Halts in 35 s (switchover-wait-seconds=60)" },
		{ 3, true, 170000,
		  "Switchover waits, PgBouncer not paused, for 3 open transactions: pid 4242 ('longtx', 127.0.0.1:50000, "
		  "open 72 s) and 2 more. Ends them in 0 s (switchover-wait-seconds=60)" },
		{ 9, false, 100000,
		  "Switchover waits, PgBouncer not paused, for 9 open transactions: pid 4242 ('longtx', 127.0.0.1:50000, "
		  "open 12 s) and 8 more. Halts in 60 s (switchover-wait-seconds=60)" },
	};
	char buf[240];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		switchover_mark m = waiting_mark(cases[i].count, cases[i].terminate);

		switchover_mark_waiting_text(&m, cases[i].now_ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
	{
		/* not waiting: nothing to say */
		switchover_mark m = waiting_mark(1, false);

		m.waiting_since_ms = 0;
		switchover_mark_waiting_text(&m, 120000, buf, sizeof(buf));
		assert_string_equal(buf, "");
	}
}

static void test_halt_text(void **state)
{
	static const struct {
		int count;
		const char *text;
	} cases[] = {
		{ 1, "a transaction outlasted the 60 s wait: pid 4242 ('longtx', 127.0.0.1:50000, open 12 s); end it "
		     "or set switchover-terminate-clients=true" },
		{ 2, "2 transactions outlasted the 60 s wait: pid 4242 ('longtx', 127.0.0.1:50000, open 12 s), pid 4243 "
		     "(no application_name, 127.0.0.1:50001, open 12 s); end them or set switchover-terminate-clients=true" },
		{ 5, "5 transactions outlasted the 60 s wait: pid 4242 ('longtx', 127.0.0.1:50000, open 12 s), pid 4243 "
		     "(no application_name, 127.0.0.1:50001, open 12 s) and 3 more; end them or set "
		     "switchover-terminate-clients=true" },
	};
	char buf[240];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		switchover_mark m = waiting_mark(cases[i].count, false);

		switchover_halt_text(&m, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
	{
		/* "switchover failed: " + the text + status's ". Roll back: ...; or go on: ..." fit one status line
		 * for one client with a 16-character application name */
		switchover_mark m = waiting_mark(1, false);

		snprintf(m.holders[0].application, sizeof(m.holders[0].application), "billing-batch-01");
		snprintf(m.holders[0].client, sizeof(m.holders[0].client), "10.10.10.10:54321");
		m.holders[0].age_ms = 3600000;
		switchover_halt_text(&m, buf, sizeof(buf));
		assert_true(strlen("switchover failed: ") + strlen(buf) +
				    strlen(". Roll back: `pgrefresh rollback`; or go on: `pgrefresh resume-refresh`") <
			    240);
	}
}

/* status shows the wait: the refresh's message in switchover, the cluster's with no refresh, else nothing */
static void test_status_note(void **state)
{
	static const struct {
		int has_refresh;
		refresh_state rs;
		int holders;
		int refresh_message_changed, cluster_message_changed;
	} cases[] = {
		{ 1, RS_SWITCHOVER, 1, 1, 0 },
		{ 1, RS_SWITCHOVER, 0, 0, 0 }, /* a mark that waits for nobody (paused, say) */
		{ 1, RS_UNIT, 1, 0, 0 },       /* left over from an attempt the refresh moved on from */
		{ 1, RS_FAILED, 1, 0, 0 },
		{ 0, RS_CHECKING, 1, 0, 1 },   /* `pgrefresh switchover` waiting */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		switchover_mark m = waiting_mark(cases[i].holders, false);
		refresh_record rec;
		status_view view;

		memset(&rec, 0, sizeof(rec));
		rec.state = cases[i].rs;
		memset(&view, 0, sizeof(view));
		snprintf(view.refresh.message, sizeof(view.refresh.message), "before");
		snprintf(view.message, sizeof(view.message), "before");
		status_note_switchover_wait(&view, cases[i].has_refresh ? &rec : NULL, &m, 110000);
		if ((strcmp(view.refresh.message, "before") != 0) != cases[i].refresh_message_changed ||
		    (strcmp(view.message, "before") != 0) != cases[i].cluster_message_changed)
			fail_msg("case %zu: refresh message \"%s\", cluster message \"%s\"", i, view.refresh.message,
				 view.message);
		if (cases[i].refresh_message_changed)
			assert_non_null(strstr(view.refresh.message, "pid 4242 ('longtx', 127.0.0.1:50000, open 12 s)"));
		if (cases[i].cluster_message_changed)
			assert_non_null(strstr(view.message, "Halts in 50 s"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mark_round_trip),
		cmocka_unit_test(test_mark_without_owner),
		cmocka_unit_test(test_mark_waiting_round_trip),
		cmocka_unit_test(test_waiting_text),
		cmocka_unit_test(test_halt_text),
		cmocka_unit_test(test_status_note),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
