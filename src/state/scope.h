/*
 * scope.h — what the state layer knows of a cluster: the prefix of its keys in etcd
 * ("/pgrefresh/pg/") and the Patroni names of its members, in the cluster's unit order (the order
 * store_read fills a snapshot's unit reports in). The layers above build it from their configuration
 * (cluster/conf.h: conf_state_scope); the state layer needs nothing else of it.
 */
#ifndef PGR_STATE_SCOPE_H
#define PGR_STATE_SCOPE_H

#include <stddef.h>

#define STATE_MAX_UNITS 32

typedef struct state_scope {
	char prefix[128];                     /* "/pgrefresh/<cluster>/" */
	char members[STATE_MAX_UNITS][32];    /* "pg-0", ... */
	int member_count;
} state_scope;

/* A scope for cluster name, no members yet. */
void state_scope_init(state_scope *scope, const char *cluster);
/* Adds a member (ignored past STATE_MAX_UNITS). */
void state_scope_add_member(state_scope *scope, const char *member);
/* <prefix><leaf> into buf. */
void state_scope_key(const state_scope *scope, const char *leaf, char *buf, size_t len);

#endif
