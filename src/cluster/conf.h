/*
 * conf.h — DIR/pgrefresh.conf: what every command needs to find and reach a cluster.
 *
 * Format: INI. A [cluster] section, then one [unit pg/N] section per unit:
 *   [cluster]
 *   name = pg
 *   etcd = http://127.0.0.1:2379
 *   etcd_peer_port = 2380          (local cluster only)
 *   catalog = /var/lib/pgrefresh/catalog
 *   pgbouncer = 127.0.0.1:6432     (the old form of the poolers: a comma-separated list of PgBouncers'
 *                                   admin addresses, each with the defaults of a [pooler] section; read,
 *                                   no longer written)
 *   superuser = postgres
 *   local = true                   (pgrefresh started every process: cluster start/stop apply)
 *   hosts_net = 198.18.0.16/28     (a cluster across network-namespace hosts: their addresses' block)
 *   hosts_bridge = pgr-1a2b3c4d    (its bridge: in the CLI's file only, whose units live in
 *                                   DIR/hosts/hN; a host's own file, DIR/hosts/hN/pgrefresh.conf, has none)
 *   pgbackrest_config = DIR/pgbackrest/pgbackrest.conf  (pgBackRest's config for this cluster; absent:
 *                                   its own default, /etc/pgbackrest.conf; refresh/backup_check.h)
 *   pgbackrest_stanza = pg         (the cluster's stanza there; absent: the cluster's name)
 *   [unit pg/0]
 *   host = 127.0.0.1
 *   pg_port = 5440
 *   api_port = 8010
 *   metrics_port = 9560            (its agent serves Prometheus metrics at http://host:9560/metrics; 0 or
 *                                   absent: none)
 *   member = node0                 (its Patroni member name; default <name>-N: an adopted unit keeps its own)
 *   [pooler pgbouncer]             (one section a pooler, in front of the cluster; at most CONF_MAX_PGBOUNCERS)
 *   kind = pgbouncer               (the only kind so far; the default)
 *   admin = 127.0.0.1:6432         (its admin console: PAUSE, RESUME, SHOW; required)
 *   admin_user = postgres          (default: the cluster's superuser)
 *   secret = superuser_password    (the NAME of the secret holding the admin user's password, see
 *                                   conf_secret_load; default superuser_password)
 *   host = 127.0.0.1               (the host where its config lives: the agent of a unit on that host
 *                                   repoints it; default: the admin address's host)
 *   config = /etc/pgbouncer/pgbouncer.ini (its config file on that host; default, local cluster:
 *                                   DIR/pgbouncer/pgbouncer.ini, DIR/pgbouncer-N/pgbouncer.ini for the N-th)
 * Passwords live in DIR/secrets and DIR/secrets.d (0600), never here.
 */
#ifndef PGR_CLUSTER_CONF_H
#define PGR_CLUSTER_CONF_H

#include <limits.h>
#include <stdbool.h>

#include "state/scope.h"
#include "util/err.h"

#define CONF_MAX_UNITS 32
#define CONF_MAX_PGBOUNCERS 5 /* one a host of `cluster create --hosts 5` */

/* One unit as configured: "pg/0" (its name in the UI), "pg-0" (its Patroni member name, dir name). */
typedef struct conf_unit {
	char name[32];
	char member[32];
	int number;
	char host[64];
	int pg_port;
	int api_port;
	int metrics_port; /* 0: the agent serves no metrics */
} conf_unit;

typedef struct conf_endpoint {
	char host[64];
	int port;
} conf_endpoint;

/*
 * A pooler in front of the cluster (pooler/pooler.h drives it). host:port is its admin console; its
 * password is never here, only the name of the secret that holds it.
 */
typedef struct conf_pooler {
	char name[32];        /* "pgbouncer", "pgbouncer-1": a name for logs and status */
	char kind[16];        /* "pgbouncer" */
	char host[64];        /* the admin address */
	int port;
	char admin_user[64];  /* "" = the cluster's superuser */
	char secret[64];      /* the secret's name: [A-Za-z0-9_.-], not starting with '.' */
	char config_host[64]; /* where its config file lives (the agent there repoints it) */
	char config[PATH_MAX]; /* that file's path there; "" = the local cluster's (conf_pooler_config) */
} conf_pooler;

#define CONF_POOLER_DEFAULT_SECRET "superuser_password"

/*
 * How pgrefresh reaches etcd and Patroni securely; every key optional ("" when absent: plain http, no
 * authentication). Paths are absolute; a secret is a NAME, the file DIR/secrets.d/NAME (0600).
 *   etcd_ca, etcd_cert, etcd_key    CA of etcd's certificate; pgrefresh's client certificate and key
 *   etcd_user, etcd_password_secret etcd authentication (user and the secret holding its password)
 *   patroni_ca                      CA of Patroni's REST API certificate (https)
 *   patroni_auth_secret             the secret holding "user:password" for Patroni's unsafe methods
 */
typedef struct conf_security {
	char etcd_ca[256];
	char etcd_cert[256];
	char etcd_key[256];
	char etcd_user[64];
	char etcd_password_secret[64];
	char patroni_ca[256];
	char patroni_auth_secret[64];
} conf_security;

/* The whole file, plus the directory it came from. */
typedef struct cluster_conf {
	char dir[PATH_MAX];
	char name[32];
	char etcd[256];
	int etcd_peer_port;
	char catalog[PATH_MAX];
	char superuser[64];
	bool local;
	char hosts_net[32];    /* "" or the hosts' block, cluster/hosts.h */
	char hosts_bridge[16]; /* "" or the bridge: units are in DIR/hosts/hN/units */
	conf_pooler pgbouncers[CONF_MAX_PGBOUNCERS]; /* the poolers, PgBouncers all so far */
	int pgbouncer_count;
	conf_unit units[CONF_MAX_UNITS];
	int unit_count;
	conf_security security;
	char pgbackrest_config[PATH_MAX]; /* "" or pgBackRest's config file (cluster create --backup) */
	char pgbackrest_stanza[64];       /* "" or the stanza, when it is not the cluster's name */
} cluster_conf;

/* Passwords of the cluster's roles, DIR/secrets. */
typedef struct cluster_secrets {
	char superuser_password[64];
	char replication_password[64];
	char rewind_password[64];
} cluster_secrets;

/* Parses text (the file's content); origin names it in errors ("DIR/pgrefresh.conf:12: ..."). */
int conf_parse(const char *text, const char *origin, cluster_conf *conf, pgr_err *err) __attribute__((warn_unused_result));
/* Renders conf as the file's text into buf. */
int conf_format(const cluster_conf *conf, char *buf, size_t buflen, pgr_err *err) __attribute__((warn_unused_result));
/* Loads DIR/pgrefresh.conf (dir from the argument, else $PGREFRESH_DIR); fills conf->dir. */
int conf_load(const char *dir, cluster_conf *conf, pgr_err *err) __attribute__((warn_unused_result));
int conf_save(const cluster_conf *conf, pgr_err *err) __attribute__((warn_unused_result));
int secrets_load(const char *dir, cluster_secrets *secrets, pgr_err *err) __attribute__((warn_unused_result));
int secrets_save(const char *dir, const cluster_secrets *secrets, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Reads the secret named name of the cluster at dir: the file DIR/secrets.d/NAME (its first line; the
 * file must not be readable by group or others), else the key NAME of DIR/secrets. Never logged.
 */
int conf_secret_load(const char *dir, const char *name, char *value, size_t len, pgr_err *err)
	__attribute__((warn_unused_result));
/* Whether name is a usable secret name ([A-Za-z0-9_.-], 1 to 63 bytes, not starting with '.'). */
bool conf_secret_name_ok(const char *name);
/*
 * Appends a pooler with the defaults (those of the old form "pgbouncer = host:port"): named pgbouncer,
 * pgbouncer-1, ...; kind pgbouncer; secret CONF_POOLER_DEFAULT_SECRET. NULL when there are
 * CONF_MAX_PGBOUNCERS already. The caller sets its admin address.
 */
conf_pooler *conf_pooler_add(cluster_conf *conf);
/* The admin user of pooler p: its own, else the cluster's superuser. */
const char *conf_pooler_admin_user(const cluster_conf *conf, const conf_pooler *p);
/* The config file of pooler number i on its host: its config, else DIR/pgbouncer[-i]/pgbouncer.ini. */
void conf_pooler_config(const cluster_conf *conf, int i, char *buf, size_t len);

/* Finds a unit by "pg/1", "pg-1" or "1"; NULL if none. */
const conf_unit *conf_find_unit(const cluster_conf *conf, const char *name);
/* The unit whose Patroni member name is member (pg-0, or an adopted unit's own, node0); NULL when none. */
const conf_unit *conf_find_member(const cluster_conf *conf, const char *member);
/* Paths of a unit: DIR/units/pg-0 and its parts (DIR/hosts/h0/units/pg-0 seen from outside the hosts). */
void conf_unit_dir(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len);
void conf_unit_path(const cluster_conf *conf, const conf_unit *unit, const char *leaf, char *buf, size_t len);
/* The unit's Patroni REST URL: http://host:api_port, https:// when patroni_ca is set */
void conf_unit_api_url(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len);
/* Whether each unit's agent starts and stops its unit's Patroni itself (the local cluster); else the host's
 * service manager runs Patroni (several hosts, an adopted cluster) and the agent only talks to it. */
bool conf_agent_runs_patroni(const cluster_conf *conf);
/* The etcd prefix of this cluster's pgrefresh state: "/pgrefresh/<name>/" */
void conf_etcd_prefix(const cluster_conf *conf, char *buf, size_t len);
/* What the state layer needs of the cluster: its key prefix, its members in unit order. */
void conf_state_scope(const cluster_conf *conf, state_scope *scope);
/* The version a unit's bin link points at (reads DIR/units/pg-N/bin), "" if none. */
int conf_unit_linked_version(const cluster_conf *conf, const conf_unit *unit, char *version, size_t len);

#endif
