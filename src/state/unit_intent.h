/*
 * unit_intent.h — what is asked of one unit's agent: the Patroni tags its unit should carry for a moment
 * (replicatefrom: stream from that standby, the cascade before a switchover; nosync: never a synchronous
 * standby). Whoever asks (the coordinator, `pgrefresh switchover`) writes the intent with compare-and-swap;
 * the unit's own agent, on whatever host it runs, applies it to its own Patroni and reports the intent's
 * token in its unit record (units/<member>, field intent_token), so the asker can tell it was done.
 *
 * Key: <prefix>unit-intents/<member> (not under units/, which holds the agents' reports).
 * JSON: {"tags": {"replicatefrom": "pg-1", "nosync": false}, "token": "pg/2:1764428400123",
 *        "by": "coordinator pg/2", "at_revision": 41}
 * token: names this ask (one token per ask, the same for every unit asked at once); by: who asked, for
 * people; at_revision: the mod_revision of the intent this one replaced (0: none), the compare of its
 * compare-and-swap.
 */
#ifndef PGR_STATE_UNIT_INTENT_H
#define PGR_STATE_UNIT_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

#define UNIT_INTENT_LEAF "unit-intents/"

/* The tags asked for. */
typedef struct unit_intent_tags {
	char replicatefrom[64]; /* a Patroni member, "" for none */
	bool nosync;
} unit_intent_tags;

typedef struct unit_intent {
	unit_intent_tags tags;
	char token[64];       /* non-empty, printable, no spaces */
	char by[128];         /* who asked */
	int64_t at_revision;  /* the revision of the intent it replaced; 0: none */
	int64_t mod_revision; /* as read from etcd (not in the JSON) */
} unit_intent;

/* <prefix>unit-intents/<member> */
void unit_intent_key(const char *prefix, const char *member, char *buf, size_t len);

/* The JSON (heap string, free with free()), and back. Parsing refuses what is not an intent (a token that is
 * empty or too long, a replicatefrom with control characters or too long, a nosync that is not a boolean,
 * a negative at_revision), naming the field. Pure. */
int unit_intent_to_json(const unit_intent *intent, char **json, pgr_err *err) __attribute__((warn_unused_result));
int unit_intent_parse(const char *json, unit_intent *intent, pgr_err *err) __attribute__((warn_unused_result));

/* "replicatefrom=pg-1, nosync=false" (replicatefrom=none when empty), for logs. Pure. */
void unit_intent_tags_text(const unit_intent_tags *tags, char *buf, size_t len);

/* Reads member's intent: *found false when there is none. A value that is not an intent fails, naming the key. */
int unit_intent_read(const etcd_client *etcd, const char *prefix, const char *member, unit_intent *out, bool *found,
		     pgr_err *err) __attribute__((warn_unused_result));

/*
 * Asks member's agent for tags: reads the intent there, writes {tags, token, by, at_revision: its revision}
 * if it is still that one (compare-and-swap), and reads again when another writer came between (a few times,
 * then fails naming the key).
 */
int unit_intent_ask(const etcd_client *etcd, const char *prefix, const char *member, const unit_intent_tags *tags,
		    const char *token, const char *by, pgr_err *err) __attribute__((warn_unused_result));

#endif
