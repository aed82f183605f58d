/*
 * lock.h — the operation lock: one key, <prefix>lock, that says which operation is changing the cluster
 * (a refresh, a switchover, adding or removing a unit), who runs it and since when.
 *
 * It is taken by compare-and-swap (the key must not exist) and bound to its owner's etcd lease: the
 * owner deletes it when the operation ends, and etcd deletes it when the owner dies (its lease expires).
 * So there is never a check-then-act window, and never a lock left behind by a dead process.
 *
 * A refresh outlives the command that starts it: while the refresh record (<prefix>refresh) exists, the
 * other operations are kept out by taking the lock only if that record does not exist either (in the
 * same transaction), and the coordinator holds the lock under its own lease for the refresh.
 * Key and JSON: {"operation": "switchover", "owner": "pgrefresh switchover (pid 42 on db1)",
 * "since_ms": 1764428400000}; the lease is etcd's (the key's lease), not the value's.
 */
#ifndef PGR_STATE_LOCK_H
#define PGR_STATE_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

#define STATE_LOCK_LEAF "lock"

/* Who holds the lock (or wants it). */
typedef struct state_lock {
	char operation[32];   /* refresh | switchover | add-unit | remove-unit */
	char owner[128];      /* "pgrefresh switchover (pid 42 on db1)", "coordinator pg/2" */
	int64_t since_ms;     /* when it was taken, by the taker's clock: shown to people, never compared */
	int64_t lease;        /* the etcd lease the key is bound to (0: none, a lock nobody owns) */
	int64_t mod_revision; /* the key's, to release exactly this lock */
} state_lock;

/* Whether op is one of the operations that take the lock. */
bool state_lock_known_operation(const char *op);

/* The value as JSON (heap string, free with free()), and back (lease and mod_revision untouched). */
int state_lock_to_json(const state_lock *lock, char **json, pgr_err *err) __attribute__((warn_unused_result));
int state_lock_parse(const char *json, state_lock *lock, pgr_err *err) __attribute__((warn_unused_result));

/* The key as read with a wider range (value, lease, mod_revision). */
int state_lock_from_kv(const etcd_kv *kv, state_lock *lock, pgr_err *err) __attribute__((warn_unused_result));

/*
 * "a switchover by pgrefresh switchover (pid 42 on db1) since 2026-11-29 15:02:03 (12 s ago)", for a
 * refusal; now_ms is the reader's clock (an age below 0 is shown as 0).
 */
void state_lock_describe(const state_lock *lock, int64_t now_ms, char *buf, size_t len);

/*
 * Takes the lock for want (operation, owner, since_ms, lease: must not be 0) if nobody holds it and, when
 * unless_leaf is not NULL, <prefix><unless_leaf> does not exist either. On *taken, want's mod_revision is
 * filled. Else *holder says who holds it; holder->operation is "" when the lock is free and it was
 * unless_leaf that exists. A lock bound to no lease (written by hand, never released) is removed first.
 */
int state_lock_take(const etcd_client *etcd, const char *prefix, state_lock *want, const char *unless_leaf,
		    bool *taken, state_lock *holder, pgr_err *err) __attribute__((warn_unused_result));

/* Deletes the lock if it is still the one held (its mod_revision); a lock already gone is fine. */
int state_lock_release(const etcd_client *etcd, const char *prefix, const state_lock *held, pgr_err *err)
	__attribute__((warn_unused_result));

/* Reads the lock: *found false when free. */
int state_lock_read(const etcd_client *etcd, const char *prefix, bool *found, state_lock *lock, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
