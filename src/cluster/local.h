/*
 * local.h — the local cluster: etcd, N units (agent + Patroni + PostgreSQL) and PgBouncer, all on
 * 127.0.0.1 under one directory, the embedded default for trying pgrefresh and for tests.
 *
 * Layout of DIR:
 *   pgrefresh.conf, secrets (0600), pgpass (0600, for clients), libexec/pgrefresh (the agent binary)
 *   etcd/{data,etcd.log,etcd.pid}
 *   units/pg-N/{bin -> CATALOG/V/bin, patroni.yml, data/, agent.pid, agent.log, patroni.pid, patroni.log}
 *   pgbouncer/{pgbouncer.ini, userlist.txt, pgbouncer.pid, pgbouncer.log}
 * Every process runs as the postgres user when pgrefresh runs as root, and is stopped by its pid.
 * Across hosts (create --hosts N, cluster/hosts.h): DIR/pgrefresh.conf, secrets and pgpass are the CLI's;
 * host N is DIR/hosts/hN/{pgrefresh.conf (its own), secrets, catalog -> CATALOG, libexec/pgrefresh, etcd/,
 * units/pg-N/, pgbouncer/}, and every process of it starts there, in its namespace (ip netns exec).
 */
#ifndef PGR_CLUSTER_LOCAL_H
#define PGR_CLUSTER_LOCAL_H

#include <stdbool.h>

#include "cluster/conf.h"
#include "util/err.h"

/* What `cluster create` was asked for. */
typedef struct local_create_opts {
	char dir[PATH_MAX];
	char name[32];
	int units;
	int pgbouncers; /* PgBouncers in front of the cluster (1 to CONF_MAX_PGBOUNCERS; 0 means 1) */
	int hosts;      /* 0: everything on 127.0.0.1; else network-namespace hosts (cluster/hosts.h), a unit each */
	char version[32];
	char catalog[PATH_MAX];
	long timeout_ms;
	bool secure; /* TLS and passwords on every link (cluster/local_secure.h) */
	bool backup; /* pgBackRest configured, WAL archived (cluster/local_backup.h); the first backup: the caller's */
} local_create_opts;

/* Creates DIR and starts the cluster; healthy when it returns 0. On failure nothing is left but the logs
 * (moved to a directory the error names). */
int local_cluster_create(const local_create_opts *opts, const char *self_exe, cluster_conf *conf, pgr_err *err)
	__attribute__((warn_unused_result));
/* Starts whatever is not running (etcd, agents, PgBouncer) and waits until healthy. */
int local_cluster_start(const cluster_conf *conf, const char *self_exe, long timeout_ms, pgr_err *err)
	__attribute__((warn_unused_result));
/* Stops every process of the cluster by pid: PgBouncer, agents (replicas first), leftovers, etcd. */
int local_cluster_stop(const cluster_conf *conf, pgr_err *err) __attribute__((warn_unused_result));
/* Stops the cluster and removes what `create` made in DIR (by name), then DIR if that left it empty;
 * *dir_kept: DIR holds other files and stays. */
int local_cluster_destroy(const cluster_conf *conf, bool *dir_kept, pgr_err *err) __attribute__((warn_unused_result));
/* 0 when DIR is empty; else fails naming what is there (create never writes into the user's files). */
int local_dir_check_empty(const char *dir, pgr_err *err) __attribute__((warn_unused_result));

/* One unit: its directory, bin link to CATALOG/version/bin, patroni.yml. */
int local_unit_prepare(const cluster_conf *conf, const conf_unit *unit, const char *version, pgr_err *err)
	__attribute__((warn_unused_result));
int local_agent_start(const cluster_conf *conf, const conf_unit *unit, pgr_err *err) __attribute__((warn_unused_result));
int local_agent_stop(const cluster_conf *conf, const conf_unit *unit, long timeout_ms, pgr_err *err)
	__attribute__((warn_unused_result));
/* Stops the unit's Patroni and PostgreSQL if they still run (after its agent is gone). */
int local_unit_stop_leftovers(const cluster_conf *conf, const conf_unit *unit, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Across hosts (cluster create --hosts N): add-unit's part. The new unit is conf->units[conf->unit_count - 1],
 * its number N, name and member set by the caller: it is given host hN (a namespace, its veth on the bridge,
 * the block's address N), a directory with its own files only (pgrefresh.conf, secrets, its certificates from
 * the CA, which stays in DIR), Patroni's config, and a PgBouncer leading to primary when the poolers have
 * room; conf is saved, every other host's pgrefresh.conf rewritten, its agent and PgBouncer started.
 */
int local_hosts_unit_add(cluster_conf *conf, const char *self_exe, const char *version, const conf_unit *primary,
			 pgr_err *err) __attribute__((warn_unused_result));
/* remove-unit's part, once unit idx's agent and Patroni are stopped: its PgBouncer stopped, the unit and its
 * pooler out of conf (saved, every host's pgrefresh.conf rewritten), its namespace, veth and directory gone. */
int local_hosts_unit_remove(cluster_conf *conf, int idx, pgr_err *err) __attribute__((warn_unused_result));
/* Whether unit's host runs a member of the cluster's etcd (create's hosts; add-unit's do not). */
bool local_hosts_unit_runs_etcd(const cluster_conf *conf, const conf_unit *unit);
/* SIGHUP to every running agent of conf: each reads pgrefresh.conf again (it execs itself; Patroni runs on). */
void local_agents_reload(const cluster_conf *conf);

/* Waits until every configured unit is healthy (one primary, a sync standby, replicas streaming). */
int local_wait_healthy(const cluster_conf *conf, long timeout_ms, pgr_err *err) __attribute__((warn_unused_result));


/* A free TCP port on 127.0.0.1 at or above *cursor, not in taken[]; advances *cursor. */
int local_port_next_free(int *cursor, const int *taken, int taken_count, int *port, pgr_err *err)
	__attribute__((warn_unused_result));
bool local_port_is_free(int port);

/* Path of the Patroni program (/usr/bin/patroni) and friends; empty when missing. */
int local_check_dependencies(pgr_err *err) __attribute__((warn_unused_result));

#endif
