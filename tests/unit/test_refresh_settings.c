/*
 * test_refresh_settings.c — the refresh settings table (state/settings.h): defaults, every good and
 * bad value of every setting, unknown settings, and the JSON form stored in etcd.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/settings.h"

static void test_defaults(void **state)
{
	refresh_settings s;
	char buf[64];

	(void)state;
	memset(&s, 0x5a, sizeof(s));
	settings_defaults(&s);
	assert_int_equal(s.pause, PAUSE_FIRST);
	assert_int_equal(s.lag_limit_bytes, 1048576);
	assert_int_equal(s.health_timeout_s, 120);
	assert_false(s.auto_rollback);
	assert_int_equal(s.switchover_wait_s, 60);
	assert_false(s.switchover_terminate_clients);
	assert_int_equal(s.max_parallel_units, 1);
	assert_int_equal(s.require_backup_hours, 0); /* a backup is reported, not required */
	assert_true(s.switchover_fast);              /* the fast switchover by default (docs/fast-switchover.md) */
	/* the table's default text is what the defaults produce */
	assert_int_equal(settings_count(), 9);
	for (int i = 0; i < settings_count(); i++) {
		const setting_def *d = settings_def(i);

		assert_non_null(d);
		assert_ptr_equal(settings_find(d->name), d);
		assert_non_null(d->help);
		assert_non_null(d->type_help);
		settings_value_text(&s, d->name, buf, sizeof(buf));
		assert_string_equal(buf, d->default_text);
	}
	assert_null(settings_def(-1));
	assert_null(settings_def(settings_count()));
	assert_null(settings_find("pause"));
	assert_true(settings_find("pause-after-unit-refresh")->allowed_during_refresh); /* the emergency stop */
	/* a switchover waiting for a client is unblocked by changing these while it waits */
	assert_true(settings_find("switchover-wait-seconds")->allowed_during_refresh);
	assert_true(settings_find("switchover-terminate-clients")->allowed_during_refresh);
}

static const struct {
	const char *name;
	const char *value;
	int ok;
	const char *text; /* settings_value_text after, when ok */
} apply_cases[] = {
	{ "pause-after-unit-refresh", "first", 1, "first" },
	{ "pause-after-unit-refresh", "all", 1, "all" },
	{ "pause-after-unit-refresh", "none", 1, "none" },
	{ "pause-after-unit-refresh", "First", 0, NULL },
	{ "pause-after-unit-refresh", "ALL", 0, NULL },
	{ "pause-after-unit-refresh", "", 0, NULL },
	{ "pause-after-unit-refresh", "never", 0, NULL },
	{ "pause-after-unit-refresh", "first ", 0, NULL },
	{ "pause-after-unit-refresh", "1", 0, NULL },
	{ "lag-limit-bytes", "0", 1, "0" },
	{ "lag-limit-bytes", "1", 1, "1" },
	{ "lag-limit-bytes", "16777216", 1, "16777216" },
	{ "lag-limit-bytes", "1099511627776", 1, "1099511627776" }, /* 1 TiB, the largest */
	{ "lag-limit-bytes", "1099511627777", 0, NULL },
	{ "lag-limit-bytes", "-1", 0, NULL },
	{ "lag-limit-bytes", "", 0, NULL },
	{ "lag-limit-bytes", "abc", 0, NULL },
	{ "lag-limit-bytes", "1MB", 0, NULL },
	{ "lag-limit-bytes", "1.5", 0, NULL },
	{ "lag-limit-bytes", "1 ", 0, NULL },
	{ "lag-limit-bytes", "99999999999999999999999", 0, NULL },
	{ "health-timeout-seconds", "5", 1, "5" },
	{ "health-timeout-seconds", "120", 1, "120" },
	{ "health-timeout-seconds", "86400", 1, "86400" },
	{ "health-timeout-seconds", "4", 0, NULL },
	{ "health-timeout-seconds", "0", 0, NULL },
	{ "health-timeout-seconds", "-5", 0, NULL },
	{ "health-timeout-seconds", "86401", 0, NULL },
	{ "health-timeout-seconds", "2m", 0, NULL },
	{ "health-timeout-seconds", "", 0, NULL },
	{ "health-timeout-seconds", "9999999999999", 0, NULL },
	{ "auto-rollback", "true", 1, "true" },
	{ "auto-rollback", "false", 1, "false" },
	{ "auto-rollback", "yes", 0, NULL },
	{ "auto-rollback", "1", 0, NULL },
	{ "auto-rollback", "TRUE", 0, NULL },
	{ "auto-rollback", "", 0, NULL },
	{ "switchover-wait-seconds", "0", 1, "0" },
	{ "switchover-wait-seconds", "60", 1, "60" },
	{ "switchover-wait-seconds", "86400", 1, "86400" },
	{ "switchover-wait-seconds", "86401", 0, NULL },
	{ "switchover-wait-seconds", "-1", 0, NULL },
	{ "switchover-wait-seconds", "1m", 0, NULL },
	{ "switchover-wait-seconds", "", 0, NULL },
	{ "switchover-wait-seconds", " 5", 0, NULL },
	{ "switchover-wait-seconds", "+5", 0, NULL },
	{ "lag-limit-bytes", " 1", 0, NULL },
	{ "switchover-terminate-clients", "true", 1, "true" },
	{ "switchover-terminate-clients", "false", 1, "false" },
	{ "switchover-terminate-clients", "on", 0, NULL },
	{ "switchover-terminate-clients", "True", 0, NULL },
	{ "switchover-terminate-clients", "", 0, NULL },
	{ "switchover_terminate_clients", "true", 0, NULL },
	{ "require-backup-within-hours", "24", 1, "24" },
	{ "require-backup-within-hours", "1", 1, "1" },
	{ "require-backup-within-hours", "0", 1, "0" },
	{ "require-backup-within-hours", "87600", 1, "87600" },
	{ "require-backup-within-hours", "87601", 0, NULL },
	{ "require-backup-within-hours", "-1", 0, NULL },
	{ "require-backup-within-hours", "1.5", 0, NULL },
	{ "require-backup-within-hours", "24h", 0, NULL },
	{ "require-backup-within-hours", "", 0, NULL },
	{ "require-backup-within-hours", "yes", 0, NULL },
	{ "require_backup_within_hours", "24", 0, NULL },
	{ "switchover", "fast", 1, "fast" },
	{ "switchover", "patroni", 1, "patroni" },
	{ "switchover", "Fast", 0, NULL },
	{ "switchover", "", 0, NULL },
	{ "switchover", "immediate", 0, NULL },
	{ "pause", "all", 0, NULL },
	{ "Pause-After-Unit-Refresh", "all", 0, NULL },
	{ "", "x", 0, NULL },
	{ "lag_limit_bytes", "5", 0, NULL },
	{ "max-parallel-units", "1", 1, "1" },
	{ "max-parallel-units", "3", 1, "3" },
	{ "max-parallel-units", "32", 1, "32" },
	{ "max-parallel-units", "33", 0, NULL },
	{ "max-parallel-units", "0", 0, NULL },
	{ "max-parallel-units", "-1", 0, NULL },
	{ "max-parallel-units", "two", 0, NULL },
	{ "max-parallel-units", "2.5", 0, NULL },
	{ "max-parallel-units", "", 0, NULL },
	{ "max-parallel-units", "+2", 0, NULL },
	{ "max_parallel_units", "2", 0, NULL },
};

static void test_apply(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(apply_cases) / sizeof(apply_cases[0]); i++) {
		refresh_settings s, before;
		pgr_err err;
		char buf[64];
		int rc;

		settings_defaults(&s);
		if (strcmp(apply_cases[i].name, "auto-rollback") == 0 && strcmp(apply_cases[i].value, "false") == 0)
			s.auto_rollback = true; /* so that "false" changes something */
		if (strcmp(apply_cases[i].name, "switchover-terminate-clients") == 0 && strcmp(apply_cases[i].value, "false") == 0)
			s.switchover_terminate_clients = true;
		before = s;
		pgr_err_clear(&err);
		rc = settings_apply(&s, apply_cases[i].name, apply_cases[i].value, &err);
		if (apply_cases[i].ok) {
			settings_value_text(&s, apply_cases[i].name, buf, sizeof(buf));
			if (rc != 0 || strcmp(buf, apply_cases[i].text) != 0)
				fail_msg("%s=%s: rc %d, value \"%s\" (%s)", apply_cases[i].name, apply_cases[i].value, rc,
					 buf, err.msg);
		} else {
			/* refused, the settings unchanged, and the message names the setting and the value */
			if (rc == 0 || memcmp(&s, &before, sizeof(s)) != 0)
				fail_msg("%s=%s was accepted", apply_cases[i].name, apply_cases[i].value);
			if (strstr(err.msg, apply_cases[i].name) == NULL ||
			    (settings_find(apply_cases[i].name) != NULL && strstr(err.msg, apply_cases[i].value) == NULL))
				fail_msg("%s=%s: message \"%s\" does not name both", apply_cases[i].name,
					 apply_cases[i].value, err.msg);
		}
	}
}

static void test_value_text(void **state)
{
	refresh_settings s;
	char buf[64] = "junk";

	(void)state;
	settings_defaults(&s);
	settings_value_text(&s, "no-such-setting", buf, sizeof(buf));
	assert_string_equal(buf, "");
	assert_string_equal(pause_policy_name(PAUSE_FIRST), "first");
	assert_string_equal(pause_policy_name(PAUSE_ALL), "all");
	assert_string_equal(pause_policy_name(PAUSE_NONE), "none");
}

static void test_json_round_trip(void **state)
{
	static const char *const sets[][2] = {
		{ "pause-after-unit-refresh", "all" },
		{ "lag-limit-bytes", "12345" },
		{ "health-timeout-seconds", "600" },
		{ "auto-rollback", "true" },
		{ "switchover-wait-seconds", "15" },
		{ "switchover-terminate-clients", "true" },
		{ "require-backup-within-hours", "48" },
		{ "switchover", "fast" },
	};
	refresh_settings a, b, d;
	char *json = NULL;
	pgr_err err;

	(void)state;
	settings_defaults(&a);
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		assert_int_equal(settings_apply(&a, sets[i][0], sets[i][1], &err), 0);
	assert_int_equal(settings_to_json(&a, &json, &err), 0);
	assert_non_null(strstr(json, "\"pause-after-unit-refresh\":\"all\""));
	assert_int_equal(settings_from_json(json, &b, &err), 0);
	assert_int_equal(b.pause, PAUSE_ALL);
	assert_int_equal(b.lag_limit_bytes, 12345);
	assert_int_equal(b.health_timeout_s, 600);
	assert_true(b.auto_rollback);
	assert_int_equal(b.switchover_wait_s, 15);
	assert_true(b.switchover_fast);
	assert_true(b.switchover_terminate_clients);
	assert_int_equal(b.require_backup_hours, 48);
	free(json);

	/* the defaults round-trip too; an empty object gives the defaults */
	settings_defaults(&d);
	assert_int_equal(settings_to_json(&d, &json, &err), 0);
	assert_int_equal(settings_from_json(json, &b, &err), 0);
	assert_memory_equal(&b, &d, sizeof(b));
	free(json);
	assert_int_equal(settings_from_json("{}", &b, &err), 0);
	assert_memory_equal(&b, &d, sizeof(b));
}

static const struct {
	const char *json;
	int ok;
	const char *err_has;
} from_json_cases[] = {
	{ "{\"pause-after-unit-refresh\":\"none\"}", 1, NULL },
	{ "{\"unknown-key\":\"x\",\"lag-limit-bytes\":\"7\"}", 1, NULL }, /* unknown keys are ignored */
	{ "{\"pause-after-unit-refresh\":\"sometimes\"}", 0, "sometimes" },
	{ "{\"lag-limit-bytes\":\"-3\"}", 0, "lag-limit-bytes" },
	{ "{\"health-timeout-seconds\":\"1\"}", 0, "health-timeout-seconds" },
	{ "{\"auto-rollback\":\"maybe\"}", 0, "auto-rollback" },
	{ "{\"switchover-wait-seconds\":\"soon\"}", 0, "switchover-wait-seconds" },
	{ "{\"switchover-terminate-clients\":\"1\"}", 0, "switchover-terminate-clients" },
	{ "not json", 0, "not a JSON object" },
	{ "[]", 0, "not a JSON object" },
	{ "\"all\"", 0, "not a JSON object" },
	{ "", 0, "not a JSON object" },
};

static void test_from_json(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(from_json_cases) / sizeof(from_json_cases[0]); i++) {
		refresh_settings s;
		pgr_err err;
		int rc;

		pgr_err_clear(&err);
		rc = settings_from_json(from_json_cases[i].json, &s, &err);
		if (from_json_cases[i].ok ? rc != 0 : rc == 0 || strstr(err.msg, from_json_cases[i].err_has) == NULL)
			fail_msg("%s: rc %d \"%s\"", from_json_cases[i].json, rc, err.msg);
	}
}

/*
 * Known bug (reported to the lead): settings.h says "bad values are errors", but a known key whose
 * JSON value is not a string (a number or boolean written by hand with etcdctl) is silently ignored
 * and the default applies.
 */
static const char *const non_string_values[] = {
	"{\"health-timeout-seconds\":600}",
	"{\"auto-rollback\":true}",
	"{\"pause-after-unit-refresh\":null}",
};

static void test_from_json_non_string(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(non_string_values) / sizeof(non_string_values[0]); i++) {
		refresh_settings s;
		pgr_err err;

		pgr_err_clear(&err);
		if (settings_from_json(non_string_values[i], &s, &err) == 0)
			fail_msg("%s was accepted (its value silently ignored)", non_string_values[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_value_text),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_from_json),
		cmocka_unit_test(test_from_json_non_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
