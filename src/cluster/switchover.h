/*
 * switchover.h — a planned switchover that clients feel only as a short wait: every PgBouncer is
 * paused (bounded), Patroni is asked to switch over, the candidate is polled until it accepts writes,
 * PgBouncer is repointed at it and resumed, then Patroni's answer is confirmed. PgBouncer is resumed
 * on every path. From its first step to its last, a mark in etcd (/pgrefresh/<cluster>/switchover)
 * names the lease of the process running it and says whether PgBouncer is paused, so that when that
 * process dies (its lease expires) the coordinator puts back what it left: the standbys' cascading
 * tags, PgBouncer paused. Used by `pgrefresh switchover` and by the refresh.
 */
#ifndef PGR_CLUSTER_SWITCHOVER_H
#define PGR_CLUSTER_SWITCHOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "util/err.h"

#define SWITCHOVER_LEAF "switchover"

/* The mark of a switchover in progress, as stored in etcd. */
typedef struct switchover_mark {
	int64_t lease;         /* the owner's: 0 when the value names none (then its owner counts as gone) */
	bool pgbouncer_paused;
	char from[64], to[64]; /* Patroni member names */
} switchover_mark;

/* What the switchover measured. */
typedef struct switchover_timing {
	long long pause_ms;    /* PAUSE took */
	long long paused_ms;   /* from PAUSE sent to RESUME answered: what clients waited */
	long long promote_ms;  /* from the switchover request to the candidate accepting writes */
	long long total_ms;
} switchover_timing;

/*
 * Switches the primary role from leader to candidate (Patroni member names). etcd may be NULL (no
 * paused mark); owner_lease is a lease the caller keeps alive while this runs (the coordinator's, or
 * an etcd_lease_keeper's). On failure before the candidate was promoted, nothing changed and PgBouncer
 * leads to the old primary again.
 */
int switchover_run(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease, const char *leader,
		   const char *candidate, switchover_timing *timing, pgr_err *err) __attribute__((warn_unused_result));

/* The mark as JSON, and back (a value that is not a mark reads as one without an owner). */
void switchover_mark_format(const switchover_mark *mark, char *out, size_t outlen);
void switchover_mark_parse(const char *value, switchover_mark *mark);

/*
 * After the owner of a switchover died: no standby cascades any more (local clusters), every
 * PgBouncer resumed, the mark removed. PgBouncer should lead to the running leader first.
 */
void switchover_clean_up_after(const cluster_conf *conf, const etcd_client *etcd);

/* PAUSE / RESUME every PgBouncer of conf (RESUME of a PgBouncer that is not paused is fine). */
int switchover_pgbouncer_command(const cluster_conf *conf, const char *command, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
