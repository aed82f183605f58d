/*
 * lease.h — the leases pgrefresh's keys are bound to (design.md: liveness is leases and revisions in etcd,
 * never a clock). An agent's lease carries its unit record, its presence and, while it coordinates, the
 * coordinator key: when the agent dies or its main loop stops renewing, they all go within the TTL and
 * another agent can take over. Marks that outlive their owner (the switchover's, the operation lock's
 * owner) name its lease, and whoever comes next asks whether it still lives.
 */
#ifndef PGR_STATE_LEASE_H
#define PGR_STATE_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

/* A new lease of ttl_s seconds (1..3600) into *lease. */
int state_lease_grant(const etcd_client *etcd, int ttl_s, int64_t *lease, pgr_err *err) __attribute__((warn_unused_result));
/* Renews the caller's own lease: *alive false when it had expired (every key bound to it is gone). */
int state_lease_renew(const etcd_client *etcd, int64_t lease, bool *alive, pgr_err *err) __attribute__((warn_unused_result));
/* Ends the caller's own lease: every key bound to it goes at once (a lease already gone: done). */
int state_lease_revoke(const etcd_client *etcd, int64_t lease, pgr_err *err) __attribute__((warn_unused_result));
/*
 * Pure: whether err is etcd's answer to a request that named a lease it no longer knows ("requested lease
 * not found": expired while the caller was cut off, or revoked). Retrying with that lease is futile: the
 * caller grants a new one at once.
 */
bool state_lease_err_gone(const pgr_err *err);
/* Whether another process's lease still lives, without extending it (0, an expired or unknown lease: false). */
int state_lease_alive(const etcd_client *etcd, int64_t lease, bool *alive, pgr_err *err) __attribute__((warn_unused_result));

#endif
