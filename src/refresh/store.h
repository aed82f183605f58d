/*
 * store.h — pgrefresh's state in etcd, under /pgrefresh/<cluster>/:
 *   units/<member>     each agent's last report (agent/unit_record.h)
 *   alive/<member>     each agent's presence, bound to its lease (state/presence.h)
 *   coordinator        the coordinator's unit name, bound to its agent's lease
 *   refresh            the refresh in progress (refresh/record.h), changed by compare-and-swap
 *   config             the settings (refresh/settings.h)
 *   lock               the operation lock (state/lock.h), held by the coordinator during a refresh
 *   refresh-id         the last refresh id handed out (state/history.h)
 *   history/<id>       completed refreshes (state/history.h), read only when asked: store_history_foreach
 *   pgbouncer-paused   present while the coordinator holds PgBouncer paused (so a successor resumes it)
 * store_read reads everything but history, in two ranges at one revision: a consistent snapshot whose
 * cost does not grow with the number of past refreshes.
 */
#ifndef PGR_REFRESH_STORE_H
#define PGR_REFRESH_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/unit_record.h"
#include "cluster/conf.h"
#include "cluster/switchover.h"
#include "etcd/etcd.h"
#include "refresh/record.h"
#include "refresh/settings.h"
#include "state/lock.h"

typedef struct store_snapshot {
	unit_record records[CONF_MAX_UNITS]; /* in conf's unit order */
	bool have[CONF_MAX_UNITS];
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
	bool unit_corrupt[CONF_MAX_UNITS]; /* a unit's report does not parse (its agent rewrites it) */
	bool alive[CONF_MAX_UNITS]; /* the unit's agent's presence key exists: its lease lives (state/presence.h) */
} store_snapshot;

int store_read(const etcd_client *etcd, const cluster_conf *conf, store_snapshot *snap, pgr_err *err)
	__attribute__((warn_unused_result));
/*
 * Writes rec if the refresh key is still at expected_rev. expected_rev 0 records a new refresh: the key
 * must not exist and the operation lock must be free, and rec->id is set to a fresh id, handed out in
 * the same transaction (whatever id rec had). *swapped false: the refresh changed, or (new) a refresh
 * or another operation is in progress.
 */
int store_put_refresh(const etcd_client *etcd, const cluster_conf *conf, refresh_record *rec, int64_t expected_rev,
		      bool *swapped, pgr_err *err) __attribute__((warn_unused_result));
/*
 * Moves a finished refresh to history/<id> (created, never overwritten) and removes the refresh key (if
 * still at rev) and the operation lock, in one transaction.
 */
int store_archive_refresh(const etcd_client *etcd, const cluster_conf *conf, const refresh_record *rec, int64_t rev,
			  pgr_err *err) __attribute__((warn_unused_result));
/*
 * The coordinator's hold on the operation lock while snap's refresh is in progress: takes it under lease
 * (owner: who it is, e.g. "coordinator pg/2") when it is free. *mine false: someone else's live lock holds
 * it (a switchover, or the previous coordinator until its lease expires): take no step now.
 */
int store_hold_lock(const etcd_client *etcd, const cluster_conf *conf, const store_snapshot *snap, int64_t lease,
		    const char *owner, bool *mine, pgr_err *err) __attribute__((warn_unused_result));
/* Every refresh in history, oldest first, read a page at a time; a non-zero return of visit stops. */
typedef int (*store_history_visit)(const refresh_record *rec, void *arg);
int store_history_foreach(const etcd_client *etcd, const cluster_conf *conf, store_history_visit visit, void *arg,
			  pgr_err *err) __attribute__((warn_unused_result));
int store_put_settings(const etcd_client *etcd, const cluster_conf *conf, const refresh_settings *s, int64_t expected_rev,
		       bool *swapped, pgr_err *err) __attribute__((warn_unused_result));
void store_key(const cluster_conf *conf, const char *leaf, char *buf, size_t len);

#endif
