/*
 * presence.h — whether a unit's agent is alive, from etcd alone: each agent keeps a presence key
 * <prefix>alive/<member> attached to its lease. The lease is renewed only while the agent's main loop
 * progresses (agent/agent.h), so the key exists exactly while the agent works: killed, frozen or stuck,
 * its lease expires after its TTL and etcd removes the key. No reader compares its clock with the
 * agent's (a report's heartbeat_ms is the agent's own clock: shown to people, never judged).
 *
 * Value (small, for people and logs): {"unit": "pg/1", "pid": 4242, "ttl_s": 5}; the lease is the key's.
 */
#ifndef PGR_STATE_PRESENCE_H
#define PGR_STATE_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

#define PRESENCE_LEAF "alive/"
#define PRESENCE_MAX_JSON 512 /* a longer value is not a presence (hostile or broken) */

typedef struct presence {
	char unit[32]; /* "pg/1" */
	int pid;       /* the agent's pid, on its host */
	int ttl_s;     /* its lease's TTL: how long after its death the key goes */
} presence;

/* What a reader concludes about a unit's agent. */
typedef enum presence_verdict {
	PRESENCE_REPORTING = 0, /* its presence key exists: its lease is alive */
	PRESENCE_GONE,          /* it reported once, but its presence key is gone: its lease expired */
	PRESENCE_NEVER,         /* no report at all, no presence key: never started (or its records were removed) */
} presence_verdict;

/* <prefix>alive/<member> into buf. */
void presence_key(const char *prefix, const char *member, char *buf, size_t len);
/* The member a key under <prefix>alive/ names ("" when leaf is not a presence leaf). */
const char *presence_member_of_leaf(const char *leaf);

int presence_to_json(const presence *p, char **json, pgr_err *err) __attribute__((warn_unused_result));
int presence_parse(const char *json, presence *p, pgr_err *err) __attribute__((warn_unused_result));

/* Writes the presence key of member, bound to lease (not 0). */
int presence_put(const etcd_client *etcd, const char *prefix, const char *member, const presence *p, int64_t lease,
		 pgr_err *err) __attribute__((warn_unused_result));

/* Reads whether member's presence key exists (*alive): its agent's lease has not expired. -1: etcd did not answer. */
int presence_alive(const etcd_client *etcd, const char *prefix, const char *member, bool *alive, pgr_err *err)
	__attribute__((warn_unused_result));

/* Pure: have_report (a unit record exists) and alive (its presence key exists) -> the verdict. */
presence_verdict presence_judge(bool have_report, bool alive);

#endif
