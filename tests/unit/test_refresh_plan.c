/*
 * test_refresh_plan.c — the order of units in a refresh (refresh/plan.h): replicas highest number
 * first, then unknown, then the sync standby, then the primary; units already on the target are left
 * out; the primary's input index is reported even when it is left out. A table of named cases (one a
 * line), then every mix of roles and of "already on target" for 1..5 units, in every input order.
 * Batches (max-parallel-units): a table of units × roles × max-parallel → batches, then every mix of
 * roles, "already on target" (up to 4 units) and "down" for 1..5 units and max-parallel 2..5, checked
 * against the rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "refresh/plan.h"

#define OLD "15.18"
#define NEW "15.20"

static const char role_letters[] = "RUSP"; /* by rank: replica 0, unknown 1, sync-standby 2, primary 3 */
static const char *const role_names[] = { "replica", "unknown", "sync-standby", "primary" };

/*
 * Units as "P0 S1 R2* U3 R4!": role letter, unit number, '*' when it already runs the target, '!' when
 * it is down (not streaming); listed in input order. Returns the count.
 */
static int units_from_spec(const char *spec, plan_input_unit *units)
{
	int n = 0;
	const char *p = spec;

	while (*p) {
		char role;
		int number, used = 0;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (sscanf(p, "%c%d%n", &role, &number, &used) != 2)
			fail_msg("bad spec \"%s\"", spec);
		p += used;
		memset(&units[n], 0, sizeof(units[n]));
		snprintf(units[n].unit, sizeof(units[n].unit), "pg/%d", number);
		units[n].number = number;
		snprintf(units[n].role, sizeof(units[n].role), "%s", role_names[strchr(role_letters, role) - role_letters]);
		snprintf(units[n].version, sizeof(units[n].version), "%s", *p == '*' ? NEW : OLD);
		if (*p == '*')
			p++;
		if (*p == '!') {
			units[n].down = true;
			p++;
		}
		n++;
	}
	return n;
}

/* Roles of n units, combination c of 4^n (a digit a unit, rank order); false with more than one primary
 * (the plan reports one primary's index). */
static bool roles_of(int n, int c, int *roles)
{
	int primaries = 0;

	for (int i = 0; i < n; i++, c /= 4) {
		roles[i] = c % 4;
		primaries += roles[i] == 3;
	}
	return primaries <= 1;
}

/* The plan as "pg/2 pg/1 pg/0". */
static void plan_text(const plan *pl, const plan_input_unit *units, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < pl->count; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "", units[pl->order[i]].unit);
}

static const struct {
	const char *units;  /* input, in input order */
	const char *expect; /* the plan */
	int primary;        /* expected input index of the primary, -1 none */
} cases[] = {
	{ "P0", "pg/0", 0 },
	{ "P0*", "", 0 },
	{ "R0", "pg/0", -1 },
	{ "P0 S1", "pg/1 pg/0", 0 },
	{ "S1 P0", "pg/1 pg/0", 1 },
	{ "P0 S1 R2", "pg/2 pg/1 pg/0", 0 },
	{ "R2 S1 P0", "pg/2 pg/1 pg/0", 2 },
	{ "S1 P0 R2", "pg/2 pg/1 pg/0", 1 },
	{ "P2 S0 R1", "pg/1 pg/0 pg/2", 0 },
	{ "P0 S1 R2 R3 R4", "pg/4 pg/3 pg/2 pg/1 pg/0", 0 },
	{ "R3 P0 R4 S1 R2", "pg/4 pg/3 pg/2 pg/1 pg/0", 1 },
	{ "R1 R10 R2", "pg/10 pg/2 pg/1", -1 },
	{ "P0 S1 U2 R3", "pg/3 pg/2 pg/1 pg/0", 0 },
	{ "U4 R0 P3 S2 U1", "pg/0 pg/4 pg/1 pg/2 pg/3", 2 },
	{ "P0 S1* R2*", "pg/0", 0 },
	{ "P0* S1 R2", "pg/2 pg/1", 0 },
	{ "P0* S1* R2*", "", 0 },
	{ "R2* S1 P0", "pg/1 pg/0", 2 },
	{ "P0 S1 R2* R3 R4*", "pg/3 pg/1 pg/0", 0 },
	{ "S0 R1 R2", "pg/2 pg/1 pg/0", -1 },
	{ "", "", -1 },
};

static void test_plan_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		plan_input_unit units[PLAN_MAX_UNITS];
		int n = units_from_spec(cases[i].units, units);
		plan pl;
		char got[256];

		memset(&pl, 0x5a, sizeof(pl));
		plan_make(units, n, NEW, &pl);
		plan_text(&pl, units, got, sizeof(got));
		if (strcmp(got, cases[i].expect) != 0 || pl.primary != cases[i].primary)
			fail_msg("\"%s\": plan \"%s\" primary %d, expected \"%s\" primary %d", cases[i].units, got,
				 pl.primary, cases[i].expect, cases[i].primary);
	}
}

/* The batches as "pg/4 pg/3 | pg/2 | pg/1 | pg/0". */
static void batches_text(const plan *pl, const plan_input_unit *units, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < pl->count; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : pl->batch[i] != pl->batch[i - 1] ? " | " : " ",
					 units[pl->order[i]].unit);
}

static const struct {
	const char *units;
	int max_parallel;
	const char *expect; /* batches, in order */
} batch_cases[] = {
	/* one at a time: each unit its own batch */
	{ "P0 S1 R2 R3 R4", 1, "pg/4 | pg/3 | pg/2 | pg/1 | pg/0" },
	{ "P0 S1 R2 R3 R4", 0, "pg/4 | pg/3 | pg/2 | pg/1 | pg/0" },
	{ "P0 S1 R2 R3 R4", -3, "pg/4 | pg/3 | pg/2 | pg/1 | pg/0" },
	/* 5 units, 2 at once: the replicas in pairs, the sync standby alone, the primary alone */
	{ "P0 S1 R2 R3 R4", 2, "pg/4 pg/3 | pg/2 | pg/1 | pg/0" },
	{ "P0 S1 R2 R3 R4", 3, "pg/4 pg/3 pg/2 | pg/1 | pg/0" },
	/* more than the replicas: all the replicas at once, the sync standby stays up */
	{ "P0 S1 R2 R3 R4", 32, "pg/4 pg/3 pg/2 | pg/1 | pg/0" },
	{ "R3 P0 R4 S1 R2", 2, "pg/4 pg/3 | pg/2 | pg/1 | pg/0" },
	/* 9 units, 3 at once */
	{ "P0 S1 R2 R3 R4 R5 R6 R7 R8", 3, "pg/8 pg/7 pg/6 | pg/5 pg/4 pg/3 | pg/2 | pg/1 | pg/0" },
	{ "P0 S1 R2 R3 R4 R5 R6 R7 R8", 4, "pg/8 pg/7 pg/6 pg/5 | pg/4 pg/3 pg/2 | pg/1 | pg/0" },
	/* 3 units: one replica, nothing to group */
	{ "P0 S1 R2", 3, "pg/2 | pg/1 | pg/0" },
	/* no sync standby reported: never every standby at once, one stays up as the sync candidate */
	{ "P0 R1 R2", 2, "pg/2 | pg/1 | pg/0" },
	{ "P0 R1 R2 R3", 3, "pg/3 pg/2 | pg/1 | pg/0" },
	/* the sync standby down: it is no candidate, a replica must stay up */
	{ "P0 S1! R2 R3", 2, "pg/3 | pg/2 | pg/1 | pg/0" },
	{ "P0 S1! R2 R3 R4", 3, "pg/4 pg/3 | pg/2 | pg/1 | pg/0" },
	/* a down replica in a batch takes no standby away; it is no sync candidate either */
	{ "P0 S1 R2! R3 R4", 3, "pg/4 pg/3 pg/2 | pg/1 | pg/0" },
	{ "P0 R1 R2!", 2, "pg/2 | pg/1 | pg/0" },
	/* two sync standbys (synchronous_node_count 2): two standbys stay up */
	{ "P0 S1 S2 R3 R4", 2, "pg/4 pg/3 | pg/2 | pg/1 | pg/0" },
	{ "P0 S1 S2 R3 R4 R5", 3, "pg/5 pg/4 pg/3 | pg/2 | pg/1 | pg/0" },
	{ "P0 S1 S2! R3 R4", 2, "pg/4 | pg/3 | pg/2 | pg/1 | pg/0" },
	/* units already on the target are up and count as standbys left up */
	{ "P0 S1* R2 R3", 2, "pg/3 pg/2 | pg/0" },
	{ "P0 S1 R2* R3 R4", 3, "pg/4 pg/3 | pg/1 | pg/0" },
	/* a unit of unknown role goes alone, between the replicas and the sync standby */
	{ "P0 S1 U2 R3 R4", 2, "pg/4 pg/3 | pg/2 | pg/1 | pg/0" },
	{ "P0 S1 U2 R3 R4 R5", 2, "pg/5 pg/4 | pg/3 | pg/2 | pg/1 | pg/0" },
	/* no primary (a rollback seen mid-failover): still one standby kept up */
	{ "R0 R1 R2", 3, "pg/2 pg/1 | pg/0" },
	{ "", 3, "" },
};

static void test_plan_batch_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(batch_cases) / sizeof(batch_cases[0]); i++) {
		plan_input_unit units[PLAN_MAX_UNITS];
		int n = units_from_spec(batch_cases[i].units, units);
		plan pl, one;
		char got[256];

		memset(&pl, 0x5a, sizeof(pl));
		plan_make_batches(units, n, NEW, batch_cases[i].max_parallel, &pl);
		batches_text(&pl, units, got, sizeof(got));
		if (strcmp(got, batch_cases[i].expect) != 0)
			fail_msg("\"%s\" max %d: batches \"%s\", expected \"%s\"", batch_cases[i].units,
				 batch_cases[i].max_parallel, got, batch_cases[i].expect);
		/* batching never changes the order */
		plan_make(units, n, NEW, &one);
		assert_int_equal(pl.count, one.count);
		assert_memory_equal(pl.order, one.order, sizeof(int) * (size_t)one.count);
		assert_int_equal(one.batch_count, one.count);
		assert_int_equal(pl.batch_count, pl.count ? pl.batch[pl.count - 1] + 1 : 0);
	}
}

/*
 * Every mix of roles (no primary or one), on-target and down flags for n units and max-parallel m,
 * checked against the rules, not against a copy of the algorithm: batches are numbered 0, 1, ... in
 * order; a batch holds at most m units; a batch of several holds replicas only; while a batch restarts,
 * at least max(1, sync standbys) standbys up are outside it; and no batch could have taken the first
 * unit of the next one (the batches are as large as the rules allow, so a user gets the parallelism
 * asked for).
 */
static void check_batches(int n, const int *roles, unsigned on_target, unsigned down, int m)
{
	plan_input_unit units[7];
	plan pl;
	int up = 0, sync = 0, needed;

	for (int i = 0; i < n; i++) {
		memset(&units[i], 0, sizeof(units[i]));
		snprintf(units[i].unit, sizeof(units[i].unit), "pg/%d", i);
		units[i].number = i;
		snprintf(units[i].role, sizeof(units[i].role), "%s", role_names[roles[i]]);
		snprintf(units[i].version, sizeof(units[i].version), "%s", (on_target >> i) & 1 ? NEW : OLD);
		units[i].down = (down >> i) & 1;
		up += roles[i] != 3 && !units[i].down;
		sync += roles[i] == 2;
	}
	needed = sync > 1 ? sync : 1;
	plan_make_batches(units, n, NEW, m, &pl);
	for (int k = 0, start = 0; k < pl.count; k = start) {
		int size = 0, up_in = 0, end;

		if (pl.batch[k] != (k == 0 ? 0 : pl.batch[k - 1] + 1))
			fail_msg("n=%d m=%d: batch numbers not consecutive at %d", n, m, k);
		for (end = k; end < pl.count && pl.batch[end] == pl.batch[k]; end++) {
			size++;
			up_in += !units[pl.order[end]].down;
		}
		if (size > m && size > 1)
			fail_msg("n=%d m=%d on=%#x down=%#x: a batch of %d", n, m, on_target, down, size);
		for (int j = k; j < end && size > 1; j++)
			if (strcmp(units[pl.order[j]].role, "replica") != 0)
				fail_msg("n=%d m=%d: a %s in a batch of %d", n, m, units[pl.order[j]].role, size);
		if (size > 1 && up - up_in < needed)
			fail_msg("n=%d m=%d on=%#x down=%#x roles %d%d%d: a batch of %d leaves %d standbys up, %d needed", n,
				 m, on_target, down, roles[0], roles[1], roles[2], size, up - up_in, needed);
		/* maximal: the next unit would have broken a rule */
		if (end < pl.count && size < m && strcmp(units[pl.order[k]].role, "replica") == 0 &&
		    strcmp(units[pl.order[end]].role, "replica") == 0 && up - up_in - !units[pl.order[end]].down >= needed)
			fail_msg("n=%d m=%d on=%#x down=%#x: %s could have joined the batch of %s", n, m, on_target, down,
				 units[pl.order[end]].unit, units[pl.order[k]].unit);
		start = end;
	}
	assert_int_equal(pl.batch_count, pl.count ? pl.batch[pl.count - 1] + 1 : 0);
}

static void test_plan_batches_exhaustive(void **state)
{
	long checked = 0;

	(void)state;
	for (int n = 1; n <= 5; n++) {
		for (int c = 0; c < 1 << (2 * n); c++) { /* 4^n */
			int roles[7];

			if (!roles_of(n, c, roles))
				continue;
			for (unsigned t = 0; t < (n < 5 ? 1u << n : 1u); t++) /* 5 units: none on the target yet */
				for (unsigned dn = 0; dn < (1u << n); dn++)
					for (int m = 2; m <= n; m++) { /* 1: test_plan_exhaustive */
						check_batches(n, roles, t, dn, m);
						checked++;
					}
		}
	}
	assert_true(checked > 100000);
}

static const struct {
	const char *role;
	int rank;
} rank_cases[] = {
	{ "replica", 0 }, { "unknown", 1 }, { "", 1 }, { "leader", 1 }, { "sync-standby", 2 }, { "primary", 3 },
};

static void test_role_rank(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rank_cases) / sizeof(rank_cases[0]); i++)
		if (plan_role_rank(rank_cases[i].role) != rank_cases[i].rank)
			fail_msg("rank of \"%s\": %d, expected %d", rank_cases[i].role, plan_role_rank(rank_cases[i].role),
				 rank_cases[i].rank);
}

/* Next permutation of a[0..n) in lexicographic order; false after the last. */
static bool next_perm(int *a, int n)
{
	int i = n - 2, j = n - 1;

	while (i >= 0 && a[i] >= a[i + 1])
		i--;
	if (i < 0)
		return false;
	while (a[j] <= a[i])
		j--;
	{
		int t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	for (int l = i + 1, r = n - 1; l < r; l++, r--) {
		int t = a[l];
		a[l] = a[r];
		a[r] = t;
	}
	return true;
}

/*
 * Units numbered 0..n-1 with roles[num] and on_target[num], listed in input order perm[]; at most one
 * primary (the plan reports one index). The expected order, computed independently: for each rank in
 * turn, the unit numbers from the highest down.
 */
static void check_one(int n, const int *roles, unsigned on_target, const int *perm)
{
	plan_input_unit units[5];
	int input_of[5];
	int expect[5], expect_count = 0, expect_primary = -1;
	plan pl;

	for (int i = 0; i < n; i++) {
		int num = perm[i];

		memset(&units[i], 0, sizeof(units[i]));
		snprintf(units[i].unit, sizeof(units[i].unit), "pg/%d", num);
		units[i].number = num;
		snprintf(units[i].role, sizeof(units[i].role), "%s", role_names[roles[num]]);
		snprintf(units[i].version, sizeof(units[i].version), "%s", (on_target >> num) & 1 ? NEW : OLD);
		input_of[num] = i;
		if (roles[num] == 3)
			expect_primary = i;
	}
	for (int rank = 0; rank < 4; rank++)
		for (int num = n - 1; num >= 0; num--)
			if (roles[num] == rank && !((on_target >> num) & 1))
				expect[expect_count++] = input_of[num];
	plan_make(units, n, NEW, &pl);
	if (pl.count != expect_count || pl.primary != expect_primary ||
	    memcmp(pl.order, expect, sizeof(int) * (size_t)expect_count) != 0) {
		char got[128], want[128];
		plan wanted = { .count = expect_count };

		memcpy(wanted.order, expect, sizeof(expect));
		plan_text(&pl, units, got, sizeof(got));
		plan_text(&wanted, units, want, sizeof(want));
		fail_msg("n=%d on_target=%#x: plan \"%s\" primary %d, expected \"%s\" primary %d", n, on_target, got,
			 pl.primary, want, expect_primary);
	}
}

static void test_plan_exhaustive(void **state)
{
	long checked = 0;

	(void)state;
	for (int n = 1; n <= 5; n++) {
		for (int c = 0; c < 1 << (2 * n); c++) { /* 4^n */
			int roles[5];

			if (!roles_of(n, c, roles))
				continue;
			for (unsigned t = 0; t < (1u << n); t++) {
				int perm[5];

				for (int i = 0; i < n; i++)
					perm[i] = i;
				do {
					check_one(n, roles, t, perm);
					checked++;
				} while (next_perm(perm, n));
			}
		}
	}
	assert_true(checked > 100000);
}

/* With several units claiming to be primary (a split brain seen mid-switchover) the order still holds. */
static void test_plan_two_primaries(void **state)
{
	plan_input_unit units[PLAN_MAX_UNITS];
	int n = units_from_spec("P1 R2 P0", units);
	plan pl;
	char got[64];

	(void)state;
	plan_make(units, n, NEW, &pl);
	plan_text(&pl, units, got, sizeof(got));
	assert_string_equal(got, "pg/2 pg/1 pg/0");
	assert_true(pl.primary == 0 || pl.primary == 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_cases),
		cmocka_unit_test(test_role_rank),
		cmocka_unit_test(test_plan_exhaustive),
		cmocka_unit_test(test_plan_two_primaries),
		cmocka_unit_test(test_plan_batch_cases),
		cmocka_unit_test(test_plan_batches_exhaustive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
