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

void plan_make(const plan_input_unit *units, int count, const char *target, plan *out)
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

static void fill_plan(refresh_record *out, const plan_input_unit *units, int count, const char *target)
{
	plan p;

	plan_make(units, count, target, &p);
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
		ru->step = STEP_PENDING;
	}
}

void record_new(int id, const char *from, const char *to, const plan_input_unit *units, int count, int64_t now_ms,
		refresh_record *out)
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
	fill_plan(out, units, count, to);
}

void record_new_rollback(const refresh_record *cur, const plan_input_unit *units, int count, int64_t now_ms,
			 refresh_record *out)
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
	fill_plan(out, units, count, cur->original);
}
