/*
 * test_refresh_fsm.c — the refresh state machine (refresh/fsm.h) and its record (state/record.h):
 * invariants of the transition table, every transition fsm_decide can take (one case a line), the
 * per-unit health gate, the rollback record, and the record's JSON encoding.
 *
 * The cluster in most cases: pg/0 primary, pg/1 sync standby, pg/2 replica, all on 15.18, refreshed to
 * 15.20; the plan is pg/2, pg/1, pg/0 (index 0, 1, 2 of the record's units).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refresh/fsm.h"
#include "state/intent.h"
#include "refresh/plan.h"
#include "state/record.h"
#include "state/settings.h"
#include "util/log.h"

#define OLD "15.18"
#define NEW "15.20"
#define T0 1000000 /* when the record was made and the current unit started */
#define NONE -1    /* no row expected */

static int n_rows(void)
{
	int n;

	(void)fsm_table(&n);
	return n;
}

/* ---- (a) the table ---- */

static void test_table_reachable(void **state)
{
	int n;
	const fsm_transition *t = fsm_table(&n);
	bool seen[RS_COUNT] = { false };
	bool grew = true;

	(void)state;
	seen[RS_CHECKING] = true;
	while (grew) {
		grew = false;
		for (int i = 0; i < n; i++)
			if (seen[t[i].from] && !seen[t[i].to])
				seen[t[i].to] = grew = true;
	}
	for (int s = 0; s < RS_COUNT; s++)
		if (!seen[s])
			fail_msg("state %s is not reachable from checking", refresh_state_name((refresh_state)s));
}

/* Can from reach to through the table (in one or more steps)? */
static bool reaches(refresh_state from, refresh_state to)
{
	int n;
	const fsm_transition *t = fsm_table(&n);
	bool seen[RS_COUNT] = { false };
	bool grew = true;

	seen[from] = true;
	while (grew) {
		grew = false;
		for (int i = 0; i < n; i++)
			if (seen[t[i].from] && !seen[t[i].to])
				seen[t[i].to] = grew = true;
	}
	for (int i = 0; i < n; i++)
		if (t[i].from == from && t[i].to == to)
			return true;
	for (int i = 0; i < n; i++)
		if (seen[t[i].from] && t[i].to == to)
			return true;
	return false;
}

static void test_table_failed_and_rollback(void **state)
{
	(void)state;
	for (int s = 0; s < RS_COUNT; s++) {
		if (s == RS_DONE)
			continue;
		if (s != RS_FAILED && !reaches((refresh_state)s, RS_FAILED))
			fail_msg("%s cannot reach failed", refresh_state_name((refresh_state)s));
		if (fsm_find((refresh_state)s, RS_CHECKING, "rollback") == NULL)
			fail_msg("%s has no rollback row", refresh_state_name((refresh_state)s));
	}
	/* done is final for its refresh: only a new refresh leaves it */
	for (int i = 0, n = n_rows(); i < n; i++)
		if (fsm_table(&n)[i].from == RS_DONE)
			assert_int_equal(fsm_table(&n)[i].event, EV_REFRESH_ASKED);
	assert_non_null(fsm_row(RS_DONE, EV_REFRESH_ASKED));
}

static void test_table_rows(void **state)
{
	int n;
	const fsm_transition *t = fsm_table(&n);

	(void)state;
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		assert_true(t[i].from >= 0 && t[i].from < RS_COUNT);
		assert_true(t[i].to >= 0 && t[i].to < RS_COUNT);
		assert_true(t[i].event > EV_NONE && t[i].event < EV_COUNT);
		assert_string_not_equal(refresh_event_name(t[i].event), "?");
		assert_non_null(t[i].meaning);
		assert_true(t[i].meaning[0] != '\0');
		/* (from, event) names one row: the lookup is by that pair */
		assert_ptr_equal(fsm_row(t[i].from, t[i].event), &t[i]);
		assert_ptr_equal(fsm_find(t[i].from, t[i].to, refresh_event_name(t[i].event)), &t[i]);
		/* a quiet row is a note: it never changes the state */
		if (t[i].quiet)
			assert_int_equal(t[i].from, t[i].to);
		for (int j = i + 1; j < n; j++)
			if (t[i].from == t[j].from && t[i].event == t[j].event)
				fail_msg("two rows for %s + %s", refresh_state_name(t[i].from), refresh_event_name(t[i].event));
	}
	assert_null(fsm_find(RS_DONE, RS_CHECKING, "rollback"));
	assert_null(fsm_find(RS_UNIT, RS_DONE, "no-such-event"));
	assert_null(fsm_row(RS_DONE, EV_ROLLBACK));
	assert_null(fsm_row(RS_UNIT, EV_NONE));
	assert_null(fsm_row(RS_PAUSED, EV_RESUME_ASKED));
	assert_string_equal(refresh_event_name(EV_COUNT), "?");
}

static void test_state_names(void **state)
{
	static const char *const displays[] = { "idle", "refreshing", "paused", "incompatible", "failed" };
	static const struct {
		refresh_state s;
		const char *name;
		const char *display;
	} names[] = {
		{ RS_CHECKING, "checking", "refreshing" },
		{ RS_INCOMPATIBLE, "incompatible", "incompatible" },
		{ RS_UNIT, "unit", "refreshing" },
		{ RS_PAUSED, "paused", "paused" },
		{ RS_SWITCHOVER, "switchover", "refreshing" },
		{ RS_FAILED, "failed", "failed" },
		{ RS_DONE, "done", "idle" },
	};
	refresh_state s;

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), RS_COUNT);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		bool known = false;

		assert_string_equal(refresh_state_name(names[i].s), names[i].name);
		assert_int_equal(refresh_state_from_name(names[i].name, &s), 0);
		assert_int_equal(s, names[i].s);
		assert_string_equal(refresh_state_display(names[i].s), names[i].display);
		for (size_t j = 0; j < sizeof(displays) / sizeof(displays[0]); j++)
			known = known || strcmp(refresh_state_display(names[i].s), displays[j]) == 0;
		assert_true(known);
	}
	assert_int_equal(refresh_state_from_name("bogus", &s), -1);
	assert_int_equal(refresh_state_from_name("", &s), -1);
	assert_int_equal(refresh_state_from_name("Checking", &s), -1);
	assert_string_equal(refresh_state_name(RS_COUNT), "?");
}

static void test_fsm_print(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int n;
	const fsm_transition *t = fsm_table(&n);

	(void)state;
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	fsm_print(f, false);
	fclose(f);
	/* every row, once, on its own line; then the unit's table */
	for (int i = 0; i < n; i++) {
		char line[256];

		snprintf(line, sizeof(line), "\n%-13s %-31s %-13s %s\n", refresh_state_name(t[i].from),
			 refresh_event_name(t[i].event), refresh_state_name(t[i].to), t[i].meaning);
		if (strstr(buf, line) == NULL)
			fail_msg("row not printed: %s", line + 1);
	}
	assert_non_null(strstr(buf, "# the unit's steps"));
	free(buf);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	fsm_print(f, true);
	fclose(f);
	assert_non_null(strstr(buf, "digraph refresh"));
	assert_non_null(strstr(buf, "digraph unit"));
	assert_non_null(strstr(buf, "\"unit\" -> \"failed\" [label=\"gate-timeout\"]"));
	free(buf);
}

/* ---- (b) fsm_decide ---- */

/* Cluster "P0 S1 R2": role letter + number, in conf order, like test_refresh_plan. */
static int make_units(const char *spec, const char *version, plan_input_unit *units)
{
	static const char *const roles[] = { ['P'] = "primary", ['S'] = "sync-standby", ['R'] = "replica", ['U'] = "unknown" };
	int n = 0, used;
	char role;
	int number;

	for (const char *p = spec; sscanf(p, " %c%d%n", &role, &number, &used) == 2; p += used) {
		memset(&units[n], 0, sizeof(units[n]));
		snprintf(units[n].unit, sizeof(units[n].unit), "pg/%d", number);
		units[n].number = number;
		snprintf(units[n].role, sizeof(units[n].role), "%s", roles[(unsigned char)role]);
		snprintf(units[n].version, sizeof(units[n].version), "%s", version);
		n++;
	}
	return n;
}

/*
 * What the coordinator sees, one token a unit: "pg/2=R:new" or "pg/0=P:old:ns". Role P/S/R/U;
 * version old/new/none; flags: x not reporting, n not running, s not streaming, l lag over the limit,
 * u lag unknown, q SQL fails. Everything else is healthy.
 */
static void make_obs(const char *spec, int64_t now_ms, refresh_obs *obs)
{
	const char *p = spec;

	memset(obs, 0, sizeof(*obs));
	obs->now_ms = now_ms;
	while (*p) {
		obs_unit *u = &obs->units[obs->count];
		char unit[32], role, version[8], flags[8] = "";
		int used = 0, number;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (sscanf(p, "pg/%d=%c:%7[a-z]%n", &number, &role, version, &used) != 3)
			fail_msg("bad obs spec \"%s\"", p);
		p += used;
		if (*p == ':') {
			sscanf(p + 1, "%7[a-z]%n", flags, &used);
			p += 1 + used;
		}
		snprintf(unit, sizeof(unit), "pg/%d", number);
		memset(u, 0, sizeof(*u));
		snprintf(u->unit, sizeof(u->unit), "%s", unit);
		snprintf(u->member, sizeof(u->member), "pg-%d", number);
		u->number = number;
		snprintf(u->role, sizeof(u->role), "%s",
			 role == 'P' ? "primary" : role == 'S' ? "sync-standby" : role == 'R' ? "replica" : "unknown");
		snprintf(u->server_version, sizeof(u->server_version), "%s",
			 strcmp(version, "old") == 0 ? OLD : strcmp(version, "new") == 0 ? NEW : "");
		memcpy(u->linked_version, u->server_version, sizeof(u->linked_version));
		u->reporting = !strchr(flags, 'x');
		u->running = !strchr(flags, 'n');
		u->streaming = !strchr(flags, 's');
		u->lag_bytes = strchr(flags, 'l') ? 50 * 1024 * 1024 : strchr(flags, 'u') ? -1 : 0;
		u->sql_ok = !strchr(flags, 'q');
		obs->count++;
	}
}

static unit_step step_of(char c)
{
	switch (c) {
	case 'R':
		return STEP_REFRESHING;
	case 'D':
		return STEP_DONE;
	case 'F':
		return STEP_FAILED;
	case 'S':
		return STEP_SKIPPED;
	default:
		return STEP_PENDING;
	}
}

static char step_letter(unit_step s)
{
	return "PRDFS"[s];
}

#define OBS_START "pg/0=P:old pg/1=S:old pg/2=R:old"

typedef struct decide_case {
	const char *name;
	/* the record */
	const char *cluster; /* conf roles */
	refresh_state state;
	const char *steps; /* per plan index: P pending, R refreshing, D done, F failed, S skipped; NULL: as made */
	int current;
	bool first_pause_done, resume, skip_health;
	const char *switchover_from;
	/* settings and what was observed */
	const char *pause;
	const char *obs;
	int64_t dt_ms; /* now - T0 */
	bool checks_done;
	const char *check_problem;
	bool switchover_failed;
	/* expected */
	int to; /* the row's to, NONE for NULL */
	const char *event;
	refresh_state next_state;
	const char *next_steps;
	int next_current;
	bool next_first_pause_done;
	const char *next_switchover_from; /* NULL: not checked */
	const char *failed_unit;          /* NULL: not checked */
	bool reason;                      /* next->reason non-empty */
	const char *message_has;          /* NULL: not checked; else in the current unit's message */
} decide_case;

static const decide_case decide_cases[] = {
	/* name, cluster, state, steps, cur, fpd, resume, skip, so_from, pause, obs, dt, done, problem, so_failed, | to, event, next, steps, cur, fpd, so_from, failed_unit, reason, message */
	{ "checking, checks not run yet", "P0 S1 R2", RS_CHECKING, NULL, -1, 0, 0, 0, "", "first", OBS_START, 1000, 0, "", 0, NONE, NULL, RS_CHECKING, "PPP", -1, 0, NULL, NULL, 0, NULL },
	{ "checking, at the timeout", "P0 S1 R2", RS_CHECKING, NULL, -1, 0, 0, 0, "", "first", OBS_START, 120000, 0, "", 0, NONE, NULL, RS_CHECKING, "PPP", -1, 0, NULL, NULL, 0, NULL },
	{ "checking, past the timeout", "P0 S1 R2", RS_CHECKING, NULL, -1, 0, 0, 0, "", "first", OBS_START, 120001, 0, "", 0, RS_FAILED, "checks-timeout", RS_FAILED, "PPP", -1, 0, NULL, NULL, 1, NULL },
	{ "checks failed", "P0 S1 R2", RS_CHECKING, NULL, -1, 0, 0, 0, "", "first", OBS_START, 1000, 1, "same-major: 16.1 is another major", 0, RS_INCOMPATIBLE, "checks-failed", RS_INCOMPATIBLE, "PPP", -1, 0, NULL, NULL, 1, NULL },
	{ "checks passed: first replica", "P0 S1 R2", RS_CHECKING, NULL, -1, 0, 0, 0, "", "first", OBS_START, 1000, 1, "", 0, RS_UNIT, "checks-passed", RS_UNIT, "RPP", 0, 0, NULL, NULL, 0, NULL },
	{ "checks passed: replicas done, primary next", "P0 S1 R2", RS_CHECKING, "DDP", -1, 0, 0, 0, "", "first", OBS_START, 1000, 1, "", 0, RS_SWITCHOVER, "checks-passed-primary-next", RS_SWITCHOVER, "DDP", -1, 0, "pg-0", NULL, 0, NULL },
	{ "checks passed: single unit primary, no switchover", "P0", RS_CHECKING, NULL, -1, 0, 0, 0, "", "first", "pg/0=P:old", 1000, 1, "", 0, RS_UNIT, "checks-passed", RS_UNIT, "R", 0, 0, NULL, NULL, 0, NULL },
	{ "checks passed: nothing to refresh", "P0 S1 R2", RS_CHECKING, "", -1, 0, 0, 0, "", "first", OBS_START, 1000, 1, "", 0, RS_DONE, "nothing-to-refresh", RS_DONE, "", -1, 0, NULL, NULL, 0, NULL },
	{ "unit: still runs the old version", "P0 S1 R2", RS_UNIT, "RPP", 0, 0, 0, 0, "", "first", OBS_START, 5000, 1, "", 0, RS_UNIT, "gate-waiting", RS_UNIT, "RPP", 0, 0, NULL, NULL, 0, "runs 15.18, not 15.20" },
	{ "unit: on target, not running", "P0 S1 R2", RS_UNIT, "RPP", 0, 0, 0, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new:n", 5000, 1, "", 0, RS_UNIT, "gate-waiting", RS_UNIT, "RPP", 0, 0, NULL, NULL, 0, "not running" },
	{ "unit: healthy, first pause", "P0 S1 R2", RS_UNIT, "RPP", 0, 0, 0, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new", 5000, 1, "", 0, RS_PAUSED, "unit-healthy-pause", RS_PAUSED, "DPP", -1, 1, NULL, NULL, 0, NULL },
	{ "unit: healthy, first pause already done", "P0 S1 R2", RS_UNIT, "RPP", 0, 1, 0, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new", 5000, 1, "", 0, RS_UNIT, "unit-healthy", RS_UNIT, "DRP", 1, 1, NULL, NULL, 0, NULL },
	{ "unit: healthy, pause all", "P0 S1 R2", RS_UNIT, "RPP", 0, 1, 0, 0, "", "all", "pg/0=P:old pg/1=S:old pg/2=R:new", 5000, 1, "", 0, RS_PAUSED, "unit-healthy-pause", RS_PAUSED, "DPP", -1, 1, NULL, NULL, 0, NULL },
	{ "unit: healthy, pause none", "P0 S1 R2", RS_UNIT, "RPP", 0, 0, 0, 0, "", "none", "pg/0=P:old pg/1=S:old pg/2=R:new", 5000, 1, "", 0, RS_UNIT, "unit-healthy", RS_UNIT, "DRP", 1, 0, NULL, NULL, 0, NULL },
	{ "unit: sync healthy, primary next", "P0 S1 R2", RS_UNIT, "DRP", 1, 1, 0, 0, "", "first", "pg/0=P:old pg/1=S:new pg/2=R:new", 5000, 1, "", 0, RS_SWITCHOVER, "unit-healthy-primary-next", RS_SWITCHOVER, "DDP", -1, 1, "pg-0", NULL, 0, NULL },
	{ "unit: sync healthy, pause all", "P0 S1 R2", RS_UNIT, "DRP", 1, 1, 0, 0, "", "all", "pg/0=P:old pg/1=S:new pg/2=R:new", 5000, 1, "", 0, RS_PAUSED, "unit-healthy-pause", RS_PAUSED, "DDP", -1, 1, NULL, NULL, 0, NULL },
	{ "unit: last unit healthy", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "first", "pg/0=R:new pg/1=P:new pg/2=R:new", 5000, 1, "", 0, RS_DONE, "last-unit-healthy", RS_DONE, "DDD", -1, 1, NULL, NULL, 0, NULL },
	/* the last gate waits for the reports to name one running primary (an agent's report lags its Patroni) */
	{ "unit: last unit healthy, no primary reported yet", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "first", "pg/0=R:new pg/1=S:new pg/2=R:new", 5000, 1, "", 0, RS_UNIT, "gate-waiting", RS_UNIT, "DDR", 2, 1, NULL, NULL, 0, "name no running primary yet" },
	{ "unit: last unit healthy, two primaries reported", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "first", "pg/0=R:new pg/1=P:new pg/2=P:new", 5000, 1, "", 0, RS_UNIT, "gate-waiting", RS_UNIT, "DDR", 2, 1, NULL, NULL, 0, "more than one running primary" },
	{ "unit: last unit healthy, the primary's report not running", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "first", "pg/0=R:new pg/1=P:new:n pg/2=R:new", 5000, 1, "", 0, RS_UNIT, "gate-waiting", RS_UNIT, "DDR", 2, 1, NULL, NULL, 0, "no running primary" },
	{ "unit: last unit healthy, the primary's agent not reporting", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "first", "pg/0=R:new pg/1=P:new:x pg/2=R:new", 5000, 1, "", 0, RS_DONE, "last-unit-healthy", RS_DONE, "DDD", -1, 1, NULL, NULL, 0, NULL },
	{ "unit: last unit healthy, a silent unit and two primaries", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "first", "pg/0=R:new pg/1=P:new pg/2=P:new:x", 5000, 1, "", 0, RS_DONE, "last-unit-healthy", RS_DONE, "DDD", -1, 1, NULL, NULL, 0, NULL },
	{ "unit: the old primary's report still says primary (before the switchover's)", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "first", "pg/0=P:new pg/1=S:new pg/2=R:new", 5000, 1, "", 0, RS_UNIT, "gate-waiting", RS_UNIT, "DDR", 2, 1, NULL, NULL, 0, "primary role it had before the switchover" },
	{ "unit: last unit, no primary reported past the timeout", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "first", "pg/0=R:new pg/1=S:new pg/2=R:new", 120001, 1, "", 0, RS_FAILED, "gate-timeout", RS_FAILED, "DDF", 2, 1, NULL, "pg/0", 1, "no running primary" },
	{ "unit: last unit healthy, pause all", "P0 S1 R2", RS_UNIT, "DDR", 2, 1, 0, 0, "pg-0", "all", "pg/0=R:new pg/1=P:new pg/2=R:new", 5000, 1, "", 0, RS_DONE, "last-unit-healthy", RS_DONE, "DDD", -1, 1, NULL, NULL, 0, NULL },
	{ "unit: gate at the timeout", "P0 S1 R2", RS_UNIT, "RPP", 0, 0, 0, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new:s", 120000, 1, "", 0, RS_UNIT, "gate-waiting", RS_UNIT, "RPP", 0, 0, NULL, NULL, 0, "not streaming" },
	{ "unit: gate timeout", "P0 S1 R2", RS_UNIT, "RPP", 0, 0, 0, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new:s", 120001, 1, "", 0, RS_FAILED, "gate-timeout", RS_FAILED, "FPP", 0, 0, NULL, "pg/2", 1, "not streaming" },
	{ "unit: gate timeout, agent silent", "P0 S1 R2", RS_UNIT, "DRP", 1, 1, 0, 0, "", "first", "pg/0=P:old pg/2=R:new", 120001, 1, "", 0, RS_FAILED, "gate-timeout", RS_FAILED, "DFP", 1, 1, NULL, "pg/1", 1, "does not report" },
	{ "paused, no resume", "P0 S1 R2", RS_PAUSED, "DPP", -1, 1, 0, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new", 5000, 1, "", 0, NONE, NULL, RS_PAUSED, "DPP", -1, 1, NULL, NULL, 0, NULL },
	{ "paused, resumed", "P0 S1 R2", RS_PAUSED, "DPP", -1, 1, 1, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new", 5000, 1, "", 0, RS_UNIT, "resumed", RS_UNIT, "DRP", 1, 1, NULL, NULL, 0, NULL },
	{ "paused, resumed, primary next", "P0 S1 R2", RS_PAUSED, "DDP", -1, 1, 1, 0, "", "all", "pg/0=P:old pg/1=S:new pg/2=R:new", 5000, 1, "", 0, RS_SWITCHOVER, "resumed-primary-next", RS_SWITCHOVER, "DDP", -1, 1, "pg-0", NULL, 0, NULL },
	{ "paused, resumed, nothing left", "P0 S1 R2", RS_PAUSED, "DDD", -1, 1, 1, 0, "", "all", "pg/0=R:new pg/1=P:new pg/2=R:new", 5000, 1, "", 0, RS_DONE, "resumed-nothing-left", RS_DONE, "DDD", -1, 1, NULL, NULL, 0, NULL },
	{ "switchover: old primary still leads", "P0 S1 R2", RS_SWITCHOVER, "DDP", -1, 1, 0, 0, "pg-0", "first", "pg/0=P:old pg/1=S:new pg/2=R:new", 5000, 1, "", 0, NONE, NULL, RS_SWITCHOVER, "DDP", -1, 1, "pg-0", NULL, 0, NULL },
	{ "switchover: new primary not running", "P0 S1 R2", RS_SWITCHOVER, "DDP", -1, 1, 0, 0, "pg-0", "first", "pg/0=R:old pg/1=P:new:n pg/2=R:new", 5000, 1, "", 0, NONE, NULL, RS_SWITCHOVER, "DDP", -1, 1, "pg-0", NULL, 0, NULL },
	{ "switchover: done", "P0 S1 R2", RS_SWITCHOVER, "DDP", -1, 1, 0, 0, "pg-0", "first", "pg/0=R:old pg/1=P:new pg/2=R:new", 5000, 1, "", 0, RS_UNIT, "switched-over", RS_UNIT, "DDR", 2, 1, "pg-0", NULL, 0, NULL },
	{ "switchover failed", "P0 S1 R2", RS_SWITCHOVER, "DDP", -1, 1, 0, 0, "pg-0", "first", "pg/0=P:old pg/1=S:new pg/2=R:new", 5000, 1, "", 1, RS_FAILED, "switchover-failed", RS_FAILED, "DDP", -1, 1, NULL, NULL, 1, NULL },
	{ "failed, no resume", "P0 S1 R2", RS_FAILED, "FPP", 0, 0, 0, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new:s", 5000, 1, "", 0, NONE, NULL, RS_FAILED, "FPP", 0, 0, NULL, NULL, 0, NULL },
	{ "failed, resumed: gate again", "P0 S1 R2", RS_FAILED, "FPP", 0, 0, 1, 0, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new:s", 5000, 1, "", 0, RS_UNIT, "retry-gate", RS_UNIT, "RPP", 0, 0, NULL, "", 0, NULL },
	{ "failed, resumed skipping: next unit", "P0 S1 R2", RS_FAILED, "FPP", 0, 0, 1, 1, "", "first", "pg/0=P:old pg/1=S:old pg/2=R:new:s", 5000, 1, "", 0, RS_UNIT, "resumed-skipping", RS_UNIT, "SRP", 1, 0, NULL, "", 0, NULL },
	{ "failed, resumed skipping: primary next", "P0 S1 R2", RS_FAILED, "DFP", 1, 1, 1, 1, "", "first", "pg/0=P:old pg/1=S:new:l pg/2=R:new", 5000, 1, "", 0, RS_SWITCHOVER, "resumed-skipping-primary-next", RS_SWITCHOVER, "DSP", -1, 1, "pg-0", "", 0, NULL },
	{ "failed, resumed skipping: last unit", "P0 S1 R2", RS_FAILED, "DDF", 2, 1, 1, 1, "pg-0", "first", "pg/0=R:new:q pg/1=P:new pg/2=R:new", 5000, 1, "", 0, RS_DONE, "resumed-skipping-last", RS_DONE, "DDS", -1, 1, NULL, "", 0, NULL },
	{ "incompatible: nothing happens", "P0 S1 R2", RS_INCOMPATIBLE, NULL, -1, 0, 1, 0, "", "first", OBS_START, 5000, 1, "", 0, NONE, NULL, RS_INCOMPATIBLE, "PPP", -1, 0, NULL, NULL, 0, NULL },
	{ "done: final", "P0 S1 R2", RS_DONE, "DDD", -1, 1, 1, 0, "", "first", "pg/0=R:new pg/1=P:new pg/2=R:new", 5000, 1, "", 0, NONE, NULL, RS_DONE, "DDD", -1, 1, NULL, NULL, 0, NULL },
};

/*
 * Known bug (reported to the lead): after the switchover failed, resume-refresh (with the health check)
 * does nothing — fsm_decide's RS_FAILED branch only retries a unit in STEP_FAILED, and the switchover
 * leaves none; only --check-health-of-refreshed-units=false moves on. Expected: switch over again.
 */
static const decide_case decide_bug_cases[] = {
	/* after a failed switchover, resume-refresh retries the switchover (see the report: no row for it yet) */
	{ "failed switchover, resumed: switch over again", "P0 S1 R2", RS_FAILED, "DDP", -1, 1, 1, 0, "pg-0", "first", "pg/0=P:old pg/1=S:new pg/2=R:new", 5000, 1, "", 0, RS_SWITCHOVER, NULL, RS_SWITCHOVER, "DDP", -1, 1, "pg-0", NULL, 0, NULL },
};

static void run_decide_cases(const decide_case *cases, size_t count)
{
	int failures = 0;

	for (size_t i = 0; i < count; i++) {
		const decide_case *c = &cases[i];
		plan_input_unit units[PLAN_MAX_UNITS];
		int n = make_units(c->cluster, OLD, units);
		refresh_record rec, next;
		refresh_obs obs;
		refresh_settings set;
		const fsm_transition *row;
		char steps[RECORD_MAX_UNITS + 1] = "";
		char problem[512] = "";
		pgr_err err;

		record_new(7, OLD, NEW, units, n, T0, &rec);
		rec.state = c->state;
		if (c->steps != NULL) {
			rec.unit_count = (int)strlen(c->steps);
			for (int u = 0; u < rec.unit_count; u++)
				rec.units[u].step = step_of(c->steps[u]);
		}
		rec.current = c->current;
		if (c->current >= 0)
			rec.units[c->current].started_ms = T0;
		rec.first_pause_done = c->first_pause_done;
		snprintf(rec.switchover_from, sizeof(rec.switchover_from), "%s", c->switchover_from);
		if (c->state == RS_FAILED && c->current >= 0) {
			snprintf(rec.failed_unit, sizeof(rec.failed_unit), "%s", rec.units[c->current].unit);
			snprintf(rec.reason, sizeof(rec.reason), "earlier failure");
		}
		settings_defaults(&set);
		assert_int_equal(settings_apply(&set, "pause-after-unit-refresh", c->pause, &err), 0);
		make_obs(c->obs, T0 + c->dt_ms, &obs);
		obs.checks_done = c->checks_done;
		snprintf(obs.check_problem, sizeof(obs.check_problem), "%s", c->check_problem);
		obs.switchover_failed = c->switchover_failed;
		if (c->resume) {
			obs.intent.ask = ASK_RESUME;
			obs.intent.check_health = !c->skip_health;
			snprintf(obs.intent.token, sizeof(obs.intent.token), "cli-1-2");
		}
		if (c->switchover_failed)
			snprintf(obs.switchover_error, sizeof(obs.switchover_error), "412 can not find sync_standby");

		memset(&next, 0x5a, sizeof(next));
		row = fsm_decide(&rec, &obs, &set, &next);
		for (int u = 0; u < next.unit_count && u < RECORD_MAX_UNITS; u++)
			steps[u] = step_letter(next.units[u].step);
		steps[next.unit_count > 0 ? next.unit_count : 0] = '\0';

#define PROBLEM(...) snprintf(problem + strlen(problem), sizeof(problem) - strlen(problem), __VA_ARGS__)
		if (c->to == NONE) {
			if (row != NULL)
				PROBLEM(" took %s -> %s %s, expected no transition;", refresh_state_name(row->from),
					refresh_state_name(row->to), refresh_event_name(row->event));
		} else if (row == NULL) {
			PROBLEM(" no transition, expected -> %s %s;", refresh_state_name((refresh_state)c->to),
				c->event ? c->event : "(any)");
		} else if (row->from != c->state || (int)row->to != c->to ||
			   (c->event != NULL && strcmp(refresh_event_name(row->event), c->event) != 0)) {
			PROBLEM(" took %s -> %s %s, expected -> %s %s;", refresh_state_name(row->from),
				refresh_state_name(row->to), refresh_event_name(row->event), refresh_state_name((refresh_state)c->to),
				c->event ? c->event : "(any)");
		}
		if (next.state != c->next_state)
			PROBLEM(" next state %s, expected %s;", refresh_state_name(next.state),
				refresh_state_name(c->next_state));
		if (strcmp(steps, c->next_steps) != 0)
			PROBLEM(" steps %s, expected %s;", steps, c->next_steps);
		if (next.current != c->next_current)
			PROBLEM(" current %d, expected %d;", next.current, c->next_current);
		if (next.first_pause_done != c->next_first_pause_done)
			PROBLEM(" first_pause_done %d, expected %d;", next.first_pause_done, c->next_first_pause_done);
		if (c->next_switchover_from && strcmp(next.switchover_from, c->next_switchover_from) != 0)
			PROBLEM(" switchover_from \"%s\", expected \"%s\";", next.switchover_from, c->next_switchover_from);
		if (c->failed_unit && strcmp(next.failed_unit, c->failed_unit) != 0)
			PROBLEM(" failed_unit \"%s\", expected \"%s\";", next.failed_unit, c->failed_unit);
		if (c->reason && next.reason[0] == '\0')
			PROBLEM(" no reason;");
		if (c->next_state == RS_FAILED && next.reason[0] == '\0')
			PROBLEM(" failed without a reason;");
		if (c->check_problem[0] && c->next_state == RS_INCOMPATIBLE && strcmp(next.reason, c->check_problem) != 0)
			PROBLEM(" reason \"%s\", expected the check's problem;", next.reason);
		if (c->message_has) {
			int idx = c->current;

			if (idx < 0 || strstr(next.units[idx].message, c->message_has) == NULL)
				PROBLEM(" unit message \"%s\" lacks \"%s\";", idx >= 0 ? next.units[idx].message : "",
					c->message_has);
		}
		if (row != NULL && !row->quiet && next.state_since_ms != obs.now_ms)
			PROBLEM(" state_since_ms not updated;");
		if (row == NULL && next.state != rec.state)
			PROBLEM(" state changed without a row;");
		if (row != NULL && !row->quiet && row->to == RS_UNIT && next.current >= 0 && next.units[next.current].started_ms != obs.now_ms)
			PROBLEM(" the unit's started_ms not set;");
		if (row != NULL && row->to == RS_DONE && next.ended_ms != obs.now_ms)
			PROBLEM(" ended_ms not set;");
#undef PROBLEM
		if (problem[0]) {
			print_error("case \"%s\":%s\n", c->name, problem);
			failures++;
		}
	}
	if (failures)
		fail_msg("%d of %zu fsm_decide cases failed", failures, count);
}

static void test_decide(void **state)
{
	(void)state;
	run_decide_cases(decide_cases, sizeof(decide_cases) / sizeof(decide_cases[0]));
}

static void test_decide_retry_switchover(void **state)
{
	(void)state;
	run_decide_cases(decide_bug_cases, sizeof(decide_bug_cases) / sizeof(decide_bug_cases[0]));
}

/* A whole forward refresh with the default settings, driven tick by tick: the rows taken, in order. */
static void test_decide_walk(void **state)
{
	static const struct {
		const char *obs;
		bool checks_done, resume;
		const char *event; /* NULL: no transition */
	} ticks[] = {
		{ "pg/0=P:old pg/1=S:old pg/2=R:old", 0, 0, NULL },
		{ "pg/0=P:old pg/1=S:old pg/2=R:old", 1, 0, "checks-passed" },
		{ "pg/0=P:old pg/1=S:old pg/2=R:none:n", 1, 0, "gate-waiting" },
		{ "pg/0=P:old pg/1=S:old pg/2=R:none:n", 1, 0, NULL },
		{ "pg/0=P:old pg/1=S:old pg/2=R:new", 1, 0, "unit-healthy-pause" },
		{ "pg/0=P:old pg/1=S:old pg/2=R:new", 1, 0, NULL },
		{ "pg/0=P:old pg/1=S:old pg/2=R:new", 1, 1, "resumed" },
		{ "pg/0=P:old pg/1=S:new pg/2=R:new", 1, 0, "unit-healthy-primary-next" },
		{ "pg/0=P:old pg/1=S:new pg/2=R:new", 1, 0, NULL },
		{ "pg/0=R:old pg/1=P:new pg/2=R:new", 1, 0, "switched-over" },
		{ "pg/0=R:new pg/1=P:new pg/2=R:new", 1, 0, "last-unit-healthy" },
	};
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = make_units("P0 S1 R2", OLD, units);
	refresh_record rec, next;
	refresh_settings set;

	(void)state;
	settings_defaults(&set);
	record_new(1, OLD, NEW, units, n, T0, &rec);
	for (size_t i = 0; i < sizeof(ticks) / sizeof(ticks[0]); i++) {
		refresh_obs obs;
		const fsm_transition *row;

		make_obs(ticks[i].obs, T0 + 1000 * (int64_t)(i + 1), &obs);
		obs.checks_done = ticks[i].checks_done;
		if (ticks[i].resume)
			obs.intent.ask = ASK_RESUME, obs.intent.check_health = true;
		row = fsm_decide(&rec, &obs, &set, &next);
		if ((row == NULL) != (ticks[i].event == NULL) || (row && strcmp(refresh_event_name(row->event), ticks[i].event) != 0))
			fail_msg("tick %zu: %s, expected %s", i, row ? refresh_event_name(row->event) : "none",
				 ticks[i].event ? ticks[i].event : "none");
		rec = next;
	}
	assert_int_equal(rec.state, RS_DONE);
	assert_int_equal(record_done_count(&rec), 3);
	assert_int_equal(record_next_pending(&rec), -1);
}

/* The steps of a record as letters, in plan order ("DRPPP"). */
static void steps_text(const refresh_record *rec, char *buf)
{
	for (int u = 0; u < rec->unit_count; u++)
		buf[u] = step_letter(rec->units[u].step);
	buf[rec->unit_count] = '\0';
}

/*
 * A forward refresh of 5 units with max-parallel-units 2 and the default pause (first), driven tick by
 * tick: the plan pg/4 pg/3 | pg/2 | pg/1 | pg/0; both replicas of the first batch start at once, the
 * batch goes on when one of them passed, the pause comes after the whole first batch.
 */
static void test_decide_batch_walk(void **state)
{
	static const struct {
		const char *obs;
		bool checks_done, resume;
		const char *event; /* NULL: no transition */
		const char *steps; /* after the tick */
		int current;
	} ticks[] = {
		{ "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:old pg/4=R:old", 1, 0, "checks-passed", "RRPPP", 0 },
		{ "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:none:n pg/4=R:none:n", 1, 0, "gate-waiting", "RRPPP", 0 },
		{ "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:none:n pg/4=R:new", 1, 0, "batch-unit-healthy", "DRPPP", 1 },
		{ "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:none:n pg/4=R:new", 1, 0, NULL, "DRPPP", 1 },
		{ "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:new pg/4=R:new", 1, 0, "unit-healthy-pause", "DDPPP", -1 },
		{ "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:new pg/4=R:new", 1, 1, "resumed", "DDRPP", 2 },
		{ "pg/0=P:old pg/1=S:old pg/2=R:new pg/3=R:new pg/4=R:new", 1, 0, "unit-healthy", "DDDRP", 3 },
		{ "pg/0=P:old pg/1=S:new pg/2=R:new pg/3=R:new pg/4=R:new", 1, 0, "unit-healthy-primary-next", "DDDDP", -1 },
		{ "pg/0=R:old pg/1=P:new pg/2=R:new pg/3=R:new pg/4=R:new", 1, 0, "switched-over", "DDDDR", 4 },
		{ "pg/0=R:new pg/1=P:new pg/2=R:new pg/3=R:new pg/4=R:new", 1, 0, "last-unit-healthy", "DDDDD", -1 },
	};
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = make_units("P0 S1 R2 R3 R4", OLD, units);
	refresh_record rec, next;
	refresh_settings set;
	pgr_err err;

	(void)state;
	settings_defaults(&set);
	assert_int_equal(settings_apply(&set, "max-parallel-units", "2", &err), 0);
	record_new_batched(1, OLD, NEW, units, n, set.max_parallel_units, T0, &rec);
	assert_int_equal(record_batch_count(&rec), 4);
	for (size_t i = 0; i < sizeof(ticks) / sizeof(ticks[0]); i++) {
		refresh_obs obs;
		const fsm_transition *row;
		char steps[RECORD_MAX_UNITS + 1];

		make_obs(ticks[i].obs, T0 + 1000 * (int64_t)(i + 1), &obs);
		obs.checks_done = ticks[i].checks_done;
		if (ticks[i].resume)
			obs.intent.ask = ASK_RESUME, obs.intent.check_health = true;
		row = fsm_decide(&rec, &obs, &set, &next);
		steps_text(&next, steps);
		if ((row == NULL) != (ticks[i].event == NULL) || (row && strcmp(refresh_event_name(row->event), ticks[i].event) != 0) ||
		    strcmp(steps, ticks[i].steps) != 0 || next.current != ticks[i].current)
			fail_msg("tick %zu: %s %s current %d, expected %s %s current %d", i,
				 row ? refresh_event_name(row->event) : "none", steps, next.current,
				 ticks[i].event ? ticks[i].event : "none", ticks[i].steps, ticks[i].current);
		/* both units of a started batch start at the same moment */
		if (i == 0)
			assert_true(next.units[0].started_ms == next.units[1].started_ms && next.units[0].started_ms != 0);
		rec = next;
	}
	assert_int_equal(rec.state, RS_DONE);
	assert_int_equal(record_done_count(&rec), 5);
}

/*
 * One decision of a batch test: fsm_decide on rec and the observation spec at T0 + dt_ms (with intent
 * ask, check_health), which must take the row of event into state, leaving steps and current.
 */
static void expect_decision(const refresh_record *rec, const char *obs_spec, int64_t dt_ms, fsm_ask ask,
			    bool check_health, const refresh_settings *set, const char *event, refresh_state state,
			    const char *steps, int current, refresh_record *next)
{
	refresh_obs obs;
	const fsm_transition *row;
	char got[RECORD_MAX_UNITS + 1];

	make_obs(obs_spec, T0 + dt_ms, &obs);
	obs.intent.ask = ask;
	obs.intent.check_health = check_health;
	row = fsm_decide(rec, &obs, set, next);
	steps_text(next, got);
	if (row == NULL || strcmp(refresh_event_name(row->event), event) != 0 || next->state != state ||
	    strcmp(got, steps) != 0 || next->current != current)
		fail_msg("%s at +%lld ms: %s -> %s %s current %d, expected %s -> %s %s current %d", obs_spec,
			 (long long)dt_ms, row ? refresh_event_name(row->event) : "no row", refresh_state_name(next->state),
			 got, next->current, event, refresh_state_name(state), steps, current);
}

/* The pause applies per batch: `all` pauses after each batch, not after each unit of it. */
static void test_decide_batch_pause_all(void **state)
{
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = make_units("P0 S1 R2 R3 R4 R5 R6", OLD, units);
	refresh_record rec, next;
	refresh_settings set;
	pgr_err err;

	(void)state;
	settings_defaults(&set);
	assert_int_equal(settings_apply(&set, "max-parallel-units", "3", &err), 0);
	assert_int_equal(settings_apply(&set, "pause-after-unit-refresh", "all", &err), 0);
	record_new_batched(1, OLD, NEW, units, n, set.max_parallel_units, T0, &rec);
	/* pg/6 pg/5 pg/4 | pg/3 pg/2 | pg/1 | pg/0 */
	assert_int_equal(record_batch_count(&rec), 4);
	rec.state = RS_PAUSED;
	rec.first_pause_done = true;
	expect_decision(&rec, "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:old pg/4=R:old pg/5=R:old pg/6=R:old", 1000,
			ASK_RESUME, true, &set, "resumed", RS_UNIT, "RRRPPPP", 0, &next);
	rec = next;
	expect_decision(&rec, "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:old pg/4=R:new pg/5=R:new pg/6=R:old", 2000,
			ASK_NONE, true, &set, "batch-unit-healthy", RS_UNIT, "RDDPPPP", 0, &next);
	rec = next;
	expect_decision(&rec, "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:old pg/4=R:new pg/5=R:new pg/6=R:new", 3000,
			ASK_NONE, true, &set, "unit-healthy-pause", RS_PAUSED, "DDDPPPP", -1, &next);
}

/*
 * A batch halted: pg/4 fails its gate while pg/3 (started later) still goes; pg/3 finishes its step in
 * failed; then each way out: resume-refresh gates pg/4 again, resume without the health check skips it
 * and the batch goes on, and a rollback plans the units on the new version back, in one batch.
 */
static void test_decide_batch_halted(void **state)
{
#define HALTED "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:none:n pg/4=R:new:s"
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = make_units("P0 S1 R2 R3 R4", OLD, units);
	refresh_record rec, failed, next;
	refresh_settings set;
	refresh_obs obs;
	pgr_err err;

	(void)state;
	settings_defaults(&set);
	assert_int_equal(settings_apply(&set, "max-parallel-units", "2", &err), 0);
	record_new_batched(1, OLD, NEW, units, n, set.max_parallel_units, T0, &rec);
	rec.state = RS_UNIT;
	rec.current = 0;
	rec.units[0].step = rec.units[1].step = STEP_REFRESHING;
	rec.units[0].started_ms = T0;
	rec.units[1].started_ms = T0 + 10000;
	/* past pg/4's timeout, not pg/3's */
	expect_decision(&rec, HALTED, 120001, ASK_NONE, true, &set, "gate-timeout", RS_FAILED, "FRPPP", 0, &failed);
	assert_string_equal(failed.failed_unit, "pg/4");
	assert_non_null(strstr(failed.reason, "pg/4 not healthy"));
	/* both past their timeout: the first fails, the other still finishes its step */
	rec.units[1].started_ms = T0;
	expect_decision(&rec, HALTED, 120001, ASK_NONE, true, &set, "gate-timeout", RS_FAILED, "FRPPP", 0, &next);
	assert_string_equal(next.failed_unit, "pg/4");

	/* halted: nothing starts; pg/3, still going, passes its gate and is done */
	make_obs(HALTED, T0 + 121000, &obs);
	assert_null(fsm_decide(&failed, &obs, &set, &next));
	expect_decision(&failed, "pg/0=P:old pg/1=S:old pg/2=R:old pg/3=R:new pg/4=R:new:s", 122000, ASK_NONE, true, &set,
			"batch-unit-healthy", RS_FAILED, "FDPPP", 0, &next);
	assert_string_equal(next.failed_unit, "pg/4");
	/* resume-refresh: pg/4 gated again, pg/3 still going with it */
	expect_decision(&failed, HALTED, 121000, ASK_RESUME, true, &set, "retry-gate", RS_UNIT, "RRPPP", 0, &next);
	/* resume-refresh --check-health-of-refreshed-units=false: pg/4 skipped, pg/3 goes on, nothing new starts */
	expect_decision(&failed, HALTED, 121000, ASK_RESUME, false, &set, "resumed-skipping", RS_UNIT, "SRPPP", 1, &next);

	/* rollback: the units linked to the new version, back in one batch (three standbys stay up) */
	expect_decision(&failed, HALTED, 121000, ASK_ROLLBACK, true, &set, "rollback", RS_CHECKING, "PP", -1, &next);
	assert_true(next.rollback);
	assert_string_equal(next.to, OLD);
	assert_string_equal(next.units[0].unit, "pg/4");
	assert_string_equal(next.units[1].unit, "pg/3");
	assert_int_equal(next.units[0].batch, 0);
	assert_int_equal(next.units[1].batch, 0);
	/* with the sync standby and pg/2 down, pg/3 is the only standby up: one at a time */
	expect_decision(&failed, "pg/0=P:old pg/1=S:old:n pg/2=R:old:n pg/3=R:new pg/4=R:new:s", 121000, ASK_ROLLBACK, true,
			&set, "rollback", RS_CHECKING, "PP", -1, &next);
	assert_int_equal(next.units[0].batch, 0);
	assert_int_equal(next.units[1].batch, 1);
#undef HALTED
}

/*
 * Every decision: every state x record shapes x observations x intents x settings. Each event the
 * coordinator derives is either nothing, a row of the table (and then the record after it is in the
 * row's state), or refused with the record untouched. Every row is taken by some decision, and with
 * that row deleted from the table the same decision is refused and nothing changes.
 */
typedef struct decision {
	refresh_state state;
	int steps, obs, dt, checks, intent, pause, flags;
} decision;

static const char *const walk_steps[] = { "PPP", "RPP", "DPP", "DRP", "DDP", "DDR", "DDD", "FPP", "DFP", "DDF", "SDP", "",
					   "RRP", "FRP" /* batches */ };
static const char *const walk_obs[] = {
	OBS_START,
	"pg/0=P:old pg/1=S:old pg/2=R:new",
	"pg/0=P:old pg/1=S:new pg/2=R:new",
	"pg/0=R:old pg/1=P:new pg/2=R:new",
	"pg/0=R:new pg/1=P:new pg/2=R:new",
	"pg/0=P:old pg/1=S:old pg/2=R:new:s",
	"pg/0=R:old pg/1=P:new:n pg/2=R:new",
	"pg/0=P:old:x pg/1=S:new:xn pg/2=R:none:xn",
};
static const int64_t walk_dt[] = { 1000, 120001 };

/* Builds the record, observation and settings of decision d. */
static void build_decision(const decision *d, refresh_record *rec, refresh_obs *obs, refresh_settings *set)
{
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = make_units("P0 S1 R2", OLD, units);
	const char *steps = walk_steps[d->steps];
	pgr_err err;

	record_new(5, OLD, NEW, units, n, T0, rec);
	rec->state = d->state;
	rec->unit_count = (int)strlen(steps);
	rec->current = -1;
	for (int u = 0; u < rec->unit_count; u++) {
		rec->units[u].step = step_of(steps[u]);
		if (steps[u] == 'R' || steps[u] == 'F')
			rec->current = u;
	}
	if (rec->current >= 0)
		rec->units[rec->current].started_ms = T0;
	rec->first_pause_done = d->flags & 1;
	rec->rollback = d->flags & 2;
	snprintf(rec->switchover_from, sizeof(rec->switchover_from), "pg-0");
	if (d->state == RS_FAILED)
		snprintf(rec->reason, sizeof(rec->reason), "earlier failure");
	settings_defaults(set);
	assert_int_equal(settings_apply(set, "pause-after-unit-refresh", d->pause == 0 ? "first" : d->pause == 1 ? "all" : "none", &err), 0);
	set->auto_rollback = d->flags & 4;
	make_obs(walk_obs[d->obs], T0 + walk_dt[d->dt], obs);
	obs->checks_done = d->checks > 0;
	if (d->checks == 2)
		snprintf(obs->check_problem, sizeof(obs->check_problem), "compatibility check same-major failed");
	obs->switchover_failed = d->flags & 8;
	if (obs->switchover_failed)
		snprintf(obs->switchover_error, sizeof(obs->switchover_error), "HTTP 412: can not find sync_standby");
	if (d->intent > 0) {
		static const fsm_ask asks[] = { ASK_NONE, ASK_RESUME, ASK_RESUME, ASK_ROLLBACK, ASK_FORCE, ASK_REFRESH };

		obs->intent.ask = asks[d->intent];
		obs->intent.check_health = d->intent != 2;
		obs->intent.skip_compatibility = d->intent == 4;
		snprintf(obs->intent.token, sizeof(obs->intent.token), "cli-%d", d->intent);
		obs->intent.id = 6;
		snprintf(obs->intent.from, sizeof(obs->intent.from), OLD);
		snprintf(obs->intent.to, sizeof(obs->intent.to), NEW);
	}
}

#define MAX_PER_ROW 4

typedef void (*decision_fn)(const decision *d, void *arg);

static long for_each_decision(decision_fn fn, void *arg)
{
	long count = 0;

	for (int st = 0; st < RS_COUNT; st++)
		for (int sp = 0; sp < (int)(sizeof(walk_steps) / sizeof(walk_steps[0])); sp++)
			for (int ob = 0; ob < (int)(sizeof(walk_obs) / sizeof(walk_obs[0])); ob++)
				for (int dt = 0; dt < 2; dt++)
					for (int in = 0; in < 6; in++)
						for (int ch = 0; ch < (st == RS_CHECKING ? 3 : 1); ch++)
							for (int pa = 0; pa < (st == RS_UNIT ? 3 : 1); pa++)
								for (int fl = 0; fl < 16; fl++) {
									decision d = { (refresh_state)st, sp, ob, dt, ch, in, pa, fl };

									/* flags matter only where they are read */
									if ((fl & 8) && st != RS_SWITCHOVER)
										continue;
									if ((fl & 4) && st != RS_FAILED)
										continue;
									fn(&d, arg);
									count++;
								}
	return count;
}

typedef struct walk_state {
	int rows;
	int taken[64];
	decision users[64][MAX_PER_ROW];
	int problems;
	long refused, nothing;
} walk_state;

static void check_decision(const decision *d, void *arg)
{
	walk_state *w = arg;
	refresh_record rec, next;
	refresh_obs obs;
	refresh_settings set;
	const fsm_transition *row;
	char cause[400];
	refresh_event ev;
	fsm_result r;
	int idx;

	build_decision(d, &rec, &obs, &set);
	ev = fsm_event(&rec, &obs, &set, cause, sizeof(cause));
	r = fsm_take(&rec, ev, cause, &obs, &set, &next, &row);
	if (r == FSM_NOTHING) {
		w->nothing++;
		if (ev != EV_NONE || memcmp(&next, &rec, sizeof(rec)) != 0)
			w->problems++;
		return;
	}
	if (r == FSM_REFUSED) {
		w->refused++;
		/* refused: only where the table has no row, and nothing changes */
		if (fsm_row(rec.state, ev) != NULL || row != NULL || memcmp(&next, &rec, sizeof(rec)) != 0) {
			print_error("%s + %s refused but has a row or changed the record\n", refresh_state_name(rec.state),
				    refresh_event_name(ev));
			w->problems++;
		}
		/* only what the user asks can be refused: every event the coordinator observes has its row */
		if (obs.intent.ask == ASK_NONE) {
			print_error("%s + %s: observed, but the table has no row for it\n", refresh_state_name(rec.state),
				    refresh_event_name(ev));
			w->problems++;
		}
		return;
	}
	/* taken: the recorded transition is a row of the table, and the record is in its state */
	if (row == NULL || row != fsm_row(rec.state, ev) || row->from != rec.state || next.state != row->to ||
	    fsm_find(row->from, row->to, refresh_event_name(ev)) == NULL) {
		print_error("%s + %s: recorded a transition that is not a row\n", refresh_state_name(rec.state),
			    refresh_event_name(ev));
		w->problems++;
		return;
	}
	if (next.state == RS_UNIT && !row->quiet &&
	    (next.current < 0 || next.units[next.current].step != STEP_REFRESHING)) {
		print_error("%s + %s: into unit without a unit being refreshed\n", refresh_state_name(rec.state),
			    refresh_event_name(ev));
		w->problems++;
	}
	if ((next.state == RS_FAILED || next.state == RS_INCOMPATIBLE) && rec.state != next.state &&
	    (next.reason[0] == '\0' || strstr(next.cause, cause) == NULL)) {
		print_error("%s + %s: halted without its reason and cause kept\n", refresh_state_name(rec.state),
			    refresh_event_name(ev));
		w->problems++;
	}
	if ((ev == EV_ROLLBACK || ev == EV_AUTO_ROLLBACK) && (!next.rollback || strstr(next.cause, cause) == NULL)) {
		print_error("%s + %s: a rollback without its cause\n", refresh_state_name(rec.state), refresh_event_name(ev));
		w->problems++;
	}
	if (obs.intent.ask != ASK_NONE && strcmp(next.intent_token, obs.intent.token) != 0)
		w->problems++;
	idx = (int)(row - fsm_table(&w->rows));
	if (w->taken[idx] < MAX_PER_ROW)
		w->users[idx][w->taken[idx]] = *d;
	w->taken[idx]++;
}

static void test_walk_every_decision(void **state)
{
	walk_state *w = calloc(1, sizeof(*w));
	long count;
	int n;
	const fsm_transition *t = fsm_table(&n);

	(void)state;
	assert_non_null(w);
	assert_true(n <= 64);
	count = for_each_decision(check_decision, w);
	assert_true(count > 10000);
	if (w->problems)
		fail_msg("%d of %ld decisions broke the table's rules", w->problems, count);
	for (int i = 0; i < n; i++)
		if (w->taken[i] == 0)
			fail_msg("row %s + %s is never taken", refresh_state_name(t[i].from), refresh_event_name(t[i].event));
	/* some decisions must be refused (intents where they do not apply) and some do nothing */
	assert_true(w->refused > 0);
	assert_true(w->nothing > 0);

	/* delete each row in turn: the decisions that took it are refused, the record unchanged */
	for (int del = 0; del < n; del++) {
		fsm_transition without[64];
		int m = 0;

		for (int i = 0; i < n; i++)
			if (i != del)
				without[m++] = t[i];
		for (int k = 0; k < w->taken[del] && k < MAX_PER_ROW; k++) {
			refresh_record rec, next;
			refresh_obs obs;
			refresh_settings set;
			const fsm_transition *row;
			char cause[400];
			refresh_event ev;

			build_decision(&w->users[del][k], &rec, &obs, &set);
			ev = fsm_event(&rec, &obs, &set, cause, sizeof(cause));
			assert_int_equal(ev, t[del].event);
			if (fsm_take_in(without, m, &rec, ev, cause, &obs, &set, &next, &row) != FSM_REFUSED)
				fail_msg("with row %s + %s deleted, the decision was not refused",
					 refresh_state_name(t[del].from), refresh_event_name(t[del].event));
			assert_null(row);
			assert_memory_equal(&next, &rec, sizeof(rec));
		}
	}
	free(w);
}

/* An intent through its JSON (as etcd keeps it), and what is refused. One case a line. */
static void test_intent_json(void **state)
{
	static const struct {
		fsm_ask ask;
		bool check_health, skip_compat, skip_pre, skip_workload;
		intent_answer answer;
		const char *result;
	} round[] = {
		{ ASK_RESUME, true, false, false, false, INTENT_PENDING, "" },
		{ ASK_RESUME, false, false, false, false, INTENT_TAKEN, "paused -> unit: resume-refresh" },
		{ ASK_ROLLBACK, true, false, false, false, INTENT_REFUSED, "rollback refused: the refresh is idle" },
		{ ASK_FORCE, true, true, false, true, INTENT_PENDING, "" },
		{ ASK_FORCE, true, false, true, false, INTENT_TAKEN, "incompatible -> checking" },
		{ ASK_REFRESH, true, false, false, false, INTENT_PENDING, "" },
	};
	static const struct {
		const char *json;
		const char *err_has;
	} bad[] = {
		{ "nope", "not JSON" },
		{ "{}", "no valid ask" },
		{ "{\"ask\":\"reboot\",\"token\":\"t\",\"answer\":\"pending\"}", "no valid ask" },
		{ "{\"ask\":\"rollback\",\"token\":\"\",\"answer\":\"pending\"}", "token" },
		{ "{\"ask\":\"rollback\",\"token\":\"t\",\"answer\":\"maybe\"}", "answer" },
		{ "{\"ask\":\"none\",\"token\":\"t\",\"answer\":\"pending\"}", "no valid ask" },
		{ "{\"ask\":\"refresh\",\"token\":\"t\",\"answer\":\"pending\",\"id\":3,\"from\":\"15.18\"}", "needs an id, from and to" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(round) / sizeof(round[0]); i++) {
		refresh_intent a, b;
		char *json = NULL;
		pgr_err err;

		memset(&a, 0, sizeof(a));
		a.ask.ask = round[i].ask;
		a.ask.check_health = round[i].check_health;
		a.ask.skip_compatibility = round[i].skip_compat;
		a.ask.skip_prechecks = round[i].skip_pre;
		a.ask.skip_workload = round[i].skip_workload;
		a.ask.skip_backup = round[i].ask == ASK_FORCE && i % 2 == 1; /* force --check-backup=false */
		snprintf(a.ask.token, sizeof(a.ask.token), "host-%zu-1700000000000", i);
		if (round[i].ask == ASK_REFRESH) {
			a.ask.id = 66;
			snprintf(a.ask.from, sizeof(a.ask.from), OLD);
			snprintf(a.ask.to, sizeof(a.ask.to), NEW);
		}
		a.requested_ms = INT64_C(1700000000000) + (int64_t)i;
		a.answer = round[i].answer;
		snprintf(a.result, sizeof(a.result), "%s", round[i].result);
		assert_int_equal(intent_to_json(&a, &json, &err), 0);
		if (intent_parse(json, &b, &err) != 0)
			fail_msg("%s: %s", json, err.msg);
		free(json);
		assert_int_equal(b.ask.ask, a.ask.ask);
		assert_string_equal(b.ask.token, a.ask.token);
		assert_int_equal(b.ask.check_health, a.ask.check_health);
		assert_int_equal(b.ask.skip_compatibility, a.ask.skip_compatibility);
		assert_int_equal(b.ask.skip_prechecks, a.ask.skip_prechecks);
		assert_int_equal(b.ask.skip_workload, a.ask.skip_workload);
		assert_int_equal(b.ask.skip_backup, a.ask.skip_backup);
		assert_int_equal(b.ask.id, a.ask.id);
		assert_string_equal(b.ask.from, a.ask.from);
		assert_string_equal(b.ask.to, a.ask.to);
		assert_int_equal(b.requested_ms, a.requested_ms);
		assert_int_equal(b.answer, a.answer);
		assert_string_equal(b.result, a.result);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		refresh_intent b;
		pgr_err err;

		pgr_err_clear(&err);
		if (intent_parse(bad[i].json, &b, &err) == 0 || strstr(err.msg, bad[i].err_has) == NULL)
			fail_msg("%s: accepted, or \"%s\" lacks \"%s\"", bad[i].json, err.msg, bad[i].err_has);
	}
	assert_string_equal(intent_ask_name(ASK_FORCE), "force-refresh-start");
	assert_string_equal(intent_ask_name((fsm_ask)99), "?");
}

/* A new refresh is a row from done (no record): taken with its id, from and to; refused in progress. */
static void test_refresh_asked(void **state)
{
	refresh_record none, next;
	refresh_obs obs;
	refresh_settings set;
	const fsm_transition *row;

	(void)state;
	settings_defaults(&set);
	memset(&none, 0, sizeof(none));
	none.state = RS_DONE;
	none.current = -1;
	make_obs(OBS_START, T0, &obs);
	obs.intent.ask = ASK_REFRESH;
	obs.intent.id = 12;
	snprintf(obs.intent.token, sizeof(obs.intent.token), "t-12");
	snprintf(obs.intent.from, sizeof(obs.intent.from), OLD);
	snprintf(obs.intent.to, sizeof(obs.intent.to), NEW);
	row = fsm_decide(&none, &obs, &set, &next);
	assert_non_null(row);
	assert_int_equal(row->event, EV_REFRESH_ASKED);
	assert_int_equal(next.state, RS_CHECKING);
	assert_int_equal(next.id, 12);
	assert_string_equal(next.from, OLD);
	assert_string_equal(next.to, NEW);
	assert_string_equal(next.original, OLD);
	assert_int_equal(next.unit_count, 3);
	assert_string_equal(next.units[0].unit, "pg/2");
	assert_string_equal(next.units[2].unit, "pg/0");
	assert_string_equal(next.intent_token, "t-12");
	/* while one is in progress, a second is refused and nothing changes */
	none = next;
	none.state = RS_PAUSED;
	assert_int_equal(fsm_take(&none, EV_REFRESH_ASKED, "refresh asked", &obs, &set, &next, &row), FSM_REFUSED);
	assert_null(row);
	assert_memory_equal(&next, &none, sizeof(none));
}

/* A halt and a rollback keep their causes, in order, for history. */
static void test_causes_kept(void **state)
{
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = make_units("P0 S1 R2", OLD, units);
	refresh_record rec, next;
	refresh_obs obs;
	refresh_settings set;

	(void)state;
	settings_defaults(&set);
	record_new(3, OLD, NEW, units, n, T0, &rec);
	rec.state = RS_UNIT;
	rec.current = 0;
	rec.units[0].step = STEP_REFRESHING;
	rec.units[0].started_ms = T0;
	make_obs("pg/0=P:old pg/1=S:old pg/2=R:old", T0 + 120001, &obs);
	assert_non_null(fsm_decide(&rec, &obs, &set, &next));
	assert_int_equal(next.state, RS_FAILED);
	assert_string_equal(next.cause, "pg/2 failed its health gate: runs 15.18, not 15.20");
	/* auto-rollback: the rollback says why, after the halt's cause */
	rec = next;
	set.auto_rollback = true;
	make_obs("pg/0=P:old pg/1=S:old pg/2=R:old", T0 + 130000, &obs);
	assert_non_null(fsm_decide(&rec, &obs, &set, &next));
	assert_int_equal(next.state, RS_CHECKING);
	assert_true(next.rollback);
	assert_string_equal(next.cause, "pg/2 failed its health gate: runs 15.18, not 15.20; then auto-rollback after "
					 "pg/2 not healthy after 120 s: runs 15.18, not 15.20");
	/* an auto-rollback is not rolled back again when it fails */
	rec = next;
	rec.state = RS_FAILED;
	assert_null(fsm_decide(&rec, &obs, &set, &next));
	/* the user's rollback */
	record_new(4, OLD, NEW, units, n, T0, &rec);
	rec.state = RS_PAUSED;
	obs.intent.ask = ASK_ROLLBACK;
	snprintf(obs.intent.token, sizeof(obs.intent.token), "t-1");
	assert_non_null(fsm_decide(&rec, &obs, &set, &next));
	assert_string_equal(next.cause, "rolled back by the user (the refresh was paused)");
	assert_string_equal(next.intent_token, "t-1");
}

/* ---- (c) the health gate ---- */

static const struct {
	const char *obs;
	int64_t limit;
	bool healthy;
	const char *why; /* a part of why */
} gate_cases[] = {
	{ "pg/1=R:new", 1048576, true, "" },
	{ "pg/1=P:new", 1048576, true, "" },
	{ "pg/1=S:new", 1048576, true, "" },
	{ "pg/1=R:new:x", 1048576, false, "does not report" },
	{ "pg/1=R:new:n", 1048576, false, "not running" },
	{ "pg/1=R:old", 1048576, false, "runs 15.18, not 15.20" },
	{ "pg/1=R:none", 1048576, false, "runs nothing, not 15.20" },
	{ "pg/1=R:new:s", 1048576, false, "not streaming" },
	{ "pg/1=S:new:s", 1048576, false, "not streaming" },
	{ "pg/1=U:new:s", 1048576, false, "not streaming" },
	{ "pg/1=P:new:s", 1048576, true, "" },
	{ "pg/1=R:new:u", 1048576, false, "lag -1 bytes" },
	{ "pg/1=R:new:l", 1048576, false, "over the limit 1048576" },
	{ "pg/1=R:new:l", 100 * 1024 * 1024, true, "" },
	{ "pg/1=R:new", 0, true, "" },
	{ "pg/1=P:new:l", 1048576, true, "" },
	{ "pg/1=P:new:u", 1048576, true, "" },
	{ "pg/1=R:new:q", 1048576, false, "does not answer SQL" },
	{ "pg/1=P:new:q", 1048576, false, "does not answer SQL" },
};

static void test_unit_healthy(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(gate_cases) / sizeof(gate_cases[0]); i++) {
		refresh_obs obs;
		char why[200] = "junk";
		bool ok;

		make_obs(gate_cases[i].obs, 0, &obs);
		ok = fsm_unit_healthy(&obs.units[0], NEW, gate_cases[i].limit, why, sizeof(why));
		if (ok != gate_cases[i].healthy || strstr(why, gate_cases[i].why) == NULL ||
		    (ok && why[0] != '\0') || (!ok && why[0] == '\0'))
			fail_msg("%s (limit %lld): %s \"%s\", expected %s \"%s\"", gate_cases[i].obs,
				 (long long)gate_cases[i].limit, ok ? "healthy" : "unhealthy", why,
				 gate_cases[i].healthy ? "healthy" : "unhealthy", gate_cases[i].why);
	}
	{
		char why[200];

		assert_false(fsm_unit_healthy(NULL, NEW, 0, why, sizeof(why)));
		assert_non_null(strstr(why, "does not report"));
	}
}

static void test_obs_find(void **state)
{
	refresh_obs obs;

	(void)state;
	make_obs("pg/0=P:old pg/1=S:old", 0, &obs);
	assert_ptr_equal(fsm_obs_find(&obs, "pg/1"), &obs.units[1]);
	assert_null(fsm_obs_find(&obs, "pg/2"));
	assert_null(fsm_obs_find(&obs, "pg-1"));
}

/* ---- (d) the rollback record ---- */

static void test_new_rollback(void **state)
{
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = make_units("P0 S1 R2 R3", OLD, units);
	refresh_record cur, rb, rb2;

	(void)state;
	record_new(9, OLD, NEW, units, n, T0, &cur);
	assert_int_equal(cur.unit_count, 4);
	assert_string_equal(cur.units[0].unit, "pg/3");
	assert_string_equal(cur.units[0].member, "pg-3");
	assert_string_equal(cur.units[3].planned_role, "primary");
	cur.state = RS_FAILED;
	cur.first_pause_done = true;
	cur.skip_health_check = true;
	snprintf(cur.failed_unit, sizeof(cur.failed_unit), "pg/2");
	snprintf(cur.reason, sizeof(cur.reason), "pg/2 not healthy");
	/* pg/3 and pg/2 were refreshed; pg/1 and pg/0 still run the original */
	snprintf(units[3].version, sizeof(units[3].version), NEW);
	snprintf(units[2].version, sizeof(units[2].version), NEW);

	record_new_rollback(&cur, units, n, T0 + 60000, &rb);
	assert_int_equal(rb.id, 9);
	assert_true(rb.rollback);
	assert_int_equal(rb.state, RS_CHECKING);
	assert_string_equal(rb.from, NEW);
	assert_string_equal(rb.to, OLD);
	assert_string_equal(rb.original, OLD);
	assert_int_equal(rb.current, -1);
	assert_int_equal(rb.unit_count, 2);
	assert_string_equal(rb.units[0].unit, "pg/3");
	assert_string_equal(rb.units[1].unit, "pg/2");
	assert_int_equal(rb.units[0].step, STEP_PENDING);
	assert_int_equal(rb.units[1].step, STEP_PENDING);
	assert_false(rb.first_pause_done);
	assert_false(rb.skip_health_check);
	assert_string_equal(rb.failed_unit, "");
	assert_string_equal(rb.reason, "");
	assert_int_equal(rb.started_ms, T0);
	assert_int_equal(rb.state_since_ms, T0 + 60000);

	/* after a switchover the new primary (pg/1, refreshed) is rolled back last, after the replicas */
	snprintf(units[1].version, sizeof(units[1].version), NEW);
	snprintf(units[1].role, sizeof(units[1].role), "primary");
	snprintf(units[0].role, sizeof(units[0].role), "sync-standby");
	record_new_rollback(&cur, units, n, T0 + 60000, &rb);
	assert_int_equal(rb.unit_count, 3);
	assert_string_equal(rb.units[0].unit, "pg/3");
	assert_string_equal(rb.units[1].unit, "pg/2");
	assert_string_equal(rb.units[2].unit, "pg/1");

	/* the rollback of a rollback still goes to the original */
	record_new_rollback(&rb, units, n, T0 + 90000, &rb2);
	assert_true(rb2.rollback);
	assert_string_equal(rb2.from, NEW);
	assert_string_equal(rb2.to, OLD);
	assert_int_equal(rb2.unit_count, 3);
}

/* record_new: units already on the target are left out, members are Patroni names. */
static void test_new_record(void **state)
{
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = make_units("P0 S1 R2", OLD, units);
	refresh_record rec;

	(void)state;
	snprintf(units[2].version, sizeof(units[2].version), NEW);
	record_new(3, OLD, NEW, units, n, T0, &rec);
	assert_int_equal(rec.state, RS_CHECKING);
	assert_false(rec.rollback);
	assert_string_equal(rec.original, OLD);
	assert_int_equal(rec.unit_count, 2);
	assert_string_equal(rec.units[0].unit, "pg/1");
	assert_string_equal(rec.units[0].member, "pg-1");
	assert_string_equal(rec.units[1].unit, "pg/0");
	assert_int_equal(record_find_unit(&rec, "pg/0"), 1);
	assert_int_equal(record_find_unit(&rec, "pg/2"), -1);
	assert_int_equal(record_next_pending(&rec), 0);
	assert_int_equal(record_done_count(&rec), 0);
	rec.units[0].step = STEP_SKIPPED;
	assert_int_equal(record_done_count(&rec), 1);
	assert_int_equal(record_next_pending(&rec), 1);
}

/* ---- (e) JSON ---- */

static void test_record_json_round_trip(void **state)
{
	refresh_record a, b;
	char *json = NULL, *json2 = NULL;
	pgr_err err;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.id = 42;
	a.state = RS_PAUSED;
	a.rollback = true;
	snprintf(a.from, sizeof(a.from), NEW);
	snprintf(a.to, sizeof(a.to), OLD);
	snprintf(a.original, sizeof(a.original), OLD);
	a.unit_count = 3;
	for (int i = 0; i < 3; i++) {
		snprintf(a.units[i].unit, sizeof(a.units[i].unit), "pg/%d", 2 - i);
		snprintf(a.units[i].member, sizeof(a.units[i].member), "pg-%d", 2 - i);
		snprintf(a.units[i].planned_role, sizeof(a.units[i].planned_role), "%s",
			 i == 0 ? "replica" : i == 1 ? "sync-standby" : "primary");
		a.units[i].step = (unit_step)(i + 2);
		a.units[i].started_ms = INT64_C(1700000000000) + i;
		a.units[i].done_ms = INT64_C(1700000060000) + i;
		snprintf(a.units[i].message, sizeof(a.units[i].message), "msg \"%d\" é\n", i);
	}
	a.current = 1;
	a.first_pause_done = true;
	a.skip_health_check = true;
	a.skip_compatibility = true;
	a.skip_prechecks = true;
	a.skip_workload = true;
	a.skip_backup = true;
	snprintf(a.switchover_from, sizeof(a.switchover_from), "pg-0");
	snprintf(a.switchover_to, sizeof(a.switchover_to), "pg-1");
	snprintf(a.failed_unit, sizeof(a.failed_unit), "pg/1");
	snprintf(a.reason, sizeof(a.reason), "pg/1 not healthy after 120 s: lag 5 bytes");
	snprintf(a.cause, sizeof(a.cause), "pg/1 failed its health gate: lag 5 bytes; then rolled back by the user");
	snprintf(a.intent_token, sizeof(a.intent_token), "host-12-1700000000000");
	a.started_ms = INT64_C(1700000000000);
	a.state_since_ms = INT64_C(1700000100000);
	a.ended_ms = INT64_C(1700000200000);

	assert_int_equal(record_to_json(&a, &json, &err), 0);
	assert_int_equal(record_parse(json, &b, &err), 0);
	assert_int_equal(b.id, a.id);
	assert_int_equal(b.state, a.state);
	assert_true(b.rollback);
	assert_string_equal(b.from, a.from);
	assert_string_equal(b.to, a.to);
	assert_string_equal(b.original, a.original);
	assert_int_equal(b.unit_count, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(b.units[i].unit, a.units[i].unit);
		assert_string_equal(b.units[i].member, a.units[i].member);
		assert_string_equal(b.units[i].planned_role, a.units[i].planned_role);
		assert_int_equal(b.units[i].step, a.units[i].step);
		assert_int_equal(b.units[i].started_ms, a.units[i].started_ms);
		assert_int_equal(b.units[i].done_ms, a.units[i].done_ms);
		assert_string_equal(b.units[i].message, a.units[i].message);
	}
	assert_int_equal(b.current, 1);
	assert_true(b.first_pause_done && b.skip_health_check && b.skip_compatibility &&
		    b.skip_prechecks && b.skip_workload && b.skip_backup);
	assert_string_equal(b.switchover_from, "pg-0");
	assert_string_equal(b.switchover_to, "pg-1");
	assert_string_equal(b.failed_unit, "pg/1");
	assert_string_equal(b.reason, a.reason);
	assert_string_equal(b.cause, a.cause);
	assert_string_equal(b.intent_token, a.intent_token);
	assert_int_equal(b.started_ms, a.started_ms);
	assert_int_equal(b.state_since_ms, a.state_since_ms);
	assert_int_equal(b.ended_ms, a.ended_ms);
	assert_int_equal(record_to_json(&b, &json2, &err), 0);
	assert_string_equal(json, json2);
	free(json);
	free(json2);

	/* every state and step survives */
	for (int s = 0; s < RS_COUNT; s++) {
		a.state = (refresh_state)s;
		for (int i = 0; i < 3; i++)
			a.units[i].step = (unit_step)((s + i) % 5);
		assert_int_equal(record_to_json(&a, &json, &err), 0);
		assert_int_equal(record_parse(json, &b, &err), 0);
		assert_int_equal(b.state, s);
		for (int i = 0; i < 3; i++)
			assert_int_equal(b.units[i].step, a.units[i].step);
		free(json);
	}
}

static const struct {
	const char *json;
	int ok;
	const char *err_has;
} parse_cases[] = {
	{ "not json", 0, "not JSON" },
	{ "", 0, "not JSON" },
	{ "{\"state\":", 0, "not JSON" },
	{ "[1,2]", 0, "not a JSON object" },
	{ "\"checking\"", 0, "not" },
	{ "{}", 0, "unknown state" },
	{ "{\"state\":\"bogus\"}", 0, "unknown state \"bogus\"" },
	{ "{\"state\":7}", 0, "unknown state" },
	{ "{\"state\":\"checking\"}", 1, NULL },
	{ "{\"state\":\"unit\",\"current\":5,\"units\":[]}", 1, NULL },
	{ "{\"state\":\"unit\",\"current\":0,\"units\":[{\"unit\":\"pg/2\",\"step\":\"refreshing\"}],\"extra\":1}", 1, NULL },
};

static void test_record_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		refresh_record rec;
		pgr_err err;
		int rc;

		pgr_err_clear(&err);
		rc = record_parse(parse_cases[i].json, &rec, &err);
		if (parse_cases[i].ok ? rc != 0 : rc == 0 || strstr(err.msg, parse_cases[i].err_has) == NULL)
			fail_msg("%s: rc %d \"%s\"", parse_cases[i].json, rc, err.msg);
	}
	{
		refresh_record rec;
		pgr_err err;

		/* an out-of-range current is dropped; a missing current is none */
		assert_int_equal(record_parse("{\"state\":\"unit\",\"current\":5,\"units\":[]}", &rec, &err), 0);
		assert_int_equal(rec.current, -1);
		assert_int_equal(record_parse("{\"state\":\"checking\"}", &rec, &err), 0);
		assert_int_equal(rec.current, -1);
		assert_int_equal(record_parse("{\"state\":\"unit\",\"current\":0,\"units\":[{\"unit\":\"pg/2\",\"step\":\"refreshing\"}]}",
					      &rec, &err),
				 0);
		assert_int_equal(rec.current, 0);
		assert_int_equal(rec.units[0].step, STEP_REFRESHING);
	}
	{
		/* a record written before resume became an intent: its resume_requested is read past, never written */
		refresh_record rec;
		pgr_err err;
		char *json = NULL;

		assert_int_equal(record_parse("{\"id\":4,\"state\":\"paused\",\"resume_requested\":true,\"from\":\"15.18\","
					      "\"to\":\"15.20\",\"first_pause_done\":true}",
					      &rec, &err),
				 0);
		assert_int_equal(rec.id, 4);
		assert_int_equal(rec.state, RS_PAUSED);
		assert_true(rec.first_pause_done);
		assert_int_equal(record_to_json(&rec, &json, &err), 0);
		assert_null(strstr(json, "resume_requested"));
		assert_non_null(strstr(json, "\"first_pause_done\":true"));
		free(json);
	}
}

static void test_step_names(void **state)
{
	(void)state;
	assert_string_equal(unit_step_name(STEP_PENDING), "pending");
	assert_string_equal(unit_step_name(STEP_REFRESHING), "refreshing");
	assert_string_equal(unit_step_name(STEP_DONE), "done");
	assert_string_equal(unit_step_name(STEP_FAILED), "failed");
	assert_string_equal(unit_step_name(STEP_SKIPPED), "skipped");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_reachable),
		cmocka_unit_test(test_table_failed_and_rollback),
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_fsm_print),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_decide_retry_switchover),
		cmocka_unit_test(test_decide_walk),
		cmocka_unit_test(test_decide_batch_walk),
		cmocka_unit_test(test_decide_batch_pause_all),
		cmocka_unit_test(test_decide_batch_halted),
		cmocka_unit_test(test_walk_every_decision),
		cmocka_unit_test(test_causes_kept),
		cmocka_unit_test(test_intent_json),
		cmocka_unit_test(test_refresh_asked),
		cmocka_unit_test(test_unit_healthy),
		cmocka_unit_test(test_obs_find),
		cmocka_unit_test(test_new_record),
		cmocka_unit_test(test_new_rollback),
		cmocka_unit_test(test_record_json_round_trip),
		cmocka_unit_test(test_record_parse_errors),
		cmocka_unit_test(test_step_names),
	};

	log_setup(LOG_LEVEL_QUIET, "test", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
