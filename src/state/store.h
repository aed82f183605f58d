/*
 * store.h — pgrefresh's state in etcd, under /pgrefresh/<cluster>/ (state/scope.h), and the writes of
 * the coordinator, each conditioned on its lease:
 *   units/<member>     each agent's last report (state/unit_record.h)
 *   alive/<member>     each agent's presence, bound to its lease (state/presence.h)
 *   coordinator        the coordinator's unit name, bound to its agent's lease
 *   refresh            the refresh in progress (state/record.h), changed by compare-and-swap
 *   intent             what a command asks of the coordinator (state/intent.h)
 *   config             the settings (state/settings.h), written by the coordinator for a config set
 *   lock               the operation lock (state/lock.h), held by the coordinator during a refresh
 *   switchover         the mark of a switchover in progress (state/switchover_mark.h)
 *   refresh-id         the last refresh id handed out (state/history.h)
 *   history/<id>       completed refreshes (state/history.h), read only when asked: store_history_foreach
 *   corrupt/<rev>      a refresh record that did not parse, kept aside by store_repair_refresh
 * store_read reads everything but history, in two ranges at one revision: a consistent snapshot whose
 * cost does not grow with the number of past refreshes.
 */
#ifndef PGR_STATE_STORE_H
#define PGR_STATE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "state/intent.h"
#include "state/lock.h"
#include "state/record.h"
#include "state/scope.h"
#include "state/settings.h"
#include "state/switchover_mark.h"
#include "state/unit_record.h"

typedef struct store_snapshot {
	unit_record records[STATE_MAX_UNITS]; /* in the scope's member order */
	bool have[STATE_MAX_UNITS];
	char coordinator[32];
	bool have_refresh;
	refresh_record refresh;
	int64_t refresh_mod_revision; /* 0 when absent */
	refresh_settings settings;
	int64_t settings_mod_revision;
	bool have_switchover; /* a switchover is in progress, or its owner died inside it */
	switchover_mark switchover;
	bool have_lock; /* the operation lock is held (etcd removes it when its owner's lease expires) */
	state_lock lock;
	int max_id; /* the last refresh id handed out (a hint: store_put_refresh hands out the next one) */
	/* a value that does not parse: never guessed at (have_refresh/have[i] stay false) */
	bool refresh_corrupt;          /* the refresh key holds no record: `pgrefresh repair-refresh-record` */
	char refresh_corrupt_why[200]; /* the parse error */
	bool unit_corrupt[STATE_MAX_UNITS]; /* a unit's report does not parse (its agent rewrites it) */
	bool alive[STATE_MAX_UNITS]; /* the unit's agent's presence key exists: its lease lives (state/presence.h) */
} store_snapshot;

int store_read(const etcd_client *etcd, const state_scope *scope, store_snapshot *snap, pgr_err *err)
	__attribute__((warn_unused_result));
/*
 * The coordinator's writes are conditioned on its lease: lease (not 0) must still bind the coordinator
 * key (<prefix>coordinator), in the same transaction as the write. A coordinator whose lease expired
 * (etcd removed its coordinator key) writes nothing: *swapped false. lease 0: no such condition (tools).
 *
 * Writes rec if the refresh key is still at expected_rev. expected_rev 0 records a new refresh: the key
 * must not exist and the operation lock must be free, and rec->id is set to a fresh id, handed out in
 * the same transaction (whatever id rec had). *swapped false: the refresh changed, or (new) a refresh
 * or another operation is in progress, or the lease no longer holds the coordinator key.
 */
int store_put_refresh(const etcd_client *etcd, const state_scope *scope, int64_t lease, refresh_record *rec,
		      int64_t expected_rev, bool *swapped, pgr_err *err) __attribute__((warn_unused_result));
/*
 * Moves a finished refresh to history/<id> (created, never overwritten) and removes the refresh key (if
 * still at rev) and the operation lock, in one transaction, conditioned on lease as store_put_refresh.
 */
int store_archive_refresh(const etcd_client *etcd, const state_scope *scope, int64_t lease,
			  const refresh_record *rec, int64_t rev, pgr_err *err) __attribute__((warn_unused_result));
/*
 * The coordinator's hold on the operation lock while snap's refresh is in progress: takes it under lease
 * (owner: who it is, e.g. "coordinator pg/2") when it is free. *mine false: someone else's live lock holds
 * it (a switchover, or the previous coordinator until its lease expires): take no step now.
 */
int store_hold_lock(const etcd_client *etcd, const state_scope *scope, const store_snapshot *snap, int64_t lease,
		    const char *owner, bool *mine, pgr_err *err) __attribute__((warn_unused_result));
/*
 * The coordinator key, bound to the lease of the agent that holds it: claims it for unit under lease if
 * nobody holds it (*mine true then, or when it is lease's already).
 */
int store_claim_coordinator(const etcd_client *etcd, const state_scope *scope, const char *unit, int64_t lease,
			    bool *mine, pgr_err *err) __attribute__((warn_unused_result));
/* Whether lease still holds the coordinator key. */
int store_coordinator_held(const etcd_client *etcd, const state_scope *scope, int64_t lease, bool *held,
			   pgr_err *err) __attribute__((warn_unused_result));
/*
 * The refresh key alone: *found, its mod_revision *rev (0 when absent); with rec not NULL, the record
 * (*parsed false when it does not parse).
 */
int store_read_refresh(const etcd_client *etcd, const state_scope *scope, bool *found, int64_t *rev,
		       refresh_record *rec, bool *parsed, pgr_err *err) __attribute__((warn_unused_result));
/* Every refresh in history, oldest first, read a page at a time; a non-zero return of visit stops. */
typedef int (*store_history_visit)(const refresh_record *rec, void *arg);
int store_history_foreach(const etcd_client *etcd, const state_scope *scope, store_history_visit visit, void *arg,
			  pgr_err *err) __attribute__((warn_unused_result));
/*
 * The coordinator's side of a config set (in, read at rev): applies its values onto snap's settings; a
 * name or value the settings table refuses, or a setting that cannot change while snap's refresh is in
 * progress, is refused (the intent answered with why, nothing recorded). Else records the settings at
 * their revision in snap, conditioned on lease, then answers taken; snap->settings are then the ones
 * recorded (what the rest of the tick decides with). *answered false: not answered now (the settings
 * changed meanwhile, or the lease no longer holds): the intent waits for the next tick.
 */
int store_take_settings_intent(const etcd_client *etcd, const state_scope *scope, int64_t lease,
			       store_snapshot *snap, const refresh_intent *in, int64_t rev, bool *answered,
			       pgr_err *err) __attribute__((warn_unused_result));
/* The settings alone: their defaults where there are none; -1 when etcd fails or they do not parse (*s: defaults). */
int store_read_settings(const etcd_client *etcd, const state_scope *scope, refresh_settings *s, pgr_err *err)
	__attribute__((warn_unused_result));

/* What store_repair_refresh found and did. */
typedef enum store_repair_result {
	STORE_REPAIR_UNREAD = 0,  /* the refresh key could not be read (etcd unreachable) */
	STORE_REPAIR_ABSENT,      /* no refresh record: nothing to repair */
	STORE_REPAIR_NOT_CORRUPT, /* it parses (rec): nothing done */
	STORE_REPAIR_CORRUPT,     /* it does not parse (why); keeping it failed: nothing removed */
	STORE_REPAIR_KEPT,        /* its value kept at kept_at; the removal failed, or the record changed meanwhile */
	STORE_REPAIR_DONE,        /* kept at kept_at and removed */
} store_repair_result;

typedef struct store_repair {
	store_repair_result result;
	char key[256];     /* the refresh key */
	char kept_at[256]; /* <prefix>corrupt/<its mod revision> */
	char why[200];     /* why it does not parse */
	refresh_record rec;
} store_repair;

/*
 * `repair-refresh-record`: a refresh record that does not parse is kept at <prefix>corrupt/<its mod
 * revision>, then removed by compare-and-swap on that revision (a record rewritten meanwhile is left:
 * STORE_REPAIR_KEPT). -1: etcd failed (err says where; out->result says how far it got).
 */
int store_repair_refresh(const etcd_client *etcd, const state_scope *scope, store_repair *out, pgr_err *err)
	__attribute__((warn_unused_result));

/* The settings, at expected_rev (0: absent), conditioned on lease as store_put_refresh. */
int store_put_settings(const etcd_client *etcd, const state_scope *scope, int64_t lease, const refresh_settings *s,
		       int64_t expected_rev, bool *swapped, pgr_err *err) __attribute__((warn_unused_result));
void store_key(const state_scope *scope, const char *leaf, char *buf, size_t len);

#endif
