#include "state/settings.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const setting_def defs[] = {
	{ "pause-after-unit-refresh", "first|all|none", "first", true,
	  "pause after the first unit (first), after every unit (all), or never (none); read before each unit" },
	{ "lag-limit-bytes", "bytes", "1048576", true,
	  "the most replication lag a healthy unit may have (over ~2 s: one sample under it, or a shrinking lag, passes)" },
	{ "health-timeout-seconds", "seconds", "120", true, "how long a refreshed unit may take to pass its health gate" },
	{ "auto-rollback", "true|false", "false", true, "start a rollback by itself when a unit fails its health gate" },
	{ "switchover-wait-seconds", "seconds", "60", true,
	  "how long the switchover waits, without pausing PgBouncer, for clients holding a transaction open on the primary" },
	{ "switchover-terminate-clients", "true|false", "false", true,
	  "after switchover-wait-seconds, end those clients' sessions (pg_terminate_backend) instead of halting the refresh" },
	{ "max-parallel-units", "units", "1", true,
	  "replicas refreshed at once, in batches (1 to 32); the sync standby and the primary always go alone, and a batch "
	  "leaves a streaming standby up for every sync standby (at least one); read before each batch" },
	{ "require-backup-within-hours", "hours", "0", true,
	  "a full backup (pgBackRest) at most this old, and WAL archiving on, or the check `backup` fails; 0: not required" },
	{ "switchover", "fast|patroni", "fast", true,
	  "how the primary's role moves: pgrefresh's own steps while Patroni is in maintenance mode (fast: "
	  "docs/fast-switchover.md; a cluster of fewer than 3 units uses patroni), or Patroni's POST /switchover "
	  "(patroni); read at each switchover" },
};

int settings_count(void)
{
	return (int)(sizeof(defs) / sizeof(defs[0]));
}

const setting_def *settings_def(int i)
{
	return i >= 0 && i < settings_count() ? &defs[i] : NULL;
}

const setting_def *settings_find(const char *name)
{
	for (int i = 0; i < settings_count(); i++)
		if (strcmp(defs[i].name, name) == 0)
			return &defs[i];
	return NULL;
}

const char *pause_policy_name(pause_policy p)
{
	switch (p) {
	case PAUSE_ALL:
		return "all";
	case PAUSE_NONE:
		return "none";
	default:
		return "first";
	}
}

void settings_defaults(refresh_settings *s)
{
	pgr_err ignored;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < settings_count(); i++)
		(void)!settings_apply(s, defs[i].name, defs[i].default_text, &ignored);
}

static int parse_int(const char *value, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)value[0]) && value[0] != '-')
		return -1; /* strtoll would skip leading blanks and take a '+' */
	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int settings_apply(refresh_settings *s, const char *name, const char *value, pgr_err *err)
{
	int64_t v;

	if (strcmp(name, "pause-after-unit-refresh") == 0) {
		if (strcmp(value, "first") == 0)
			s->pause = PAUSE_FIRST;
		else if (strcmp(value, "all") == 0)
			s->pause = PAUSE_ALL;
		else if (strcmp(value, "none") == 0)
			s->pause = PAUSE_NONE;
		else
			return pgr_err_set(err, "bad value \"%s\" for pause-after-unit-refresh (expected first, all or none)",
					   value);
		return 0;
	}
	if (strcmp(name, "lag-limit-bytes") == 0) {
		if (parse_int(value, 0, INT64_C(1) << 40, &v) != 0)
			return pgr_err_set(err, "bad value \"%s\" for lag-limit-bytes (expected a number of bytes)", value);
		s->lag_limit_bytes = v;
		return 0;
	}
	if (strcmp(name, "health-timeout-seconds") == 0) {
		if (parse_int(value, 5, 86400, &v) != 0)
			return pgr_err_set(err, "bad value \"%s\" for health-timeout-seconds (expected 5 to 86400)", value);
		s->health_timeout_s = (int)v;
		return 0;
	}
	if (strcmp(name, "auto-rollback") == 0) {
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			return pgr_err_set(err, "bad value \"%s\" for auto-rollback (expected true or false)", value);
		s->auto_rollback = strcmp(value, "true") == 0;
		return 0;
	}
	if (strcmp(name, "switchover-wait-seconds") == 0) {
		if (parse_int(value, 0, 86400, &v) != 0)
			return pgr_err_set(err, "bad value \"%s\" for switchover-wait-seconds (expected 0 to 86400)", value);
		s->switchover_wait_s = (int)v;
		return 0;
	}
	if (strcmp(name, "switchover-terminate-clients") == 0) {
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			return pgr_err_set(err, "bad value \"%s\" for switchover-terminate-clients (expected true or false)",
					   value);
		s->switchover_terminate_clients = strcmp(value, "true") == 0;
		return 0;
	}
	if (strcmp(name, "max-parallel-units") == 0) {
		if (parse_int(value, 1, SETTINGS_MAX_PARALLEL_UNITS, &v) != 0)
			return pgr_err_set(err, "bad value \"%s\" for max-parallel-units (expected 1 to %d)", value,
					   SETTINGS_MAX_PARALLEL_UNITS);
		s->max_parallel_units = (int)v;
		return 0;
	}
	if (strcmp(name, "require-backup-within-hours") == 0) {
		if (parse_int(value, 0, 87600, &v) != 0)
			return pgr_err_set(err, "bad value \"%s\" for require-backup-within-hours (expected 0 to 87600 hours, 0: "
					   "not required)", value);
		s->require_backup_hours = (int)v;
		return 0;
	}
	if (strcmp(name, "switchover") == 0) {
		if (strcmp(value, "fast") != 0 && strcmp(value, "patroni") != 0)
			return pgr_err_set(err, "bad value \"%s\" for switchover (expected fast or patroni)", value);
		s->switchover_fast = strcmp(value, "fast") == 0;
		return 0;
	}
	return pgr_err_set(err, "unknown setting \"%s\"", name);
}

void settings_value_text(const refresh_settings *s, const char *name, char *buf, size_t len)
{
	if (strcmp(name, "pause-after-unit-refresh") == 0)
		snprintf(buf, len, "%s", pause_policy_name(s->pause));
	else if (strcmp(name, "lag-limit-bytes") == 0)
		snprintf(buf, len, "%lld", (long long)s->lag_limit_bytes);
	else if (strcmp(name, "health-timeout-seconds") == 0)
		snprintf(buf, len, "%d", s->health_timeout_s);
	else if (strcmp(name, "auto-rollback") == 0)
		snprintf(buf, len, "%s", s->auto_rollback ? "true" : "false");
	else if (strcmp(name, "switchover-wait-seconds") == 0)
		snprintf(buf, len, "%d", s->switchover_wait_s);
	else if (strcmp(name, "switchover-terminate-clients") == 0)
		snprintf(buf, len, "%s", s->switchover_terminate_clients ? "true" : "false");
	else if (strcmp(name, "max-parallel-units") == 0)
		snprintf(buf, len, "%d", s->max_parallel_units);
	else if (strcmp(name, "require-backup-within-hours") == 0)
		snprintf(buf, len, "%d", s->require_backup_hours);
	else if (strcmp(name, "switchover") == 0)
		snprintf(buf, len, "%s", s->switchover_fast ? "fast" : "patroni");
	else
		snprintf(buf, len, "%s", "");
}

int settings_from_json(const char *json, refresh_settings *s, pgr_err *err)
{
	json_error_t jerr;
	json_t *obj = json_loads(json, 0, &jerr);
	const char *key;
	json_t *value;

	settings_defaults(s);
	if (obj == NULL || !json_is_object(obj)) {
		json_decref(obj);
		return pgr_err_set(err, "settings are not a JSON object");
	}
	json_object_foreach(obj, key, value)
	{
		if (settings_find(key) == NULL)
			continue;
		if (!json_is_string(value)) {
			pgr_err_set(err, "setting %s is not a string", key);
			json_decref(obj);
			return -1;
		}
		if (settings_apply(s, key, json_string_value(value), err) != 0) {
			json_decref(obj);
			return -1;
		}
	}
	json_decref(obj);
	return 0;
}

int settings_to_json(const refresh_settings *s, char **json, pgr_err *err)
{
	json_t *obj = json_object();

	for (int i = 0; i < settings_count(); i++) {
		char buf[64];

		settings_value_text(s, defs[i].name, buf, sizeof(buf));
		json_object_set_new(obj, defs[i].name, json_string(buf));
	}
	*json = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	return *json ? 0 : pgr_err_set(err, "could not encode settings");
}
