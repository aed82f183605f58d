#include "state/record.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

static const char *const step_names[] = { "pending", "refreshing", "done", "failed", "skipped" };

static const char *const state_names[RS_COUNT] = { "checking", "incompatible", "unit", "paused", "switchover", "failed",
						   "done" };

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


const char *unit_step_name(unit_step step)
{
	return (int)step >= 0 && (int)step < 5 ? step_names[step] : "pending";
}

static unit_step step_from_name(const char *name)
{
	for (int i = 0; i < 5; i++)
		if (strcmp(step_names[i], name) == 0)
			return (unit_step)i;
	return STEP_PENDING;
}

int record_done_count(const refresh_record *rec)
{
	int n = 0;

	for (int i = 0; i < rec->unit_count; i++)
		if (rec->units[i].step == STEP_DONE || rec->units[i].step == STEP_SKIPPED)
			n++;
	return n;
}

int record_next_pending(const refresh_record *rec)
{
	for (int i = 0; i < rec->unit_count; i++)
		if (rec->units[i].step == STEP_PENDING)
			return i;
	return -1;
}

int record_batch_count(const refresh_record *rec)
{
	int count = 0;

	for (int i = 0; i < rec->unit_count; i++)
		if (rec->units[i].batch + 1 > count)
			count = rec->units[i].batch + 1;
	return count;
}

int record_find_unit(const refresh_record *rec, const char *unit)
{
	for (int i = 0; i < rec->unit_count; i++)
		if (strcmp(rec->units[i].unit, unit) == 0)
			return i;
	return -1;
}

int record_find_member(const refresh_record *rec, const char *member)
{
	for (int i = 0; i < rec->unit_count; i++)
		if (strcmp(rec->units[i].member, member) == 0)
			return i;
	return -1;
}

/* The step times, only those recorded (0 is left out: older readers and records stay as they were). */
static void set_ms(json_t *obj, const char *key, int64_t ms)
{
	if (ms != 0)
		json_object_set_new(obj, key, json_integer((json_int_t)ms));
}

static void times_to_json(json_t *unit, const record_unit_times *t)
{
	json_t *obj = json_object();

	set_ms(obj, "relinked_ms", t->relinked_ms);
	set_ms(obj, "aside_ms", t->aside_ms);
	set_ms(obj, "restart_ms", t->restart_ms);
	set_ms(obj, "gate_ms", t->gate_ms);
	set_ms(obj, "paused_ms", t->paused_ms);
	set_ms(obj, "resumed_ms", t->resumed_ms);
	if (json_object_size(obj) > 0)
		json_object_set_new(unit, "times", obj);
	else
		json_decref(obj);
}

static int64_t get_ms(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) > 0 ? (int64_t)json_integer_value(v) : 0;
}

static void times_parse(json_t *unit, record_unit_times *t)
{
	json_t *obj = json_object_get(unit, "times");

	if (!json_is_object(obj))
		return;
	t->relinked_ms = get_ms(obj, "relinked_ms");
	t->aside_ms = get_ms(obj, "aside_ms");
	t->restart_ms = get_ms(obj, "restart_ms");
	t->gate_ms = get_ms(obj, "gate_ms");
	t->paused_ms = get_ms(obj, "paused_ms");
	t->resumed_ms = get_ms(obj, "resumed_ms");
}

static void first_seen(int64_t *at, int64_t ms)
{
	if (*at == 0 && ms > 0)
		*at = ms;
}

void record_unit_note_step(record_unit_times *times, const char *step, int64_t since_ms, int64_t restarted_ms,
			   int64_t now_ms)
{
	first_seen(&times->restart_ms, restarted_ms);
	if (strcmp(step, "linked") == 0)
		first_seen(&times->relinked_ms, now_ms);
	else if (strcmp(step, "aside") == 0)
		first_seen(&times->aside_ms, since_ms > 0 ? since_ms : now_ms);
	else if (strcmp(step, "restarting") == 0)
		first_seen(&times->restart_ms, since_ms > 0 ? since_ms : now_ms);
	else if (strcmp(step, "on-target") == 0 && times->restart_ms != 0)
		first_seen(&times->gate_ms, now_ms); /* on the target after a restart seen: its gate begins */
}

void record_merge_times(refresh_record *next, const record_unit_times *seen, int seen_count)
{
	for (int i = 0; i < next->unit_count && i < seen_count; i++) {
		record_unit_times *t = &next->units[i].times;

		first_seen(&t->relinked_ms, seen[i].relinked_ms);
		first_seen(&t->aside_ms, seen[i].aside_ms);
		first_seen(&t->restart_ms, seen[i].restart_ms);
		first_seen(&t->gate_ms, seen[i].gate_ms);
	}
}

void record_note_transition(const refresh_record *prev, refresh_record *next, int64_t now_ms)
{
	for (int i = 0; i < next->unit_count && i < prev->unit_count; i++)
		if (prev->units[i].started_ms != 0 && next->units[i].started_ms != prev->units[i].started_ms)
			memset(&next->units[i].times, 0, sizeof(next->units[i].times)); /* refreshed again */
	if (prev->state == next->state)
		return;
	if (prev->state == RS_CHECKING)
		first_seen(&next->checks_ended_ms, now_ms);
	if (next->state == RS_SWITCHOVER) {
		next->switchover_started_ms = now_ms; /* a rollback may switch over again: the last one is kept */
		next->switchover_ended_ms = 0;
	}
	if (prev->state == RS_SWITCHOVER && next->switchover_started_ms != 0)
		next->switchover_ended_ms = now_ms;
	if (prev->state == RS_PAUSED) {
		for (int i = 0; i < next->unit_count; i++)
			if (next->units[i].times.paused_ms != 0 && next->units[i].times.resumed_ms == 0)
				next->units[i].times.resumed_ms = now_ms;
	}
	if (next->state == RS_PAUSED) {
		int last = -1;

		for (int i = 0; i < next->unit_count; i++)
			if (next->units[i].step == STEP_DONE &&
			    (last < 0 || next->units[i].done_ms >= next->units[last].done_ms))
				last = i;
		if (last >= 0) {
			next->units[last].times.paused_ms = now_ms;
			next->units[last].times.resumed_ms = 0;
		}
	}
}

int record_to_json(const refresh_record *rec, char **json, pgr_err *err)
{
	json_t *obj = json_object();
	json_t *units = json_array();

	for (int i = 0; i < rec->unit_count; i++) {
		const record_unit *u = &rec->units[i];

		json_t *ju = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "unit", u->unit, "member", u->member,
				       "planned_role", u->planned_role, "step", unit_step_name(u->step), "started_ms",
				       (json_int_t)u->started_ms, "done_ms", (json_int_t)u->done_ms, "message", u->message);

		json_object_set_new(ju, "batch", json_integer(u->batch));
		times_to_json(ju, &u->times);
		json_array_append_new(units, ju);
	}
	json_object_set_new(obj, "id", json_integer(rec->id));
	json_object_set_new(obj, "state", json_string(refresh_state_name(rec->state)));
	json_object_set_new(obj, "rollback", json_boolean(rec->rollback));
	json_object_set_new(obj, "from", json_string(rec->from));
	json_object_set_new(obj, "to", json_string(rec->to));
	json_object_set_new(obj, "original", json_string(rec->original));
	json_object_set_new(obj, "units", units);
	json_object_set_new(obj, "current", json_integer(rec->current));
	json_object_set_new(obj, "first_pause_done", json_boolean(rec->first_pause_done));
	json_object_set_new(obj, "skip_health_check", json_boolean(rec->skip_health_check));
	json_object_set_new(obj, "skip_compatibility", json_boolean(rec->skip_compatibility));
	json_object_set_new(obj, "skip_prechecks", json_boolean(rec->skip_prechecks));
	json_object_set_new(obj, "skip_workload", json_boolean(rec->skip_workload));
	json_object_set_new(obj, "skip_backup", json_boolean(rec->skip_backup));
	json_object_set_new(obj, "switchover_from", json_string(rec->switchover_from));
	json_object_set_new(obj, "switchover_to", json_string(rec->switchover_to));
	json_object_set_new(obj, "failed_unit", json_string(rec->failed_unit));
	json_object_set_new(obj, "reason", json_string(rec->reason));
	json_object_set_new(obj, "cause", json_string(rec->cause));
	json_object_set_new(obj, "intent_token", json_string(rec->intent_token));
	json_object_set_new(obj, "started_ms", json_integer(rec->started_ms));
	json_object_set_new(obj, "state_since_ms", json_integer(rec->state_since_ms));
	json_object_set_new(obj, "ended_ms", json_integer(rec->ended_ms));
	set_ms(obj, "checks_ended_ms", rec->checks_ended_ms);
	set_ms(obj, "switchover_started_ms", rec->switchover_started_ms);
	set_ms(obj, "switchover_ended_ms", rec->switchover_ended_ms);
	set_ms(obj, "stall_started_ms", rec->stall_started_ms);
	set_ms(obj, "stall_ms", rec->stall_ms);
	*json = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	return *json ? 0 : pgr_err_set(err, "could not encode the refresh record");
}

static void str_field(json_t *obj, const char *key, char *out, size_t len)
{
	json_t *v = json_object_get(obj, key);

	(void)text_copy(out, len, json_is_string(v) ? json_string_value(v) : "");
}

int record_parse(const char *json, refresh_record *rec, pgr_err *err)
{
	json_error_t jerr;
	json_t *obj = json_loads(json, 0, &jerr);
	json_t *units;
	char state[32];

	memset(rec, 0, sizeof(*rec));
	rec->current = -1;
	if (obj == NULL)
		return pgr_err_set(err, "refresh record is not JSON: %s", jerr.text);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return pgr_err_set(err, "refresh record is not a JSON object");
	}
	str_field(obj, "state", state, sizeof(state));
	if (refresh_state_from_name(state, &rec->state) != 0) {
		json_decref(obj);
		return pgr_err_set(err, "refresh record has an unknown state \"%s\"", state);
	}
	rec->id = (int)json_integer_value(json_object_get(obj, "id"));
	rec->rollback = json_is_true(json_object_get(obj, "rollback"));
	str_field(obj, "from", rec->from, sizeof(rec->from));
	str_field(obj, "to", rec->to, sizeof(rec->to));
	str_field(obj, "original", rec->original, sizeof(rec->original));
	rec->current = json_is_integer(json_object_get(obj, "current")) ? (int)json_integer_value(json_object_get(obj, "current")) : -1;
	rec->first_pause_done = json_is_true(json_object_get(obj, "first_pause_done"));
	rec->skip_health_check = json_is_true(json_object_get(obj, "skip_health_check"));
	rec->skip_compatibility = json_is_true(json_object_get(obj, "skip_compatibility"));
	rec->skip_prechecks = json_is_true(json_object_get(obj, "skip_prechecks"));
	rec->skip_workload = json_is_true(json_object_get(obj, "skip_workload"));
	rec->skip_backup = json_is_true(json_object_get(obj, "skip_backup"));
	str_field(obj, "switchover_from", rec->switchover_from, sizeof(rec->switchover_from));
	str_field(obj, "switchover_to", rec->switchover_to, sizeof(rec->switchover_to));
	str_field(obj, "failed_unit", rec->failed_unit, sizeof(rec->failed_unit));
	str_field(obj, "reason", rec->reason, sizeof(rec->reason));
	str_field(obj, "cause", rec->cause, sizeof(rec->cause));
	str_field(obj, "intent_token", rec->intent_token, sizeof(rec->intent_token));
	rec->started_ms = (int64_t)json_integer_value(json_object_get(obj, "started_ms"));
	rec->state_since_ms = (int64_t)json_integer_value(json_object_get(obj, "state_since_ms"));
	rec->ended_ms = (int64_t)json_integer_value(json_object_get(obj, "ended_ms"));
	rec->checks_ended_ms = get_ms(obj, "checks_ended_ms");
	rec->switchover_started_ms = get_ms(obj, "switchover_started_ms");
	rec->switchover_ended_ms = get_ms(obj, "switchover_ended_ms");
	rec->stall_started_ms = get_ms(obj, "stall_started_ms");
	rec->stall_ms = get_ms(obj, "stall_ms");
	units = json_object_get(obj, "units");
	if (json_is_array(units)) {
		size_t i;
		json_t *u;

		json_array_foreach(units, i, u)
		{
			record_unit *ru;
			char step[32];

			if (rec->unit_count >= RECORD_MAX_UNITS || !json_is_object(u))
				break;
			ru = &rec->units[rec->unit_count++];
			str_field(u, "unit", ru->unit, sizeof(ru->unit));
			str_field(u, "member", ru->member, sizeof(ru->member));
			str_field(u, "planned_role", ru->planned_role, sizeof(ru->planned_role));
			str_field(u, "step", step, sizeof(step));
			ru->step = step_from_name(step);
			/* a record written before batches: one unit a batch */
			ru->batch = json_is_integer(json_object_get(u, "batch"))
					    ? (int)json_integer_value(json_object_get(u, "batch"))
					    : (int)i;
			if (ru->batch < 0 || ru->batch >= RECORD_MAX_UNITS)
				ru->batch = (int)i;
			ru->started_ms = (int64_t)json_integer_value(json_object_get(u, "started_ms"));
			ru->done_ms = (int64_t)json_integer_value(json_object_get(u, "done_ms"));
			str_field(u, "message", ru->message, sizeof(ru->message));
			times_parse(u, &ru->times);
		}
	}
	if (rec->current >= rec->unit_count)
		rec->current = -1;
	json_decref(obj);
	return 0;
}
