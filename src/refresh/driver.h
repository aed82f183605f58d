/*
 * driver.h — the coordinator's side of the refresh, run once a tick by the agent holding the
 * coordinator lease: re-reads the record and the units from etcd, runs the I/O the current state
 * needs (checks, the switchover with PgBouncer paused around it, the health gate's SQL), takes the
 * user's pending intent (state/intent.h), turns what it saw into an event (fsm_event), lets fsm_take()
 * apply the table's row, and records the result by compare-and-swap (nothing when the table has no row).
 * A finished refresh goes to history.
 * Everything it needs is re-read every tick, so a new coordinator continues where the last one was.
 *
 * Also the unit's side: refresh_unit_tick() makes the agent's own unit run what the record asks of it
 * (relink bin to the target, restart through Patroni) — idempotent, safe to repeat after a crash.
 */
#ifndef PGR_REFRESH_DRIVER_H
#define PGR_REFRESH_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/tags.h"
#include "state/unit_record.h"
#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "state/store.h"
#include "refresh/plan.h"
#include "refresh/unit_step.h"

/* What the coordinator keeps between ticks (nothing that matters for correctness). */
typedef struct refresh_driver {
	const cluster_conf *conf;
	const etcd_client *etcd;
	state_scope scope; /* conf's, as the state layer needs it: set at each tick */
	int64_t lease; /* the coordinator's lease, set by the agent before each tick: owns the paused mark */
	long long last_wake_ms; /* when Patroni's loops were last woken (see wake_patroni in driver.c) */
	int64_t corrupt_logged_rev; /* the corrupt refresh record last logged (logged once, never acted on) */
	int64_t lock_logged_revision; /* the operation lock held by another, last logged (once per holder) */
	/* for the picture and the metrics: the units' steps seen in refresh seen_id (merged into each record
	 * written, state/record.h), each unit's started_ms then, and the last switchover's write stall */
	int seen_id;
	int64_t seen_started_ms[RECORD_MAX_UNITS];
	record_unit_times seen[RECORD_MAX_UNITS];
	int64_t stall_started_ms;
	int64_t stall_ms;
} refresh_driver;

void refresh_driver_tick(refresh_driver *driver);

/* What one unit's agent keeps between ticks. */
typedef struct refresh_unit_state {
	int64_t last_restart_ms;
	char last_restart_target[32]; /* the version that restart was for */
	pid_t restart_child; /* the child process waiting on Patroni's POST /restart */
	int64_t aside_since_ms;  /* when this sync standby stood aside for its restart (0: it did not) */
	char cascade_after[64];  /* stood aside: the member to cascade from once it runs the target ("" none) */
	agent_tags *tags;        /* the agent's writer of its own tags (shared with its intent poller); not owned */
	unit_state step;         /* where the unit was at its last tick (unit_step.h), reported in its record */
	char step_target[32];    /* the version the record asked of it then */
} refresh_unit_state;

/*
 * The unit's step in its record, and back: the agent reports where its unit is in its own table (and,
 * for standing aside and restarting, since when), and an agent that starts again takes up from its last
 * record instead of from nothing. Pure.
 */
void refresh_unit_state_save(const refresh_unit_state *state, unit_record *rec);
void refresh_unit_state_restore(refresh_unit_state *state, const unit_record *rec);
/* Reads this unit's last record from etcd (before the agent's first report) and restores from it. */
void refresh_unit_state_load(const etcd_client *etcd, const cluster_conf *conf, const conf_unit *unit,
			     refresh_unit_state *state);

/*
 * The unit's part (the steps are decided in unit_step.h): relink, stand aside if it is the sync
 * standby, restart, put tags back. rec may be NULL (no refresh); switchover_marked: a switchover mark is
 * in etcd (its cascade owns the replicatefrom tags); me: what the agent just observed of its unit.
 * Returns whether it changed the unit (relinked, wrote tags, began a restart): then the agent reports
 * again at once, so that the coordinator sees the step without waiting a tick.
 */
bool refresh_unit_tick(const cluster_conf *conf, const conf_unit *unit, const refresh_record *rec,
		       bool switchover_marked, const unit_record *me, refresh_unit_state *state);
/* Whether the record asks unit ("pg/1") to be refreshed now: a unit of the batch being refreshed, or in
 * failed one of a halted batch that finishes its step. Pure. */
bool refresh_unit_in_batch(const refresh_record *rec, const char *unit);
/* Whether the coordinator wakes the Patroni loop of conf's unit i while a unit is refreshed: a unit of the
 * batch, whatever reports itself primary (two may, for a moment, around a switchover), and the standby a
 * unit of the batch cascades from (its replicatefrom tag). Pure. */
bool refresh_wake_wanted(const cluster_conf *conf, const store_snapshot *snap, int i);

/* Inputs of a plan, from the agents' reports (version: what each unit is linked to). */
void refresh_plan_inputs(const cluster_conf *conf, const store_snapshot *snap, plan_input_unit *units, int *count);

#endif
