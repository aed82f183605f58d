/*
 * history.h — the ids of refreshes, and the history of completed ones, in etcd:
 *   <prefix>refresh-id       the counter: the last id handed out ("66")
 *   <prefix>history/<id>     a completed refresh, as its record had it (id zero-padded to 8 digits, so
 *                            that keys sort by id)
 * An id is handed out in the same transaction that creates the record carrying it (the counter moves
 * by compare-and-swap), so no two refreshes ever share one, and history/<id> is only ever created,
 * never overwritten. History is read page by page, only when asked (never by the coordinator's tick).
 * Values are opaque JSON here: what a refresh record holds is state/record.h's business.
 */
#ifndef PGR_STATE_HISTORY_H
#define PGR_STATE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

#define STATE_HISTORY_LEAF "history/"
#define STATE_ID_LEAF "refresh-id"
#define STATE_HISTORY_PAGE 50 /* keys per read when listing history */

/* "<prefix>history/00000066" */
void state_history_key(const char *prefix, int64_t id, char *buf, size_t len);
/* The id in a history key, -1 when key is not <prefix>history/<digits>. */
int64_t state_history_key_id(const char *prefix, const char *key);
/* The counter's value: a positive decimal id. */
int state_id_parse(const char *value, int64_t *id, pgr_err *err) __attribute__((warn_unused_result));

/* The next id and the counter's revision it was derived from (0: no counter yet). */
typedef struct state_id_claim {
	int64_t id;
	int64_t counter_mod_revision;
} state_id_claim;

/*
 * The next id to hand out: the counter + 1; without a counter (a cluster from before it), one more than
 * the highest id in history and than floor (the id of a refresh in progress).
 */
int state_id_peek(const etcd_client *etcd, const char *prefix, int64_t floor, state_id_claim *claim, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * In one transaction: creates <prefix><leaf> = value (it must not exist), moves the counter to
 * claim->id (it must still be as peeked), when every leaf of absent_leaves does not exist either.
 * *created false: something was not as expected; *counter_moved says whether it was the counter
 * (peek again and retry) rather than leaf or an absent leaf that exists. guard (NULL: none) is one more
 * compare that must hold (the writer's lease: store.h).
 */
int state_id_create(const etcd_client *etcd, const char *prefix, const state_id_claim *claim, const char *leaf,
		    const char *value, const char *const *absent_leaves, int nabsent, const etcd_cmp *guard,
		    bool *created, bool *counter_moved, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Archives: in one transaction, creates history/<id> = json (it must not exist), deletes <prefix><from_leaf>
 * if it is still at from_rev, and deletes each of also_delete. *archived false: either moved on or
 * history/<id> exists (or guard, if not NULL, does not hold); then *existing (if not NULL) receives
 * history/<id> as it is (key NULL if absent).
 */
int state_history_archive(const etcd_client *etcd, const char *prefix, int64_t id, const char *json,
			  const char *from_leaf, int64_t from_rev, const char *const *also_delete, int nalso,
			  const etcd_cmp *guard, bool *archived, etcd_kv *existing, pgr_err *err)
	__attribute__((warn_unused_result));

/* Called for each history entry in id order; a non-zero return stops the listing and is returned. */
typedef int (*state_history_visit)(int64_t id, const char *json, void *arg);

/*
 * Every history entry, oldest first, read page_size keys at a time (0: STATE_HISTORY_PAGE), all pages at
 * the first page's revision (one consistent listing). Keys that are not history/<digits> are skipped.
 * Returns -1 with err when etcd fails, or the visitor's non-zero return.
 */
int state_history_foreach(const etcd_client *etcd, const char *prefix, int page_size, state_history_visit visit,
			  void *arg, int *pages, pgr_err *err) __attribute__((warn_unused_result));

#endif
