/*
 * unit_step.h — what one unit's agent does next for the refresh: pure, from what the refresh record asks
 * of the unit and what the unit reports (its unit_record). The agent performs the step (driver.c,
 * refresh_unit_tick) and asks again next tick; every step is safe to repeat after a crash.
 *
 * The synchronous standby stands aside before its restart: it tags itself nosync, waits until the
 * primary has given the sync role to another standby (Patroni's own wait for that polls every 2 s), and
 * only then restarts. Its upstream does not change while it is the sync standby: a replicatefrom tag
 * makes Patroni point its walreceiver elsewhere at once, and the primary's commits would wait on a sync
 * standby that no longer streams from it (measured: a 0.5 s zero-commit window) until Patroni moved the
 * role. Once released, its agent points replicatefrom at the standby expected to have taken its role
 * (cascade_after) and drops nosync (a cascading standby is never the primary's sync standby) as it asks
 * for the restart, so that Patroni's reload of the tags overlaps the restart and it comes back cascading
 * from the next primary; once it runs the target, whatever tag is still left goes (UNIT_UNTAG: nosync,
 * the cascade written if it was not yet); the cascade goes when the refresh no longer needs it (the
 * switchover's cascade takes over).
 *
 * The unit's steps are a table too, the agent's own: where the unit is (unit_step_state(), derived from
 * what it reports and what the record asks, so that it survives the agent's restart) and the action
 * decided make a row {from, action, to, what it means}; unit_step_next() takes an action only through
 * its row and refuses (logs, does nothing) one that has none. `pgrefresh debug fsm` prints this table
 * after the refresh's.
 */
#ifndef PGR_REFRESH_UNIT_STEP_H
#define PGR_REFRESH_UNIT_STEP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "state/unit_record.h"

/* How long a standby that stood aside waits for the primary to release it before it restarts anyway
 * (Patroni itself would wait loop_wait * 2 at most). */
#define UNIT_RELEASE_WAIT_MS 6000

typedef enum unit_action {
	UNIT_IDLE,         /* nothing asked of this unit, or nothing left to do */
	UNIT_RELINK,       /* point the unit's bin link at the target */
	UNIT_STAND_ASIDE,  /* a sync standby about to restart: tag nosync (upstream unchanged) and reload Patroni */
	UNIT_WAIT_RELEASE, /* stood aside: wait until the primary gives the sync role to another standby */
	UNIT_RESTART,      /* restart PostgreSQL through Patroni onto the target */
	UNIT_WAIT_RESTART, /* a restart is under way or was just answered */
	UNIT_UNTAG,        /* drop tags pgrefresh set that are no longer needed (see unit_step_tags) */
} unit_action;

typedef struct unit_view {
	const unit_record *me; /* what the unit reports now */
	const char *target;    /* the version the record wants this unit linked to; NULL: nothing asked */
	bool restart_wanted;   /* the record is at this unit (not just the relink before the switchover) */
	bool switchover_owns_tags; /* a switchover runs (the refresh's or a marked one): its cascade sets tags */
	const char *intent_replicatefrom; /* the replicatefrom its unit intent asks for ("" or NULL: none) */
	bool intent_nosync;    /* its unit intent asks for nosync */
	bool restart_running;  /* our POST /restart has not answered yet */
	bool restart_recent;   /* a restart for this target answered a moment ago (the version may lag) */
	int64_t aside_ms;      /* how long ago this unit stood aside; -1 if it did not */
	bool tags_written_recently; /* tags were written a moment ago: Patroni may not show them yet */
	const char *cascade_after; /* stood aside as the sync standby: the standby to cascade from once it runs the
				    * target (the one expected to take its role; "" or NULL: none) */
} unit_view;

unit_action unit_step_decide(const unit_view *v);

/* Where the unit is in its refresh. */
typedef enum unit_state {
	US_IDLE = 0,   /* nothing asked of the unit */
	US_LINK_OLD,   /* the record wants it on a target its bin link does not point at */
	US_LINKED,     /* linked to the target, still runs the old version */
	US_ASIDE,      /* a sync standby that stood aside (nosync), waiting for the primary to release it */
	US_RESTARTING, /* a restart through Patroni is under way or was just answered */
	US_ON_TARGET,  /* runs the target */
	US_COUNT
} unit_state;

typedef struct unit_transition {
	unit_state from;
	unit_action action;
	unit_state to; /* where the action leads (the next tick derives it again from what the unit reports) */
	const char *meaning;
} unit_transition;

unit_state unit_step_state(const unit_view *v);
const char *unit_state_name(unit_state s);
const unit_transition *unit_step_table(int *count);
const unit_transition *unit_step_row(unit_state from, unit_action action);
/*
 * The step to take now: unit_step_decide(), through its row. *row: the row (NULL when refused: the
 * decided action has no row from the unit's state; logged, and UNIT_IDLE returned).
 */
unit_action unit_step_next(const unit_view *v, const unit_transition **row);
/* Prints the unit's table (text, or a Graphviz digraph). */
void unit_step_print(FILE *out, bool graphviz);

/* The replicatefrom tag UNIT_UNTAG keeps ("" or the current one): the one its unit intent asks for; else,
 * while the refresh restarts this unit, its cascade_after if any; else the current one while the refresh
 * restarts this unit or a switchover owns the tags. */
const char *unit_step_kept_replicatefrom(const unit_view *v);

const char *unit_action_name(unit_action a);

#endif
