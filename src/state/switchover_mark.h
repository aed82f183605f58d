/*
 * switchover_mark.h — the mark of a switchover in progress, <prefix>switchover: which process runs it
 * (its etcd lease), whether PgBouncer is paused, which clients it waits for. It is not bound to its
 * owner's lease: it must outlive its owner, so that whoever comes next (the coordinator) sees what was
 * left and puts it back. It is written only by compare-and-swap: created where there is none, changed or
 * removed by its owner (the same lease) at the revision it read; a mark whose owner is alive (its lease
 * has not expired) is never overwritten or removed by anyone else.
 *   {"lease": 7587, "pgbouncer_paused": true, "from": "pg-0", "to": "pg-1", "attempt": ..., "cascaded": ...,
 *    "waiting_since_ms": ..., "wait_s": 60, "terminate": false, "pause_timeouts": 0, "pause_not_before_ms": 0,
 *    "waiting_for_count": 1, "waiting_for": [{"pid": 42, "application": "psql", ...}], "waiting_for_seen_ms": ...,
 *    "patroni_way": false}
 */
#ifndef PGR_STATE_SWITCHOVER_MARK_H
#define PGR_STATE_SWITCHOVER_MARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

#define SWITCHOVER_LEAF "switchover"
#define SWITCHOVER_MAX_HOLDERS 4 /* clients named in the mark (their count is kept whole) */

/* A client transaction the switchover waits for (pg/activity.h's pg_xact, as stored). */
typedef struct switchover_holder {
	int pid;
	char application[64];
	char client[80];
	char state[32];
	int64_t xact_start_us;
	int64_t age_ms;
} switchover_holder;

/* The mark of a switchover in progress, as stored in etcd. */
typedef struct switchover_mark {
	int64_t lease;         /* the owner's: 0 when the value names none (then its owner counts as gone) */
	bool pgbouncer_paused;
	char from[64], to[64]; /* Patroni member names */
	int64_t attempt;       /* the caller's attempt (switchover_policy.attempt): a later call goes on from here */
	bool cascaded;         /* the other standbys were told to stream from the candidate */
	int64_t waiting_since_ms; /* wall clock: since when clients' transactions keep it from pausing; 0: not */
	int wait_s;            /* how long it waits for them ... */
	bool terminate;        /* ... before ending their sessions (true) or halting (false) */
	int pause_timeouts;    /* PAUSEs of this attempt that did not complete within their bound */
	int64_t pause_not_before_ms; /* wall clock: after a PAUSE that timed out, the next one waits until then */
	int holder_count;      /* the transactions it waits for (the first SWITCHOVER_MAX_HOLDERS in holders) */
	switchover_holder holders[SWITCHOVER_MAX_HOLDERS];
	int64_t holders_seen_ms; /* wall clock when holders were read (their age_ms is as of then) */
	bool patroni_way;        /* switchover=fast gave way to Patroni's switchover for this attempt (an agent
				  * absent, or the fast path undone): the next call of the attempt takes Patroni's */
} switchover_mark;

/* The mark as JSON, and back (a value that is not a mark reads as one without an owner). Pure. */
void switchover_mark_format(const switchover_mark *mark, char *out, size_t outlen);
void switchover_mark_parse(const char *value, switchover_mark *mark);

/* Reads the mark: *found false when there is none; *rev its mod_revision (may be NULL). */
int switchover_mark_read(const etcd_client *etcd, const char *prefix, switchover_mark *mark, bool *found,
			 int64_t *rev, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Whether a live switchover holds the mark: there is one and its owner's lease has not expired. A mark
 * whose owner is gone is not held (whoever comes next puts back what it left).
 */
int switchover_mark_held(const etcd_client *etcd, const char *prefix, bool *held, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Writes mark (mark->lease: its owner, not 0) by compare-and-swap: created where there is no mark;
 * replaced where the mark there is mark->lease's own, or its owner is gone (its lease expired, or it names
 * none). *written false: a live switchover of another owner holds the mark (*holder, if not NULL, is it):
 * nothing written.
 */
int switchover_mark_put(const etcd_client *etcd, const char *prefix, const switchover_mark *mark, bool *written,
			switchover_mark *holder, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Removes the mark if it is owner_lease's (not 0), or its owner is gone (any owner_lease, 0 too): at the
 * revision it was read. *removed false: a live mark of another owner is there, left as it is. No mark: true.
 */
int switchover_mark_remove(const etcd_client *etcd, const char *prefix, int64_t owner_lease, bool *removed,
			   pgr_err *err) __attribute__((warn_unused_result));

#endif
