#include "metrics/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The states status shows (refresh_state_display), in the order they are listed. */
static const char *const display_states[] = { "idle", "refreshing", "paused", "incompatible", "failed" };

void metrics_label_escape(const char *value, char *out, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return;
	for (const char *p = value; *p != '\0'; p++) {
		const char *rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
		size_t n = rep ? strlen(rep) : 1;

		if (o + n >= len)
			break;
		if (rep)
			memcpy(out + o, rep, n);
		else
			out[o] = *p;
		o += n;
	}
	out[o] = '\0';
}

static void header(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void seconds(FILE *f, const char *name, const char *labels, int64_t ms)
{
	fprintf(f, "%s{%s} %lld.%03lld\n", name, labels, (long long)(ms / 1000), (long long)(ms % 1000));
}

static void refresh_metrics(FILE *f, const metrics_view *v, const char *scope)
{
	const refresh_record *r = v->refresh;
	const char *state = r != NULL && v->refresh_in_progress ? refresh_state_display(r->state) : "idle";
	char labels[256], unit[96];

	header(f, "pgrefresh_refresh_state",
	       "The refresh's state as status shows it: 1 for the current state, 0 for the others.");
	for (size_t i = 0; i < sizeof(display_states) / sizeof(display_states[0]); i++)
		fprintf(f, "pgrefresh_refresh_state{scope=\"%s\",state=\"%s\"} %d\n", scope, display_states[i],
			strcmp(state, display_states[i]) == 0);
	snprintf(labels, sizeof(labels), "scope=\"%s\"", scope);
	header(f, "pgrefresh_refresh_units_done", "Units of the last or current refresh that are done (or skipped).");
	fprintf(f, "pgrefresh_refresh_units_done{%s} %d\n", labels, r ? record_done_count(r) : 0);
	header(f, "pgrefresh_refresh_units", "Units in the plan of the last or current refresh.");
	fprintf(f, "pgrefresh_refresh_units{%s} %d\n", labels, r ? r->unit_count : 0);
	if (r == NULL)
		return;
	header(f, "pgrefresh_refresh_rollback", "1 when the last or current refresh is a rollback.");
	fprintf(f, "pgrefresh_refresh_rollback{%s} %d\n", labels, r->rollback ? 1 : 0);
	if (r->started_ms > 0) {
		header(f, "pgrefresh_last_refresh_start_timestamp_seconds",
		       "When the last or current refresh started, in seconds since the epoch.");
		seconds(f, "pgrefresh_last_refresh_start_timestamp_seconds", labels, r->started_ms);
	}
	if (r->ended_ms > 0 && !v->refresh_in_progress) {
		header(f, "pgrefresh_last_refresh_end_timestamp_seconds",
		       "When the last refresh ended, in seconds since the epoch.");
		seconds(f, "pgrefresh_last_refresh_end_timestamp_seconds", labels, r->ended_ms);
	}
	if (r->stall_ms > 0) {
		header(f, "pgrefresh_last_switchover_write_stall_seconds",
		       "The last switchover's client write stall: PgBouncer's PAUSE sent to RESUME answered "
		       "(an upper bound of what clients waited).");
		seconds(f, "pgrefresh_last_switchover_write_stall_seconds", labels, r->stall_ms);
	}
	header(f, "pgrefresh_unit_restart_seconds",
	       "A unit's restart in the last or current refresh: restart begun to running the target.");
	for (int i = 0; i < r->unit_count; i++) {
		const record_unit_times *t = &r->units[i].times;

		if (t->restart_ms <= 0 || t->gate_ms < t->restart_ms)
			continue;
		metrics_label_escape(r->units[i].unit, unit, sizeof(unit));
		snprintf(labels, sizeof(labels), "scope=\"%s\",unit=\"%s\"", scope, unit);
		seconds(f, "pgrefresh_unit_restart_seconds", labels, t->gate_ms - t->restart_ms);
	}
	header(f, "pgrefresh_unit_gate_seconds",
	       "A unit's health gate in the last or current refresh: running the target to passing the gate.");
	for (int i = 0; i < r->unit_count; i++) {
		const record_unit *u = &r->units[i];

		if (u->times.gate_ms <= 0 || u->step != STEP_DONE || u->done_ms < u->times.gate_ms)
			continue;
		metrics_label_escape(u->unit, unit, sizeof(unit));
		snprintf(labels, sizeof(labels), "scope=\"%s\",unit=\"%s\"", scope, unit);
		seconds(f, "pgrefresh_unit_gate_seconds", labels, u->done_ms - u->times.gate_ms);
	}
}

int metrics_format(const metrics_view *v, char **text, pgr_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char scope[96], unit[96], version[48];

	*text = NULL;
	if (f == NULL)
		return pgr_err_set(err, "metrics: out of memory");
	metrics_label_escape(v->scope, scope, sizeof(scope));
	metrics_label_escape(v->unit, unit, sizeof(unit));
	metrics_label_escape(v->version, version, sizeof(version));
	header(f, "pgrefresh_is_coordinator", "1 when this agent is the coordinator of its cluster's refreshes.");
	fprintf(f, "pgrefresh_is_coordinator{scope=\"%s\",unit=\"%s\"} %d\n", scope, unit, v->coordinator ? 1 : 0);
	header(f, "pgrefresh_postgres_running", "1 when this agent's PostgreSQL runs.");
	fprintf(f, "pgrefresh_postgres_running{scope=\"%s\",unit=\"%s\"} %d\n", scope, unit, v->version[0] ? 1 : 0);
	if (v->version[0] != '\0') {
		header(f, "pgrefresh_unit_version_info", "The PostgreSQL version this agent's unit runs.");
		fprintf(f, "pgrefresh_unit_version_info{scope=\"%s\",unit=\"%s\",version=\"%s\"} 1\n", scope, unit,
			version);
	}
	if (v->coordinator)
		refresh_metrics(f, v, scope);
	if (fclose(f) != 0 || buf == NULL) {
		free(buf);
		return pgr_err_set(err, "metrics: could not format");
	}
	*text = buf;
	return 0;
}
