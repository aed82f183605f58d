/*
 * local_secure.h — security in a cluster pgrefresh makes (`cluster create --secure`): the files and the
 * setup that put TLS and passwords on every link, called from the local cluster's creation and start.
 *
 * Layout (a host's directory: DIR on loopback):
 *   pki/ca.crt, ca.key                 the cluster's CA (cluster/pki.h); ca.key 0600
 *   pki/server.crt, server.key         the host's certificate (SAN = its address): etcd's client and peer
 *                                      ports, Patroni's REST API
 *   pki/pgrefresh.crt, pgrefresh.key   pgrefresh's client certificate to etcd (no CN)
 *   pki/patroni.crt, patroni.key       Patroni's client certificate to etcd (no CN)
 *   secrets.d/etcd_root                etcd's root user's password
 *   secrets.d/etcd_patroni             etcd user "patroni": read-write on Patroni's namespace /service/
 *   secrets.d/etcd_pgrefresh           etcd user "pgrefresh": read-write on /pgrefresh/, read on /service/,
 *                                      read-write on /service/<cluster>/members/ (remove-unit)
 *   secrets.d/patroni_api              "patroni:PASSWORD", Patroni's restapi.authentication
 *   secrets.d/pgbouncer_admin          PgBouncer's admin user "pgbouncer_admin" (admin_users; in its
 *                                      auth_file as a SCRAM secret only); every [pooler]'s admin_user/secret
 *
 * Across hosts (`cluster create --hosts N`, secure unless --insecure): the CLI's directory DIR holds the CA
 * (pki/ca.crt, ca.key: the CA's key never leaves it), pgrefresh's client certificate and every secret;
 * each host's directory DIR/hosts/hN holds only its own: pki/ca.crt (a copy), server.crt/key (SAN = the
 * host's address), pgrefresh.crt/key and patroni.crt/key (its agent's and its Patroni's, to etcd), and
 * secrets.d/ etcd_patroni, etcd_pgrefresh (the passwords of its own etcd users patroni-hN and pgrefresh-hN,
 * made for it: no other host has them), patroni_api, pgbouncer_admin (shared: the coordinator, on any host,
 * speaks to every Patroni and PgBouncer), no etcd_root. The CLI's DIR has no etcd_patroni across hosts.
 * Every secret file is 0600, every secret random (32 hex digits); none is ever on a command line: etcd
 * gets its TLS files by path, Patroni its passwords in its 0600 patroni.yml, pgrefresh reads them by name
 * (conf_security.h).
 */
#ifndef PGR_CLUSTER_LOCAL_SECURE_H
#define PGR_CLUSTER_LOCAL_SECURE_H

#include <limits.h>
#include <stdbool.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "util/err.h"

#define LOCAL_SECURE_ETCD_ARGS 16

/* etcd's TLS options for its command line (paths only, never a secret). */
typedef struct local_secure_etcd_args {
	char arg[LOCAL_SECURE_ETCD_ARGS][PATH_MAX + 32];
	int count;
} local_secure_etcd_args;

/* What a unit's patroni.yml carries when the cluster is secure: text inserted in its restapi and etcd3
 * mappings (each starting with ", ") and a top-level ctl line; every value a YAML double-quoted scalar. */
typedef struct local_secure_patroni {
	char restapi[PATH_MAX * 4 + 512];
	char etcd3[PATH_MAX * 4 + 512];
	char ctl[PATH_MAX * 2 + 64];
} local_secure_patroni;

/* Whether conf is a cluster made with --secure (its etcd user and Patroni's CA are set). */
bool local_secure_on(const cluster_conf *conf);

/*
 * Makes the CA, the certificates of the host at address (an IP address: 127.0.0.1 on loopback) and the
 * secrets under conf->dir; then sets conf->security and makes conf->etcd https. conf->etcd must be set.
 */
int local_secure_prepare(cluster_conf *conf, const char *address, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Across hosts: the CA, pgrefresh's client certificate and every secret in conf->dir (the CLI's); then
 * conf->security set and every etcd endpoint https.
 */
int local_secure_prepare_hosts(cluster_conf *conf, pgr_err *err) __attribute__((warn_unused_result));

/* Host hN's own etcd users: its Patroni's ("patroni-hN") and its agent's ("pgrefresh-hN"). */
void local_secure_host_users(int host, char *patroni, size_t plen, char *pgrefresh, size_t rlen);

/* Host conf hc of host hN (a copy of top with its own dir): its security keys pointed at its own pki/ and
 * secrets.d/, its own etcd user, its etcd endpoints https, when top is secure; nothing otherwise. Fails when
 * the paths do not fit. */
int local_secure_host_conf(const cluster_conf *top, int host, cluster_conf *hc, pgr_err *err)
	__attribute__((warn_unused_result));

/* Host hc's files when top is secure: the CA's certificate, its certificates for address signed by top's CA,
 * the secrets its processes share with the others (patroni_api, pgbouncer_admin) and its own new etcd
 * passwords (see the layout above). Nothing when top is not secure. */
int local_secure_host_files(const cluster_conf *top, const cluster_conf *hc, const char *address, pgr_err *err)
	__attribute__((warn_unused_result));

/* "https" when conf is secure, else "http": the scheme of etcd's URLs. */
const char *local_secure_scheme(const cluster_conf *conf);

/* etcd's TLS options when conf is secure (client and peer: both verify the other side); none otherwise. */
void local_secure_etcd_args_for(const cluster_conf *conf, local_secure_etcd_args *args);

/*
 * An etcd client for waiting on etcd's health: TLS with pgrefresh's certificate, without a user (/health
 * needs none, and the users may not exist yet). Plain http when conf is not secure.
 */
int local_secure_etcd_bootstrap_client(const cluster_conf *conf, etcd_client *client, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Ensures etcd's users, roles and authentication (see the layout above), once etcd answers; idempotent:
 * when authentication is already on (root can authenticate), only the users missing are added (a host
 * add-unit made). No-op when conf is not secure.
 */
int local_secure_etcd_auth(const cluster_conf *conf, pgr_err *err) __attribute__((warn_unused_result));

/* Removes host hN's etcd users (remove-unit): its secrets no longer let anything in. No-op when not secure. */
int local_secure_etcd_host_users_drop(const cluster_conf *conf, int host, pgr_err *err)
	__attribute__((warn_unused_result));

/* The secure parts of a unit's patroni.yml (reads the secrets etcd_patroni and patroni_api). */
int local_secure_patroni_yml(const cluster_conf *conf, local_secure_patroni *out, pgr_err *err)
	__attribute__((warn_unused_result));

/* The lines of PgBouncer's auth_file for its admin user when conf is secure ("" otherwise): the user and
 * the SCRAM-SHA-256 secret of its password. */
int local_secure_pgbouncer_users(const cluster_conf *conf, char *buf, size_t len, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
