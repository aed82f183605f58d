/*
 * pooler_intent.h — a pooler's repoint, asked of the agent on the pooler's host: one key a pooler,
 * <prefix>poolers/<pooler name>, its JSON and its compare-and-swap. Depends on etcd/ and util/ only.
 *
 * The coordinator cannot write another host's files, so a switchover asks, and one agent does:
 *   requested  the coordinator, before PAUSE: "pooler P is to lead to H:PORT" (the candidate, known
 *              then); written only if the key does not exist
 *   armed      an agent on P's host took it (compare-and-swap from requested: one agent wins) and
 *              watches the key closely
 *   go         the coordinator, once the candidate accepts writes (compare-and-swap from armed)
 *   applied    the agent rewrote P's config and RELOADed it (message: what it did)
 *   failed     the agent could not (message: why)
 * The coordinator removes the key when its switchover attempt ends, whatever came of it; the key is
 * bound to the asking process's lease, so that it also goes when that process dies.
 * JSON: {"pooler": "pgbouncer", "host": "127.0.0.1", "target_host": "127.0.0.1", "target_port": 5441,
 *        "attempt": 1764428400000, "state": "armed", "by": "pg/1", "message": ""}
 * Never a password: the agent reads the pooler's secret on its own host.
 */
#ifndef PGR_STATE_POOLER_INTENT_H
#define PGR_STATE_POOLER_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

#define POOLER_INTENT_DIR "poolers/"

typedef enum pooler_intent_state {
	POOLER_INTENT_REQUESTED,
	POOLER_INTENT_ARMED,
	POOLER_INTENT_GO,
	POOLER_INTENT_APPLIED,
	POOLER_INTENT_FAILED,
} pooler_intent_state;

typedef struct pooler_intent {
	char pooler[32];      /* the pooler's name in the cluster's record */
	char host[64];        /* where its config lives: only an agent of a unit on this host takes it */
	char target_host[64]; /* the primary it is to lead to */
	int target_port;
	int64_t attempt;      /* the switchover attempt that asks (switchover_policy.attempt) */
	pooler_intent_state state;
	char by[32];          /* the unit whose agent took it ("" while requested) */
	char message[256];    /* applied / failed: what the agent did, or why it could not */
	int64_t mod_revision; /* the key's (not in the JSON): what the next compare-and-swap expects */
	int64_t lease;        /* the key's lease (not in the JSON): the asking switchover's, so that an intent
			       * dies with it; every rewrite keeps it */
} pooler_intent;

/* "requested", "armed", "go", "applied", "failed". */
const char *pooler_intent_state_name(pooler_intent_state state);

/* The value as JSON (heap string, free()), and back; parsing refuses a missing or hostile field. */
int pooler_intent_to_json(const pooler_intent *in, char **json, pgr_err *err) __attribute__((warn_unused_result));
int pooler_intent_parse(const char *json, pooler_intent *out, pgr_err *err) __attribute__((warn_unused_result));

/* <prefix>poolers/<pooler> */
void pooler_intent_key(const char *prefix, const char *pooler, char *buf, size_t len);

/*
 * Writes in (bound to in->lease) if its key's mod_revision is still in->mod_revision (0: the key must
 * not exist). *swapped says whether it was written; then in->mod_revision is the new one.
 */
int pooler_intent_put_if(const etcd_client *etcd, const char *prefix, pooler_intent *in, bool *swapped, pgr_err *err)
	__attribute__((warn_unused_result));

/* Reads pooler's intent: *found false when there is none. A value that does not parse is an error naming the key. */
int pooler_intent_read(const etcd_client *etcd, const char *prefix, const char *pooler, bool *found,
		       pooler_intent *out, pgr_err *err) __attribute__((warn_unused_result));

/* Every intent there is (at most max; a value that does not parse is skipped and logged). */
int pooler_intent_list(const etcd_client *etcd, const char *prefix, pooler_intent *out, int max, int *n,
		       pgr_err *err) __attribute__((warn_unused_result));

/* Removes pooler's intent (gone already is fine). */
int pooler_intent_remove(const etcd_client *etcd, const char *prefix, const char *pooler, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
