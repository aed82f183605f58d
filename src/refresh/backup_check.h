/*
 * backup_check.h — "a backup first": the checks of the group `backup` (refresh/checks.h), run from the
 * primary before any unit is touched:
 *   wal-archiving  pg_stat_archiver, sampled twice: archive_mode on, the age of the last archived segment,
 *                  failures growing (failed_count between the samples, last failure newer than the last
 *                  success). Off: information, not a failure, unless a backup is required.
 *   backup         the age of the last full backup of the cluster's stanza, from
 *                  `pgbackrest info --output=json`, judged against require-backup-within-hours (0: not
 *                  required, reported only).
 * Parsing pgBackRest's JSON and both judgements are pure (backup_info_parse, backup_judge_archiver,
 * backup_judge_backup); backup_check_run asks the primary and runs pgBackRest.
 */
#ifndef PGR_REFRESH_BACKUP_CHECK_H
#define PGR_REFRESH_BACKUP_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/conf.h"
#include "refresh/checks.h"
#include "util/err.h"

#define BACKUP_PGBACKREST_BIN "/usr/bin/pgbackrest"

/* One look at pg_stat_archiver (and archive_mode) on the primary. Times: Unix seconds, 0 when never. */
typedef struct archiver_sample {
	char archive_mode[16]; /* "off", "on", "always" */
	int64_t archived_count;
	char last_archived_wal[64];
	int64_t last_archived_time;
	int64_t failed_count;
	char last_failed_wal[64];
	int64_t last_failed_time;
	int64_t now; /* the server's clock when sampled: ages are judged against it, never against ours */
} archiver_sample;

/* What `pgbackrest info --output=json` says of one stanza. */
typedef struct backup_info {
	char stanza[64];
	int status_code;            /* pgBackRest's: 0 ok, 1 missing stanza path, 2 no valid backups, ... */
	char status_message[128];
	bool backup_running;        /* status.lock.backup.held */
	int full_count;             /* full backups (without error) */
	char last_full_label[64];   /* the newest of them: its label, its end (Unix seconds) */
	int64_t last_full_stop;
	char last_label[64];        /* the newest backup of any type: label, type, end */
	char last_type[8];
	int64_t last_stop;
	char stanzas[256];          /* every stanza the output lists, comma-separated (for messages) */
	int stanza_count;
} backup_info;

/*
 * Pure: finds stanza in pgBackRest's info JSON (an array of stanzas) and fills *out. With stanza NULL or
 * "", the only stanza listed is taken. Returns 0 when found; 1 when the output is valid but lists no such
 * stanza (out->stanzas names those it does list); -1 on JSON that is not pgBackRest's (err says why).
 */
int backup_info_parse(const char *json, const char *stanza, backup_info *out, pgr_err *err)
	__attribute__((warn_unused_result));

/* "3 min", "5 h 12 min", "2 d 4 h": an age in seconds, for messages. */
void backup_age_text(int64_t seconds, char *buf, size_t len);

/*
 * Pure: the check wal-archiving from two samples taken a moment apart (first may be NULL: one sample).
 * require_hours > 0 (a backup is required): archiving off fails too.
 */
void backup_judge_archiver(const archiver_sample *first, const archiver_sample *second, int require_hours,
			   check_report *report);

/*
 * Pure: the check backup. info NULL: no backup to look at, and why_missing says why ("pgBackRest is not
 * installed", "no stanza pg in ..."). now: Unix seconds. take_cmd: the command that takes a full backup.
 */
void backup_judge_backup(const backup_info *info, const char *why_missing, int require_hours, int64_t now,
			 const char *take_cmd, check_report *report);

/* The command that takes a full backup of the cluster's stanza ("pgbackrest [--config=F] --stanza=S backup --type=full"). */
void backup_take_command(const cluster_conf *conf, char *buf, size_t len);

/* Pure: the row of backup_archiver_sample's query ("on|12|0000...|1700000000|0||0|1700000100"). */
int backup_archiver_parse(const char *row, archiver_sample *out, pgr_err *err) __attribute__((warn_unused_result));
/* One sample of pg_stat_archiver on the server at conninfo. */
int backup_archiver_sample(const char *conninfo, archiver_sample *out, pgr_err *err) __attribute__((warn_unused_result));

/*
 * `pgbackrest info --output=json` for the cluster's stanza (conf's pgbackrest_config/_stanza, else
 * pgBackRest's default config and the cluster's name), run as the servers' user: 0 and *info, or -1 and
 * why not in why (not installed, its config missing, no such stanza, the command failed).
 */
int backup_info_fetch(const cluster_conf *conf, backup_info *info, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/*
 * Both checks against the running cluster: a second archiver sample (first: taken a moment earlier, or
 * NULL), pgBackRest's info for the cluster's stanza (conf's pgbackrest_config/_stanza, else pgBackRest's
 * defaults and the cluster's name). conninfo NULL: no primary to ask.
 */
void backup_check_run(const cluster_conf *conf, int require_hours, const char *conninfo, const archiver_sample *first,
		      check_report *report);

#endif
