/*
 * store.h — pgrefresh's state in etcd, under /pgrefresh/<cluster>/:
 *   units/<member>     each agent's last report (agent/unit_record.h)
 *   coordinator        the coordinator's unit name, bound to its agent's lease
 *   refresh            the refresh in progress (refresh/record.h), changed by compare-and-swap
 *   config             the settings (refresh/settings.h)
 *   history/<id>       completed refreshes
 *   pgbouncer-paused   present while the coordinator holds PgBouncer paused (so a successor resumes it)
 * One read of the prefix gives a consistent snapshot of all of it.
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

#define STORE_MAX_HISTORY 64

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
	refresh_record history[STORE_MAX_HISTORY]; /* oldest first */
	int history_count;
	int max_id; /* highest refresh id seen (history or current) */
	/* a value that does not parse: never guessed at (have_refresh/have[i] stay false) */
	bool refresh_corrupt;          /* the refresh key holds no record: `pgrefresh repair-refresh-record` */
	char refresh_corrupt_why[200]; /* the parse error */
	bool unit_corrupt[CONF_MAX_UNITS]; /* a unit's report does not parse (its agent rewrites it) */
} store_snapshot;

int store_read(const etcd_client *etcd, const cluster_conf *conf, store_snapshot *snap, pgr_err *err)
	__attribute__((warn_unused_result));
/* Writes rec if the refresh key is still at expected_rev (0: must not exist). */
int store_put_refresh(const etcd_client *etcd, const cluster_conf *conf, const refresh_record *rec, int64_t expected_rev,
		      bool *swapped, pgr_err *err) __attribute__((warn_unused_result));
/* Moves a finished refresh to history and removes the refresh key (if still at rev). */
int store_archive_refresh(const etcd_client *etcd, const cluster_conf *conf, const refresh_record *rec, int64_t rev,
			  pgr_err *err) __attribute__((warn_unused_result));
int store_put_settings(const etcd_client *etcd, const cluster_conf *conf, const refresh_settings *s, int64_t expected_rev,
		       bool *swapped, pgr_err *err) __attribute__((warn_unused_result));
void store_key(const cluster_conf *conf, const char *leaf, char *buf, size_t len);

#endif
