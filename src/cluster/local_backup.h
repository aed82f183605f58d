/*
 * local_backup.h — `cluster create --backup`: the local cluster with pgBackRest (Debian's pgbackrest)
 * configured for it. Everything lives in DIR/pgbackrest, removed with the cluster:
 *   pgbackrest.conf   [global] the repository DIR/pgbackrest/repo, logs and locks beside it;
 *                     [NAME] the stanza, named after the cluster, one pgN-path a unit (pgBackRest finds
 *                     the primary among them, so a backup follows a switchover)
 *   repo/ log/ lock/
 * Each unit's PostgreSQL archives its WAL there (archive_mode on, archive_command set in its patroni.yml:
 * local_backup_archive_command). pgBackRest runs as the servers' user, as PostgreSQL does.
 */
#ifndef PGR_CLUSTER_LOCAL_BACKUP_H
#define PGR_CLUSTER_LOCAL_BACKUP_H

#include <stddef.h>

#include "cluster/conf.h"
#include "util/err.h"

/* Sets conf's pgbackrest_config (conf is saved after) and writes DIR/pgbackrest: config and directories. */
int local_backup_prepare(cluster_conf *conf, pgr_err *err) __attribute__((warn_unused_result));

/*
 * The archive_command of a unit whose cluster has pgBackRest configured (conf->pgbackrest_config), into
 * buf; "" when it has none. Pure.
 *   /usr/bin/pgbackrest '--config=CFG' '--stanza=NAME' '--pg1-path=UNIT/data' archive-push %p
 * (each argument quoted for /bin/sh, which PostgreSQL runs it with)
 */
void local_backup_archive_command(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len);

/*
 * Once the cluster is up: stanza-create, then a first full backup, as the servers' user. *label: the
 * backup's label. On failure err says which step failed and its hint the command to run instead.
 */
int local_backup_first(const cluster_conf *conf, char *label, size_t label_len, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
