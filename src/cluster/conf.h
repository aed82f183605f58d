/*
 * conf.h — DIR/pgrefresh.conf: what every command needs to find and reach a cluster.
 *
 * Format: INI. A [cluster] section, then one [unit pg/N] section per unit:
 *   [cluster]
 *   name = pg
 *   etcd = http://127.0.0.1:2379
 *   etcd_peer_port = 2380          (local cluster only)
 *   catalog = /var/lib/pgrefresh/catalog
 *   pgbouncer = 127.0.0.1:6432     (comma-separated list allowed)
 *   superuser = postgres
 *   local = true                   (pgrefresh started every process: cluster start/stop apply)
 *   [unit pg/0]
 *   host = 127.0.0.1
 *   pg_port = 5440
 *   api_port = 8010
 * Passwords live in DIR/secrets (0600), not here.
 */
#ifndef PGR_CLUSTER_CONF_H
#define PGR_CLUSTER_CONF_H

#include <limits.h>
#include <stdbool.h>

#include "util/err.h"

#define CONF_MAX_UNITS 32
#define CONF_MAX_PGBOUNCERS 4

/* One unit as configured: "pg/0" (its name in the UI), "pg-0" (its Patroni member name, dir name). */
typedef struct conf_unit {
	char name[32];
	char member[32];
	int number;
	char host[64];
	int pg_port;
	int api_port;
} conf_unit;

typedef struct conf_endpoint {
	char host[64];
	int port;
} conf_endpoint;

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
	conf_endpoint pgbouncers[CONF_MAX_PGBOUNCERS];
	int pgbouncer_count;
	conf_unit units[CONF_MAX_UNITS];
	int unit_count;
	conf_security security;
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

/* Finds a unit by "pg/1", "pg-1" or "1"; NULL if none. */
const conf_unit *conf_find_unit(const cluster_conf *conf, const char *name);
/* Paths of a unit: DIR/units/pg-0 and its parts. */
void conf_unit_dir(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len);
void conf_unit_path(const cluster_conf *conf, const conf_unit *unit, const char *leaf, char *buf, size_t len);
/* The unit's Patroni REST URL: http://host:api_port */
void conf_unit_api_url(const conf_unit *unit, char *buf, size_t len);
/* The etcd prefix of this cluster's pgrefresh state: "/pgrefresh/<name>/" */
void conf_etcd_prefix(const cluster_conf *conf, char *buf, size_t len);
/* The version a unit's bin link points at (reads DIR/units/pg-N/bin), "" if none. */
int conf_unit_linked_version(const cluster_conf *conf, const conf_unit *unit, char *version, size_t len);

#endif
