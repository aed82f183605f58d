/*
 * test_refresh_unit_step.c — what a unit's agent does next (refresh/unit_step.h): a table of named
 * cases (one a line: what the unit reports, what the record asks, the expected step), then the
 * whole life of a sync standby's refresh walked step by step, then invariants over every combination
 * of the inputs (never restart while a restart runs, never restart a sync standby that has not stood
 * aside, never drop tags while a restart is pending, a unit asked nothing never relinks or restarts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refresh/driver.h"
#include "refresh/unit_step.h"
#include "util/log.h"

#define OLD "15.18"
#define NEW "15.20"

/* One case: the unit (role, runs, linked, patroni state, tags) and the view, and the step expected. */
typedef struct step_case {
	const char *name;
	const char *role, *runs, *linked, *state;
	bool nosync;
	const char *replicatefrom;
	const char *target; /* NULL: nothing asked */
	bool restart_wanted, switchover;
	const char *intent_rf; /* the replicatefrom its unit intent asks for */
	bool restart_running, restart_recent, written_recently;
	int64_t aside_ms;
	unit_action expect;
	const char *kept; /* unit_step_kept_replicatefrom, or NULL not to check */
	const char *cascade_after; /* stood aside: the standby to cascade from once on the target (NULL: none) */
} step_case;

static const step_case cases[] = {
	/* name                                   role            runs  linked state      nosync rf      target restart swo   intent running recent written aside  expect */
	{ "no refresh, nothing set", "replica", OLD, OLD, "running", false, "", NULL, false, false, "", false, false, false, -1, UNIT_IDLE, "", NULL },
	{ "replica's turn: relink first", "replica", OLD, OLD, "running", false, "", NEW, true, false, "", false, false, false, -1, UNIT_RELINK, NULL, NULL },
	{ "replica relinked: restart", "replica", OLD, NEW, "running", false, "", NEW, true, false, "", false, false, false, -1, UNIT_RESTART, NULL, NULL },
	{ "restart under way", "replica", OLD, NEW, "running", false, "", NEW, true, false, "", true, false, false, -1, UNIT_WAIT_RESTART, NULL, NULL },
	{ "restart just answered, old version shown", "replica", OLD, NEW, "running", false, "", NEW, true, false, "", false, true, false, -1, UNIT_WAIT_RESTART, NULL, NULL },
	{ "runs the target: done", "replica", NEW, NEW, "running", false, "", NEW, true, false, "", false, false, false, -1, UNIT_IDLE, "", NULL },
	{ "stopped: Patroni starts it", "replica", "", NEW, "stopped", false, "", NEW, true, false, "", false, false, false, -1, UNIT_IDLE, NULL, NULL },
	{ "sync standby: stand aside first", "sync-standby", OLD, NEW, "running", false, "", NEW, true, false, "", false, false, false, -1, UNIT_STAND_ASIDE, NULL, NULL },
	{ "sync standby aside: wait for release", "sync-standby", OLD, NEW, "running", true, "pg-1", NEW, true, false, "", false, false, true, 300, UNIT_WAIT_RELEASE, "pg-1", NULL },
	{ "aside, Patroni shows no tag yet", "sync-standby", OLD, NEW, "running", false, "", NEW, true, false, "", false, false, true, 100, UNIT_WAIT_RELEASE, NULL, NULL },
	{ "released: restart", "replica", OLD, NEW, "running", true, "pg-1", NEW, true, false, "", false, false, false, 900, UNIT_RESTART, "pg-1", NULL },
	{ "never released: restart anyway", "sync-standby", OLD, NEW, "running", true, "pg-1", NEW, true, false, "", false, false, false, UNIT_RELEASE_WAIT_MS, UNIT_RESTART, NULL, NULL },
	{ "tag seen before the agent knew (restarted agent)", "sync-standby", OLD, NEW, "running", true, "", NEW, true, false, "", false, false, false, -1, UNIT_WAIT_RELEASE, NULL, NULL },
	{ "cascade asked by intent, Patroni does not show it: written again", "replica", NEW, NEW, "running", false, "", NULL, false, false, "pg-1", false, false, false, -1, UNIT_UNTAG, "pg-1", NULL },
	{ "restarted onto the target: nosync goes, cascade stays", "replica", NEW, NEW, "running", true, "pg-1", NEW, true, false, "", false, false, false, -1, UNIT_UNTAG, "pg-1", NULL },
	{ "tags just written: let Patroni show them", "replica", NEW, NEW, "running", true, "pg-1", NEW, true, false, "", false, false, true, -1, UNIT_IDLE, NULL, NULL },
	{ "cascade kept while the refresh is at the unit", "replica", NEW, NEW, "running", false, "pg-1", NEW, true, false, "", false, false, false, -1, UNIT_IDLE, "pg-1", NULL },
	{ "switchover owns the cascade", "replica", NEW, NEW, "running", false, "pg-1", NULL, false, true, "", false, false, false, -1, UNIT_IDLE, "pg-1", NULL },
	{ "old primary relinks before the switchover", "primary", OLD, OLD, "running", false, "", NEW, false, true, "", false, false, false, -1, UNIT_RELINK, NULL, NULL },
	{ "old primary relinked: no restart of its own", "primary", OLD, NEW, "running", false, "", NEW, false, true, "", false, false, false, -1, UNIT_IDLE, NULL, NULL },
	{ "paused after the unit: cascade undone", "replica", NEW, NEW, "running", false, "pg-1", NULL, false, false, "", false, false, false, -1, UNIT_UNTAG, "", NULL },
	{ "another unit's turn: leftover nosync undone", "replica", NEW, NEW, "running", true, "", NULL, false, false, "", false, false, false, -1, UNIT_UNTAG, "", NULL },
	{ "cascade asked by intent: kept once the switchover mark is gone", "replica", NEW, NEW, "running", false, "pg-1", NULL, false, false, "pg-1", false, false, false, -1, UNIT_IDLE, "pg-1", NULL },
	{ "intent cleared the cascade: dropped", "replica", NEW, NEW, "running", false, "pg-1", NULL, false, false, "", false, false, false, -1, UNIT_UNTAG, "", NULL },
	{ "intent cascade while the refresh restarts the unit", "replica", NEW, NEW, "running", false, "pg-2", NEW, true, false, "pg-1", false, false, false, -1, UNIT_UNTAG, "pg-1", NULL },
	{ "sync standby stands aside whatever the cluster", "sync-standby", OLD, NEW, "running", false, "", NEW, true, false, "", false, false, false, -1, UNIT_STAND_ASIDE, NULL, NULL },
	{ "leftover tag while a restart child runs", "replica", NEW, NEW, "running", true, "", NULL, false, false, "", true, false, false, -1, UNIT_IDLE, NULL, NULL },
	/* a sync standby's upstream does not change while it is sync: the cascade comes with its untag */
	{ "aside, cascade to come: upstream unchanged while waiting", "sync-standby", OLD, NEW, "running", true, "", NEW, true, false, "", false, false, false, 300, UNIT_WAIT_RELEASE, "pg-1", "pg-1" },
	{ "aside and released, cascade to come: restart first", "replica", OLD, NEW, "running", true, "", NEW, true, false, "", false, false, false, 900, UNIT_RESTART, "pg-1", "pg-1" },
	{ "restarted after standing aside: nosync goes, the cascade comes", "replica", NEW, NEW, "running", true, "", NEW, true, false, "", false, false, false, -1, UNIT_UNTAG, "pg-1", "pg-1" },
	{ "cascade after standing aside, written: nothing more", "replica", NEW, NEW, "running", false, "pg-1", NEW, true, false, "", false, false, false, -1, UNIT_IDLE, "pg-1", "pg-1" },
	{ "cascade to come, but the intent asks another", "replica", NEW, NEW, "running", true, "", NEW, true, false, "pg-2", false, false, false, -1, UNIT_UNTAG, "pg-2", "pg-1" },
	{ "cascade to come, switchover owns the tags, unit's turn over", "replica", NEW, NEW, "running", false, "", NULL, false, true, "", false, false, false, -1, UNIT_IDLE, "", "pg-1" },
};

static void fill(const step_case *c, unit_record *me, unit_view *v)
{
	memset(me, 0, sizeof(*me));
	snprintf(me->unit, sizeof(me->unit), "pg/0");
	snprintf(me->member, sizeof(me->member), "pg-0");
	snprintf(me->role, sizeof(me->role), "%s", c->role);
	snprintf(me->server_version, sizeof(me->server_version), "%s", c->runs);
	snprintf(me->linked_version, sizeof(me->linked_version), "%s", c->linked);
	snprintf(me->patroni_state, sizeof(me->patroni_state), "%s", c->state);
	me->tag_nosync = c->nosync;
	snprintf(me->tag_replicatefrom, sizeof(me->tag_replicatefrom), "%s", c->replicatefrom);
	memset(v, 0, sizeof(*v));
	v->me = me;
	v->target = c->target;
	v->restart_wanted = c->restart_wanted;
	v->switchover_owns_tags = c->switchover;
	v->intent_replicatefrom = c->intent_rf;
	v->restart_running = c->restart_running;
	v->restart_recent = c->restart_recent;
	v->tags_written_recently = c->written_recently;
	v->aside_ms = c->aside_ms;
	v->cascade_after = c->cascade_after;
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unit_record me;
		unit_view v;
		unit_action got;

		fill(&cases[i], &me, &v);
		got = unit_step_decide(&v);
		if (got != cases[i].expect)
			fail_msg("%s: %s, expected %s", cases[i].name, unit_action_name(got), unit_action_name(cases[i].expect));
		if (cases[i].kept != NULL && strcmp(unit_step_kept_replicatefrom(&v), cases[i].kept) != 0)
			fail_msg("%s: keeps replicatefrom \"%s\", expected \"%s\"", cases[i].name,
				 unit_step_kept_replicatefrom(&v), cases[i].kept);
	}
}

/* A sync standby's whole turn, each step applied as the agent and Patroni would. */
static void test_sync_standby_walk(void **state)
{
	unit_record me;
	unit_view v = { .me = &me, .target = NEW, .restart_wanted = true, .aside_ms = -1 };
	const unit_action expected[] = { UNIT_RELINK, UNIT_STAND_ASIDE, UNIT_WAIT_RELEASE, UNIT_RESTART,
					 UNIT_WAIT_RESTART, UNIT_UNTAG, UNIT_IDLE };
	unit_action got[sizeof(expected) / sizeof(expected[0])];

	(void)state;
	memset(&me, 0, sizeof(me));
	snprintf(me.role, sizeof(me.role), "sync-standby");
	snprintf(me.server_version, sizeof(me.server_version), OLD);
	snprintf(me.linked_version, sizeof(me.linked_version), OLD);
	snprintf(me.patroni_state, sizeof(me.patroni_state), "running");
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		got[i] = unit_step_decide(&v);
		assert_string_equal(unit_action_name(got[i]), unit_action_name(expected[i]));
		switch (got[i]) {
		case UNIT_RELINK:
			snprintf(me.linked_version, sizeof(me.linked_version), NEW);
			break;
		case UNIT_STAND_ASIDE:
			v.aside_ms = 0;
			me.tag_nosync = true; /* its upstream unchanged: the cascade comes after its restart */
			v.cascade_after = "pg-1";
			break;
		case UNIT_WAIT_RELEASE:
			assert_string_equal(me.tag_replicatefrom, "");
			snprintf(me.role, sizeof(me.role), "replica"); /* the primary gave the role to pg-1 */
			break;
		case UNIT_RESTART:
			v.restart_running = true;
			break;
		case UNIT_WAIT_RESTART:
			v.restart_running = false;
			snprintf(me.server_version, sizeof(me.server_version), NEW);
			break;
		case UNIT_UNTAG:
			assert_string_equal(me.server_version, NEW);
			me.tag_nosync = false;
			snprintf(me.tag_replicatefrom, sizeof(me.tag_replicatefrom), "%s", unit_step_kept_replicatefrom(&v));
			break;
		default:
			break;
		}
	}
	/* what stays: the cascade towards the next primary, until the refresh moves on */
	assert_string_equal(me.tag_replicatefrom, "pg-1");
	v.target = NULL;
	v.restart_wanted = false;
	v.cascade_after = ""; /* the agent forgets it once the unit's turn is over */
	v.switchover_owns_tags = true;
	assert_int_equal(unit_step_decide(&v), UNIT_IDLE);
	v.switchover_owns_tags = false;
	assert_int_equal(unit_step_decide(&v), UNIT_UNTAG);
	assert_string_equal(unit_step_kept_replicatefrom(&v), "");
}

/* Every combination of the inputs: the rules that must hold whatever the rest says. */
static void test_invariants(void **state)
{
	static const char *const roles[] = { "primary", "sync-standby", "replica", "unknown" };
	static const char *const versions[] = { OLD, NEW, "" };
	static const char *const states[] = { "running", "stopped", "" };
	static const char *const rfs[] = { "", "pg-1" };
	static const int64_t asides[] = { -1, 0, UNIT_RELEASE_WAIT_MS - 1, UNIT_RELEASE_WAIT_MS };
	long combos = 0;
	bool used[64] = { false };
	int nrows;

	(void)state;
	(void)unit_step_table(&nrows);
	assert_true(nrows <= 64);
	for (int bits = 0; bits < (1 << 8); bits++)
		for (int ro = 0; ro < 4; ro++)
			for (int ru = 0; ru < 3; ru++)
				for (int li = 0; li < 3; li++)
					for (int st = 0; st < 3; st++)
						for (int rf = 0; rf < 2; rf++)
							for (int as = 0; as < 8; as++) {
								step_case c = {
									.name = "combo",
									.role = roles[ro],
									.runs = versions[ru],
									.linked = versions[li],
									.state = states[st],
									.nosync = bits & 1,
									.replicatefrom = rfs[rf],
									.target = (bits & 2) ? NEW : NULL,
									.restart_wanted = (bits & 2) && (bits & 4),
									.switchover = bits & 8,
									.intent_rf = (bits & 16) ? "pg-2" : "",
									.restart_running = bits & 32,
									.restart_recent = bits & 64,
									.written_recently = bits & 128,
									.aside_ms = asides[as % 4],
									.cascade_after = as >= 4 ? "pg-3" : "",
								};
								unit_record me;
								unit_view v;
								unit_action a;

								fill(&c, &me, &v);
								a = unit_step_decide(&v);
								combos++;
								if (v.target == NULL)
									assert_true(a == UNIT_IDLE || a == UNIT_UNTAG);
								if (a == UNIT_RESTART) {
									assert_false(v.restart_running || v.restart_recent);
									assert_true(v.restart_wanted);
									assert_string_equal(me.linked_version, NEW);
									assert_string_not_equal(me.server_version, NEW);
									assert_string_equal(me.patroni_state, "running");
									/* a sync standby restarts only after standing aside long enough */
									if (strcmp(me.role, "sync-standby") == 0)
										assert_true(v.aside_ms >= UNIT_RELEASE_WAIT_MS);
								}
								/* a cascade its intent asks for is never dropped by its own steps */
								if (c.intent_rf[0] != '\0')
									assert_string_equal(unit_step_kept_replicatefrom(&v), c.intent_rf);
								if (a == UNIT_UNTAG) {
									assert_false(v.restart_running || v.tags_written_recently);
									assert_false(v.restart_wanted && strcmp(me.server_version, NEW) != 0 &&
										     strcmp(me.linked_version, NEW) == 0);
								}
								/* the cascade after standing aside: only once it runs the target */
								if (a == UNIT_UNTAG && c.intent_rf[0] == '\0' &&
								    strcmp(unit_step_kept_replicatefrom(&v), "pg-3") == 0)
									assert_string_equal(me.server_version, NEW);
								if (a == UNIT_STAND_ASIDE) {
									assert_false(me.tag_nosync);
									assert_string_equal(me.role, "sync-standby");
								}
								if (a == UNIT_RELINK)
									assert_string_not_equal(me.linked_version, NEW);
								/* every decision is a row of the unit's table */
								if (unit_step_row(unit_step_state(&v), a) == NULL)
									fail_msg("no row for %s from %s", unit_action_name(a),
										 unit_state_name(unit_step_state(&v)));
								used[unit_step_row(unit_step_state(&v), a) - unit_step_table(&nrows)] = true;
							}
	assert_true(combos > 10000);
	/* and every row is some decision: the table says no more than the decisions do */
	for (int i = 0; i < nrows; i++)
		if (!used[i])
			fail_msg("row %s + %s is never decided", unit_state_name(unit_step_table(&nrows)[i].from),
				 unit_action_name(unit_step_table(&nrows)[i].action));
}

/* The walk of a sync standby, through the table: each step's row, and where the unit is after it. */
static void test_table_walk(void **state)
{
	static const struct {
		unit_state from;
		unit_action action;
	} expected[] = {
		{ US_LINK_OLD, UNIT_RELINK },	  { US_LINKED, UNIT_STAND_ASIDE },   { US_ASIDE, UNIT_WAIT_RELEASE },
		{ US_ASIDE, UNIT_RESTART },	  { US_RESTARTING, UNIT_WAIT_RESTART }, { US_ON_TARGET, UNIT_UNTAG },
		{ US_ON_TARGET, UNIT_IDLE },
	};
	unit_record me;
	unit_view v = { .me = &me, .target = NEW, .restart_wanted = true, .aside_ms = -1 };

	(void)state;
	memset(&me, 0, sizeof(me));
	snprintf(me.role, sizeof(me.role), "sync-standby");
	snprintf(me.server_version, sizeof(me.server_version), OLD);
	snprintf(me.linked_version, sizeof(me.linked_version), OLD);
	snprintf(me.patroni_state, sizeof(me.patroni_state), "running");
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		const unit_transition *row;
		unit_action a = unit_step_next(&v, &row);

		assert_non_null(row);
		if (row->from != expected[i].from || a != expected[i].action)
			fail_msg("step %zu: %s + %s, expected %s + %s", i, unit_state_name(row->from), unit_action_name(a),
				 unit_state_name(expected[i].from), unit_action_name(expected[i].action));
		switch (a) {
		case UNIT_RELINK:
			snprintf(me.linked_version, sizeof(me.linked_version), NEW);
			break;
		case UNIT_STAND_ASIDE:
			v.aside_ms = 0;
			me.tag_nosync = true;
			break;
		case UNIT_WAIT_RELEASE:
			v.aside_ms = UNIT_RELEASE_WAIT_MS;
			break;
		case UNIT_RESTART:
			v.restart_running = true;
			break;
		case UNIT_WAIT_RESTART:
			v.restart_running = false;
			snprintf(me.server_version, sizeof(me.server_version), NEW);
			break;
		case UNIT_UNTAG:
			me.tag_nosync = false;
			break;
		default:
			break;
		}
		/* where the row said the unit would be, it is (derived again from what it reports) */
		if (a != UNIT_WAIT_RELEASE && a != UNIT_WAIT_RESTART && a != UNIT_IDLE && a != UNIT_UNTAG)
			assert_int_equal(unit_step_state(&v), row->to);
	}
}

/* Table invariants: one row per (from, action), names, and a row deleted is a decision refused. */
static void test_table_rows(void **state)
{
	int n;
	const unit_transition *t = unit_step_table(&n);

	(void)state;
	for (int i = 0; i < n; i++) {
		assert_ptr_equal(unit_step_row(t[i].from, t[i].action), &t[i]);
		assert_true(t[i].meaning != NULL && t[i].meaning[0] != '\0');
		assert_string_not_equal(unit_state_name(t[i].from), "?");
		assert_string_not_equal(unit_state_name(t[i].to), "?");
	}
	assert_null(unit_step_row(US_IDLE, UNIT_RESTART));
	assert_null(unit_step_row(US_ON_TARGET, UNIT_RELINK));
	assert_string_equal(unit_state_name(US_COUNT), "?");
}


static void test_names(void **state)
{
	(void)state;
	assert_string_equal(unit_action_name(UNIT_STAND_ASIDE), "stand-aside");
	assert_string_equal(unit_action_name(UNIT_UNTAG), "untag");
	assert_string_equal(unit_action_name((unit_action)99), "?");
}

/* The unit's step goes into its record and comes back in a new agent: standing aside and a restart keep
 * their start, the restart's child does not survive. One case a line. */
static void test_step_persisted(void **state)
{
	static const struct {
		unit_state step;
		int64_t aside, restart;
		const char *target, *name;
		int64_t since; /* expected in the record */
	} persisted[] = {
		{ US_IDLE, 0, 0, "", "idle", 0 },
		{ US_LINK_OLD, 0, 0, NEW, "link-old", 0 },
		{ US_LINKED, 0, 0, NEW, "linked", 0 },
		{ US_ASIDE, 1700000001000, 0, NEW, "aside", 1700000001000 },
		{ US_RESTARTING, 0, 1700000002000, NEW, "restarting", 1700000002000 },
		{ US_ON_TARGET, 0, 1700000002000, NEW, "on-target", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(persisted) / sizeof(persisted[0]); i++) {
		refresh_unit_state a, b;
		unit_record rec, parsed;
		char *json = NULL;
		pgr_err err;

		memset(&a, 0, sizeof(a));
		memset(&rec, 0, sizeof(rec));
		snprintf(rec.unit, sizeof(rec.unit), "pg/1");
		a.step = persisted[i].step;
		a.aside_since_ms = persisted[i].aside;
		a.last_restart_ms = persisted[i].restart;
		a.restart_child = 4242;
		snprintf(a.last_restart_target, sizeof(a.last_restart_target), "%s", persisted[i].target);
		snprintf(a.step_target, sizeof(a.step_target), "%s", persisted[i].target);
		refresh_unit_state_save(&a, &rec);
		assert_string_equal(rec.step, persisted[i].name);
		assert_int_equal(rec.step_since_ms, persisted[i].since);
		/* through the record's JSON, as etcd keeps it */
		assert_int_equal(unit_record_to_json(&rec, &json, &err), 0);
		assert_int_equal(unit_record_parse(json, &parsed, &err), 0);
		free(json);
		refresh_unit_state_restore(&b, &parsed);
		assert_int_equal(b.step, persisted[i].step);
		assert_string_equal(b.step_target, persisted[i].target);
		assert_int_equal(b.restart_child, 0);
		assert_int_equal(b.aside_since_ms, persisted[i].step == US_ASIDE ? persisted[i].aside : 0);
		assert_int_equal(b.last_restart_ms, persisted[i].step == US_RESTARTING ? persisted[i].restart : 0);
		assert_string_equal(b.last_restart_target, persisted[i].step == US_RESTARTING ? persisted[i].target : "");
	}
	{
		/* a record from before steps were kept: idle, nothing restored */
		unit_record old;
		refresh_unit_state b;
		pgr_err err;

		assert_int_equal(unit_record_parse("{\"unit\":\"pg/1\"}", &old, &err), 0);
		refresh_unit_state_restore(&b, &old);
		assert_int_equal(b.step, US_IDLE);
		assert_int_equal(b.aside_since_ms, 0);
		assert_int_equal(b.last_restart_ms, 0);
	}
}

/* nosync asked through the unit intent stays; one the agent set for its own restart goes once it is done. */
static void test_intent_nosync(void **state)
{
	static const struct {
		bool tag_nosync, intent_nosync;
		const char *target;
		unit_action expect;
	} rows[] = {
		{ true, true, NULL, UNIT_IDLE },     /* asked for: kept */
		{ true, false, NULL, UNIT_UNTAG },   /* a leftover of its own stand-aside: dropped */
		{ false, true, NULL, UNIT_IDLE },    /* asked, Patroni does not show it yet: not dropped (nothing to drop) */
		{ true, true, NEW, UNIT_IDLE },      /* on target, still asked: kept */
		{ true, false, NEW, UNIT_UNTAG },    /* on target: its own nosync goes */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unit_record me;
		unit_view v;

		memset(&me, 0, sizeof(me));
		snprintf(me.role, sizeof(me.role), "replica");
		snprintf(me.server_version, sizeof(me.server_version), NEW);
		snprintf(me.linked_version, sizeof(me.linked_version), NEW);
		snprintf(me.patroni_state, sizeof(me.patroni_state), "running");
		me.tag_nosync = rows[i].tag_nosync;
		memset(&v, 0, sizeof(v));
		v.me = &me;
		v.target = rows[i].target;
		v.restart_wanted = rows[i].target != NULL;
		v.intent_nosync = rows[i].intent_nosync;
		v.aside_ms = -1;
		if (unit_step_decide(&v) != rows[i].expect)
			fail_msg("row %zu: %s, expected %s", i, unit_action_name(unit_step_decide(&v)),
				 unit_action_name(rows[i].expect));
	}
}

/* What the agent applied through its unit intent reaches its record (and etcd's JSON), so the asker can
 * tell; no tag writer: nothing claimed. */
static void test_intent_reported(void **state)
{
	static const struct {
		const char *token, *error;
	} reports[] = {
		{ "cascade:42.1764428400123", "" },
		{ "uncascade:7.1", "" },
		{ "", "" },
		{ "cascade:9.9", "Patroni at http://127.0.0.1:8010 answered POST /reload with HTTP 503" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		agent_tags tags;
		refresh_unit_state st;
		unit_record rec, parsed;
		char *json = NULL;
		pgr_err err;

		agent_tags_init(&tags);
		agent_tags_seed(&tags, reports[i].token);
		snprintf(tags.intent_error, sizeof(tags.intent_error), "%s", reports[i].error);
		memset(&st, 0, sizeof(st));
		memset(&rec, 0, sizeof(rec));
		refresh_unit_state_save(&st, &rec);
		assert_string_equal(rec.intent_token, ""); /* no writer: nothing claimed */
		st.tags = &tags;
		refresh_unit_state_save(&st, &rec);
		assert_int_equal(unit_record_to_json(&rec, &json, &err), 0);
		assert_int_equal(unit_record_parse(json, &parsed, &err), 0);
		free(json);
		assert_string_equal(parsed.intent_token, reports[i].token);
		assert_string_equal(parsed.intent_error, reports[i].error);
		agent_tags_destroy(&tags);
	}
}

/*
 * Whose Patroni loop the coordinator wakes while a unit is refreshed (refresh_wake_wanted): one case a
 * line over three units pg/0 (member pg-0), pg/1, pg/2: the record's batch, who reports primary, and who
 * cascades from whom (replicatefrom); the units expected woken, as "012" flags.
 */
typedef struct wake_case {
	const char *name;
	refresh_state state;
	int batch;                 /* the unit refreshed (-1: none) */
	const char *roles[3];
	const char *replicatefrom[3];
	bool have[3];
	const char *expect;        /* '1' at i: unit i woken */
} wake_case;

static const wake_case wake_cases[] = {
	/* name                                        state       batch roles                                      replicatefrom        have                 expect */
	{ "replica refreshed: it and the primary", RS_UNIT, 2, { "primary", "sync-standby", "replica" }, { "", "", "" }, { true, true, true }, "101" },
	{ "sync standby cascading from pg-2: pg-2 too", RS_UNIT, 1, { "primary", "sync-standby", "replica" }, { "", "pg-2", "" }, { true, true, true }, "111" },
	{ "upstream of a unit not refreshed: not woken", RS_UNIT, 2, { "replica", "replica", "replica" }, { "pg-1", "", "" }, { true, true, true }, "001" },
	{ "replica cascading from pg-1: pg-1 too", RS_UNIT, 2, { "primary", "sync-standby", "replica" }, { "", "", "pg-1" }, { true, true, true }, "111" },
	{ "the batch unit's upstream is the primary", RS_UNIT, 2, { "primary", "sync-standby", "replica" }, { "", "", "pg-0" }, { true, true, true }, "101" },
	{ "upstream's record missing: still woken", RS_UNIT, 1, { "primary", "sync-standby", "replica" }, { "", "pg-2", "" }, { true, true, false }, "111" },
	{ "batch unit's record missing: its tag unknown", RS_UNIT, 1, { "primary", "sync-standby", "replica" }, { "", "pg-2", "" }, { true, false, true }, "110" },
	{ "paused: the refreshed unit is not woken", RS_PAUSED, 1, { "primary", "sync-standby", "replica" }, { "", "pg-2", "" }, { true, true, true }, "100" },
	{ "two primaries for a moment: both", RS_UNIT, 0, { "primary", "primary", "replica" }, { "", "", "" }, { true, true, true }, "110" },
};

static void test_wake_wanted(void **state)
{
	(void)state;
	cluster_conf *conf = calloc(1, sizeof(*conf));
	store_snapshot *snap = calloc(1, sizeof(*snap));

	assert_non_null(conf);
	assert_non_null(snap);
	for (size_t c = 0; c < sizeof(wake_cases) / sizeof(wake_cases[0]); c++) {
		const wake_case *w = &wake_cases[c];

		memset(conf, 0, sizeof(*conf));
		memset(snap, 0, sizeof(*snap));
		conf->unit_count = 3;
		snap->have_refresh = true;
		snap->refresh.state = w->state;
		snap->refresh.unit_count = 3;
		snap->refresh.current = w->batch;
		for (int i = 0; i < 3; i++) {
			snprintf(conf->units[i].name, sizeof(conf->units[i].name), "pg/%d", i);
			snprintf(conf->units[i].member, sizeof(conf->units[i].member), "pg-%d", i);
			snprintf(snap->refresh.units[i].unit, sizeof(snap->refresh.units[i].unit), "pg/%d", i);
			snprintf(snap->refresh.units[i].member, sizeof(snap->refresh.units[i].member), "pg-%d", i);
			snap->refresh.units[i].step = i == w->batch ? STEP_REFRESHING : STEP_PENDING;
			snap->have[i] = w->have[i];
			snprintf(snap->records[i].role, sizeof(snap->records[i].role), "%s", w->roles[i]);
			snprintf(snap->records[i].tag_replicatefrom, sizeof(snap->records[i].tag_replicatefrom), "%s",
				 w->replicatefrom[i]);
		}
		for (int i = 0; i < 3; i++) {
			bool want = w->expect[i] == '1';

			if (refresh_wake_wanted(conf, snap, i) != want)
				fail_msg("%s: unit pg/%d woken %s, expected %s", w->name, i, want ? "no" : "yes",
					 want ? "yes" : "no");
		}
	}
	free(conf);
	free(snap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_sync_standby_walk),
		cmocka_unit_test(test_invariants),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_table_walk),
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_step_persisted),
		cmocka_unit_test(test_intent_reported),
		cmocka_unit_test(test_intent_nosync),
		cmocka_unit_test(test_wake_wanted),
	};

	log_setup(LOG_LEVEL_QUIET, "test", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
