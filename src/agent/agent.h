/*
 * agent.h — `pgrefresh agent`, one per unit. Every second it:
 *   - keeps its unit's Patroni running (starts it, restarts it if it died; adopts a running one),
 *   - reports its unit into etcd (state/unit_record.h) at /pgrefresh/<cluster>/units/<member>,
 *   - keeps its etcd lease alive and takes part in the coordinator election: the agent that holds
 *     /pgrefresh/<cluster>/coordinator (a key bound to its lease) is the coordinator,
 *   - as coordinator, keeps PgBouncer leading to the current primary.
 * While etcd is unreachable it says so once, then at most every 30 s with a count, and when it is back.
 * On SIGTERM/SIGINT it stops its Patroni (which stops PostgreSQL), revokes its lease and exits.
 */
#ifndef PGR_AGENT_AGENT_H
#define PGR_AGENT_AGENT_H

#include <stdbool.h>

#include "util/err.h"

/*
 * The keeper thread renews the agent's lease (and, while the main loop is in a long step, republishes
 * its last report with a fresh heartbeat) only while the main loop proves progress: the loop stamps
 * the time before each step with the bound that step keeps. A loop stuck past its bound (a call that
 * never returns) stops the renewals: its lease expires and another agent takes the coordinator key.
 */
#define AGENT_STEP_BOUND_MS 30000L /* a step of the main loop: Patroni and etcd calls of 2 s each, libpq 10 s */
/* the coordinator's tick, which may hold a whole switchover (PAUSE 10 s, promotion 60 s, sync standby 20 s) */
#define AGENT_COORDINATOR_STEP_BOUND_MS 120000L

typedef enum agent_keeper_action {
	AGENT_KEEPER_RENEW,           /* keep the lease alive */
	AGENT_KEEPER_RENEW_REPUBLISH, /* the same, and republish the last report with a fresh heartbeat */
	AGENT_KEEPER_WITHHOLD,        /* the main loop is stuck past its bound: renew nothing */
} agent_keeper_action;

/*
 * The keeper's decision at now_ms (monotonic): progress_ms is when the main loop last stamped progress,
 * with progress_bound_ms the bound of the step it began then; last_report_ms when it last reported
 * (has_report false: not yet). Republish when the last report is older than two ticks (tick_ms).
 */
agent_keeper_action agent_keeper_decide(long long now_ms, long long progress_ms, long long progress_bound_ms,
					bool has_report, long long last_report_ms, long long tick_ms);

/*
 * The main loop's period (ms): 1 s without a refresh record, 0.2 s with one, 0.1 s while the refresh moves
 * (checks, a unit, the switchover) for the agents that take part: a unit with a step under way
 * (step_under_way), and the coordinator. Pure.
 */
long agent_tick_ms(bool refresh_active, bool refresh_moving, bool step_under_way, bool coordinator);

/* Runs until stopped by a signal. dir: the cluster directory; unit: "pg/1". */
int agent_run(const char *dir, const char *unit, pgr_err *err) __attribute__((warn_unused_result));

#endif
