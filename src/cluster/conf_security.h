/*
 * conf_security.h — the security keys of pgrefresh.conf (conf_security: TLS files, etcd user, secret names)
 * and the one place an etcd client is made from a conf, so that callers do not each copy the options.
 * Secrets: DIR/secrets.d/NAME, a regular file of mode 0600 (no group or other bit), its first line the
 * secret. Never on a command line, never logged, never in an error.
 */
#ifndef PGR_CLUSTER_CONF_SECURITY_H
#define PGR_CLUSTER_CONF_SECURITY_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "patroni/patroni.h"
#include "util/err.h"

/* Whether key is one of conf_security's keys. */
bool conf_security_key(const char *key);
/* Sets key to value (checked: an absolute path, a user name, a secret name); origin:lineno in errors. */
int conf_security_set(conf_security *sec, const char *key, const char *value, const char *origin, int lineno,
		      pgr_err *err) __attribute__((warn_unused_result));
/*
 * The keys that go together: etcd_cert with etcd_key, etcd_user with etcd_password_secret. patroni_auth_secret
 * needs patroni_ca: a password is not sent in clear over http.
 */
int conf_security_check(const conf_security *sec, const char *origin, pgr_err *err)
	__attribute__((warn_unused_result));
/* The keys that are set, one "key = value" line each, into buf; *written their length. */
int conf_security_format(const conf_security *sec, char *buf, size_t buflen, int *written, pgr_err *err)
	__attribute__((warn_unused_result));

/* The cluster's etcd client: endpoints, TLS files (checked readable) and authentication from conf. */
int conf_etcd_client(const cluster_conf *conf, etcd_client *client, pgr_err *err) __attribute__((warn_unused_result));

/*
 * The cluster's Patroni client options: patroni_ca (https, the peer verified against it) and
 * patroni_auth_secret (basic authentication; the secret's name, read at each request). Pure: no file is read.
 */
void conf_patroni_client(const cluster_conf *conf, patroni_client *pc);
/* A unit's Patroni endpoint: how to reach it (conf_patroni_client) and where (conf_unit_api_url). Pure. */
void conf_unit_patroni(const cluster_conf *conf, const conf_unit *unit, patroni_client *pc, char *url, size_t url_len);

#endif
