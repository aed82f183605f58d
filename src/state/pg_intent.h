/*
 * pg_intent.h — what the fast switchover (docs/fast-switchover.md) asks of one unit's PostgreSQL, and its
 * agent's answer. Whoever runs the switchover (the coordinator) writes the intent with compare-and-swap;
 * the unit's own agent, on whatever host it runs, ensures it on its own PostgreSQL (stop it, promote it,
 * set or reset its synchronous_standby_names override) and writes its answer, naming the intent's token.
 * An intent is ensured, not replayed: asked twice, or read again by an agent that restarted, it changes
 * nothing more.
 *
 * Keys: <prefix>pg-intents/<member>  {"action": "stop", "standby": "", "token": "pg/2:1764...", "by": "...",
 *                                     "at_revision": 41}
 *       <prefix>pg-answers/<member>  {"token": "pg/2:1764...", "ok": true, "error": "", "state": "shut down",
 *                                     "checkpoint_lsn": "0/1511A68", "timeline": 1}
 * The answer's state/checkpoint/timeline: pg_controldata's, after a stop ("" / 0 otherwise).
 *       <prefix>switchover-fast      the fast switchover's progress, written by its owner before each step it
 *                                    takes (the switchover mark's owner, state/switchover_mark.h, or the
 *                                    coordinator that recovers after it), conditioned on the owner key:
 *                                    {"lease": 7587, "from": "pg-0", "to": "pg-1", "step": "promote",
 *                                     "token": "...", "standby": "pg-2", "checkpoint_lsn": "0/1511A68", "timeline": 1}
 *       <prefix>switchover-fast-owner  bound to the owner's lease while it takes the steps: {"lease": 7587}
 */
#ifndef PGR_STATE_PG_INTENT_H
#define PGR_STATE_PG_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

#define PG_INTENT_LEAF "pg-intents/"
#define PG_ANSWER_LEAF "pg-answers/"

/* What is asked of the unit's PostgreSQL. */
typedef enum pg_action {
	PG_ACTION_NONE = 0,      /* nothing (an intent withdrawn) */
	PG_ACTION_STOP,          /* stopped, fast (pg_ctl stop -m fast): its shutdown checkpoint written */
	PG_ACTION_SYNC_OVERRIDE, /* synchronous_standby_names = the standby named (ALTER SYSTEM), reloaded */
	PG_ACTION_PROMOTE,       /* promoted (pg_promote), waited for */
	PG_ACTION_SYNC_RESET,    /* the override removed (ALTER SYSTEM RESET), reloaded */
	PG_ACTION_START,         /* running again after a crash: its own Patroni's POST /restart (in maintenance mode too) */
	PG_ACTION_COUNT
} pg_action;

typedef struct pg_intent {
	pg_action action;
	char standby[64];     /* PG_ACTION_SYNC_OVERRIDE: the standby's application_name (its Patroni member) */
	char token[64];       /* non-empty, printable, no spaces */
	char by[128];         /* who asked */
	int64_t at_revision;  /* the revision of the intent it replaced; 0: none */
	int64_t mod_revision; /* as read (not in the JSON) */
} pg_intent;

typedef struct pg_answer {
	char token[64];          /* the intent answered */
	bool ok;
	char error[256];         /* !ok: why */
	char state[32];          /* after a stop: pg_controldata's "Database cluster state" */
	char checkpoint_lsn[24]; /* after a stop: its "Latest checkpoint location" */
	uint32_t timeline;       /* after a stop: its "Latest checkpoint's TimeLineID" */
} pg_answer;

/* "stop", "sync-override", ...; and back (-1: not an action). Pure. */
const char *pg_action_name(pg_action action);
int pg_action_parse(const char *name, pg_action *action) __attribute__((warn_unused_result));

/* The JSON (heap strings, free with free()), and back; parsing refuses what is not one, naming the field. Pure. */
int pg_intent_to_json(const pg_intent *intent, char **json, pgr_err *err) __attribute__((warn_unused_result));
int pg_intent_parse(const char *json, pg_intent *intent, pgr_err *err) __attribute__((warn_unused_result));
int pg_answer_to_json(const pg_answer *answer, char **json, pgr_err *err) __attribute__((warn_unused_result));
int pg_answer_parse(const char *json, pg_answer *answer, pgr_err *err) __attribute__((warn_unused_result));

/* Reads member's intent / answer: *found false when there is none. A value that is not one fails, naming the key. */
int pg_intent_read(const etcd_client *etcd, const char *prefix, const char *member, pg_intent *out, bool *found,
		   pgr_err *err) __attribute__((warn_unused_result));
int pg_answer_read(const etcd_client *etcd, const char *prefix, const char *member, pg_answer *out, bool *found,
		   pgr_err *err) __attribute__((warn_unused_result));

/*
 * Asks member's agent for action (standby: for PG_ACTION_SYNC_OVERRIDE, else ""): writes {action, standby,
 * token, by, at_revision} by compare-and-swap over whatever intent is there (a few rounds when another
 * writer comes between, then fails naming the key).
 */
int pg_intent_ask(const etcd_client *etcd, const char *prefix, const char *member, pg_action action,
		  const char *standby, const char *token, const char *by, pgr_err *err) __attribute__((warn_unused_result));

/* The unit's own agent: its answer (unconditional: nobody else writes that key). */
int pg_answer_put(const etcd_client *etcd, const char *prefix, const char *member, const pg_answer *answer,
		  pgr_err *err) __attribute__((warn_unused_result));

#define FAST_PROGRESS_LEAF "switchover-fast"
#define FAST_OWNER_LEAF "switchover-fast-owner"

/* The fast switchover's progress (cluster/fast_switchover.h names its steps). */
typedef struct fast_progress {
	int64_t lease;           /* its owner's: the lease that binds the owner key while it takes the steps */
	char from[64], to[64];   /* Patroni members: the old primary, the candidate */
	char step[32];           /* the step about to be taken */
	char token[64];          /* the base of the tokens of its pg intents */
	char standby[64];        /* the standby named by the candidate's synchronous_standby_names override */
	char checkpoint_lsn[24]; /* the old primary's shutdown checkpoint, once stopped ("" before) */
	uint32_t timeline;
} fast_progress;

/* The JSON (heap string, free with free()), and back. Pure. */
int fast_progress_to_json(const fast_progress *p, char **json, pgr_err *err) __attribute__((warn_unused_result));
int fast_progress_parse(const char *json, fast_progress *p, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Who may write the progress: the owner key (<prefix>switchover-fast-owner), bound to the lease of the
 * process taking the steps now. It is claimed (created) only where there is none: the previous owner's
 * lease expired (etcd removed the key) or it gave the claim up. Every write of the progress is one
 * transaction conditioned on the owner key still being bound to the writer's lease, so an owner that lost
 * its lease (or never claimed) writes nothing. The progress itself is bound to no lease: it outlives its
 * owner, for whoever comes next.
 */
typedef enum fast_progress_op {
	FAST_PROGRESS_PUT = 0, /* the progress written */
	FAST_PROGRESS_REMOVE,  /* the progress and the owner key removed (the switchover ended or was undone) */
	FAST_PROGRESS_RELEASE, /* the owner key removed, the progress kept (left for the next coordinator) */
} fast_progress_op;

/* One conditioned write: its compare and its operations, keys held here (etcd_txn's arguments). */
typedef struct fast_progress_txn {
	char owner_key[256], key[256];
	etcd_cmp cmp; /* the owner key's lease EQUAL the writer's */
	etcd_op ops[2];
	int nops;
} fast_progress_txn;

/* Builds op's transaction for a writer holding lease (not 0: refused); json: the value for PUT. Pure. */
int fast_progress_txn_build(const char *prefix, int64_t lease, fast_progress_op op, const char *json,
			    fast_progress_txn *txn, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Claims the owner key for lease (not 0): *mine true when it was created now, or was lease's already;
 * false when another lease (*holder, if not NULL) holds it: that process lives and takes the steps. A lease
 * that expired cannot claim: -1 ("requested lease not found").
 */
int fast_progress_claim(const etcd_client *etcd, const char *prefix, int64_t lease, bool *mine, int64_t *holder,
			pgr_err *err) __attribute__((warn_unused_result));

/* Reads the progress (*found false: none). */
int fast_progress_read(const etcd_client *etcd, const char *prefix, fast_progress *p, bool *found, pgr_err *err)
	__attribute__((warn_unused_result));
/* Writes p, conditioned on p->lease holding the owner key: *written false (nothing written) when it does not. */
int fast_progress_put(const etcd_client *etcd, const char *prefix, const fast_progress *p, bool *written, pgr_err *err)
	__attribute__((warn_unused_result));
/* FAST_PROGRESS_REMOVE or _RELEASE, conditioned as fast_progress_put: *done false when lease holds no claim. */
int fast_progress_end(const etcd_client *etcd, const char *prefix, int64_t lease, fast_progress_op op, bool *done,
		      pgr_err *err) __attribute__((warn_unused_result));

#endif
