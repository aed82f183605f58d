#include "refresh/fsm.h"

#include <stdio.h>
#include <string.h>

#include "refresh/record.h"

static const char *const state_names[RS_COUNT] = { "checking", "incompatible", "unit", "paused", "switchover", "failed",
						   "done" };

static const fsm_transition table[] = {
	{ RS_CHECKING, RS_INCOMPATIBLE, "checks-failed", "a check failed: nothing was changed" },
	{ RS_CHECKING, RS_UNIT, "checks-passed", "checks passed: refresh the first unit" },
	{ RS_CHECKING, RS_SWITCHOVER, "checks-passed-primary-next", "checks passed: the primary is first, switch over" },
	{ RS_CHECKING, RS_DONE, "nothing-to-refresh", "every unit already runs the target" },
	{ RS_CHECKING, RS_FAILED, "checks-timeout", "the checks could not run within the health timeout" },
	{ RS_UNIT, RS_UNIT, "unit-healthy", "the unit passed its health gate: refresh the next one" },
	{ RS_UNIT, RS_PAUSED, "unit-healthy-pause", "the unit passed its health gate: pause as the setting says" },
	{ RS_UNIT, RS_SWITCHOVER, "unit-healthy-primary-next", "the unit passed its gate: the primary is next, switch over" },
	{ RS_UNIT, RS_DONE, "last-unit-healthy", "the last unit passed its health gate" },
	{ RS_UNIT, RS_FAILED, "gate-timeout", "the unit did not pass its health gate in time" },
	{ RS_PAUSED, RS_UNIT, "resumed", "resume-refresh: refresh the next unit" },
	{ RS_PAUSED, RS_SWITCHOVER, "resumed-primary-next", "resume-refresh: the primary is next, switch over" },
	{ RS_PAUSED, RS_DONE, "resumed-nothing-left", "resume-refresh: no unit left" },
	{ RS_SWITCHOVER, RS_UNIT, "switched-over", "a refreshed standby leads: refresh the old primary as a replica" },
	{ RS_SWITCHOVER, RS_FAILED, "switchover-failed", "the switchover failed" },
	{ RS_FAILED, RS_UNIT, "retry-gate", "resume-refresh: gate the failed unit again" },
	{ RS_FAILED, RS_SWITCHOVER, "retry-switchover", "resume-refresh: try the failed switchover again" },
	{ RS_FAILED, RS_UNIT, "resumed-skipping", "resume-refresh without health check: next unit" },
	{ RS_FAILED, RS_SWITCHOVER, "resumed-skipping-primary-next", "resume-refresh without health check: switch over" },
	{ RS_FAILED, RS_DONE, "resumed-skipping-last", "resume-refresh without health check: no unit left" },
	{ RS_INCOMPATIBLE, RS_CHECKING, "forced", "force-refresh-start: check again, skipping the named checks" },
	{ RS_CHECKING, RS_CHECKING, "rollback", "rollback: back to the original version" },
	{ RS_INCOMPATIBLE, RS_CHECKING, "rollback", "rollback: back to the original version" },
	{ RS_UNIT, RS_CHECKING, "rollback", "rollback: back to the original version" },
	{ RS_PAUSED, RS_CHECKING, "rollback", "rollback: back to the original version" },
	{ RS_SWITCHOVER, RS_CHECKING, "rollback", "rollback: back to the original version" },
	{ RS_FAILED, RS_CHECKING, "rollback", "rollback: back to the original version" },
};

const char *refresh_state_name(refresh_state s)
{
	return (int)s >= 0 && s < RS_COUNT ? state_names[s] : "?";
}

const char *refresh_state_display(refresh_state s)
{
	switch (s) {
	case RS_INCOMPATIBLE:
		return "incompatible";
	case RS_PAUSED:
		return "paused";
	case RS_FAILED:
		return "failed";
	case RS_DONE:
		return "idle";
	default:
		return "refreshing";
	}
}

int refresh_state_from_name(const char *name, refresh_state *s)
{
	for (int i = 0; i < RS_COUNT; i++) {
		if (strcmp(state_names[i], name) == 0) {
			*s = (refresh_state)i;
			return 0;
		}
	}
	return -1;
}

const fsm_transition *fsm_table(int *count)
{
	*count = (int)(sizeof(table) / sizeof(table[0]));
	return table;
}

const fsm_transition *fsm_find(refresh_state from, refresh_state to, const char *event)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].from == from && table[i].to == to && strcmp(table[i].event, event) == 0)
			return &table[i];
	return NULL;
}

void fsm_print(FILE *out, bool graphviz)
{
	if (graphviz)
		fprintf(out, "digraph refresh {\n  rankdir=LR;\n");
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (graphviz)
			fprintf(out, "  \"%s\" -> \"%s\" [label=\"%s\"];\n", refresh_state_name(table[i].from),
				refresh_state_name(table[i].to), table[i].event);
		else
			fprintf(out, "%-13s -> %-13s %-30s %s\n", refresh_state_name(table[i].from),
				refresh_state_name(table[i].to), table[i].event, table[i].meaning);
	}
	if (graphviz)
		fprintf(out, "}\n");
}

const obs_unit *fsm_obs_find(const refresh_obs *obs, const char *unit)
{
	for (int i = 0; i < obs->count; i++)
		if (strcmp(obs->units[i].unit, unit) == 0)
			return &obs->units[i];
	return NULL;
}

bool fsm_unit_healthy(const obs_unit *u, const char *target, int64_t lag_limit_bytes, char *why, size_t whylen)
{
	if (u == NULL || !u->reporting)
		snprintf(why, whylen, "its agent does not report");
	else if (!u->running)
		snprintf(why, whylen, "PostgreSQL is not running");
	else if (strcmp(u->server_version, target) != 0)
		snprintf(why, whylen, "runs %s, not %s", u->server_version[0] ? u->server_version : "nothing", target);
	else if (strcmp(u->role, "primary") != 0 && !u->streaming)
		snprintf(why, whylen, "not streaming from the primary");
	else if (strcmp(u->role, "primary") != 0 && (u->lag_bytes < 0 || u->lag_bytes > lag_limit_bytes))
		snprintf(why, whylen, "lag %lld bytes over the limit %lld", (long long)u->lag_bytes,
			 (long long)lag_limit_bytes);
	else if (!u->sql_ok)
		snprintf(why, whylen, "does not answer SQL");
	else {
		snprintf(why, whylen, "%s", "");
		return true;
	}
	return false;
}

/* Moves next to the unit at index n (or to the switchover when n is the primary). Returns the row. */
static const fsm_transition *go_to_unit(refresh_record *next, const refresh_obs *obs, int n, const char *unit_event,
					const char *primary_event)
{
	const obs_unit *u = fsm_obs_find(obs, next->units[n].unit);
	refresh_state from = next->state;

	if (u != NULL && strcmp(u->role, "primary") == 0 && obs->count > 1) {
		next->state = RS_SWITCHOVER;
		next->current = -1;
		snprintf(next->switchover_from, sizeof(next->switchover_from), "%s", next->units[n].member);
		next->switchover_to[0] = '\0';
		next->state_since_ms = obs->now_ms;
		return fsm_find(from, RS_SWITCHOVER, primary_event);
	}
	next->state = RS_UNIT;
	next->current = n;
	next->units[n].step = STEP_REFRESHING;
	next->units[n].started_ms = obs->now_ms;
	next->units[n].message[0] = '\0';
	next->state_since_ms = obs->now_ms;
	return fsm_find(from, RS_UNIT, unit_event);
}

static const fsm_transition *finish(refresh_record *next, const refresh_obs *obs, const char *event)
{
	refresh_state from = next->state;

	next->state = RS_DONE;
	next->current = -1;
	next->ended_ms = obs->now_ms;
	next->state_since_ms = obs->now_ms;
	return fsm_find(from, RS_DONE, event);
}

static bool should_pause(const refresh_record *rec, const refresh_settings *set)
{
	if (set->pause == PAUSE_ALL)
		return true;
	if (set->pause == PAUSE_FIRST)
		return !rec->first_pause_done;
	return false;
}

const fsm_transition *fsm_decide(const refresh_record *rec, const refresh_obs *obs, const refresh_settings *set,
				 refresh_record *next)
{
	char why[200];
	int n;

	*next = *rec;
	switch (rec->state) {
	case RS_CHECKING:
		if (!obs->checks_done) {
			if (obs->now_ms - rec->state_since_ms > (int64_t)set->health_timeout_s * 1000) {
				next->state = RS_FAILED;
				snprintf(next->reason, sizeof(next->reason), "the checks could not run within %d s",
					 set->health_timeout_s);
				next->state_since_ms = obs->now_ms;
				return fsm_find(RS_CHECKING, RS_FAILED, "checks-timeout");
			}
			return NULL;
		}
		if (obs->check_problem[0]) {
			next->state = RS_INCOMPATIBLE;
			snprintf(next->reason, sizeof(next->reason), "%s", obs->check_problem);
			next->state_since_ms = obs->now_ms;
			return fsm_find(RS_CHECKING, RS_INCOMPATIBLE, "checks-failed");
		}
		next->reason[0] = '\0';
		n = record_next_pending(next);
		if (n < 0)
			return finish(next, obs, "nothing-to-refresh");
		return go_to_unit(next, obs, n, "checks-passed", "checks-passed-primary-next");

	case RS_UNIT: {
		record_unit *cur;
		const obs_unit *u;

		if (rec->current < 0)
			return NULL;
		cur = &next->units[rec->current];
		u = fsm_obs_find(obs, cur->unit);
		if (fsm_unit_healthy(u, rec->to, set->lag_limit_bytes, why, sizeof(why))) {
			cur->step = STEP_DONE;
			cur->done_ms = obs->now_ms;
			snprintf(cur->message, sizeof(cur->message), "Refreshed to %s", rec->to);
			next->current = -1;
			n = record_next_pending(next);
			if (n < 0)
				return finish(next, obs, "last-unit-healthy");
			if (should_pause(next, set)) {
				next->state = RS_PAUSED;
				next->first_pause_done = true;
				next->resume_requested = false;
				next->state_since_ms = obs->now_ms;
				return fsm_find(RS_UNIT, RS_PAUSED, "unit-healthy-pause");
			}
			return go_to_unit(next, obs, n, "unit-healthy", "unit-healthy-primary-next");
		}
		if (obs->now_ms - cur->started_ms > (int64_t)set->health_timeout_s * 1000) {
			cur->step = STEP_FAILED;
			snprintf(cur->message, sizeof(cur->message), "Failed its health gate: %s", why);
			snprintf(next->failed_unit, sizeof(next->failed_unit), "%s", cur->unit);
			snprintf(next->reason, sizeof(next->reason), "%s not healthy after %d s: %s", cur->unit,
				 set->health_timeout_s, why);
			next->state = RS_FAILED;
			next->resume_requested = false;
			next->state_since_ms = obs->now_ms;
			return fsm_find(RS_UNIT, RS_FAILED, "gate-timeout");
		}
		if (strcmp(cur->message, why) != 0) {
			/* not a transition: just what the unit waits for, shown by status */
			snprintf(cur->message, sizeof(cur->message), "%s", why);
		}
		return NULL;
	}

	case RS_PAUSED:
		if (!rec->resume_requested)
			return NULL;
		next->resume_requested = false;
		n = record_next_pending(next);
		if (n < 0)
			return finish(next, obs, "resumed-nothing-left");
		return go_to_unit(next, obs, n, "resumed", "resumed-primary-next");

	case RS_SWITCHOVER: {
		const obs_unit *old = NULL;

		if (obs->switchover_failed) {
			next->state = RS_FAILED;
			snprintf(next->reason, sizeof(next->reason), "switchover failed: %s", obs->switchover_error);
			next->state_since_ms = obs->now_ms;
			return fsm_find(RS_SWITCHOVER, RS_FAILED, "switchover-failed");
		}
		for (int i = 0; i < obs->count; i++)
			if (strcmp(obs->units[i].member, rec->switchover_from) == 0)
				old = &obs->units[i];
		for (int i = 0; i < obs->count; i++) {
			/* Patroni's word when there is one (the new primary's agent may be down), else the agents' */
			bool leads = obs->patroni_leader[0]
					     ? strcmp(obs->units[i].member, obs->patroni_leader) == 0 && obs->patroni_leader_running
					     : strcmp(obs->units[i].role, "primary") == 0 && obs->units[i].running;

			if (leads && strcmp(obs->units[i].member, rec->switchover_from) != 0) {
				for (n = 0; n < next->unit_count; n++)
					if (strcmp(next->units[n].member, rec->switchover_from) == 0)
						break;
				if (n == next->unit_count || old == NULL)
					return NULL;
				next->state = RS_UNIT;
				next->current = n;
				next->units[n].step = STEP_REFRESHING;
				next->units[n].started_ms = obs->now_ms;
				next->state_since_ms = obs->now_ms;
				return fsm_find(RS_SWITCHOVER, RS_UNIT, "switched-over");
			}
		}
		return NULL;
	}

	case RS_FAILED:
		if (!rec->resume_requested)
			return NULL;
		next->resume_requested = false;
		if (rec->skip_health_check) {
			next->skip_health_check = false;
			for (int i = 0; i < next->unit_count; i++)
				if (next->units[i].step == STEP_FAILED || next->units[i].step == STEP_REFRESHING)
					next->units[i].step = STEP_SKIPPED;
			next->failed_unit[0] = '\0';
			next->reason[0] = '\0';
			next->current = -1;
			n = record_next_pending(next);
			if (n < 0)
				return finish(next, obs, "resumed-skipping-last");
			return go_to_unit(next, obs, n, "resumed-skipping", "resumed-skipping-primary-next");
		}
		for (n = 0; n < next->unit_count; n++)
			if (next->units[n].step == STEP_FAILED)
				break;
		if (n == next->unit_count) {
			/* no unit failed: the switchover did; try it again */
			next->failed_unit[0] = '\0';
			next->reason[0] = '\0';
			n = record_next_pending(next);
			if (n < 0)
				return finish(next, obs, "resumed-skipping-last");
			return go_to_unit(next, obs, n, "retry-gate", "retry-switchover");
		}
		next->failed_unit[0] = '\0';
		next->reason[0] = '\0';
		next->state = RS_UNIT;
		next->current = n;
		next->units[n].step = STEP_REFRESHING;
		next->units[n].started_ms = obs->now_ms;
		next->state_since_ms = obs->now_ms;
		return fsm_find(RS_FAILED, RS_UNIT, "retry-gate");

	default:
		return NULL;
	}
}
