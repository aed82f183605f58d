#include "refresh/plan.h"

#include <stdio.h>
#include <string.h>

int plan_role_rank(const char *role)
{
	if (strcmp(role, "replica") == 0)
		return 0;
	if (strcmp(role, "sync-standby") == 0)
		return 2;
	if (strcmp(role, "primary") == 0)
		return 3;
	return 1;
}

/* a goes before b */
static bool before(const plan_input_unit *a, const plan_input_unit *b)
{
	int ra = plan_role_rank(a->role), rb = plan_role_rank(b->role);

	if (ra != rb)
		return ra < rb;
	return a->number > b->number;
}

static void plan_order(const plan_input_unit *units, int count, const char *target, plan *out)
{
	memset(out, 0, sizeof(*out));
	out->primary = -1;
	for (int i = 0; i < count && i < PLAN_MAX_UNITS; i++) {
		if (strcmp(units[i].role, "primary") == 0)
			out->primary = i;
		if (strcmp(units[i].version, target) == 0)
			continue;
		out->order[out->count++] = i;
	}
	/* insertion sort: a handful of units */
	for (int i = 1; i < out->count; i++) {
		int key = out->order[i];
		int j = i - 1;

		while (j >= 0 && before(&units[key], &units[out->order[j]])) {
			out->order[j + 1] = out->order[j];
			j--;
		}
		out->order[j + 1] = key;
	}
}

/* Standbys (every unit but the primary, in the plan or not) up and streaming. */
static int standbys_up(const plan_input_unit *units, int count)
{
	int up = 0;

	for (int i = 0; i < count && i < PLAN_MAX_UNITS; i++)
		up += strcmp(units[i].role, "primary") != 0 && !units[i].down;
	return up;
}

/* Standbys that must stay up while a batch restarts: one per sync standby, at least one. */
static int standbys_needed(const plan_input_unit *units, int count)
{
	int sync = 0;

	for (int i = 0; i < count && i < PLAN_MAX_UNITS; i++)
		sync += strcmp(units[i].role, "sync-standby") == 0;
	return sync > 1 ? sync : 1;
}

void plan_make_batches(const plan_input_unit *units, int count, const char *target, int max_parallel, plan *out)
{
	int up = standbys_up(units, count), needed = standbys_needed(units, count);
	int size = 0, taken_up = 0; /* the open batch: its units, and those of them up */

	if (max_parallel < 1)
		max_parallel = 1;
	plan_order(units, count, target, out);
	out->batch_count = 0;
	for (int k = 0; k < out->count; k++) {
		const plan_input_unit *u = &units[out->order[k]];
		bool groups = strcmp(u->role, "replica") == 0;

		/* joins the open batch: a replica, with room, leaving enough standbys up */
		if (groups && size > 0 && size < max_parallel && up - (taken_up + !u->down) >= needed) {
			out->batch[k] = out->batch_count - 1;
			size++;
			taken_up += !u->down;
			continue;
		}
		out->batch[k] = out->batch_count++;
		size = groups ? 1 : max_parallel; /* a unit that does not group closes its batch at once */
		taken_up = !u->down;
	}
}

void plan_make(const plan_input_unit *units, int count, const char *target, plan *out)
{
	plan_make_batches(units, count, target, 1, out);
}

static void fill_plan(refresh_record *out, const plan_input_unit *units, int count, const char *target,
		      int max_parallel)
{
	plan p;

	plan_make_batches(units, count, target, max_parallel, &p);
	out->unit_count = 0;
	for (int i = 0; i < p.count && i < RECORD_MAX_UNITS; i++) {
		const plan_input_unit *u = &units[p.order[i]];
		record_unit *ru = &out->units[out->unit_count++];
		const char *slash = strchr(u->unit, '/');

		memset(ru, 0, sizeof(*ru));
		snprintf(ru->unit, sizeof(ru->unit), "%s", u->unit);
		snprintf(ru->member, sizeof(ru->member), "%.*s-%s", slash ? (int)(slash - u->unit) : 0, u->unit,
			 slash ? slash + 1 : u->unit);
		if (u->member[0] != '\0') /* an adopted unit keeps its Patroni name */
			snprintf(ru->member, sizeof(ru->member), "%s", u->member);
		snprintf(ru->planned_role, sizeof(ru->planned_role), "%s", u->role);
		ru->batch = p.batch[i];
		ru->step = STEP_PENDING;
	}
}

void record_new(int id, const char *from, const char *to, const plan_input_unit *units, int count, int64_t now_ms,
		refresh_record *out)
{
	record_new_batched(id, from, to, units, count, 1, now_ms, out);
}

void record_new_batched(int id, const char *from, const char *to, const plan_input_unit *units, int count,
			int max_parallel, int64_t now_ms, refresh_record *out)
{
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->state = RS_CHECKING;
	snprintf(out->from, sizeof(out->from), "%s", from);
	snprintf(out->to, sizeof(out->to), "%s", to);
	snprintf(out->original, sizeof(out->original), "%s", from);
	out->current = -1;
	out->started_ms = now_ms;
	out->state_since_ms = now_ms;
	fill_plan(out, units, count, to, max_parallel);
}

void record_new_rollback(const refresh_record *cur, const plan_input_unit *units, int count, int64_t now_ms,
			 refresh_record *out)
{
	record_new_rollback_batched(cur, units, count, 1, now_ms, out);
}

void record_new_rollback_batched(const refresh_record *cur, const plan_input_unit *units, int count, int max_parallel,
				 int64_t now_ms, refresh_record *out)
{
	memset(out, 0, sizeof(*out));
	out->id = cur->id;
	out->state = RS_CHECKING;
	out->rollback = true;
	snprintf(out->from, sizeof(out->from), "%s", cur->rollback ? cur->from : cur->to);
	snprintf(out->to, sizeof(out->to), "%s", cur->original);
	snprintf(out->original, sizeof(out->original), "%s", cur->original);
	out->current = -1;
	out->started_ms = cur->started_ms ? cur->started_ms : now_ms;
	out->state_since_ms = now_ms;
	fill_plan(out, units, count, cur->original, max_parallel);
}
