/*
 * switchover.h — a planned switchover that clients feel only as a short wait: every PgBouncer is
 * paused (bounded), Patroni is asked to switch over, the candidate is polled until it accepts writes,
 * PgBouncer is repointed at it and resumed, then Patroni's answer is confirmed. PgBouncer is resumed
 * on every path. Before pausing, the primary's open transactions are read: a client holding one
 * would hold PgBouncer's PAUSE, and with it every other client, so the switchover waits without
 * pausing and names it, then halts or ends it (switchover_policy). From its first step to its last,
 * a mark in etcd (/pgrefresh/<cluster>/switchover) names the lease of the process running it, says
 * whether PgBouncer is paused and which clients it waits for, so that status can name them and, when
 * that process dies (its lease expires), the coordinator puts back what it left: the standbys'
 * cascading tags, PgBouncer paused. Used by `pgrefresh switchover` and by the refresh.
 */
#ifndef PGR_CLUSTER_SWITCHOVER_H
#define PGR_CLUSTER_SWITCHOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "pg/activity.h"
#include "state/switchover_mark.h"
#include "util/err.h"

/* What a switchover does about clients that hold a transaction open on the primary (its settings). */
typedef struct switchover_policy {
	int wait_s;             /* switchover-wait-seconds: wait for them this long, without pausing PgBouncer */
	bool terminate_clients; /* switchover-terminate-clients: then end their sessions rather than halt */
	int64_t attempt;        /* non-zero: calls with the same attempt continue one switchover (its wait) */
	bool fast;              /* switchover=fast: pgrefresh's own steps in Patroni's maintenance mode
				 * (cluster/fast_switchover.h) instead of Patroni's POST /switchover */
} switchover_policy;

/*
 * Whether the fast switchover applies: asked (the setting switchover=fast, the default) and a cluster of at
 * least 3 units (the candidate needs a standby of its own to be its synchronous standby the moment it is
 * promoted; with 2 units Patroni's own switchover is used). Pure.
 */
bool switchover_fast_applies(bool asked, int unit_count);

/* switchover_step's named results. */
typedef enum switchover_result {
	SWITCHOVER_DONE = 0, /* the candidate leads, PgBouncer leads to it and is resumed */
	SWITCHOVER_WAITING,  /* clients hold transactions open: nothing paused; call again (the mark says who) */
	SWITCHOVER_FAILED,   /* err says why; nothing changed unless err says the candidate leads */
} switchover_result;

/* What the switchover measured. */
typedef struct switchover_timing {
	long long pause_ms;    /* PAUSE took */
	long long paused_ms;   /* from PAUSE sent to RESUME answered: what clients waited */
	long long promote_ms;  /* from the switchover request to the candidate accepting writes */
	long long total_ms;
} switchover_timing;

/*
 * One step of a switchover from leader to candidate (Patroni member names), for a caller that must
 * not block long (the coordinator's tick): the standbys cascade from the candidate; while client
 * transactions older than a second are open on the primary it answers SWITCHOVER_WAITING at once,
 * naming them in the mark; then every PgBouncer is paused, bounded by 2 s (a PAUSE that does not
 * complete is undone at once and the step answers SWITCHOVER_WAITING); then Patroni switches over,
 * PgBouncer is repointed and resumed. After policy->wait_s of waiting it halts (SWITCHOVER_FAILED,
 * the clients named in err) or, with policy->terminate_clients, ends those sessions and goes on.
 * etcd may be NULL (no mark); owner_lease is a lease the caller keeps alive (the coordinator's, or an
 * etcd_lease_keeper's). On failure before the candidate was promoted, nothing changed and PgBouncer
 * leads to the old primary again.
 */
switchover_result switchover_step(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
				  const char *leader, const char *candidate, const switchover_policy *policy,
				  switchover_timing *timing, pgr_err *err) __attribute__((warn_unused_result));

/*
 * The whole switchover, blocking (`pgrefresh switchover`): switchover_step until done or failed, with
 * the cluster's settings for clients holding transactions (switchover-wait-seconds,
 * switchover-terminate-clients, read from etcd; their defaults without).
 */
int switchover_run(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease, const char *leader,
		   const char *candidate, switchover_timing *timing, pgr_err *err) __attribute__((warn_unused_result));

/*
 * What a mark that waits for clients tells a person (status): who holds what, for how long, and what
 * happens when; "" when the mark waits for nobody. now_ms: wall clock. Pure.
 */
void switchover_mark_waiting_text(const switchover_mark *mark, int64_t now_ms, char *buf, size_t len);

/* Why a switchover halted after waiting for clients, naming them and what to run (pure). */
void switchover_halt_text(const switchover_mark *mark, char *buf, size_t len);

/* Where the cascade stands for one standby asked to stream from the candidate (switchover_cascade_judge). */
typedef enum cascade_wait {
	CASCADE_WAIT = 0,   /* asked, not applied yet, its agent alive (or not known): wait on */
	CASCADE_APPLIED,    /* its agent reported the intent's token */
	CASCADE_AGENT_DOWN, /* its presence key is gone: its agent is down, nobody will apply it: wait no more */
	CASCADE_TIMED_OUT,  /* still not applied at the deadline (its agent alive but silent) */
} cascade_wait;

/*
 * Pure: one standby's cascade, from what was just read: answered (its record carries the intent's token),
 * presence_read (its presence key could be read: an etcd error tells nothing) and alive (the key exists:
 * state/presence.h), now against the deadline (one clock, this process's).
 */
cascade_wait switchover_cascade_judge(bool answered, bool presence_read, bool alive, long long now_ms,
				      long long deadline_ms);

/*
 * After the owner of a switchover died: no standby cascades any more (each unit asked through its intent), every
 * PgBouncer resumed, the mark removed. PgBouncer should lead to the running leader first. A fast switchover's
 * steps are recovered first (fast_switchover_recover_after); while another live process takes them (or etcd
 * fails), nothing else is done: the next call cleans up.
 */
void switchover_clean_up_after(const cluster_conf *conf, const etcd_client *etcd);

/* PAUSE / RESUME every PgBouncer of conf (RESUME of a PgBouncer that is not paused is fine, and quiet). */
int switchover_pgbouncer_command(const cluster_conf *conf, const char *command, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
