/*
 * tags.h — this unit's Patroni tags, written by its own agent and nobody else: for its own refresh steps
 * (a sync standby stands aside with nosync before its restart, then the tags go back) and for what others
 * ask of it through its unit intent (state/unit_intent.h: the cascade before a switchover). Two threads of
 * the agent write them (the main loop's steps, the intent poller, which must answer while the main loop is
 * busy in a switchover), one at a time. What it applied (the intent's token) goes into its unit record,
 * so that whoever asked can tell.
 */
#ifndef PGR_AGENT_TAGS_H
#define PGR_AGENT_TAGS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "state/unit_record.h"
#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "patroni/patroni_yml.h"
#include "util/err.h"

/* Shared by the agent's threads, under lock. */
typedef struct agent_tags {
	pthread_mutex_t lock;    /* one writer of patroni.yml at a time; guards the fields below */
	int64_t written_ms;      /* wall clock of the last write (Patroni shows new tags a moment later) */
	char intent_token[64];   /* the last intent applied (seeded from the unit's last record at start) */
	bool intent_known;       /* intent holds that intent's tags (read since this agent started) */
	patroni_tags intent;     /* its tags (in force until the next intent or the unit's own step) */
	char intent_error[160];  /* why the last intent could not be applied, "" */
	bool last_known;         /* last holds the tags this agent last wrote and Patroni was asked to reload */
	patroni_tags last;
} agent_tags;

void agent_tags_init(agent_tags *t);
void agent_tags_destroy(agent_tags *t);

/* At start: the token of the intent the unit's last record says was applied (not applied again). */
void agent_tags_seed(agent_tags *t, const char *token);

/* The unit's own step: exactly these tags, now (patroni_yml_set_tags). */
int agent_tags_set(agent_tags *t, const cluster_conf *conf, const conf_unit *unit, const patroni_tags *tags,
		   pgr_err *err) __attribute__((warn_unused_result));

/*
 * Reads this unit's intent (prefix: /pgrefresh/<cluster>/) and applies it if its token is not the one last
 * applied (tags equal to those this agent last wrote are not written again: Patroni's reload of them costs a
 * second of its loop, which a switchover waits on), logging "tags set by intent <token>: replicatefrom=..., nosync=... (asked by ...)". *changed:
 * something new to report (applied, or failed: intent_error says why). -1 when the intent cannot be read.
 */
int agent_tags_take_intent(agent_tags *t, const etcd_client *etcd, const char *prefix, const cluster_conf *conf,
			   const conf_unit *unit, bool *changed, pgr_err *err) __attribute__((warn_unused_result));

/* What it applied, into the unit's record (intent_token, intent_error). */
void agent_tags_report(agent_tags *t, unit_record *rec);

/* A copy of what the refresh steps need: when tags were last written, and the intent's tags in force. */
void agent_tags_snapshot(agent_tags *t, int64_t *written_ms, patroni_tags *intent);

#endif
