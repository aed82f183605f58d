/*
 * test_fast_switchover.c — the fast switchover's pure parts (cluster/fast_switchover.h): its step table,
 * the decision a coordinator takes about a fast switchover left by a dead owner (docs/fast-switchover.md,
 * "A kill -9 between any two steps"), LSNs and pg_controldata's output (captured from 15.20's).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cluster/fast_switchover.h"

static void test_table_in_order(void **state)
{
	(void)state;
	for (int i = 0; i < FAST_STEP_COUNT; i++) {
		const fast_step_def *d = fast_switchover_step_def((fast_step)i);
		fast_step back;

		assert_non_null(d);
		assert_int_equal(d->step, i);
		assert_true(strlen(d->name) > 0 && strlen(d->ensures) > 0);
		assert_int_equal(fast_switchover_step_parse(d->name, &back), 0);
		assert_int_equal(back, i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(fast_switchover_step_def((fast_step)j)->name, d->name);
	}
	assert_null(fast_switchover_step_def(FAST_STEP_COUNT));
	assert_null(fast_switchover_step_def((fast_step)-1));
}

static void test_table_rules(void **state)
{
	fast_step s;

	(void)state;
	/* the argument's order: checkpoint and maintenance mode before the pause, the pause before the stop, the stop and the
	 * check before the override, the override before the promotion, the sync standby before the resume */
	assert_true(FAST_CHECKPOINT < FAST_MAINTENANCE_ON);
	assert_true(FAST_MAINTENANCE_ON < FAST_PAUSE_POOLER); /* Patroni paused while clients still run */
	assert_true(FAST_PAUSE_POOLER < FAST_STOP_OLD);
	assert_true(FAST_STOP_OLD < FAST_CHECK_CANDIDATE);
	assert_true(FAST_CHECK_CANDIDATE < FAST_SYNC_OVERRIDE);
	assert_true(FAST_SYNC_OVERRIDE < FAST_PROMOTE);
	assert_true(FAST_PROMOTE < FAST_SYNC_STANDBY);
	assert_true(FAST_SYNC_STANDBY < FAST_REPOINT_RESUME);
	/* Patroni leaves maintenance mode only once the candidate holds the key: after clients run again */
	assert_true(FAST_REPOINT_RESUME < FAST_MAINTENANCE_OFF);
	assert_true(FAST_MAINTENANCE_OFF < FAST_DONE);
	/* an agent acts only on its own unit: the stop is the old primary's, the promotion the candidate's */
	assert_int_equal(fast_switchover_step_def(FAST_STOP_OLD)->who, FAST_BY_OLD_AGENT);
	assert_int_equal(fast_switchover_step_def(FAST_PROMOTE)->who, FAST_BY_CANDIDATE_AGENT);
	assert_int_equal(fast_switchover_step_def(FAST_SYNC_OVERRIDE)->who, FAST_BY_CANDIDATE_AGENT);
	assert_int_equal(fast_switchover_step_def(FAST_MAINTENANCE_ON)->who, FAST_BY_COORDINATOR);
	assert_int_equal(fast_switchover_step_def(FAST_MAINTENANCE_OFF)->who, FAST_BY_COORDINATOR);
	/* undone only before the promotion is asked */
	for (int i = 0; i < FAST_STEP_COUNT; i++)
		assert_int_equal(fast_switchover_can_abort((fast_step)i), i < FAST_PROMOTE);
	assert_int_equal(fast_switchover_step_parse("promote", &s), 0);
	assert_int_equal(s, FAST_PROMOTE);
	assert_int_equal(fast_switchover_step_parse("Promote", &s), -1);
	assert_int_equal(fast_switchover_step_parse("", &s), -1);
}

#define P FAST_PG_PRIMARY
#define S FAST_PG_STANDBY
#define D FAST_PG_DOWN
#define U FAST_PG_UNKNOWN
#define CLEAN FAST_SHUTDOWN_CLEAN
#define CRASH FAST_SHUTDOWN_CRASHED
#define NOTK FAST_SHUTDOWN_UNKNOWN

static void test_recover(void **state)
{
	static const struct {
		fast_step recorded;
		fast_pg old_pg, cand_pg;
		fast_shutdown shut;
		bool has_end;
		fast_action action;
		fast_step from; /* checked for FAST_GO_ON */
		bool cand_agent_gone;
	} cases[] = {
		/* killed before the old primary was asked to stop: nothing changed */
		{ FAST_CHECKPOINT, P, S, NOTK, false, FAST_ABORT, 0, false },
		{ FAST_PAUSE_POOLER, P, S, NOTK, false, FAST_ABORT, 0, false },
		{ FAST_MAINTENANCE_ON, P, S, NOTK, false, FAST_ABORT, 0, false },
		{ FAST_MAINTENANCE_ON, D, S, CRASH, false, FAST_ABORT, 0, false },
		/* the stop was asked: it goes on only when the old one is seen stopped cleanly and the candidate has it */
		{ FAST_STOP_OLD, P, S, NOTK, false, FAST_ABORT, 0, false },
		{ FAST_STOP_OLD, U, S, CLEAN, true, FAST_ABORT, 0, false },
		{ FAST_STOP_OLD, D, S, NOTK, true, FAST_ABORT, 0, false },
		{ FAST_STOP_OLD, D, S, CRASH, true, FAST_ABORT, 0, false },
		{ FAST_STOP_OLD, D, S, CLEAN, false, FAST_ABORT, 0, false },
		{ FAST_STOP_OLD, D, D, CLEAN, true, FAST_ABORT, 0, false },
		{ FAST_STOP_OLD, D, U, CLEAN, true, FAST_ABORT, 0, false },
		{ FAST_STOP_OLD, D, S, CLEAN, true, FAST_GO_ON, FAST_CHECK_CANDIDATE, false },
		{ FAST_CHECK_CANDIDATE, D, S, CLEAN, true, FAST_GO_ON, FAST_CHECK_CANDIDATE, false },
		{ FAST_SYNC_OVERRIDE, D, S, CLEAN, true, FAST_GO_ON, FAST_SYNC_OVERRIDE, false },
		{ FAST_SYNC_OVERRIDE, S, S, CLEAN, true, FAST_ABORT, 0, false },
		/* promoted by nobody we asked: halt */
		{ FAST_SYNC_OVERRIDE, D, P, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_MAINTENANCE_ON, P, P, NOTK, false, FAST_HALT, 0, false },
		/* the promotion was asked: never undone */
		{ FAST_PROMOTE, D, S, CLEAN, true, FAST_GO_ON, FAST_PROMOTE, false },
		{ FAST_PROMOTE, D, P, CLEAN, true, FAST_GO_ON, FAST_PROMOTE, false },
		{ FAST_PROMOTE, D, D, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_PROMOTE, D, U, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_PROMOTE, P, S, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_MAINTENANCE_OFF, D, P, CLEAN, true, FAST_GO_ON, FAST_MAINTENANCE_OFF, false },
		{ FAST_MAINTENANCE_OFF, S, P, CLEAN, true, FAST_GO_ON, FAST_MAINTENANCE_OFF, false },
		/* promoted with a sync standby, then crashed: the wait for the key starts it again (fast_switchover_key_judge) */
		{ FAST_MAINTENANCE_OFF, D, D, CLEAN, true, FAST_GO_ON, FAST_MAINTENANCE_OFF, false },
		{ FAST_REPOINT_RESUME, D, D, CLEAN, true, FAST_GO_ON, FAST_MAINTENANCE_OFF, false },
		{ FAST_SYNC_STANDBY, D, D, CLEAN, true, FAST_GO_ON, FAST_MAINTENANCE_OFF, false },
		{ FAST_MAINTENANCE_OFF, D, S, CLEAN, true, FAST_HALT, 0, false }, /* demoted by someone: not ours */
		{ FAST_MAINTENANCE_OFF, S, D, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_MAINTENANCE_OFF, U, D, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_MAINTENANCE_OFF, D, U, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_MAINTENANCE_OFF, P, D, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_DONE, D, D, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_SYNC_STANDBY, D, P, CLEAN, true, FAST_GO_ON, FAST_SYNC_STANDBY, false },
		{ FAST_SYNC_STANDBY, S, P, CLEAN, true, FAST_GO_ON, FAST_SYNC_STANDBY, false },
		{ FAST_REPOINT_RESUME, S, P, CLEAN, true, FAST_GO_ON, FAST_REPOINT_RESUME, false },
		{ FAST_REPOINT_RESUME, P, P, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_REPOINT_RESUME, U, D, CLEAN, true, FAST_HALT, 0, false },
		{ FAST_DONE, S, P, CLEAN, true, FAST_GO_ON, FAST_DONE, false },
		/* the candidate's agent gone (the coordinator that died was it): before the promotion, undone; after it
		 * was asked, as with the agent there (its intent stays; a restarted agent takes it) */
		{ FAST_STOP_OLD, D, S, CLEAN, true, FAST_ABORT, 0, true },
		{ FAST_SYNC_OVERRIDE, D, S, CLEAN, true, FAST_ABORT, 0, true },
		{ FAST_PROMOTE, D, S, CLEAN, true, FAST_GO_ON, FAST_PROMOTE, true },
		{ FAST_MAINTENANCE_OFF, D, P, CLEAN, true, FAST_GO_ON, FAST_MAINTENANCE_OFF, true },
		{ FAST_SYNC_OVERRIDE, D, P, CLEAN, true, FAST_HALT, 0, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fast_observed obs = { .recorded = cases[i].recorded, .old_pg = cases[i].old_pg, .cand_pg = cases[i].cand_pg,
				      .old_shutdown = cases[i].shut, .cand_has_old_end = cases[i].has_end,
				      .cand_agent_gone = cases[i].cand_agent_gone };
		fast_recovery r;

		fast_switchover_recover(&obs, &r);
		if (r.action != cases[i].action || (r.action == FAST_GO_ON && r.from != cases[i].from))
			fail_msg("case %zu (recorded %s): action %d from %d, want %d from %d (%s)", i,
				 fast_switchover_step_def(cases[i].recorded)->name, r.action, r.from, cases[i].action,
				 cases[i].from, r.why);
		assert_non_null(r.why);
		assert_true(strlen(r.why) > 0);
	}
}

/* Every observation, every recorded step: never go on towards a promotion unless the old one is down and clean
 * and the candidate has its last record; never abort once the promotion was asked. */
static void test_recover_invariants(void **state)
{
	(void)state;
	for (int rec = 0; rec < FAST_STEP_COUNT; rec++)
		for (int o = 0; o < 4; o++)
			for (int c = 0; c < 4; c++)
				for (int sh = 0; sh < 3; sh++)
					for (int e = 0; e < 4; e++) {
						fast_observed obs = { (fast_step)rec, (fast_pg)o, (fast_pg)c, (fast_shutdown)sh,
								      e % 2 == 1, e >= 2 };
						fast_recovery r;

						fast_switchover_recover(&obs, &r);
						if (r.action == FAST_ABORT)
							assert_true(rec < FAST_PROMOTE);
						if (r.action == FAST_GO_ON && c != FAST_PG_PRIMARY && rec < FAST_PROMOTE) {
							assert_int_equal(o, FAST_PG_DOWN);
							assert_int_equal(sh, FAST_SHUTDOWN_CLEAN);
							assert_true(e % 2 == 1);
							assert_false(obs.cand_agent_gone); /* nobody would promote it */
						}
						if (r.action == FAST_GO_ON)
							assert_int_not_equal(o, FAST_PG_PRIMARY);
						if (o == FAST_PG_PRIMARY && c == FAST_PG_PRIMARY)
							assert_int_equal(r.action, FAST_HALT);
						if (r.action == FAST_GO_ON)
							assert_true((int)r.from >= rec);
					}
}

#define K_UNREAD FAST_KEY_UNREAD
#define K_NOBODY FAST_KEY_NOBODY
#define K_CAND FAST_KEY_CANDIDATE
#define K_OLD FAST_KEY_OLD
#define K_OTHER FAST_KEY_OTHER

/* The wait for the leader key at maintenance-off: docs/fast-switchover.md, "The new primary crashes before
 * maintenance mode ends". */
static void test_key_judge(void **state)
{
	static const struct {
		fast_key_holder holder;
		bool started;
		int cand_down_seen;
		fast_pg old_pg;
		bool timed_out;
		fast_key_verdict want;
	} cases[] = {
		/* the candidate holds the key, not seen down: done, whatever else was read */
		{ K_CAND, false, 0, D, false, FAST_KEY_TAKEN },
		{ K_CAND, true, 0, U, false, FAST_KEY_TAKEN },
		{ K_CAND, false, 0, D, true, FAST_KEY_TAKEN },
		{ K_CAND, false, 0, P, false, FAST_KEY_TAKEN },
		/* the key, but its PostgreSQL seen down (killed after its Patroni took the key): maintenance mode stays on;
		 * seen down twice with the old one stopped, started again; else read again, to the bound */
		{ K_CAND, false, 1, D, false, FAST_KEY_WAIT },
		{ K_CAND, false, 2, D, false, FAST_KEY_START },
		{ K_CAND, true, 3, D, false, FAST_KEY_WAIT },
		{ K_CAND, true, 3, D, true, FAST_KEY_HALT },
		{ K_CAND, false, 2, P, false, FAST_KEY_HALT },
		/* the normal wait: the old member still holds it (P2: dropped at its next loop), or nobody yet */
		{ K_OLD, false, 0, D, false, FAST_KEY_WAIT },
		{ K_NOBODY, false, 0, D, false, FAST_KEY_WAIT },
		{ K_UNREAD, false, 0, D, false, FAST_KEY_WAIT },
		/* the candidate crashed: started again once, when seen down twice and the old primary seen stopped */
		{ K_NOBODY, false, 2, D, false, FAST_KEY_START },
		{ K_OLD, false, 2, D, false, FAST_KEY_START },
		{ K_UNREAD, false, 7, D, false, FAST_KEY_START },
		{ K_NOBODY, false, 1, D, false, FAST_KEY_WAIT }, /* seen down once: read again */
		{ K_NOBODY, false, 2, U, false, FAST_KEY_WAIT }, /* the old one not seen stopped */
		{ K_NOBODY, false, 2, S, false, FAST_KEY_WAIT },
		{ K_NOBODY, true, 2, D, false, FAST_KEY_WAIT },   /* started already: its Patroni brings it up */
		{ K_OLD, true, 9, D, false, FAST_KEY_WAIT },
		/* the old primary writable, another member with the key (paused: nobody else takes it), the bound: halt */
		{ K_NOBODY, false, 2, P, false, FAST_KEY_HALT },
		{ K_OLD, false, 0, P, false, FAST_KEY_HALT },
		{ K_OTHER, false, 0, D, false, FAST_KEY_HALT },
		{ K_OTHER, false, 2, D, false, FAST_KEY_HALT },
		{ K_OLD, false, 0, D, true, FAST_KEY_HALT },
		{ K_NOBODY, false, 2, D, true, FAST_KEY_HALT },
		{ K_NOBODY, true, 0, D, true, FAST_KEY_HALT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fast_key_seen seen = { .holder = cases[i].holder, .started = cases[i].started,
				       .cand_down_seen = cases[i].cand_down_seen, .old_pg = cases[i].old_pg,
				       .timed_out = cases[i].timed_out };
		const char *why = NULL;
		fast_key_verdict v = fast_switchover_key_judge(&seen, &why);

		if (v != cases[i].want)
			fail_msg("case %zu: verdict %d, want %d (%s)", i, v, cases[i].want, why ? why : "");
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
}

/* Over every reading: the candidate is started again only once, only seen down twice with the old primary seen
 * stopped; maintenance mode ends only with the key on a candidate not seen down; the old primary writable, or the
 * key another member's, always halts unless the candidate holds the key and runs. */
static void test_key_judge_invariants(void **state)
{
	(void)state;
	for (int h = 0; h <= FAST_KEY_OTHER; h++)
		for (int st = 0; st < 2; st++)
			for (int d = 0; d < 3; d++)
				for (int o = 0; o < 4; o++)
					for (int t = 0; t < 2; t++) {
						fast_key_seen seen = { (fast_key_holder)h, st == 1, d, (fast_pg)o, t == 1 };
						const char *why = NULL;
						fast_key_verdict v = fast_switchover_key_judge(&seen, &why);

						if (v == FAST_KEY_START) {
							assert_false(seen.started);
							assert_true(d >= 2);
							assert_int_equal(o, FAST_PG_DOWN);
							assert_int_not_equal(h, FAST_KEY_OTHER);
							assert_false(seen.timed_out);
						}
						if (v == FAST_KEY_TAKEN) /* maintenance mode ends only with the key on a running candidate */
							assert_true(h == FAST_KEY_CANDIDATE && d == 0);
						if (h == FAST_KEY_CANDIDATE && d == 0)
							assert_int_equal(v, FAST_KEY_TAKEN);
						else if (o == FAST_PG_PRIMARY || t == 1 || h == FAST_KEY_OTHER)
							assert_int_equal(v, FAST_KEY_HALT);
					}
}

static void test_lsn(void **state)
{
	static const struct {
		const char *text;
		int rc;
		uint64_t lsn;
	} cases[] = {
		{ "0/1511A68", 0, 0x1511A68ULL },
		{ "16/B374D848", 0, 0x16B374D848ULL },
		{ "FFFFFFFF/FFFFFFFF", 0, UINT64_MAX },
		{ "0/0", 0, 0 },
		{ "0/", -1, 0 },
		{ "/10", -1, 0 },
		{ "010", -1, 0 },
		{ "0/1G", -1, 0 },
		{ "0/ 1", -1, 0 },
		{ "-1/0", -1, 0 },
		{ "100000000/0", -1, 0 },
		{ "0/1/2", -1, 0 },
		{ "", -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t lsn = 12345;
		pgr_err err = { { 0 }, { 0 } };
		int rc = fast_switchover_lsn_parse(cases[i].text, &lsn, &err);

		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, want %d", cases[i].text, rc, cases[i].rc);
		if (rc == 0)
			assert_true(lsn == cases[i].lsn);
		else
			assert_non_null(strstr(err.msg, "not an LSN"));
	}
	/* replay reports the end of the last record replayed: past the checkpoint's start means it was replayed */
	assert_false(fast_switchover_has_checkpoint(0x1511A68ULL, 0x1511A68ULL));
	assert_false(fast_switchover_has_checkpoint(0x1511A68ULL, 0x1511A00ULL));
	assert_true(fast_switchover_has_checkpoint(0x1511A68ULL, 0x1511AE0ULL));
	assert_true(fast_switchover_has_checkpoint(0x1FFFFFFF0ULL, 0x200000010ULL));
}

static const char controldata_15[] = "pg_control version number:            1300\n"
				     "Catalog version number:               202209061\n"
				     "Database system identifier:           7713773318930626119\n"
				     "Database cluster state:               shut down\n"
				     "pg_control last modified:             Mon Nov 30 01:40:07 2026\n"
				     "Latest checkpoint location:           0/1511A68\n"
				     "Latest checkpoint's REDO location:    0/1511A68\n"
				     "Latest checkpoint's REDO WAL file:    000000010000000000000001\n"
				     "Latest checkpoint's TimeLineID:       1\n"
				     "Latest checkpoint's PrevTimeLineID:   1\n";

static void test_controldata(void **state)
{
	fast_controldata cd;
	pgr_err err = { { 0 }, { 0 } };
	char text[1024];

	(void)state;
	assert_int_equal(fast_switchover_controldata_parse(controldata_15, &cd, &err), 0);
	assert_string_equal(cd.state, "shut down");
	assert_true(cd.checkpoint_lsn == 0x1511A68ULL);
	assert_int_equal(cd.timeline, 1);
	assert_int_equal(fast_switchover_shutdown_of(cd.state), FAST_SHUTDOWN_CLEAN);

	/* the REDO line must not be taken for the checkpoint's */
	snprintf(text, sizeof(text), "%s", controldata_15);
	{
		char *loc = strstr(text, "Latest checkpoint location:");

		memcpy(loc, "Latest checkpoint locatiom:", strlen("Latest checkpoint locatiom:"));
	}
	assert_int_equal(fast_switchover_controldata_parse(text, &cd, &err), -1);
	assert_non_null(strstr(err.msg, "Latest checkpoint location"));

	assert_int_equal(fast_switchover_controldata_parse("Database cluster state: in production\n"
							   "Latest checkpoint location: 3/A0\n"
							   "Latest checkpoint's TimeLineID: 7\r\n",
							   &cd, &err),
			 0);
	assert_string_equal(cd.state, "in production");
	assert_true(cd.checkpoint_lsn == 0x3000000A0ULL);
	assert_int_equal(cd.timeline, 7);
	assert_int_equal(fast_switchover_shutdown_of(cd.state), FAST_SHUTDOWN_CRASHED);

	assert_int_equal(fast_switchover_controldata_parse("Database cluster state: shut down\n"
							   "Latest checkpoint location: 0/10\n"
							   "Latest checkpoint's TimeLineID: 0\n",
							   &cd, &err),
			 -1);
	assert_non_null(strstr(err.msg, "TimeLineID"));
	assert_int_equal(fast_switchover_controldata_parse("Database cluster state: shut down\n"
							   "Latest checkpoint location: x\n"
							   "Latest checkpoint's TimeLineID: 1\n",
							   &cd, &err),
			 -1);
	assert_non_null(strstr(err.msg, "not an LSN"));
	/* translated labels (pg_controldata run without LC_ALL=C) are refused, not misread */
	assert_int_equal(fast_switchover_controldata_parse("Zustand des Datenbanksystems:   heruntergefahren\n", &cd,
							   &err),
			 -1);
	assert_int_equal(fast_switchover_controldata_parse("", &cd, &err), -1);
}

static void test_shutdown_of(void **state)
{
	static const struct {
		const char *state;
		fast_shutdown want;
	} cases[] = {
		{ "shut down", FAST_SHUTDOWN_CLEAN },
		{ "in production", FAST_SHUTDOWN_CRASHED },
		{ "shutting down", FAST_SHUTDOWN_CRASHED },
		{ "in crash recovery", FAST_SHUTDOWN_CRASHED },
		{ "shut down in recovery", FAST_SHUTDOWN_UNKNOWN },
		{ "in archive recovery", FAST_SHUTDOWN_UNKNOWN },
		{ "", FAST_SHUTDOWN_UNKNOWN },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(fast_switchover_shutdown_of(cases[i].state), cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_in_order),  cmocka_unit_test(test_table_rules),
		cmocka_unit_test(test_recover),         cmocka_unit_test(test_recover_invariants),
		cmocka_unit_test(test_lsn),             cmocka_unit_test(test_controldata),
		cmocka_unit_test(test_shutdown_of),     cmocka_unit_test(test_key_judge),
		cmocka_unit_test(test_key_judge_invariants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
