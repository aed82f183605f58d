/*
 * scope.h — what the state layer knows of a cluster: the prefix of its keys in etcd
 * ("/pgrefresh/pg/") and the Patroni names of its members, in the cluster's unit order (the order
 * store_read fills a snapshot's unit reports in). The layers above build it from their configuration
 * (cluster/conf.h: conf_state_scope); the state layer needs nothing else of it.
 */
#ifndef PGR_STATE_SCOPE_H
#define PGR_STATE_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"

#define STATE_MAX_UNITS 32
#define STATE_COORDINATOR_LEAF "coordinator" /* the coordinator's unit name, bound to its agent's lease */

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
/*
 * The condition of a coordinator's write, for its transaction: lease still binds the coordinator key
 * (key: room for it, cmp: filled). NULL when lease is 0 (no condition).
 */
const etcd_cmp *state_scope_lease_guard(const state_scope *scope, int64_t lease, char *key, size_t keylen,
					etcd_cmp *cmp);

#endif
