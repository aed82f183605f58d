/*
 * patroni_yml.h — a unit's patroni.yml, written by pgrefresh: rendered from pgrefresh.conf and the secrets
 * (every text value a YAML double-quoted scalar, util/yaml.h), written durably, and rewritten by the unit's
 * own agent to change its Patroni tags, which Patroni then takes at once (reload, its loop woken). Used by
 * the local cluster's creation and by every agent for its own unit, on whatever host it runs.
 */
#ifndef PGR_PATRONI_PATRONI_YML_H
#define PGR_PATRONI_PATRONI_YML_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/conf.h"
#include "util/err.h"

/*
 * The Patroni tags pgrefresh sets on a unit, for a moment: replicatefrom (stream from that standby rather
 * than from the primary: the cascade before a switchover) and nosync (never a synchronous standby: a
 * sync standby stands aside before its restart, so the primary gives the role to another one first).
 */
typedef struct patroni_tags {
	char replicatefrom[64]; /* a member, "" for none */
	bool nosync;
} patroni_tags;

/* Renders the unit's patroni.yml with these tags (NULL: none) into a heap string (caller frees). Pure.
 * Fails on a value that holds a line break. */
int patroni_yml_render(const cluster_conf *conf, const cluster_secrets *secrets, const conf_unit *unit,
		       const patroni_tags *tags, char **out, size_t *out_len, pgr_err *err)
	__attribute__((warn_unused_result));
/* Writes the unit's patroni.yml (temp file, fsync, rename), owned by the servers' user. */
int patroni_yml_write(const cluster_conf *conf, const cluster_secrets *secrets, const conf_unit *unit,
		      const patroni_tags *tags, pgr_err *err) __attribute__((warn_unused_result));
/* The unit's own agent: its patroni.yml with exactly these tags, then Patroni reloads it and its loop is
 * woken (bounded: each request a few seconds). */
int patroni_yml_set_tags(const cluster_conf *conf, const conf_unit *unit, const patroni_tags *tags, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
