/*
 * adopt_yml.h — a Patroni config that pgrefresh did not write (Debian's /etc/patroni/15-main.yml, made by
 * pg_createconfig_patroni): what `adopt` needs to read from it, and the two edits pgrefresh makes to it,
 * each a change of one value in the text, so that the user's comments, order and layout stay as they were.
 * Parsed with libyaml (Debian's libyaml-0-2); pure: no I/O.
 */
#ifndef PGR_ADOPT_ADOPT_YML_H
#define PGR_ADOPT_ADOPT_YML_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "cluster/conf.h"
#include "util/err.h"

/* What adopt reads from a Patroni config; "" where the file has nothing. */
typedef struct adopt_patroni_conf {
	char scope[64];
	char name[64];          /* the member's name */
	char api_listen[128];   /* restapi.listen */
	char api_connect[128];  /* restapi.connect_address: host:port */
	char api_user[64];      /* restapi.authentication */
	char api_password[128];
	bool api_tls;           /* restapi.certfile set: https */
	char api_cafile[256];   /* restapi.cafile: the CA of the clients' certificates (often also the server's) */
	char api_verify_client[16]; /* restapi.verify_client: "" (none), "optional", "required" */
	char ctl_cacert[256];   /* ctl.cacert: the CA patronictl verifies the REST API with */
	char ctl_certfile[256]; /* ctl.certfile/keyfile: patronictl's client certificate */
	char ctl_keyfile[256];
	char etcd_hosts[512];   /* etcd3 (else etcd): hosts or host, "h:p,h:p" (a list joined) */
	char etcd_protocol[16]; /* etcd3.protocol: "http" (default) or "https" */
	char etcd_user[64];     /* etcd3.username */
	char etcd_password[128];
	char etcd_cacert[256];  /* etcd3.cacert, .cert, .key */
	char etcd_cert[256];
	char etcd_key[256];
	char pg_connect[128];   /* postgresql.connect_address */
	char data_dir[PATH_MAX];
	char bin_dir[PATH_MAX];
	char superuser[64];     /* postgresql.authentication.superuser.username */
	char superuser_password[128];
} adopt_patroni_conf;

/* Reads text (origin names it in errors). Requires scope, name, restapi.connect_address, an etcd3 or etcd
 * section, postgresql.data_dir and postgresql.bin_dir. */
int adopt_yml_read(const char *text, const char *origin, adopt_patroni_conf *out, pgr_err *err)
	__attribute__((warn_unused_result));
/* text with postgresql.bin_dir set to bin_dir (a YAML double-quoted scalar), everything else as it was.
 * *out is heap memory (caller frees). */
int adopt_yml_set_bin_dir(const char *text, const char *bin_dir, char **out, pgr_err *err)
	__attribute__((warn_unused_result));
/*
 * text with the top-level tags mapping holding exactly these pgrefresh tags (replicatefrom: a member, ""
 * for none; nosync) and every other tag the user set kept as it was. The tags mapping is written in flow
 * style ("tags: {...}"); a file without one gets it appended. *out is heap memory (caller frees).
 */
int adopt_yml_set_tags(const char *text, const char *replicatefrom, bool nosync, char **out, pgr_err *err)
	__attribute__((warn_unused_result));
/*
 * What adopt writes into pgrefresh.conf's security keys (cluster/conf_security.h) for a Patroni config, with
 * the names `cluster create --secure` gives: etcd_ca/etcd_cert/etcd_key from etcd3's cacert/cert/key;
 * etcd_user and the secret ADOPT_SECRET_ETCD from its username/password; patroni_ca from ctl.cacert, else
 * restapi.cafile; the secret ADOPT_SECRET_API ("user:password") from restapi.authentication. Refuses (-1,
 * err names the key and what to do) a REST API pgrefresh cannot speak to: https with no CA named, a
 * password over plain http, verify_client
 * optional or required (Patroni then wants a client certificate on unsafe requests; pgrefresh has none).
 * Pure: no file is read.
 */
#define ADOPT_SECRET_ETCD "etcd_patroni"
#define ADOPT_SECRET_API "patroni_api"
int adopt_yml_security(const adopt_patroni_conf *pc, conf_security *sec, pgr_err *err)
	__attribute__((warn_unused_result));
/* The files a security conf names (etcd_ca, etcd_cert, etcd_key, patroni_ca), "" where unset, in that order. */
#define ADOPT_SECURITY_FILES 4
void adopt_security_files(const conf_security *sec, const char *files[ADOPT_SECURITY_FILES],
			  const char *keys[ADOPT_SECURITY_FILES]);

/* host and port of "host:port" (the last ':'); -1 when there is no port. */
int adopt_split_hostport(const char *hp, char *host, size_t hostlen, int *port);

#endif
