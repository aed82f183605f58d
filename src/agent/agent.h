/*
 * agent.h — `pgrefresh agent`, one per unit. Every second it:
 *   - keeps its unit's Patroni running (starts it, restarts it if it died; adopts a running one),
 *   - reports its unit into etcd (agent/unit_record.h) at /pgrefresh/<cluster>/units/<member>,
 *   - keeps its etcd lease alive and takes part in the coordinator election: the agent that holds
 *     /pgrefresh/<cluster>/coordinator (a key bound to its lease) is the coordinator,
 *   - as coordinator, keeps PgBouncer leading to the current primary.
 * On SIGTERM/SIGINT it stops its Patroni (which stops PostgreSQL), revokes its lease and exits.
 */
#ifndef PGR_AGENT_AGENT_H
#define PGR_AGENT_AGENT_H

#include "util/err.h"

/* Runs until stopped by a signal. dir: the cluster directory; unit: "pg/1". */
int agent_run(const char *dir, const char *unit, pgr_err *err) __attribute__((warn_unused_result));

#endif
