#include "refresh/fsm.h"
#include "refresh/plan.h"

#include <stdio.h>
#include <string.h>

#include "state/record.h"
#include "refresh/unit_step.h"
#include "util/log.h"

/* ---- the steps: what a row does to the record (next starts as a copy of it; fsm_take sets the state) ---- */

static bool should_pause(const refresh_record *rec, const refresh_settings *set)
{
	if (set->pause == PAUSE_ALL)
		return true;
	if (set->pause == PAUSE_FIRST)
		return !rec->first_pause_done;
	return false;
}

/* Keeps every halt's and rollback's cause, oldest first, for history. */
static void add_cause(refresh_record *next, const char *cause)
{
	size_t l = strlen(next->cause);

	if (cause == NULL || cause[0] == '\0')
		return;
	snprintf(next->cause + l, sizeof(next->cause) - l, "%s%s", l ? "; then " : "", cause);
}

static void start_unit(refresh_record *next, int n, int64_t now_ms)
{
	next->current = n;
	next->units[n].step = STEP_REFRESHING;
	next->units[n].started_ms = now_ms;
	next->units[n].message[0] = '\0';
}

/* The first unit of the plan being refreshed, -1 when none. */
static int first_refreshing(const refresh_record *rec)
{
	for (int i = 0; i < rec->unit_count; i++)
		if (rec->units[i].step == STEP_REFRESHING)
			return i;
	return -1;
}

/* The next batch: every pending unit of the first pending unit's batch, at once (current: the first). */
static void start_next_unit(refresh_record *next, const fsm_ctx *c)
{
	int n = record_next_pending(next);

	if (n < 0)
		return;
	for (int i = next->unit_count - 1; i >= n; i--)
		if (next->units[i].step == STEP_PENDING && next->units[i].batch == next->units[n].batch)
			start_unit(next, i, c->obs->now_ms);
}

static void start_switchover(refresh_record *next, const fsm_ctx *c)
{
	int n = record_next_pending(next);

	(void)c;
	next->current = -1;
	if (n >= 0)
		snprintf(next->switchover_from, sizeof(next->switchover_from), "%s", next->units[n].member);
	next->switchover_to[0] = '\0';
}

static void finish(refresh_record *next, const fsm_ctx *c)
{
	next->current = -1;
	next->ended_ms = c->obs->now_ms;
}

static void halt(refresh_record *next, const fsm_ctx *c)
{
	snprintf(next->reason, sizeof(next->reason), "%s", c->cause);
	add_cause(next, c->cause);
}

static void checks_passed(refresh_record *next, const fsm_ctx *c)
{
	next->reason[0] = '\0';
	start_next_unit(next, c);
}

static void checks_passed_switchover(refresh_record *next, const fsm_ctx *c)
{
	next->reason[0] = '\0';
	start_switchover(next, c);
}

static void checks_nothing(refresh_record *next, const fsm_ctx *c)
{
	next->reason[0] = '\0';
	finish(next, c);
}

/*
 * Whether the units' reports name one running primary. The last gate waits for it: the refresh is done when
 * status shows the cluster whole, and an agent's report lags its Patroni by up to a tick (a switchover just
 * before the last unit's gate: the new primary may still report itself a standby). A unit whose agent does not
 * report cannot say: with one, none of the others claiming the role is enough (its status says the agent is down).
 */
static bool one_primary_reported(const refresh_obs *obs, char *why, size_t whylen)
{
	int primaries = 0;
	bool silent = false;

	for (int i = 0; i < obs->count; i++) {
		primaries += strcmp(obs->units[i].role, "primary") == 0 && obs->units[i].reporting && obs->units[i].running;
		silent = silent || !obs->units[i].reporting;
	}
	if (primaries == 1 || (primaries == 0 && silent))
		return true;
	snprintf(why, whylen, "the units' reports name %s running primary yet", primaries == 0 ? "no" : "more than one");
	return false;
}

/* Whether unit i of the plan passes its gate now (the last batch's: with one primary reported); why not in why. */
static bool unit_healthy(const refresh_record *rec, int i, const fsm_ctx *c, char *why, size_t whylen)
{
	const obs_unit *u = fsm_obs_find(c->obs, rec->units[i].unit);

	if (!fsm_unit_healthy(u, rec->to, c->set->lag_limit_bytes, why, whylen))
		return false;
	if (rec->switchover_from[0] != '\0' && strcmp(u->member, rec->switchover_from) == 0 &&
	    strcmp(u->role, "primary") == 0) {
		/* switched over from: a report that still says primary predates the switchover (it may already run the
		 * target, restarted on its relinked binaries before it) */
		snprintf(why, whylen, "still reports the primary role it had before the switchover");
		return false;
	}
	return record_next_pending(rec) >= 0 || one_primary_reported(c->obs, why, whylen);
}

/* Each unit of the batch that is not healthy yet says what it waits for. */
static void gate_waiting(refresh_record *next, const fsm_ctx *c)
{
	for (int i = 0; i < next->unit_count; i++) {
		char why[200];

		if (next->units[i].step == STEP_REFRESHING && !unit_healthy(next, i, c, why, sizeof(why)))
			snprintf(next->units[i].message, sizeof(next->units[0].message), "%s", why);
	}
}

static void mark_done(refresh_record *next, int i, const fsm_ctx *c)
{
	record_unit *u = &next->units[i];

	u->step = STEP_DONE;
	u->done_ms = c->obs->now_ms;
	snprintf(u->message, sizeof(u->message), "Refreshed to %s", next->to);
}

/* Units of the batch that passed their gate are done; current moves to one still refreshed. */
static void batch_unit_healthy(refresh_record *next, const fsm_ctx *c)
{
	char why[200];

	for (int i = 0; i < next->unit_count; i++)
		if (next->units[i].step == STEP_REFRESHING && unit_healthy(next, i, c, why, sizeof(why)))
			mark_done(next, i, c);
	if (next->current >= 0 && next->units[next->current].step == STEP_DONE)
		next->current = first_refreshing(next);
}

/* The whole batch passed its gate (the current unit, with one unit a batch). */
static void unit_done(refresh_record *next, const fsm_ctx *c)
{
	for (int i = 0; i < next->unit_count; i++)
		if (next->units[i].step == STEP_REFRESHING)
			mark_done(next, i, c);
	next->current = -1;
}

static void healthy_next(refresh_record *next, const fsm_ctx *c)
{
	unit_done(next, c);
	start_next_unit(next, c);
}

static void healthy_pause(refresh_record *next, const fsm_ctx *c)
{
	unit_done(next, c);
	next->first_pause_done = true;
}

static void healthy_switchover(refresh_record *next, const fsm_ctx *c)
{
	unit_done(next, c);
	start_switchover(next, c);
}

static void healthy_last(refresh_record *next, const fsm_ctx *c)
{
	unit_done(next, c);
	finish(next, c);
}

/* A unit of the batch is past its timeout: it failed (the first such, in plan order), the batch's healthy
 * units are done, the others of the batch go on with their step (their agents finish it; each that
 * passes its gate is done in failed; rollback or resume-refresh takes up the rest). */
static bool gate_late(const refresh_record *rec, int i, const fsm_ctx *c)
{
	return c->obs->now_ms - rec->units[i].started_ms > (int64_t)c->set->health_timeout_s * 1000;
}

static void gate_timeout(refresh_record *next, const fsm_ctx *c)
{
	int failed = -1;

	for (int i = 0; i < next->unit_count; i++) {
		record_unit *u = &next->units[i];
		char why[200];

		if (u->step != STEP_REFRESHING)
			continue;
		if (unit_healthy(next, i, c, why, sizeof(why))) {
			mark_done(next, i, c);
			continue;
		}
		if (failed >= 0 || !gate_late(next, i, c))
			continue;
		u->step = STEP_FAILED;
		snprintf(u->message, sizeof(u->message), "Failed its health gate: %s", why);
		failed = i;
		snprintf(next->failed_unit, sizeof(next->failed_unit), "%s", u->unit);
		snprintf(next->reason, sizeof(next->reason), "%s not healthy after %d s: %s", u->unit,
			 c->set->health_timeout_s, why);
	}
	if (failed >= 0)
		next->current = failed;
	add_cause(next, c->cause);
}

static void switched_over(refresh_record *next, const fsm_ctx *c)
{
	for (int n = 0; n < next->unit_count; n++)
		if (strcmp(next->units[n].member, next->switchover_from) == 0)
			start_unit(next, n, c->obs->now_ms);
}

/* resume-refresh of a failed refresh with the health check: gate the failed units again (the others of
 * their batch still go), or go on. */
static void retry(refresh_record *next, const fsm_ctx *c)
{
	int first = -1;

	next->failed_unit[0] = '\0';
	next->reason[0] = '\0';
	for (int n = next->unit_count - 1; n >= 0; n--) {
		if (next->units[n].step == STEP_FAILED) {
			start_unit(next, n, c->obs->now_ms);
			first = n;
		}
	}
	if (first >= 0)
		next->current = first;
	else if (first_refreshing(next) >= 0)
		next->current = first_refreshing(next);
	else
		start_next_unit(next, c);
}

static void retry_switchover(refresh_record *next, const fsm_ctx *c)
{
	next->failed_unit[0] = '\0';
	next->reason[0] = '\0';
	start_switchover(next, c);
}

/* resume-refresh --check-health-of-refreshed-units=false: the failed units are skipped (the others of
 * their batch, still being refreshed, go on). */
static void skip_failed(refresh_record *next)
{
	next->skip_health_check = false;
	for (int i = 0; i < next->unit_count; i++)
		if (next->units[i].step == STEP_FAILED)
			next->units[i].step = STEP_SKIPPED;
	next->failed_unit[0] = '\0';
	next->reason[0] = '\0';
	next->current = first_refreshing(next);
}

static void skipping_next(refresh_record *next, const fsm_ctx *c)
{
	skip_failed(next);
	if (next->current < 0)
		start_next_unit(next, c);
}

static void skipping_switchover(refresh_record *next, const fsm_ctx *c)
{
	skip_failed(next);
	start_switchover(next, c);
}

static void skipping_last(refresh_record *next, const fsm_ctx *c)
{
	skip_failed(next);
	finish(next, c);
}

static void forced(refresh_record *next, const fsm_ctx *c)
{
	next->reason[0] = '\0';
	next->skip_compatibility = c->obs->intent.skip_compatibility;
	next->skip_prechecks = c->obs->intent.skip_prechecks;
	next->skip_workload = c->obs->intent.skip_workload;
	next->skip_backup = c->obs->intent.skip_backup;
}

/* A plan's inputs from what the units report (role, the version they are linked to). */
static int plan_inputs(const refresh_obs *obs, plan_input_unit *units)
{
	int count = 0;

	for (int i = 0; i < obs->count && count < PLAN_MAX_UNITS; i++) {
		const obs_unit *o = &obs->units[i];
		plan_input_unit *u = &units[count++];

		memset(u, 0, sizeof(*u));
		snprintf(u->unit, sizeof(u->unit), "%s", o->unit);
		snprintf(u->member, sizeof(u->member), "%s", o->member);
		u->number = o->number;
		snprintf(u->role, sizeof(u->role), "%s", o->role[0] ? o->role : "unknown");
		snprintf(u->version, sizeof(u->version), "%s", o->linked_version);
		u->down = !o->reporting || !o->running || (strcmp(o->role, "primary") != 0 && !o->streaming);
	}
	return count;
}

/* Back to the original version: a new plan of the units not on it, in role order, from what they report. */
static void rollback(refresh_record *next, const fsm_ctx *c)
{
	plan_input_unit units[PLAN_MAX_UNITS];
	refresh_record cur = *next;
	int count = plan_inputs(c->obs, units);

	record_new_rollback_batched(&cur, units, count, c->set->max_parallel_units, c->obs->now_ms, next);
	snprintf(next->cause, sizeof(next->cause), "%s", cur.cause);
	add_cause(next, c->cause);
}

/* A new refresh: its plan from what the units report now, checks first. */
static void new_refresh(refresh_record *next, const fsm_ctx *c)
{
	plan_input_unit units[PLAN_MAX_UNITS];
	const fsm_intent *in = &c->obs->intent;
	int count = plan_inputs(c->obs, units);

	record_new_batched(in->id, in->from, in->to, units, count, c->set->max_parallel_units, c->obs->now_ms, next);
}

#define ROLLBACK_ROW(s) { s, EV_ROLLBACK, RS_CHECKING, "rollback: back to the original version", rollback, false }

static const fsm_transition table[] = {
	{ RS_CHECKING, EV_CHECKS_FAILED, RS_INCOMPATIBLE, "a check failed: nothing was changed", halt, false },
	{ RS_CHECKING, EV_CHECKS_PASSED, RS_UNIT, "checks passed: refresh the first unit", checks_passed, false },
	{ RS_CHECKING, EV_CHECKS_PASSED_PRIMARY_NEXT, RS_SWITCHOVER, "checks passed: the primary is first, switch over",
	  checks_passed_switchover, false },
	{ RS_CHECKING, EV_NOTHING_TO_REFRESH, RS_DONE, "every unit already runs the target", checks_nothing, false },
	{ RS_CHECKING, EV_CHECKS_TIMEOUT, RS_FAILED, "the checks could not run within the health timeout", halt, false },
	{ RS_UNIT, EV_GATE_WAITING, RS_UNIT, "the unit is not healthy yet: its message says what it waits for",
	  gate_waiting, true },
	{ RS_UNIT, EV_UNIT_HEALTHY, RS_UNIT, "the unit passed its health gate: refresh the next one", healthy_next, false },
	{ RS_UNIT, EV_UNIT_HEALTHY_PAUSE, RS_PAUSED, "the unit passed its health gate: pause as the setting says",
	  healthy_pause, false },
	{ RS_UNIT, EV_UNIT_HEALTHY_PRIMARY_NEXT, RS_SWITCHOVER, "the unit passed its gate: the primary is next, switch over",
	  healthy_switchover, false },
	{ RS_UNIT, EV_LAST_UNIT_HEALTHY, RS_DONE, "the last unit passed its health gate", healthy_last, false },
	{ RS_UNIT, EV_BATCH_UNIT_HEALTHY, RS_UNIT, "a unit of the batch passed its health gate: the others go on",
	  batch_unit_healthy, false },
	{ RS_UNIT, EV_GATE_TIMEOUT, RS_FAILED, "the unit did not pass its health gate in time", gate_timeout, false },
	{ RS_PAUSED, EV_RESUMED, RS_UNIT, "resume-refresh: refresh the next unit", start_next_unit, false },
	{ RS_PAUSED, EV_RESUMED_PRIMARY_NEXT, RS_SWITCHOVER, "resume-refresh: the primary is next, switch over",
	  start_switchover, false },
	{ RS_PAUSED, EV_RESUMED_NOTHING_LEFT, RS_DONE, "resume-refresh: no unit left", finish, false },
	{ RS_SWITCHOVER, EV_SWITCHED_OVER, RS_UNIT, "a refreshed standby leads: refresh the old primary as a replica",
	  switched_over, false },
	{ RS_SWITCHOVER, EV_SWITCHOVER_FAILED, RS_FAILED, "the switchover failed", halt, false },
	{ RS_FAILED, EV_RETRY_GATE, RS_UNIT, "resume-refresh: gate the failed unit again", retry, false },
	{ RS_FAILED, EV_RETRY_SWITCHOVER, RS_SWITCHOVER, "resume-refresh: try the failed switchover again",
	  retry_switchover, false },
	{ RS_FAILED, EV_RESUMED_SKIPPING, RS_UNIT, "resume-refresh without health check: next unit", skipping_next,
	  false },
	{ RS_FAILED, EV_RESUMED_SKIPPING_PRIMARY_NEXT, RS_SWITCHOVER, "resume-refresh without health check: switch over",
	  skipping_switchover, false },
	{ RS_FAILED, EV_RESUMED_SKIPPING_LAST, RS_DONE, "resume-refresh without health check: no unit left",
	  skipping_last, false },
	{ RS_FAILED, EV_BATCH_UNIT_HEALTHY, RS_FAILED, "a unit of the halted batch finished its step and passed its gate",
	  batch_unit_healthy, false },
	{ RS_FAILED, EV_AUTO_ROLLBACK, RS_CHECKING, "auto-rollback=true: back to the original version", rollback, false },
	{ RS_INCOMPATIBLE, EV_FORCED, RS_CHECKING, "force-refresh-start: check again, skipping the named checks", forced,
	  false },
	{ RS_DONE, EV_REFRESH_ASKED, RS_CHECKING, "refresh: a new refresh is recorded, checks first", new_refresh, false },
	ROLLBACK_ROW(RS_CHECKING),
	ROLLBACK_ROW(RS_INCOMPATIBLE),
	ROLLBACK_ROW(RS_UNIT),
	ROLLBACK_ROW(RS_PAUSED),
	ROLLBACK_ROW(RS_SWITCHOVER),
	ROLLBACK_ROW(RS_FAILED),
};

static const char *const event_names[EV_COUNT] = {
	[EV_NONE] = "none",
	[EV_CHECKS_FAILED] = "checks-failed",
	[EV_CHECKS_PASSED] = "checks-passed",
	[EV_CHECKS_PASSED_PRIMARY_NEXT] = "checks-passed-primary-next",
	[EV_NOTHING_TO_REFRESH] = "nothing-to-refresh",
	[EV_CHECKS_TIMEOUT] = "checks-timeout",
	[EV_GATE_WAITING] = "gate-waiting",
	[EV_UNIT_HEALTHY] = "unit-healthy",
	[EV_UNIT_HEALTHY_PAUSE] = "unit-healthy-pause",
	[EV_UNIT_HEALTHY_PRIMARY_NEXT] = "unit-healthy-primary-next",
	[EV_LAST_UNIT_HEALTHY] = "last-unit-healthy",
	[EV_GATE_TIMEOUT] = "gate-timeout",
	[EV_RESUMED] = "resumed",
	[EV_RESUMED_PRIMARY_NEXT] = "resumed-primary-next",
	[EV_RESUMED_NOTHING_LEFT] = "resumed-nothing-left",
	[EV_SWITCHED_OVER] = "switched-over",
	[EV_SWITCHOVER_FAILED] = "switchover-failed",
	[EV_RETRY_GATE] = "retry-gate",
	[EV_RETRY_SWITCHOVER] = "retry-switchover",
	[EV_RESUMED_SKIPPING] = "resumed-skipping",
	[EV_RESUMED_SKIPPING_PRIMARY_NEXT] = "resumed-skipping-primary-next",
	[EV_RESUMED_SKIPPING_LAST] = "resumed-skipping-last",
	[EV_FORCED] = "forced",
	[EV_ROLLBACK] = "rollback",
	[EV_AUTO_ROLLBACK] = "auto-rollback",
	[EV_RESUME_ASKED] = "resume-asked",
	[EV_REFRESH_ASKED] = "refresh-asked",
	[EV_BATCH_UNIT_HEALTHY] = "batch-unit-healthy",
};

const char *refresh_event_name(refresh_event ev)
{
	return (int)ev >= 0 && ev < EV_COUNT && event_names[ev] ? event_names[ev] : "?";
}

#define TABLE_ROWS ((int)(sizeof(table) / sizeof(table[0])))

const fsm_transition *fsm_table(int *count)
{
	*count = TABLE_ROWS;
	return table;
}

static const fsm_transition *row_in(const fsm_transition *t, int count, refresh_state from, refresh_event ev)
{
	for (int i = 0; i < count; i++)
		if (t[i].from == from && t[i].event == ev)
			return &t[i];
	return NULL;
}

const fsm_transition *fsm_row(refresh_state from, refresh_event ev)
{
	return row_in(table, TABLE_ROWS, from, ev);
}

const fsm_transition *fsm_find(refresh_state from, refresh_state to, const char *event)
{
	for (int i = 0; i < TABLE_ROWS; i++)
		if (table[i].from == from && table[i].to == to && strcmp(refresh_event_name(table[i].event), event) == 0)
			return &table[i];
	return NULL;
}

void fsm_print(FILE *out, bool graphviz)
{
	if (graphviz)
		fprintf(out, "digraph refresh {\n  rankdir=LR;\n");
	else
		fprintf(out, "# the refresh (the coordinator's table)\n%-13s %-31s %-13s %s\n", "FROM", "EVENT", "TO",
			"MEANING");
	for (int i = 0; i < TABLE_ROWS; i++) {
		if (graphviz)
			fprintf(out, "  \"%s\" -> \"%s\" [label=\"%s\"];\n", refresh_state_name(table[i].from),
				refresh_state_name(table[i].to), refresh_event_name(table[i].event));
		else
			fprintf(out, "%-13s %-31s %-13s %s\n", refresh_state_name(table[i].from),
				refresh_event_name(table[i].event), refresh_state_name(table[i].to), table[i].meaning);
	}
	if (graphviz)
		fprintf(out, "}\n");
	unit_step_print(out, graphviz);
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
		snprintf(why, whylen, "its agent does not report: start it (`pgrefresh cluster start`)");
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


/* ---- what happened, as an event (pure) ---- */

/* The unit at plan index n is the primary of a cluster of several: a switchover comes first. */
static bool primary_next(const refresh_record *rec, const refresh_obs *obs, int n)
{
	const obs_unit *u = fsm_obs_find(obs, rec->units[n].unit);

	return u != NULL && strcmp(u->role, "primary") == 0 && obs->count > 1;
}

/* Where the refresh goes from here, after the current unit (if any): next unit, switchover or done. */
static refresh_event onwards(const refresh_record *rec, const refresh_obs *obs, refresh_event unit_ev,
			     refresh_event primary_ev, refresh_event done_ev)
{
	int n = record_next_pending(rec);

	if (n < 0)
		return done_ev;
	return primary_next(rec, obs, n) ? primary_ev : unit_ev;
}

static refresh_event asked(const refresh_record *rec, const refresh_obs *obs, char *cause, size_t causelen)
{
	const fsm_intent *in = &obs->intent;
	bool failed_unit = false;

	switch (in->ask) {
	case ASK_ROLLBACK:
		snprintf(cause, causelen, "rolled back by the user (the refresh was %s)", refresh_state_name(rec->state));
		return EV_ROLLBACK;
	case ASK_FORCE:
		snprintf(cause, causelen, "force-refresh-start:%s%s%s%s", in->skip_compatibility ? " --check-compatibility=false" : "",
			 in->skip_prechecks ? " --run-pre-refresh-checks=false" : "",
			 in->skip_workload ? " --check-workload=false" : "", in->skip_backup ? " --check-backup=false" : "");
		return EV_FORCED;
	case ASK_RESUME:
		snprintf(cause, causelen, "resume-refresh%s", in->check_health ? "" : " --check-health-of-refreshed-units=false");
		if (rec->state == RS_PAUSED)
			return onwards(rec, obs, EV_RESUMED, EV_RESUMED_PRIMARY_NEXT, EV_RESUMED_NOTHING_LEFT);
		if (rec->state != RS_FAILED)
			return EV_RESUME_ASKED;
		if (!in->check_health && first_refreshing(rec) >= 0)
			return EV_RESUMED_SKIPPING; /* the rest of the batch goes on */
		if (!in->check_health)
			return onwards(rec, obs, EV_RESUMED_SKIPPING, EV_RESUMED_SKIPPING_PRIMARY_NEXT,
				       EV_RESUMED_SKIPPING_LAST);
		for (int i = 0; i < rec->unit_count; i++)
			failed_unit = failed_unit || rec->units[i].step == STEP_FAILED;
		if (failed_unit)
			return EV_RETRY_GATE;
		/* no unit failed: the switchover (or the checks) did; go on from the next unit */
		return onwards(rec, obs, EV_RETRY_GATE, EV_RETRY_SWITCHOVER, EV_RESUMED_SKIPPING_LAST);
	case ASK_REFRESH:
		snprintf(cause, causelen, "refresh %s -> %s asked", in->from, in->to);
		return EV_REFRESH_ASKED;
	default:
		return EV_NONE;
	}
}

refresh_event fsm_event(const refresh_record *rec, const refresh_obs *obs, const refresh_settings *set, char *cause,
			size_t causelen)
{
	char why[200];

	cause[0] = '\0';
	if (obs->intent.ask != ASK_NONE)
		return asked(rec, obs, cause, causelen);
	switch (rec->state) {
	case RS_CHECKING:
		if (!obs->checks_done) {
			if (obs->now_ms - rec->state_since_ms > (int64_t)set->health_timeout_s * 1000) {
				snprintf(cause, causelen, "the checks could not run within %d s", set->health_timeout_s);
				return EV_CHECKS_TIMEOUT;
			}
			return EV_NONE;
		}
		if (obs->check_problem[0]) {
			snprintf(cause, causelen, "%s", obs->check_problem);
			return EV_CHECKS_FAILED;
		}
		return onwards(rec, obs, EV_CHECKS_PASSED, EV_CHECKS_PASSED_PRIMARY_NEXT, EV_NOTHING_TO_REFRESH);

	case RS_UNIT: {
		/* the batch: every unit being refreshed (one, with max-parallel-units 1) */
		fsm_ctx c = { .obs = obs, .set = set };
		int busy = 0, healthy = 0, late = -1, waiting = -1;
		char late_why[200] = "", waiting_why[200] = "";
		size_t used = 0;

		for (int i = 0; i < rec->unit_count; i++) {
			if (rec->units[i].step != STEP_REFRESHING)
				continue;
			busy++;
			if (unit_healthy(rec, i, &c, why, sizeof(why))) {
				healthy++;
				used += (size_t)snprintf(cause + used, used < causelen ? causelen - used : 0, "%s%s",
							 used ? ", " : "", rec->units[i].unit);
			} else if (gate_late(rec, i, &c) && late < 0) {
				late = i;
				snprintf(late_why, sizeof(late_why), "%s", why);
			} else if (strcmp(rec->units[i].message, why) != 0 && waiting < 0) {
				waiting = i;
				snprintf(waiting_why, sizeof(waiting_why), "%s", why);
			}
		}
		if (busy == 0)
			return EV_NONE;
		if (late >= 0) {
			snprintf(cause, causelen, "%s failed its health gate: %s", rec->units[late].unit, late_why);
			return EV_GATE_TIMEOUT;
		}
		if (healthy > 0 && healthy < busy) {
			snprintf(cause + used, used < causelen ? causelen - used : 0, " passed %s health gate on %s; %d of "
				 "the batch still go", healthy > 1 ? "their" : "its", rec->to, busy - healthy);
			return EV_BATCH_UNIT_HEALTHY;
		}
		if (healthy == busy) {
			snprintf(cause + used, used < causelen ? causelen - used : 0, " passed %s health gate on %s",
				 healthy > 1 ? "their" : "its", rec->to);
			if (record_next_pending(rec) < 0)
				return EV_LAST_UNIT_HEALTHY;
			if (should_pause(rec, set))
				return EV_UNIT_HEALTHY_PAUSE;
			return onwards(rec, obs, EV_UNIT_HEALTHY, EV_UNIT_HEALTHY_PRIMARY_NEXT, EV_LAST_UNIT_HEALTHY);
		}
		cause[0] = '\0';
		if (waiting >= 0) {
			snprintf(cause, causelen, "%s%s%s", busy > 1 ? rec->units[waiting].unit : "", busy > 1 ? ": " : "",
				 waiting_why);
			return EV_GATE_WAITING;
		}
		return EV_NONE;
	}

	case RS_SWITCHOVER: {
		bool old_known = false;

		if (obs->switchover_failed) {
			snprintf(cause, causelen, "switchover failed: %s", obs->switchover_error);
			return EV_SWITCHOVER_FAILED;
		}
		for (int i = 0; i < obs->count; i++)
			old_known = old_known || strcmp(obs->units[i].member, rec->switchover_from) == 0;
		if (!old_known || record_find_member(rec, rec->switchover_from) < 0)
			return EV_NONE;
		for (int i = 0; i < obs->count; i++) {
			/* Patroni's word when there is one (the new primary's agent may be down), else the agents' */
			bool leads = obs->patroni_leader[0]
					     ? strcmp(obs->units[i].member, obs->patroni_leader) == 0 && obs->patroni_leader_running
					     : strcmp(obs->units[i].role, "primary") == 0 && obs->units[i].running;

			if (leads && strcmp(obs->units[i].member, rec->switchover_from) != 0) {
				snprintf(cause, causelen, "%s leads", obs->units[i].unit);
				return EV_SWITCHED_OVER;
			}
		}
		return EV_NONE;
	}

	case RS_FAILED: {
		fsm_ctx c = { .obs = obs, .set = set };

		if (set->auto_rollback && !rec->rollback) {
			snprintf(cause, causelen, "auto-rollback after %s", rec->reason[0] ? rec->reason : "the refresh failed");
			return EV_AUTO_ROLLBACK;
		}
		/* the others of a halted batch finish their step: each that passes its gate is done */
		for (int i = 0; i < rec->unit_count; i++)
			if (rec->units[i].step == STEP_REFRESHING && unit_healthy(rec, i, &c, why, sizeof(why))) {
				snprintf(cause, causelen, "%s (of the halted batch) passed its health gate on %s", rec->units[i].unit,
					 rec->to);
				return EV_BATCH_UNIT_HEALTHY;
			}
		return EV_NONE;
	}

	default:
		return EV_NONE;
	}
}

/* ---- the one place a transition happens ---- */

fsm_result fsm_take_in(const fsm_transition *t, int count, const refresh_record *rec, refresh_event ev,
		       const char *cause, const refresh_obs *obs, const refresh_settings *set, refresh_record *next,
		       const fsm_transition **row)
{
	fsm_ctx c = { .obs = obs, .set = set, .event = ev, .cause = cause ? cause : "" };
	const fsm_transition *r;

	*next = *rec;
	*row = NULL;
	if (ev == EV_NONE)
		return FSM_NOTHING;
	r = row_in(t, count, rec->state, ev);
	if (r == NULL) {
		log_warn("refresh %d: event %s in state %s refused, nothing recorded: the table has no row for it%s%s%s",
			 rec->id, refresh_event_name(ev), refresh_state_name(rec->state), c.cause[0] ? " (" : "", c.cause,
			 c.cause[0] ? ")" : "");
		return FSM_REFUSED;
	}
	if (r->apply != NULL)
		r->apply(next, &c);
	next->state = r->to;
	if (!r->quiet) {
		next->state_since_ms = obs->now_ms;
	}
	if (obs->intent.ask != ASK_NONE)
		snprintf(next->intent_token, sizeof(next->intent_token), "%s", obs->intent.token);
	*row = r;
	if (r->quiet)
		log_debug("refresh %d: %s (%s): %s", next->id, refresh_state_name(r->from), refresh_event_name(ev), c.cause);
	else
		log_info("refresh %d: %s -> %s (%s): %s%s%s", next->id, refresh_state_name(r->from), refresh_state_name(r->to),
			 refresh_event_name(ev), r->meaning, c.cause[0] ? ": " : "", c.cause);
	return FSM_TAKEN;
}

fsm_result fsm_take(const refresh_record *rec, refresh_event ev, const char *cause, const refresh_obs *obs,
		    const refresh_settings *set, refresh_record *next, const fsm_transition **row)
{
	return fsm_take_in(table, TABLE_ROWS, rec, ev, cause, obs, set, next, row);
}

const fsm_transition *fsm_decide(const refresh_record *rec, const refresh_obs *obs, const refresh_settings *set,
				 refresh_record *next)
{
	char cause[400];
	const fsm_transition *row;
	refresh_event ev = fsm_event(rec, obs, set, cause, sizeof(cause));

	fsm_take(rec, ev, cause, obs, set, next, &row);
	return row;
}
