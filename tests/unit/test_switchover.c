/*
 * test_switchover.c — what a switchover's mark tells a person (cluster/switchover.h): the clients it
 * waits for, why it halted, the note in status. The mark's JSON: test_state_switchover_mark.c.
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

/* one standby's cascade: applied, its agent down (no need to wait), timed out, or wait on */
static void test_cascade_judge(void **state)
{
	static const struct {
		bool answered, presence_read, alive;
		long long now_ms, deadline_ms;
		cascade_wait want;
	} cases[] = {
		{ true, false, false, 1000, 20000, CASCADE_APPLIED },    /* its record carries the token */
		{ true, true, false, 30000, 20000, CASCADE_APPLIED },    /* applied, then its agent died: applied */
		{ false, true, false, 1000, 20000, CASCADE_AGENT_DOWN }, /* presence key gone: at once, not at 20 s */
		{ false, true, false, 30000, 20000, CASCADE_AGENT_DOWN },
		{ false, true, true, 1000, 20000, CASCADE_WAIT },        /* alive, not yet applied */
		{ false, false, false, 1000, 20000, CASCADE_WAIT },      /* presence unreadable (etcd): tells nothing */
		{ false, true, true, 20000, 20000, CASCADE_TIMED_OUT },  /* alive but silent until the deadline */
		{ false, false, false, 20001, 20000, CASCADE_TIMED_OUT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cascade_wait got = switchover_cascade_judge(cases[i].answered, cases[i].presence_read, cases[i].alive,
							   cases[i].now_ms, cases[i].deadline_ms);

		if (got != cases[i].want)
			print_error("case %zu: got %d, want %d\n", i, (int)got, (int)cases[i].want);
		assert_int_equal(got, cases[i].want);
	}
}

/* switchover=fast applies from 3 units (a standby for the candidate's own sync standby); asked or not */
static void test_fast_applies(void **state)
{
	static const struct {
		bool asked;
		int units;
		bool expect;
	} cases[] = { { true, 3, true }, { true, 9, true }, { true, 2, false }, { true, 1, false },
		      { false, 3, false }, { false, 2, false } };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (switchover_fast_applies(cases[i].asked, cases[i].units) != cases[i].expect)
			fail_msg("asked %d, %d units: expected %d", cases[i].asked, cases[i].units, cases[i].expect);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_waiting_text),
		cmocka_unit_test(test_halt_text),
		cmocka_unit_test(test_status_note),
		cmocka_unit_test(test_cascade_judge),
		cmocka_unit_test(test_fast_applies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
