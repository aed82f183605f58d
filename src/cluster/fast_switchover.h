/*
 * fast_switchover.h — the fast switchover (setting switchover=fast, docs/fast-switchover.md): the same
 * switchover as Patroni's, its steps taken by pgrefresh while Patroni is in maintenance mode, without
 * Patroni's fixed sleeps. This module holds what is pure: the steps as a table (who takes each, what it
 * ensures), the decision a coordinator takes when it finds a fast switchover that its owner left at a
 * recorded step (go on, abort, halt), and the readings the decisions rest on (LSNs, pg_controldata).
 * The safety argument each row keeps is in docs/fast-switchover.md.
 */
#ifndef PGR_CLUSTER_FAST_SWITCHOVER_H
#define PGR_CLUSTER_FAST_SWITCHOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "util/err.h"

/* The steps, in the order they are taken (the step recorded is the one about to be taken). */
typedef enum fast_step {
	FAST_CHECKPOINT = 0,   /* CHECKPOINT on the old primary, before the pause */
	FAST_MAINTENANCE_ON,   /* Patroni's maintenance mode for the cluster, seen by every member (clients still run) */
	FAST_PAUSE_POOLER,     /* every PgBouncer paused, bounded */
	FAST_STOP_OLD,         /* the old primary stopped (fast) by its own agent */
	FAST_CHECK_CANDIDATE,  /* the candidate replayed past the old primary's shutdown checkpoint */
	FAST_SYNC_OVERRIDE,    /* the candidate's agent: synchronous_standby_names '*' before promotion */
	FAST_PROMOTE,          /* the candidate promoted by its own agent */
	FAST_SYNC_STANDBY,     /* a standby in sync on the candidate (the override's) */
	FAST_REPOINT_RESUME,   /* every PgBouncer repointed at the candidate and resumed */
	FAST_MAINTENANCE_OFF,  /* the candidate holds the leader key; maintenance mode ended; the override reset */
	FAST_DONE,
	FAST_STEP_COUNT
} fast_step;

/* Who takes a step: the coordinator itself, or one unit's own agent through its unit intent. */
typedef enum fast_actor {
	FAST_BY_COORDINATOR = 0,
	FAST_BY_OLD_AGENT,       /* the old primary's agent */
	FAST_BY_CANDIDATE_AGENT, /* the candidate's agent */
} fast_actor;

/* One row of the table. */
typedef struct fast_step_def {
	fast_step step;
	const char *name;    /* as recorded in the switchover mark and shown by status */
	fast_actor who;
	const char *ensures; /* what holds once it was taken (docs/fast-switchover.md) */
} fast_step_def;

/* The row of a step (NULL out of range), and a step by its name (-1: none). Pure. */
const fast_step_def *fast_switchover_step_def(fast_step step);
int fast_switchover_step_parse(const char *name, fast_step *step) __attribute__((warn_unused_result));

/* Whether the switchover can still be undone from a recorded step: only before the promotion was asked. */
bool fast_switchover_can_abort(fast_step recorded);

/* What a unit's PostgreSQL was seen doing (SQL: it answers, pg_is_in_recovery()). */
typedef enum fast_pg {
	FAST_PG_UNKNOWN = 0, /* not read (etcd or the network failed): tells nothing */
	FAST_PG_PRIMARY,     /* answers, not in recovery: accepts writes */
	FAST_PG_STANDBY,     /* answers, in recovery */
	FAST_PG_DOWN,        /* refuses connections */
} fast_pg;

/* How the old primary's PostgreSQL last stopped, as its agent read pg_controldata. */
typedef enum fast_shutdown {
	FAST_SHUTDOWN_UNKNOWN = 0, /* not reported (its agent is down, or did not stop it) */
	FAST_SHUTDOWN_CLEAN,       /* "shut down": its shutdown checkpoint was written */
	FAST_SHUTDOWN_CRASHED,     /* "in production" while not running: it crashed */
} fast_shutdown;

/* What the next coordinator reads before it decides about a fast switchover left by a dead owner. */
typedef struct fast_observed {
	fast_step recorded;       /* the step recorded in the mark */
	fast_pg old_pg, cand_pg;  /* the old primary's PostgreSQL, the candidate's */
	fast_shutdown old_shutdown;
	bool cand_has_old_end;    /* the candidate replayed past the old primary's shutdown checkpoint */
	bool cand_agent_gone;     /* the candidate's agent's presence key is gone: nobody would promote it */
} fast_observed;

typedef enum fast_action {
	FAST_GO_ON = 0, /* take the steps again from `from` (each is idempotent) */
	FAST_ABORT,     /* undo: the old primary started again by its agent, maintenance off, PgBouncer resumed */
	FAST_HALT,      /* stop here, maintenance mode left on, PgBouncer left as it is: status says why */
} fast_action;

typedef struct fast_recovery {
	fast_action action;
	fast_step from;  /* FAST_GO_ON: the step to take first */
	const char *why; /* one line, for the log and status */
} fast_recovery;

/* The decision (docs/fast-switchover.md, "A kill -9 between any two steps"). Pure. */
void fast_switchover_recover(const fast_observed *obs, fast_recovery *out);

/* Who holds Patroni's leader key, as read while the coordinator waits for the candidate to take it. */
typedef enum fast_key_holder {
	FAST_KEY_UNREAD = 0, /* /cluster could not be read: tells nothing */
	FAST_KEY_NOBODY,     /* read: no member holds it */
	FAST_KEY_CANDIDATE,
	FAST_KEY_OLD,        /* the old primary's Patroni (it drops it at its next loop, paused: P2) */
	FAST_KEY_OTHER,      /* any other member */
} fast_key_holder;

/* What the wait for the leader key (step maintenance-off) read in one round. */
typedef struct fast_key_seen {
	fast_key_holder holder;
	bool started;       /* this wait already asked the candidate's agent to start it again (it was seen crashed) */
	int cand_down_seen; /* consecutive reads of the candidate's PostgreSQL refusing connections */
	fast_pg old_pg;     /* the old primary's PostgreSQL */
	bool timed_out;     /* the wait's bound passed */
} fast_key_seen;

typedef enum fast_key_verdict {
	FAST_KEY_WAIT = 0, /* read again */
	FAST_KEY_TAKEN,    /* the candidate holds the key and runs: maintenance mode ends, the switchover goes on */
	FAST_KEY_START,    /* the candidate crashed after its promotion: its agent asks its Patroni to start it again,
			    * as the primary it was, maintenance mode kept on (nobody else can be promoted); wait on */
	FAST_KEY_HALT,     /* stop, maintenance mode left on: why says what was seen */
} fast_key_verdict;

/*
 * The wait for the leader key at maintenance-off (docs/fast-switchover.md, "The new primary crashes before
 * maintenance mode ends"): the candidate taking it, its PostgreSQL not seen down, ends the wait; the candidate
 * seen down twice while the old primary is seen stopped (and the key is not another member's) starts it again,
 * once, whether it holds the key or not; the old primary accepting writes, another member holding the key, or the
 * bound halt. Pure; *why is one line.
 */
fast_key_verdict fast_switchover_key_judge(const fast_key_seen *seen, const char **why);

/* "16/B374D848" -> its LSN. -1 (err names it) when the text is not one. Pure. */
int fast_switchover_lsn_parse(const char *text, uint64_t *lsn, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Whether a standby has the old primary's last record, its shutdown checkpoint starting at checkpoint_lsn:
 * its replay LSN (the end of the last record replayed; records are replayed whole, and only once flushed)
 * is past the checkpoint's start. Pure.
 */
bool fast_switchover_has_checkpoint(uint64_t checkpoint_lsn, uint64_t replay_lsn);

/* What pg_controldata says of a stopped PostgreSQL (run with LC_ALL=C: its labels are translated). */
typedef struct fast_controldata {
	char state[32];          /* "Database cluster state": "shut down", "in production", ... */
	uint64_t checkpoint_lsn; /* "Latest checkpoint location" */
	uint32_t timeline;       /* "Latest checkpoint's TimeLineID" */
} fast_controldata;

/* Parses pg_controldata's output; -1 (err names the line missing or wrong) when a field is not there. Pure. */
int fast_switchover_controldata_parse(const char *text, fast_controldata *out, pgr_err *err)
	__attribute__((warn_unused_result));

/* The shutdown a controldata state means for a PostgreSQL known not to run. Pure. */
fast_shutdown fast_switchover_shutdown_of(const char *state);

/* How fast_switchover_paused ended. */
typedef enum fast_outcome {
	FAST_OUT_PROMOTED = 0, /* the candidate accepts writes and has a sync standby (Patroni still in maintenance
				* mode): repoint PgBouncer at it, RESUME, then fast_switchover_finish */
	FAST_OUT_ABORTED,      /* nobody promoted; the stop withdrawn, maintenance mode ended; err says why */
	FAST_OUT_HALTED,       /* the promotion was asked but is not confirmed: maintenance mode left on; err says why */
} fast_outcome;

/*
 * Before PgBouncer is paused, clients still running: the owner key claimed (owner_lease), the candidate's
 * synchronous standby picked (the cascaded one), maintenance-on recorded, the candidate's override asked, Patroni
 * put in maintenance mode and seen so by every member. -1 (err says why): refused, nothing left changed (the
 * candidate may not be promoted, or another process or person holds the cluster: a switchover must not go on);
 * FAST_PREPARE_NOT_HERE (err says why): the fast path does not fit this cluster now (no other standby streams from
 * the candidate to be its synchronous standby at once; Patroni did not take or report maintenance mode), nothing
 * left changed: Patroni's switchover may. Once it returned 0, the caller pauses PgBouncer and calls
 * fast_switchover_paused, or, when the PAUSE does not happen, fast_switchover_unprepare.
 */
#define FAST_PREPARE_NOT_HERE 1
int fast_switchover_prepare(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
			    const conf_unit *old, const conf_unit *cand, pgr_err *err) __attribute__((warn_unused_result));

/* What fast_switchover_prepare did, undone: the override reset, maintenance mode ended, the progress removed. */
void fast_switchover_unprepare(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
			       const conf_unit *old, const conf_unit *cand);

/*
 * The fast switchover's steps from stop-old to sync-standby, after fast_switchover_prepare, PgBouncer already
 * paused by the caller
 * (cluster/switchover.c, which also cascaded the other standbys from the candidate): each step recorded
 * in etcd (state/pg_intent.h's progress, owner_lease's) before it is taken; the old primary's stop and the
 * candidate's override and promotion asked of their own agents (pg intents). *promote_ms: from the stop
 * asked to the candidate accepting writes. Returns 0 when promoted, -1 otherwise (*out says which).
 */
int fast_switchover_paused(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
			   const conf_unit *old, const conf_unit *cand, long long *promote_ms, fast_outcome *out,
			   pgr_err *err) __attribute__((warn_unused_result));

/*
 * After PgBouncer was resumed towards the candidate: the candidate takes the leader key (the old primary's
 * Patroni drops it at its next loop), maintenance mode ends; once Patroni names the override's standby as
 * the sync standby (bounded), the candidate's override is reset (Patroni's own synchronous_standby_names
 * in force again); the progress removed. A candidate that crashed meanwhile is started again by its agent, through
 * its Patroni, maintenance mode kept on (fast_switchover_key_judge). -1 (err says why) when the key did not move or
 * maintenance mode could not be ended: Patroni is left in maintenance mode, the progress kept for the next
 * coordinator.
 * owner_lease holds the owner key (state/pg_intent.h): each step recorded is conditioned on it; the claim is
 * given up when it returns.
 */
int fast_switchover_finish(const cluster_conf *conf, const etcd_client *etcd, const conf_unit *cand,
			   int64_t owner_lease, pgr_err *err) __attribute__((warn_unused_result));

/*
 * A fast switchover whose owner is gone (its progress left in etcd): what both units do now is read, and
 * fast_switchover_recover decides: go on (promote if not yet, the leader key, maintenance mode ended, the
 * override reset), undo (abort: the stop withdrawn, maintenance mode ended, Patroni takes it from there), or
 * halt (maintenance mode left on, said in the log with what to run). Called by whoever cleans up after a dead
 * switchover (switchover_clean_up_after), before PgBouncer is resumed. It takes the steps under a lease of its
 * own, claiming the owner key (state/pg_intent.h): false when it could not (another live process holds it, or
 * etcd failed): the clean-up is left for a later call; true when there was nothing to do or it was done.
 */
bool fast_switchover_recover_after(const cluster_conf *conf, const etcd_client *etcd);

#endif
