/*
 * pooler.h — the connection poolers in front of the cluster, behind one interface. A switchover pauses
 * every pooler (bounded), has it lead to the new primary, checks that it does, and resumes it. PgBouncer
 * is the first kind (pg/pgbouncer.h holds its wire and ini code); a kind is one ops table.
 *
 * Who does what: pause, resume and the check go to the pooler's admin address, from wherever the
 * coordinator runs. A repoint rewrites the pooler's config file, so it runs on the host where that file
 * lives: the agent of a unit on that host does it when asked (state/pooler_intent.h,
 * agent/pooler_apply.h), never the coordinator for another host.
 *
 * Credentials: the admin user's password comes from the secret the cluster's record names
 * (conf_secret_load), read when a pooler is opened; it is never logged, written to etcd, or put on a
 * command line.
 */
#ifndef PGR_POOLER_POOLER_H
#define PGR_POOLER_POOLER_H

#include <limits.h>
#include <stdbool.h>

#include "cluster/conf.h"
#include "util/err.h"

typedef struct pooler pooler;

/* What a kind of pooler can be asked. Every call is bounded; err names the pooler. */
typedef struct pooler_ops {
	const char *kind; /* "pgbouncer" */
	/* Holds new transactions back, waiting up to timeout_ms for running ones to end. On failure
	 * *timed_out says the bound passed (the pause was then undone: clients go on). */
	int (*pause)(const pooler *p, long timeout_ms, bool *timed_out, pgr_err *err);
	/* Lets clients go on; a pooler that is not paused is fine. */
	int (*resume)(const pooler *p, long timeout_ms, pgr_err *err);
	/* On the pooler's own host: makes its config lead to host:port and reloads it (*changed: it had to). */
	int (*repoint)(const pooler *p, const char *host, int port, long timeout_ms, bool *changed, pgr_err *err);
	/* What the pooler itself says (not its file): 0 when every database it routes leads to host:port. */
	int (*check_target)(const pooler *p, const char *host, int port, long timeout_ms, pgr_err *err);
} pooler_ops;

/* One pooler of the cluster, ready to be driven. */
struct pooler {
	const pooler_ops *ops;
	char name[32];
	char host[64]; /* admin address */
	int port;
	char config_host[64];
	char config[PATH_MAX]; /* its config file on config_host */
	char admin_user[64];
	char password[128]; /* from its secret; wiped by pooler_close */
};

/* The ops of a kind ("pgbouncer"); NULL for a kind there is none of. */
const pooler_ops *pooler_ops_for(const char *kind);

/* Pooler number i of conf (conf->pgbouncers[i]), its secret read. */
int pooler_open(const cluster_conf *conf, int i, pooler *p, pgr_err *err) __attribute__((warn_unused_result));
void pooler_close(pooler *p);

#endif
