/*
 * plan.h — where the order of units is decided. Replicas first (highest unit number first), then the
 * sync standby, then the primary; units that already run the target are left out (so a rollback
 * touches only the units on the new version). Pure.
 *
 * Batches (max-parallel-units): consecutive replicas of the order are grouped, up to max_parallel a
 * batch, so that each batch leaves up, streaming, as many standbys (refreshed or not, in the plan or
 * not) as the primary has sync standbys, at least one: the sync standby stays synchronous and the
 * primary keeps a sync candidate while the batch restarts. A sync standby, a unit of unknown role and
 * the primary always form a batch alone, as does a replica that no batch of several can take.
 */
#ifndef PGR_REFRESH_PLAN_H
#define PGR_REFRESH_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "state/record.h"

#define PLAN_MAX_UNITS 32

/* A unit as the plan sees it. */
typedef struct plan_input_unit {
	char unit[32];
	char member[32];  /* its Patroni member name; "" = <cluster>-N, from unit */
	int number;
	char role[16];    /* primary | sync-standby | replica | unknown */
	char version[16]; /* the version it is linked to / runs */
	bool down;        /* known not to be up and streaming (its standbys' count for a batch leaves it out) */
} plan_input_unit;

/* The plan: indexes into the input, in refresh order, and the batch of each (0, 1, ...; in order). */
typedef struct plan {
	int order[PLAN_MAX_UNITS];
	int batch[PLAN_MAX_UNITS]; /* batch[k]: the batch of order[k] */
	int count;
	int batch_count;
	int primary; /* index into the input of the primary, -1 if none; it is last in order when included */
} plan;

/* Orders units for a refresh to target, one unit a batch. */
void plan_make(const plan_input_unit *units, int count, const char *target, plan *out);
/* The same, replicas in batches of at most max_parallel (under 1: 1), bounded as above. */
void plan_make_batches(const plan_input_unit *units, int count, const char *target, int max_parallel, plan *out);
/* Role rank used for ordering: replica 0, unknown 1, sync-standby 2, primary 3. */
int plan_role_rank(const char *role);

/* A new forward refresh: plan units (role order, units already on `to` left out), state checking. */
void record_new(int id, const char *from, const char *to, const plan_input_unit *units, int count, int64_t now_ms,
		refresh_record *out);
/* The same in batches of at most max_parallel (record_unit.batch). */
void record_new_batched(int id, const char *from, const char *to, const plan_input_unit *units, int count,
			int max_parallel, int64_t now_ms, refresh_record *out);
/* The rollback of cur: back to cur->original, units not on it in role order, state checking. */
void record_new_rollback(const refresh_record *cur, const plan_input_unit *units, int count, int64_t now_ms,
			 refresh_record *out);
/* The same in batches of at most max_parallel. */
void record_new_rollback_batched(const refresh_record *cur, const plan_input_unit *units, int count, int max_parallel,
				 int64_t now_ms, refresh_record *out);

#endif
