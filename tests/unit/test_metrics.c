/*
 * test_metrics.c — the agents' Prometheus text (metrics/metrics.h) from views of a refresh, and the step
 * times the coordinator records for it (state/record.h: record_unit_note_step, record_note_transition,
 * the "times" in the record's JSON, and older records without them). Tables, one case a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics/metrics.h"
#include "state/record.h"
#include "state/unit_record.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define T0 1700000000000LL /* a wall clock, ms */

static void test_label_escape(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
		{ "pg/1", 32, "pg/1" },
		{ "a\"b", 32, "a\\\"b" },
		{ "a\\b", 32, "a\\\\b" },
		{ "a\nb", 32, "a\\nb" },
		{ "", 32, "" },
		{ "abcdef", 4, "abc" },   /* cut, still terminated */
		{ "ab\"cd", 4, "ab" },     /* an escape that does not fit is not half written */
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char out[64];

		metrics_label_escape(cases[i].in, out, cases[i].len);
		assert_string_equal(out, cases[i].out);
	}
}

/* A refresh of three units: pg/2 done (restart 3.2 s, gate 1.5 s), pg/1 at its restart, pg/0 pending. */
static void three_units(refresh_record *r, refresh_state st)
{
	static const char *const names[] = { "pg/2", "pg/1", "pg/0" };

	memset(r, 0, sizeof(*r));
	r->id = 7;
	r->state = st;
	snprintf(r->from, sizeof(r->from), "15.18");
	snprintf(r->to, sizeof(r->to), "15.20");
	r->started_ms = T0;
	r->unit_count = 3;
	r->current = 1;
	for (int i = 0; i < 3; i++)
		snprintf(r->units[i].unit, sizeof(r->units[i].unit), "%s", names[i]);
	r->units[0].step = STEP_DONE;
	r->units[0].started_ms = T0 + 100;
	r->units[0].times.restart_ms = T0 + 300;
	r->units[0].times.gate_ms = T0 + 3500;
	r->units[0].done_ms = T0 + 5000;
	r->units[1].step = STEP_REFRESHING;
	r->units[1].started_ms = T0 + 5000;
	r->units[1].times.restart_ms = T0 + 5200;
}

enum view_kind { V_AGENT, V_COORD_NONE, V_COORD_RUNNING, V_COORD_PAUSED, V_COORD_DONE, V_NOT_RUNNING, V_QUOTE };

static void build(enum view_kind kind, refresh_record *r, metrics_view *v)
{
	memset(v, 0, sizeof(*v));
	v->scope = "pg";
	v->unit = "pg/1";
	v->version = "15.18";
	v->coordinator = kind != V_AGENT && kind != V_NOT_RUNNING && kind != V_QUOTE;
	switch (kind) {
	case V_COORD_RUNNING:
		three_units(r, RS_UNIT);
		v->refresh = r;
		v->refresh_in_progress = true;
		break;
	case V_COORD_PAUSED:
		three_units(r, RS_PAUSED);
		v->refresh = r;
		v->refresh_in_progress = true;
		break;
	case V_COORD_DONE:
		three_units(r, RS_DONE);
		for (int i = 0; i < 3; i++)
			r->units[i].step = STEP_DONE;
		r->units[1].times.gate_ms = T0 + 8000;
		r->units[1].done_ms = T0 + 9000;
		r->stall_started_ms = T0 + 9500;
		r->stall_ms = 2070;
		r->ended_ms = T0 + 15250;
		v->refresh = r;
		break;
	case V_NOT_RUNNING:
		v->version = "";
		break;
	case V_QUOTE:
		v->unit = "pg/\"x\"";
		break;
	default:
		break;
	}
}

static void test_format(void **state)
{
	static const struct {
		enum view_kind kind;
		const char *has[6];
		const char *lacks[3];
	} cases[] = {
		{ V_AGENT,
		  { "pgrefresh_is_coordinator{scope=\"pg\",unit=\"pg/1\"} 0\n",
		    "pgrefresh_unit_version_info{scope=\"pg\",unit=\"pg/1\",version=\"15.18\"} 1\n",
		    "pgrefresh_postgres_running{scope=\"pg\",unit=\"pg/1\"} 1\n", "# TYPE pgrefresh_unit_version_info gauge\n" },
		  { "pgrefresh_refresh_state", "pgrefresh_refresh_units" } },
		{ V_NOT_RUNNING,
		  { "pgrefresh_postgres_running{scope=\"pg\",unit=\"pg/1\"} 0\n" },
		  { "pgrefresh_unit_version_info" } },
		{ V_QUOTE, { "unit=\"pg/\\\"x\\\"\"} 0\n" }, { NULL } },
		{ V_COORD_NONE,
		  { "pgrefresh_is_coordinator{scope=\"pg\",unit=\"pg/1\"} 1\n",
		    "pgrefresh_refresh_state{scope=\"pg\",state=\"idle\"} 1\n",
		    "pgrefresh_refresh_state{scope=\"pg\",state=\"refreshing\"} 0\n",
		    "pgrefresh_refresh_units{scope=\"pg\"} 0\n" },
		  { "pgrefresh_last_refresh_start", "pgrefresh_unit_gate_seconds{" } },
		{ V_COORD_RUNNING,
		  { "pgrefresh_refresh_state{scope=\"pg\",state=\"refreshing\"} 1\n",
		    "pgrefresh_refresh_state{scope=\"pg\",state=\"idle\"} 0\n",
		    "pgrefresh_refresh_units_done{scope=\"pg\"} 1\n", "pgrefresh_refresh_units{scope=\"pg\"} 3\n",
		    "pgrefresh_unit_restart_seconds{scope=\"pg\",unit=\"pg/2\"} 3.200\n",
		    "pgrefresh_unit_gate_seconds{scope=\"pg\",unit=\"pg/2\"} 1.500\n" },
		  { "seconds{scope=\"pg\",unit=\"pg/1\"}", "pgrefresh_last_refresh_end", "pgrefresh_last_switchover_write_stall_seconds{" } },
		{ V_COORD_PAUSED,
		  { "pgrefresh_refresh_state{scope=\"pg\",state=\"paused\"} 1\n",
		    "pgrefresh_refresh_state{scope=\"pg\",state=\"refreshing\"} 0\n",
		    "pgrefresh_last_refresh_start_timestamp_seconds{scope=\"pg\"} 1700000000.000\n" },
		  { NULL } },
		{ V_COORD_DONE,
		  { "pgrefresh_refresh_state{scope=\"pg\",state=\"idle\"} 1\n",
		    "pgrefresh_refresh_units_done{scope=\"pg\"} 3\n",
		    "pgrefresh_last_refresh_end_timestamp_seconds{scope=\"pg\"} 1700000015.250\n",
		    "pgrefresh_last_switchover_write_stall_seconds{scope=\"pg\"} 2.070\n",
		    "pgrefresh_unit_restart_seconds{scope=\"pg\",unit=\"pg/1\"} 2.800\n",
		    "pgrefresh_unit_gate_seconds{scope=\"pg\",unit=\"pg/1\"} 1.000\n" },
		  { "state=\"refreshing\"} 1", "unit=\"pg/0\"} " } },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		refresh_record r;
		metrics_view v;
		char *text = NULL;
		pgr_err err;

		build(cases[i].kind, &r, &v);
		assert_int_equal(metrics_format(&v, &text, &err), 0);
		for (size_t k = 0; k < COUNT(cases[i].has) && cases[i].has[k]; k++)
			if (strstr(text, cases[i].has[k]) == NULL)
				fail_msg("case %zu: no \"%s\" in:\n%s", i, cases[i].has[k], text);
		for (size_t k = 0; k < COUNT(cases[i].lacks) && cases[i].lacks[k]; k++)
			if (strstr(text, cases[i].lacks[k]) != NULL)
				fail_msg("case %zu: \"%s\" in:\n%s", i, cases[i].lacks[k], text);
		free(text);
	}
}

/* Every sample line follows a HELP and a TYPE line of its own name, once per name. */
static void test_format_headers(void **state)
{
	enum view_kind kinds[] = { V_AGENT, V_COORD_NONE, V_COORD_RUNNING, V_COORD_DONE };

	(void)state;
	for (size_t i = 0; i < COUNT(kinds); i++) {
		refresh_record r;
		metrics_view v;
		char *text = NULL, *save = NULL, family[128] = "";
		pgr_err err;

		build(kinds[i], &r, &v);
		assert_int_equal(metrics_format(&v, &text, &err), 0);
		assert_true(text[strlen(text) - 1] == '\n');
		for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char name[128];

			if (strncmp(line, "# HELP ", 7) == 0) {
				snprintf(family, sizeof(family), "%.*s", (int)strcspn(line + 7, " "), line + 7);
				continue;
			}
			if (strncmp(line, "# TYPE ", 7) == 0) {
				assert_int_equal(strncmp(line + 7, family, strlen(family)), 0);
				assert_string_equal(line + 7 + strlen(family), " gauge");
				continue;
			}
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(line, "{ "), line);
			if (strcmp(name, family) != 0)
				fail_msg("kind %zu: sample %s under HELP of %s", i, line, family);
		}
		free(text);
	}
}

static void test_note_step(void **state)
{
	static const struct {
		const char *steps[4];
		int64_t since[4];
		int64_t restarted[4];
		record_unit_times want;
	} cases[] = {
		/* seen once each, at ticks 1 s apart: agent stamps win where given */
		{ { "linked", "restarting", "on-target" }, { 0, T0 + 1500, 0 }, { 0 },
		  { .relinked_ms = T0, .restart_ms = T0 + 1500, .gate_ms = T0 + 2000 } },
		{ { "linked", "aside", "restarting", "on-target" }, { 0, T0 + 900, T0 + 2100, 0 }, { 0 },
		  { .relinked_ms = T0, .aside_ms = T0 + 900, .restart_ms = T0 + 2100, .gate_ms = T0 + 3000 } },
		/* the first sighting is kept */
		{ { "restarting", "restarting" }, { T0 + 10, T0 + 999 }, { 0 }, { .restart_ms = T0 + 10 } },
		/* no stamp: the coordinator's clock */
		{ { "restarting" }, { 0 }, { 0 }, { .restart_ms = T0 } },
		/* on the target with no restart seen (not refreshed yet, or an old record): no gate */
		{ { "on-target", "idle", "link-old" }, { 0, 0, 0 }, { 0 }, { 0 } },
		/* a coordinator busy through the whole restart: the agent's own stamp of it, then the gate */
		{ { "linked", "on-target" }, { 0, 0 }, { 0, T0 + 300 },
		  { .relinked_ms = T0, .restart_ms = T0 + 300, .gate_ms = T0 + 1000 } },
		{ { "restarting", "on-target" }, { T0 + 200, 0 }, { T0 + 200, T0 + 200 },
		  { .restart_ms = T0 + 200, .gate_ms = T0 + 1000 } },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		record_unit_times t = { 0 };

		for (int k = 0; k < 4 && cases[i].steps[k]; k++)
			record_unit_note_step(&t, cases[i].steps[k], cases[i].since[k], cases[i].restarted[k], T0 + k * 1000);
		assert_memory_equal(&t, &cases[i].want, sizeof(t));
	}
}

static void test_note_transition(void **state)
{
	static const struct {
		refresh_state from, to;
		int64_t checks_ended, sw_started, sw_ended, paused1, resumed1;
	} cases[] = {
		{ RS_CHECKING, RS_UNIT, T0, 0, 0, 0, 0 },
		{ RS_CHECKING, RS_INCOMPATIBLE, T0, 0, 0, 0, 0 },
		{ RS_UNIT, RS_SWITCHOVER, 0, T0, 0, 0, 0 },
		{ RS_SWITCHOVER, RS_UNIT, 0, T0 - 5000, T0, 0, 0 },
		{ RS_UNIT, RS_PAUSED, 0, 0, 0, T0, 0 },
		{ RS_PAUSED, RS_UNIT, 0, 0, 0, T0 - 7000, T0 },
		{ RS_UNIT, RS_UNIT, 0, 0, 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		refresh_record prev, next;

		three_units(&prev, cases[i].from);
		prev.units[1].step = STEP_DONE; /* the last one done: pg/1 (index 1) */
		prev.units[1].done_ms = T0 + 6000;
		if (cases[i].from == RS_SWITCHOVER)
			prev.switchover_started_ms = T0 - 5000;
		if (cases[i].from == RS_PAUSED)
			prev.units[1].times.paused_ms = T0 - 7000;
		next = prev;
		next.state = cases[i].to;
		record_note_transition(&prev, &next, T0);
		assert_int_equal(next.checks_ended_ms, cases[i].checks_ended);
		assert_int_equal(next.switchover_started_ms, cases[i].sw_started);
		assert_int_equal(next.switchover_ended_ms, cases[i].sw_ended);
		assert_int_equal(next.units[1].times.paused_ms, cases[i].paused1);
		assert_int_equal(next.units[1].times.resumed_ms, cases[i].resumed1);
		assert_int_equal(next.units[0].times.paused_ms, 0);
	}
}

static void test_restart_again_clears_times(void **state)
{
	refresh_record prev, next;
	record_unit_times seen[RECORD_MAX_UNITS] = { { 0 } };

	(void)state;
	three_units(&prev, RS_UNIT);
	next = prev;
	next.units[0].started_ms = T0 + 60000; /* a rollback refreshes pg/2 again */
	record_note_transition(&prev, &next, T0 + 60000);
	assert_int_equal(next.units[0].times.restart_ms, 0);
	assert_int_equal(next.units[1].times.restart_ms, T0 + 5200);
	/* merging fills only what is missing */
	seen[1].restart_ms = T0 + 1;
	seen[1].gate_ms = T0 + 9000;
	record_merge_times(&next, seen, RECORD_MAX_UNITS);
	assert_int_equal(next.units[1].times.restart_ms, T0 + 5200);
	assert_int_equal(next.units[1].times.gate_ms, T0 + 9000);
}

static void test_times_json(void **state)
{
	static const char *const old_records[] = {
		"{\"id\":3,\"state\":\"unit\",\"units\":[{\"unit\":\"pg/1\",\"step\":\"done\",\"started_ms\":5,\"done_ms\":9}]}",
		"{\"id\":3,\"state\":\"unit\",\"units\":[{\"unit\":\"pg/1\",\"times\":\"garbage\"}],\"stall_ms\":\"x\"}",
		"{\"id\":3,\"state\":\"unit\",\"units\":[{\"unit\":\"pg/1\",\"times\":{\"gate_ms\":-4}}]}",
	};
	refresh_record a, b;
	char *json = NULL;
	pgr_err err;

	(void)state;
	three_units(&a, RS_SWITCHOVER);
	a.units[1].times.aside_ms = T0 + 5100;
	a.units[2].times.relinked_ms = T0 + 6000;
	a.units[0].times.paused_ms = T0 + 5001;
	a.units[0].times.resumed_ms = T0 + 5002;
	a.checks_ended_ms = T0 + 50;
	a.switchover_started_ms = T0 + 9000;
	a.switchover_ended_ms = T0 + 12000;
	a.stall_started_ms = T0 + 9900;
	a.stall_ms = 1760;
	assert_int_equal(record_to_json(&a, &json, &err), 0);
	assert_int_equal(record_parse(json, &b, &err), 0);
	free(json);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(&a.units[i].times, &b.units[i].times, sizeof(record_unit_times));
	assert_int_equal(b.checks_ended_ms, a.checks_ended_ms);
	assert_int_equal(b.switchover_started_ms, a.switchover_started_ms);
	assert_int_equal(b.switchover_ended_ms, a.switchover_ended_ms);
	assert_int_equal(b.stall_started_ms, a.stall_started_ms);
	assert_int_equal(b.stall_ms, a.stall_ms);
	/* a unit with no times writes none */
	three_units(&a, RS_UNIT);
	a.units[0].times = (record_unit_times){ 0 };
	assert_int_equal(record_to_json(&a, &json, &err), 0);
	assert_null(strstr(json, "\"times\":{}"));
	assert_null(strstr(json, "stall_ms"));
	free(json);
	/* older records, and odd values, parse with no times */
	for (size_t i = 0; i < COUNT(old_records); i++) {
		const record_unit_times none = { 0 };

		assert_int_equal(record_parse(old_records[i], &b, &err), 0);
		assert_memory_equal(&b.units[0].times, &none, sizeof(none));
		assert_int_equal(b.stall_ms, 0);
	}
}

/* An agent's report carries when it began its restart (kept after it); older reports have none. */
static void test_unit_restarted_json(void **state)
{
	static const int64_t values[] = { 0, T0 + 1234 };

	(void)state;
	for (size_t i = 0; i < COUNT(values); i++) {
		unit_record a, b;
		char *json = NULL;
		pgr_err err;

		memset(&a, 0, sizeof(a));
		snprintf(a.unit, sizeof(a.unit), "pg/1");
		snprintf(a.step, sizeof(a.step), "on-target");
		a.restarted_ms = values[i];
		assert_int_equal(unit_record_to_json(&a, &json, &err), 0);
		assert_true((strstr(json, "\"restarted_ms\"") != NULL) == (values[i] != 0));
		assert_int_equal(unit_record_parse(json, &b, &err), 0);
		free(json);
		assert_int_equal(b.restarted_ms, values[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escape),	     cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_headers),	     cmocka_unit_test(test_note_step),
		cmocka_unit_test(test_note_transition),	     cmocka_unit_test(test_restart_again_clears_times),
		cmocka_unit_test(test_times_json),	     cmocka_unit_test(test_unit_restarted_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
