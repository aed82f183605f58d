/*
 * checks.h — the checks run before any unit is touched, each with a name, a verdict and a detail:
 *   pre-refresh (health):  units-healthy, no-backup-running
 *   compatibility:         same-major, higher-version, not-blocklisted
 *   workload:              present-on-every-unit, runnable, extensions-present
 *   backup:                wal-archiving, backup (refresh/backup_check.h)
 * The version decisions are pure (checks_versions), and so are the workload's (checks_workload_judge):
 * they judge from what each unit's agent reported of its own host (state/unit_record.h: its catalog,
 * whether each entry runs there, its extensions), never from this host's files. The rest read the
 * cluster over the network (Patroni, SQL).
 * A failed check names itself so that force-refresh-start can skip its group.
 */
#ifndef PGR_REFRESH_CHECKS_H
#define PGR_REFRESH_CHECKS_H

#include <stdbool.h>

#include "state/unit_record.h"
#include "cluster/conf.h"
#include "state/settings.h"
#include "util/err.h"

#define CHECKS_MAX 20

typedef enum check_group { CHECK_PRE = 0, CHECK_COMPAT, CHECK_WORKLOAD, CHECK_BACKUP } check_group;
typedef enum check_verdict { CHECK_PASS = 0, CHECK_FAIL, CHECK_SKIPPED } check_verdict;

typedef struct check_result {
	char name[32];
	check_group group;
	check_verdict verdict;
	char detail[240];
} check_result;

typedef struct check_report {
	check_result results[CHECKS_MAX];
	int count;
} check_report;

/* Which groups to skip (force-refresh-start) and what is being checked. */
typedef struct check_request {
	char from[16];
	char to[16];
	bool rollback; /* a rollback skips the forward checks */
	bool skip_pre;
	bool skip_compat;
	bool skip_workload;
	bool skip_backup;
} check_request;

const char *check_group_name(check_group g);
const char *check_group_flag(check_group g); /* the force-refresh-start flag that skips it */
/* Adds a result; returns it. */
check_result *checks_add(check_report *report, const char *name, check_group group, check_verdict verdict,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The first failed check, NULL if none. */
const check_result *checks_first_failure(const check_report *report);

/* Pure: same major, strictly higher, not in the blocklist (text: one version a line, # comments). */
void checks_versions(const check_request *req, const char *blocklist_text, check_report *report);

/* An extension installed in one of the cluster's databases (read by SQL on the primary). */
typedef struct checks_extension {
	char name[64];
	char db[64];
} checks_extension;

/*
 * Pure: the workload checks, from the units' reports alone (records/have in conf's unit order): req->to
 * present on every unit, runnable on every unit, and every installed extension (installed, count; or
 * installed_error when they could not be read) offered by req->to on every unit (not for a rollback).
 * A unit with no report, or none for req->to, fails its check naming it; every failure names the units.
 */
void checks_workload_judge(const cluster_conf *conf, const check_request *req, const unit_record *records,
			   const bool *have, const checks_extension *installed, int installed_count,
			   const char *installed_error, check_report *report);

/*
 * All checks against the running cluster. records/have: the agents' reports, in conf's unit order.
 * Never fails as a whole: a check that cannot run fails with the reason.
 */
void checks_run(const cluster_conf *conf, const refresh_settings *settings, const check_request *req,
		const unit_record *records, const bool *have, check_report *report);

#endif
