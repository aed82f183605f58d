#include "refresh/unit_step.h"

#include <string.h>

static bool restart_pending(const unit_view *v)
{
	return v->target != NULL && v->restart_wanted && strcmp(v->me->server_version, v->target) != 0;
}

const char *unit_step_kept_replicatefrom(const unit_view *v)
{
	if (v->switchover_owns_tags || (v->target != NULL && v->restart_wanted))
		return v->me->tag_replicatefrom;
	return "";
}

unit_action unit_step_decide(const unit_view *v)
{
	const unit_record *me = v->me;
	bool aside = v->aside_ms >= 0 || me->tag_nosync;

	if (v->target != NULL && strcmp(me->linked_version, v->target) != 0)
		return UNIT_RELINK;
	if (v->can_tag && !v->restart_running && !restart_pending(v) && !v->tags_written_recently &&
	    (me->tag_nosync || strcmp(me->tag_replicatefrom, unit_step_kept_replicatefrom(v)) != 0))
		return UNIT_UNTAG;
	if (!restart_pending(v))
		return UNIT_IDLE;
	if (v->restart_running || v->restart_recent)
		return UNIT_WAIT_RESTART;
	if (strcmp(me->patroni_state, "running") != 0)
		return UNIT_IDLE; /* Patroni starts a stopped PostgreSQL itself, from the new link */
	if (v->can_tag && strcmp(me->role, "sync-standby") == 0) {
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
