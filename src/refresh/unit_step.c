#include "refresh/unit_step.h"

#include <string.h>

#include "util/log.h"

static bool restart_pending(const unit_view *v)
{
	return v->target != NULL && v->restart_wanted && strcmp(v->me->server_version, v->target) != 0;
}

const char *unit_step_kept_replicatefrom(const unit_view *v)
{
	if (v->intent_replicatefrom != NULL && v->intent_replicatefrom[0] != '\0')
		return v->intent_replicatefrom;
	if (v->switchover_owns_tags || (v->target != NULL && v->restart_wanted)) {
		if (v->restart_wanted && v->cascade_after != NULL && v->cascade_after[0] != '\0')
			return v->cascade_after; /* a sync standby that stood aside: the cascade comes with its untag */
		return v->me->tag_replicatefrom;
	}
	return "";
}

unit_action unit_step_decide(const unit_view *v)
{
	const unit_record *me = v->me;
	bool aside = v->aside_ms >= 0 || me->tag_nosync;

	if (v->target != NULL && strcmp(me->linked_version, v->target) != 0)
		return UNIT_RELINK;
	if (!v->restart_running && !restart_pending(v) && !v->tags_written_recently &&
	    ((me->tag_nosync && !v->intent_nosync) || strcmp(me->tag_replicatefrom, unit_step_kept_replicatefrom(v)) != 0))
		return UNIT_UNTAG;
	if (!restart_pending(v))
		return UNIT_IDLE;
	if (v->restart_running || v->restart_recent)
		return UNIT_WAIT_RESTART;
	if (strcmp(me->patroni_state, "running") != 0)
		return UNIT_IDLE; /* Patroni starts a stopped PostgreSQL itself, from the new link */
	if (strcmp(me->role, "sync-standby") == 0) {
		if (!aside)
			return UNIT_STAND_ASIDE;
		if (v->aside_ms < 0 || v->aside_ms < UNIT_RELEASE_WAIT_MS)
			return UNIT_WAIT_RELEASE;
	}
	return UNIT_RESTART;
}

const char *unit_action_name(unit_action a)
{
	static const char *const names[] = {
		[UNIT_IDLE] = "idle",
		[UNIT_RELINK] = "relink",
		[UNIT_STAND_ASIDE] = "stand-aside",
		[UNIT_WAIT_RELEASE] = "wait-release",
		[UNIT_RESTART] = "restart",
		[UNIT_WAIT_RESTART] = "wait-restart",
		[UNIT_UNTAG] = "untag",
	};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

unit_state unit_step_state(const unit_view *v)
{
	const unit_record *me = v->me;

	if (v->target == NULL)
		return US_IDLE;
	if (strcmp(me->linked_version, v->target) != 0)
		return US_LINK_OLD;
	if (strcmp(me->server_version, v->target) == 0)
		return US_ON_TARGET;
	if (!v->restart_wanted)
		return US_LINKED; /* ahead of its restart: the old primary before the switchover */
	if (v->restart_running || v->restart_recent)
		return US_RESTARTING;
	if (v->aside_ms >= 0 || me->tag_nosync)
		return US_ASIDE;
	return US_LINKED;
}

static const unit_transition table[] = {
	{ US_IDLE, UNIT_IDLE, US_IDLE, "nothing asked of the unit" },
	{ US_IDLE, UNIT_UNTAG, US_IDLE, "the refresh moved on: drop the tags pgrefresh set" },
	{ US_LINK_OLD, UNIT_RELINK, US_LINKED, "point the unit's bin link at the target in the catalog" },
	{ US_LINKED, UNIT_IDLE, US_LINKED,
	  "linked ahead of a restart that is not its own (the switchover's), or Patroni starts it from the new link" },
	{ US_LINKED, UNIT_UNTAG, US_LINKED, "linked ahead of the switchover: drop the tags the refresh no longer needs" },
	{ US_LINKED, UNIT_STAND_ASIDE, US_ASIDE, "the sync standby tags itself nosync before its restart (its upstream unchanged while it is sync)" },
	{ US_LINKED, UNIT_RESTART, US_RESTARTING, "restart PostgreSQL through Patroni onto the target" },
	{ US_ASIDE, UNIT_IDLE, US_ASIDE, "stood aside; Patroni starts a stopped PostgreSQL itself" },
	{ US_ASIDE, UNIT_WAIT_RELEASE, US_ASIDE, "wait until the primary gives the sync role to another standby" },
	{ US_ASIDE, UNIT_RESTART, US_RESTARTING, "released (or waited long enough): restart onto the target" },
	{ US_RESTARTING, UNIT_WAIT_RESTART, US_RESTARTING, "Patroni restarts it; the new version shows shortly" },
	{ US_ON_TARGET, UNIT_IDLE, US_ON_TARGET, "runs the target: the coordinator gates it" },
	{ US_ON_TARGET, UNIT_UNTAG, US_ON_TARGET, "runs the target: nosync goes, the cascade comes (or stays) while needed" },
};

#define UNIT_ROWS ((int)(sizeof(table) / sizeof(table[0])))

const char *unit_state_name(unit_state s)
{
	static const char *const names[US_COUNT] = { "idle", "link-old", "linked", "aside", "restarting", "on-target" };

	return (unsigned)s < US_COUNT ? names[s] : "?";
}

const unit_transition *unit_step_table(int *count)
{
	*count = UNIT_ROWS;
	return table;
}

const unit_transition *unit_step_row(unit_state from, unit_action action)
{
	for (int i = 0; i < UNIT_ROWS; i++)
		if (table[i].from == from && table[i].action == action)
			return &table[i];
	return NULL;
}

unit_action unit_step_next(const unit_view *v, const unit_transition **row)
{
	unit_state from = unit_step_state(v);
	unit_action a = unit_step_decide(v);

	*row = unit_step_row(from, a);
	if (*row == NULL) {
		log_warn("unit step %s from %s refused: the unit's table has no row for it", unit_action_name(a),
			 unit_state_name(from));
		return UNIT_IDLE;
	}
	if (a != UNIT_IDLE && a != UNIT_WAIT_RELEASE && a != UNIT_WAIT_RESTART)
		log_debug("unit step: %s -> %s (%s): %s", unit_state_name(from), unit_state_name((*row)->to),
			  unit_action_name(a), (*row)->meaning);
	return a;
}

void unit_step_print(FILE *out, bool graphviz)
{
	if (graphviz)
		fprintf(out, "digraph unit {\n  rankdir=LR;\n");
	else
		fprintf(out, "\n# the unit's steps (each agent's table)\n%-13s %-31s %-13s %s\n", "FROM", "ACTION", "TO",
			"MEANING");
	for (int i = 0; i < UNIT_ROWS; i++) {
		if (graphviz)
			fprintf(out, "  \"%s\" -> \"%s\" [label=\"%s\"];\n", unit_state_name(table[i].from),
				unit_state_name(table[i].to), unit_action_name(table[i].action));
		else
			fprintf(out, "%-13s %-31s %-13s %s\n", unit_state_name(table[i].from), unit_action_name(table[i].action),
				unit_state_name(table[i].to), table[i].meaning);
	}
	if (graphviz)
		fprintf(out, "}\n");
}
