#include "refresh/plan.h"

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
