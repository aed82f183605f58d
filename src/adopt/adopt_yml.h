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
	char etcd_hosts[512];   /* etcd3 (else etcd): hosts or host, "h:p,h:p" (a list joined) */
	char etcd_protocol[16]; /* etcd3.protocol: "http" (default) or "https" */
	char etcd_user[64];     /* etcd3.username */
	char etcd_password[128];
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
/* host and port of "host:port" (the last ':'); -1 when there is no port. */
int adopt_split_hostport(const char *hp, char *host, size_t hostlen, int *port);

#endif
