/*
 * test_svg.c — the refresh drawn as a timeline (status/svg.h) from records: a completed refresh with
 * its steps, the switchover and the write stall; an older record without step times; a failed one;
 * one still in progress with a unit not refreshed; names that need escaping. Each case checks what is
 * drawn (bars by their step, on which row, in which order) and what is written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "status/svg.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1700000000000LL

enum kind { K_DONE, K_OLD, K_FAILED, K_RUNNING, K_ESCAPE, K_ROLLBACK };

/* A refresh that ended (or is) before the primary's turn: no switchover, the primary not refreshed. */
static void stop_before_primary(refresh_record *r)
{
	r->units[2].step = STEP_PENDING;
	r->units[2].started_ms = r->units[2].done_ms = 0;
	r->units[2].times = (record_unit_times){ 0 };
	r->switchover_started_ms = r->switchover_ended_ms = r->stall_started_ms = r->stall_ms = 0;
	r->ended_ms = 0;
}

static void make(enum kind k, refresh_record *r)
{
	static const char *const names[] = { "pg/2", "pg/1", "pg/0" };
	static const char *const roles[] = { "replica", "sync-standby", "primary" };

	memset(r, 0, sizeof(*r));
	r->id = 12;
	r->state = RS_DONE;
	snprintf(r->from, sizeof(r->from), "15.18");
	snprintf(r->to, sizeof(r->to), "15.20");
	r->started_ms = T0;
	r->checks_ended_ms = T0 + 400;
	r->unit_count = 3;
	r->current = -1;
	for (int i = 0; i < 3; i++) {
		record_unit *u = &r->units[i];
		int64_t s = T0 + 500 + i * 6000;

		snprintf(u->unit, sizeof(u->unit), "%s", names[i]);
		snprintf(u->planned_role, sizeof(u->planned_role), "%s", roles[i]);
		u->step = STEP_DONE;
		u->started_ms = s;
		u->done_ms = s + 5000;
		if (k == K_OLD)
			continue;
		u->times.relinked_ms = s + 10;
		u->times.restart_ms = s + 200;
		u->times.gate_ms = s + 3500;
	}
	if (k != K_OLD) {
		r->units[1].times.aside_ms = r->units[1].started_ms + 50;
		r->units[0].times.paused_ms = r->units[0].done_ms;
		r->units[0].times.resumed_ms = r->units[0].done_ms + 300;
		r->units[2].times.restart_ms = 0; /* the old primary: its restart is the switchover's demotion */
		r->units[2].times.gate_ms = 0;
		r->units[2].times.relinked_ms = r->units[1].done_ms - 100;
		r->switchover_started_ms = r->units[1].done_ms;
		r->switchover_ended_ms = r->units[2].started_ms;
		r->stall_started_ms = r->switchover_started_ms + 100;
		r->stall_ms = 2070;
	}
	r->ended_ms = r->units[2].done_ms + 10;
	switch (k) {
	case K_FAILED:
		r->state = RS_FAILED;
		r->units[1].step = STEP_FAILED;
		r->units[1].done_ms = 0;
		stop_before_primary(r);
		r->state_since_ms = T0 + 30000;
		snprintf(r->failed_unit, sizeof(r->failed_unit), "pg/1");
		snprintf(r->reason, sizeof(r->reason), "pg/1 failed its health gate: not streaming");
		break;
	case K_RUNNING:
		r->state = RS_UNIT;
		r->current = 1;
		r->units[1].step = STEP_REFRESHING;
		r->units[1].done_ms = 0;
		r->units[1].times.gate_ms = 0;
		stop_before_primary(r);
		r->state_since_ms = T0 + 9000;
		break;
	case K_ESCAPE:
		snprintf(r->units[0].unit, sizeof(r->units[0].unit), "a<b&c>\"d'");
		break;
	case K_ROLLBACK:
		r->rollback = true;
		snprintf(r->cause, sizeof(r->cause), "pg/1 failed its health gate");
		break;
	default:
		break;
	}
}

static int occurrences(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The y and x of the bars whose tooltip starts with what, in document order. */
static int bars(const char *svg, const char *what, double *xs, int *ys, int max)
{
	char key[64];
	int n = 0;

	snprintf(key, sizeof(key), "><title>%s", what);
	for (const char *p = strstr(svg, key); p && n < max; p = strstr(p + 1, key)) {
		const char *rect = p;

		while (rect > svg && strncmp(rect, "<rect ", 6) != 0)
			rect--;
		assert_int_equal(sscanf(rect, "<rect x=\"%lf\" y=\"%d\"", &xs[n], &ys[n]), 2);
		n++;
	}
	return n;
}

static void test_render(void **state)
{
	static const struct {
		enum kind kind;
		int gates, restarts, asides, relinks, untimed, pauses;
		const char *has[4];
		const char *lacks[2];
	} cases[] = {
		{ K_DONE, 3, 2, 1, 3, 0, 1,
		  { "completed: every unit on 15.20 (3/3)", "clients&apos; write stall 2.07 s", "Refresh 12: 15.18 \xe2\x86\x92 15.20",
		    "fill-opacity=\"0.25\"" },
		  { "not refreshed", "stroke-width=\"3\"" } },
		{ K_OLD, 0, 0, 0, 0, 3, 0, { "completed: every unit on 15.20", ">none</text>" }, { "write stall 2" } },
		{ K_FAILED, 2, 2, 1, 2, 0, 1, /* the failed unit was in its gate */
		  { "failed at 1/3: pg/1 failed its health gate: not streaming", "stroke-width=\"3\"", "not refreshed" },
		  { "write stall 2" } },
		{ K_RUNNING, 1, 2, 1, 2, 0, 1, { "in progress (unit), 1/3 done", "not refreshed" }, { ">end</text>" } },
		{ K_ESCAPE, 3, 2, 1, 3, 0, 1, { ">a&lt;b&amp;c&gt;&quot;d&apos;</text>" }, { "a<b" } },
		{ K_ROLLBACK, 3, 2, 1, 3, 0, 1,
		  { "Refresh 12 (rollback)", "rolled back: every unit on 15.20 (3/3); cause: pg/1 failed its health gate" },
		  { NULL } },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		refresh_record r;
		char *svg = NULL;
		pgr_err err;
		double gx[8], rx[8];
		int gy[8], ry[8], n;

		make(cases[i].kind, &r);
		assert_int_equal(svg_render_refresh(&r, &svg, &err), 0);
		assert_int_equal(occurrences(svg, "<svg "), 1);
		assert_non_null(strstr(svg, "</svg>\n"));
		assert_int_equal(occurrences(svg, "<text"), occurrences(svg, "</text>"));
		n = bars(svg, "gate", gx, gy, 8);
		if (n != cases[i].gates)
			fail_msg("case %zu: %d gate bars, want %d", i, n, cases[i].gates);
		assert_int_equal(bars(svg, "restart", rx, ry, 8), cases[i].restarts);
		assert_int_equal(occurrences(svg, "><title>stand-aside"), cases[i].asides);
		assert_int_equal(occurrences(svg, "><title>relink"), cases[i].relinks);
		assert_int_equal(occurrences(svg, "><title>refresh "), cases[i].untimed);
		assert_int_equal(occurrences(svg, "><title>pause"), cases[i].pauses);
		/* a row per unit, in plan order; a unit's gate after its restart */
		for (int k = 1; k < n; k++)
			assert_true(gy[k] > gy[k - 1]);
		for (int k = 0; k < n && k < cases[i].restarts; k++) {
			assert_int_equal(gy[k], ry[k]);
			assert_true(gx[k] > rx[k]);
		}
		for (size_t k = 0; k < COUNT(cases[i].has) && cases[i].has[k]; k++)
			if (strstr(svg, cases[i].has[k]) == NULL)
				fail_msg("case %zu: no \"%s\" in\n%s", i, cases[i].has[k], svg);
		for (size_t k = 0; k < COUNT(cases[i].lacks) && cases[i].lacks[k]; k++)
			if (strstr(svg, cases[i].lacks[k]) != NULL)
				fail_msg("case %zu: \"%s\" in\n%s", i, cases[i].lacks[k], svg);
		free(svg);
	}
}

/* Odd records still draw: no start, nothing after it, times before the start. */
static void test_render_odd(void **state)
{
	refresh_record r;
	char *svg = NULL;
	pgr_err err;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.current = -1;
	assert_int_equal(svg_render_refresh(&r, &svg, &err), 0);
	assert_non_null(strstr(svg, "</svg>"));
	assert_null(strstr(svg, "nan"));
	free(svg);
	make(K_DONE, &r);
	r.units[0].times.restart_ms = T0 - 60000;
	r.units[0].started_ms = T0 - 90000;
	assert_int_equal(svg_render_refresh(&r, &svg, &err), 0);
	assert_null(strstr(svg, "x=\"-"));
	free(svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_odd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
