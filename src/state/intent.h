/*
 * intent.h — what the user asks of a refresh (refresh, resume-refresh, rollback, force-refresh-start)
 * or of its settings (config set), as one key in etcd, /pgrefresh/<cluster>/intent, so that the
 * coordinator stays the only writer of the refresh record and of the settings. The CLI writes the intent
 * with compare-and-swap (only where no other intent is pending); the coordinator takes it: turns it into
 * an event of the state machine (refresh/fsm.h) and records the refresh (a config set: applies the values
 * and records the settings, state/store.h), then answers the intent (taken, or refused with why) by
 * compare-and-swap; the CLI, which waits a bounded time for that answer, reads it, removes the key and
 * reports. A CLI that gives up withdraws its intent if it is still pending, so nothing happens later
 * behind the user's back.
 *
 *   {"ask": "rollback", "token": "host-123-1700000000000", "requested_ms": ..., "check_health": true,
 *    "skip_compatibility": false, "skip_prechecks": false, "skip_workload": false,
 *    "answer": "pending|taken|refused", "result": "...", and for a refresh: "id", "from", "to"; for a
 *    config set ("ask": "config-set"): "settings": [{"name": "pause-after-unit-refresh", "value": "all"}]}
 */
#ifndef PGR_STATE_INTENT_H
#define PGR_STATE_INTENT_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "state/scope.h"
#include "util/err.h"

/* What the user asked through an intent (state/intent.h), as the machine sees it. */
typedef enum fsm_ask { ASK_NONE = 0, ASK_RESUME, ASK_ROLLBACK, ASK_FORCE, ASK_REFRESH, ASK_SETTINGS } fsm_ask;

#define INTENT_MAX_SETTINGS 8

/* config set: one NAME=VALUE asked (state/settings.h's names). */
typedef struct intent_setting {
	char name[40];
	char value[64];
} intent_setting;

typedef struct fsm_intent {
	fsm_ask ask;
	char token[64];     /* the intent's token: recorded, so that a retaken intent is known */
	bool check_health;  /* resume: --check-health-of-refreshed-units (default true) */
	bool skip_compatibility, skip_prechecks, skip_workload; /* force */
	bool skip_backup;                                       /* force --check-backup=false ("skip_backup") */
	int id;                 /* refresh: the new refresh's id */
	char from[16], to[16];  /* refresh: the version every unit runs, the target */
	intent_setting settings[INTENT_MAX_SETTINGS]; /* config set: in the order asked */
	int setting_count;
} fsm_intent;

/* An intent left pending this long by a CLI that is gone may be replaced by a new one. */
#define INTENT_ABANDONED_MS 60000

typedef enum intent_answer { INTENT_PENDING = 0, INTENT_TAKEN, INTENT_REFUSED } intent_answer;

typedef struct refresh_intent {
	fsm_intent ask;
	int64_t requested_ms;
	intent_answer answer;
	char result[320]; /* the coordinator's words: what it did, or why it refused */
} refresh_intent;

const char *intent_ask_name(fsm_ask ask);
int intent_to_json(const refresh_intent *in, char **json, pgr_err *err) __attribute__((warn_unused_result));
int intent_parse(const char *json, refresh_intent *in, pgr_err *err) __attribute__((warn_unused_result));
void intent_key(const state_scope *scope, char *buf, size_t len);

/* Reads the intent: *found false when there is none; *rev its mod_revision. */
int intent_read(const etcd_client *etcd, const state_scope *scope, refresh_intent *in, bool *found, int64_t *rev,
		pgr_err *err) __attribute__((warn_unused_result));

/*
 * The CLI's side: records ask (its token made here, returned in in) unless another intent is pending
 * (then -1 with err naming it); then waits up to timeout_ms for the coordinator's answer, removes the key
 * and returns 0 with the answer in *in. On timeout, withdraws the intent if still pending and returns 1
 * (err says so). 2: another intent is pending, or one was written at the same moment (err says so).
 * -1: etcd failed.
 */
int intent_submit_and_wait(const etcd_client *etcd, const state_scope *scope, const fsm_intent *ask, long timeout_ms,
			   refresh_intent *in, pgr_err *err) __attribute__((warn_unused_result));

/* Whether an intent waits for the coordinator (the coordinator's agent then ticks at once). */
bool intent_pending(const etcd_client *etcd, const state_scope *scope);

/*
 * The coordinator's side: answers the intent read at rev (taken or refused, with result), conditioned on
 * lease as every write of the coordinator (state/store.h; 0: none). -1: etcd failed, or nothing written
 * (the intent changed, or the lease no longer holds the coordinator key).
 */
int intent_answer_it(const etcd_client *etcd, const state_scope *scope, int64_t lease, const refresh_intent *in,
		     int64_t rev, intent_answer answer, const char *result, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
