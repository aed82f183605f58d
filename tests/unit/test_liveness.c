/*
 * test_liveness.c — the pure decisions behind "every wait is bounded, every cause kept":
 *   - agent_keeper_decide: the keeper renews the lease only while the agent's main loop proves
 *     progress within the bound of its current step, and republishes the last report during a long step;
 *   - log_throttle: "etcd unreachable" once, then at most one line an interval with a count, and one
 *     line when etcd answers again, with how long it was down; etcd_err_unreachable tells an etcd that
 *     does not answer (throttled) from one that refuses a request (logged as it comes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include "agent/agent.h"
#include "etcd/etcd.h"
#include "util/http.h"
#include "util/log.h"

static void test_keeper_decide(void **state)
{
	static const struct {
		long long now, progress, bound;
		bool has_report;
		long long last_report;
		agent_keeper_action want;
	} cases[] = {
		/* now      progress  bound    report  last_report  decision */
		{ 10000, 9500, 30000, true, 9500, AGENT_KEEPER_RENEW },             /* a loop that just ticked */
		{ 10000, 9500, 30000, false, 0, AGENT_KEEPER_RENEW },               /* no report yet: nothing to republish */
		{ 10000, 9000, 30000, true, 8001, AGENT_KEEPER_RENEW },             /* report 1.999 s old: still fresh */
		{ 10000, 9000, 30000, true, 7999, AGENT_KEEPER_RENEW_REPUBLISH },   /* older than two ticks, loop in a long step */
		{ 40000, 10000, 30000, true, 10000, AGENT_KEEPER_RENEW_REPUBLISH }, /* exactly at the bound: still within */
		{ 40001, 10000, 30000, true, 10000, AGENT_KEEPER_WITHHOLD },        /* 1 ms past the bound: withhold */
		{ 40001, 10000, 30000, false, 0, AGENT_KEEPER_WITHHOLD },           /* stuck before its first report */
		{ 100000, 10000, 120000, true, 10000, AGENT_KEEPER_RENEW_REPUBLISH }, /* the coordinator's longer bound */
		{ 130001, 10000, 120000, true, 10000, AGENT_KEEPER_WITHHOLD },      /* past even that */
		{ 10000, 10000, 0, true, 10000, AGENT_KEEPER_RENEW },               /* stamped just now, bound 0 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		agent_keeper_action got = agent_keeper_decide(cases[i].now, cases[i].progress, cases[i].bound,
							      cases[i].has_report, cases[i].last_report, 1000);

		if (got != cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, (int)got, (int)cases[i].want);
	}
}

/* One event of an outage script: at ms, a failure (f) or a success (s), and what the throttle says. */
struct event {
	long long at;
	char kind;
	enum log_throttle_verdict want;
	long want_count;
	long long want_down_ms;
};

/* The main loop's period: one case a line (record exists, refresh moves, unit step, coordinator -> ms). */
static void test_tick_period(void **state)
{
	static const struct {
		bool active, moving, step, coordinator;
		long expect;
	} cases[] = {
		{ false, false, false, false, 1000 }, /* no refresh: the slow tick */
		{ false, false, false, true, 1000 },  /* the coordinator of nothing */
		{ true, false, false, false, 200 },   /* a refresh paused, failed or done */
		{ true, false, true, true, 200 },     /* paused for the user, a step left over: not the fast tick */
		{ true, true, false, false, 200 },    /* the refresh moves, this unit takes no part yet */
		{ true, true, true, false, 100 },     /* this unit's step is under way */
		{ true, true, false, true, 100 },     /* the coordinator of a moving refresh */
		{ true, true, true, true, 100 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (agent_tick_ms(cases[i].active, cases[i].moving, cases[i].step, cases[i].coordinator) != cases[i].expect)
			fail_msg("case %zu: %ld ms, expected %ld", i,
				 agent_tick_ms(cases[i].active, cases[i].moving, cases[i].step, cases[i].coordinator),
				 cases[i].expect);
}

static void run_script(const struct event *ev, size_t n, long long interval_ms)
{
	log_throttle t = { .interval_ms = interval_ms };

	for (size_t i = 0; i < n; i++) {
		long count = -1;
		long long down = -1;
		enum log_throttle_verdict got = ev[i].kind == 'f' ? log_throttle_failure(&t, ev[i].at, &count, &down)
								    : log_throttle_success(&t, ev[i].at, &count, &down);

		if (got != ev[i].want)
			fail_msg("event %zu (%c at %lld): verdict %d, want %d", i, ev[i].kind, ev[i].at, (int)got,
				 (int)ev[i].want);
		if (got != LOG_THROTTLE_QUIET && (count != ev[i].want_count || down != ev[i].want_down_ms))
			fail_msg("event %zu: count %ld down %lld ms, want %ld and %lld", i, count, down, ev[i].want_count,
				 ev[i].want_down_ms);
	}
}

static void test_throttle_outage(void **state)
{
	/* etcd down from 1000 to 75000 ms, failures every second or so; one line per 30 s */
	static const struct event script[] = {
		{ 500, 's', LOG_THROTTLE_QUIET, 0, 0 },         /* all well: nothing to say */
		{ 1000, 'f', LOG_THROTTLE_FIRST, 1, 0 },        /* the first failure is logged at once */
		{ 2000, 'f', LOG_THROTTLE_QUIET, 0, 0 },
		{ 3000, 'f', LOG_THROTTLE_QUIET, 0, 0 },
		{ 30999, 'f', LOG_THROTTLE_QUIET, 0, 0 },       /* 29.999 s after the last line */
		{ 31000, 'f', LOG_THROTTLE_REPEAT, 4, 30000 },  /* 30 s: the 4 failures since the first line */
		{ 32000, 'f', LOG_THROTTLE_QUIET, 0, 0 },
		{ 61000, 'f', LOG_THROTTLE_REPEAT, 2, 60000 },
		{ 75000, 's', LOG_THROTTLE_RECOVERED, 7, 74000 }, /* back: 7 failures in all, down 74 s */
		{ 76000, 's', LOG_THROTTLE_QUIET, 0, 0 },       /* said once */
		{ 80000, 'f', LOG_THROTTLE_FIRST, 1, 0 },       /* a new outage starts a new count */
		{ 80100, 's', LOG_THROTTLE_RECOVERED, 1, 100 },
	};

	(void)state;
	run_script(script, sizeof(script) / sizeof(script[0]), 30000);
}

static void test_throttle_interval_zero(void **state)
{
	/* interval 0: every failure is a line (the throttle off), the count 1 each time */
	static const struct event script[] = {
		{ 0, 'f', LOG_THROTTLE_FIRST, 1, 0 },
		{ 10, 'f', LOG_THROTTLE_REPEAT, 1, 10 },
		{ 20, 'f', LOG_THROTTLE_REPEAT, 1, 20 },
		{ 25, 's', LOG_THROTTLE_RECOVERED, 3, 25 },
	};

	(void)state;
	run_script(script, sizeof(script) / sizeof(script[0]), 0);
}

static void test_etcd_unreachable(void **state)
{
	etcd_client client;
	etcd_kv kv;
	bool found = true;
	pgr_err err = { 0 };
	pgr_err refused = { 0 };

	(void)state;
	assert_int_equal(http_global_init(&err), 0);
	/* port 1 on loopback: nobody listens, the connection is refused at once */
	assert_int_equal(etcd_client_init(&client, "http://127.0.0.1:1", &err), 0);
	client.timeout_ms = 1000;
	assert_int_equal(etcd_get(&client, "/pgrefresh/x", &kv, &found, &err), -1);
	print_message("%s\n", err.msg);
	assert_true(etcd_err_unreachable(&err));
	pgr_err_set(&refused, "etcd put /pgrefresh/x: HTTP 400 from http://127.0.0.1:2379: key is not provided (code 3)");
	assert_false(etcd_err_unreachable(&refused));
	pgr_err_set(&refused, "%s", "");
	assert_false(etcd_err_unreachable(&refused));
	assert_false(etcd_err_unreachable(NULL));
	http_global_cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keeper_decide),
		cmocka_unit_test(test_tick_period),
		cmocka_unit_test(test_throttle_outage),
		cmocka_unit_test(test_throttle_interval_zero),
		cmocka_unit_test(test_etcd_unreachable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
