/*
 * settings.h — the cluster's refresh settings, one table that drives parsing, validation, `config`
 * output and whether a setting may change while a refresh is in progress. Stored in etcd at
 * /pgrefresh/<cluster>/config as a JSON object of the values that differ from the defaults. Pure.
 */
#ifndef PGR_STATE_SETTINGS_H
#define PGR_STATE_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

typedef enum pause_policy { PAUSE_FIRST = 0, PAUSE_ALL, PAUSE_NONE } pause_policy;

/* The values in force. */
typedef struct refresh_settings {
	pause_policy pause;
	int64_t lag_limit_bytes;
	int health_timeout_s;
	bool auto_rollback;
	int switchover_wait_s;          /* how long the switchover waits for clients that hold transactions open */
	bool switchover_terminate_clients; /* after that wait: end their sessions (true) or halt (false) */
	int max_parallel_units; /* replicas refreshed at once, in batches (refresh/plan.h bounds each batch) */
	int require_backup_hours;       /* 0: a backup is reported, not required (refresh/backup_check.h) */
	bool switchover_fast;           /* switchover=fast: cluster/fast_switchover.h; else Patroni's own */
} refresh_settings;

#define SETTINGS_MAX_PARALLEL_UNITS 32 /* RECORD_MAX_UNITS: no plan has more units */

/* One row of the settings table. */
typedef struct setting_def {
	const char *name;
	const char *type_help;  /* "first|all|none", "bytes", "seconds", "true|false" */
	const char *default_text;
	bool allowed_during_refresh;
	const char *help;
} setting_def;

int settings_count(void);
const setting_def *settings_def(int i);
const setting_def *settings_find(const char *name);
void settings_defaults(refresh_settings *s);
/* Applies name=value onto s; a bad name or value is an error naming both. */
int settings_apply(refresh_settings *s, const char *name, const char *value, pgr_err *err) __attribute__((warn_unused_result));
/* The value of setting name in s, as text. */
void settings_value_text(const refresh_settings *s, const char *name, char *buf, size_t len);
/* JSON (etcd) <-> settings. Unknown keys in JSON are ignored; bad values are errors. */
int settings_from_json(const char *json, refresh_settings *s, pgr_err *err) __attribute__((warn_unused_result));
int settings_to_json(const refresh_settings *s, char **json, pgr_err *err) __attribute__((warn_unused_result));
const char *pause_policy_name(pause_policy p);

#endif
