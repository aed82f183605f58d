/*
 * switchover.h — a planned switchover that clients feel only as a short wait: every PgBouncer is
 * paused (bounded), Patroni is asked to switch over, the candidate is polled until it accepts writes,
 * PgBouncer is repointed at it and resumed, then Patroni's answer is confirmed. PgBouncer is resumed
 * on every path; while it is paused a mark in etcd (/pgrefresh/<cluster>/pgbouncer-paused) lets a
 * coordinator that takes over resume it. Used by `pgrefresh switchover` and by the refresh.
 */
#ifndef PGR_CLUSTER_SWITCHOVER_H
#define PGR_CLUSTER_SWITCHOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "util/err.h"

#define SWITCHOVER_PAUSED_LEAF "pgbouncer-paused"

/* What the switchover measured. */
typedef struct switchover_timing {
	long long pause_ms;    /* PAUSE took */
	long long paused_ms;   /* from PAUSE sent to RESUME answered: what clients waited */
	long long promote_ms;  /* from the switchover request to the candidate accepting writes */
	long long total_ms;
} switchover_timing;

/*
 * Switches the primary role from leader to candidate (Patroni member names). etcd may be NULL (no
 * paused mark). On failure before the candidate was promoted, nothing changed and PgBouncer leads to
 * the old primary again.
 */
int switchover_run(const cluster_conf *conf, const etcd_client *etcd, const char *leader, const char *candidate,
		   switchover_timing *timing, pgr_err *err) __attribute__((warn_unused_result));

/* PAUSE / RESUME every PgBouncer of conf (RESUME of a PgBouncer that is not paused is fine). */
int switchover_pgbouncer_command(const cluster_conf *conf, const char *command, pgr_err *err)
	__attribute__((warn_unused_result));
/* Resumes every PgBouncer and removes the paused mark; logs what fails. */
void switchover_resume_all(const cluster_conf *conf, const etcd_client *etcd);

#endif
