/*
 * fsm.h — the refresh state machine, as data. Each row of the table is {from, event, to, what it means,
 * the step that gets there}. The coordinator observes the cluster (refresh_obs) and fsm_event() — pure —
 * says which event that is; fsm_take() is the ONE function that looks the row up by (from, event), logs
 * the transition once with its cause, and applies the row's step, producing the next record. An event
 * with no row from the current state is refused and logged; the coordinator records nothing then. The
 * coordinator (refresh/driver.h) records what fsm_take() produced with compare-and-swap before acting on
 * it. What the user asks (rollback, force-refresh-start, resume-refresh) reaches the machine as an intent
 * (state/intent.h) that fsm_event() turns into an event like any other observation.
 * `pgrefresh debug fsm` prints the table, and the unit's own table (refresh/unit_step.h).
 *
 * States (what `status` shows in brackets):
 *   checking      [refreshing]  recorded; checks run before any unit is touched
 *   incompatible  [incompatible] a check failed, nothing changed
 *   unit          [refreshing]  one unit, or one batch of units (max-parallel-units), is being moved to
 *                               the target and gated; the next batch starts when the whole batch passed
 *   paused        [paused]      waiting for resume-refresh
 *   switchover    [refreshing]  moving the primary role to a refreshed standby before the primary
 *   failed        [failed]      a unit failed its gate or the switchover failed
 *   done          [idle]        every unit runs the target; the record goes to history (and, with no
 *                               record at all, where a new refresh starts from)
 */
#ifndef PGR_REFRESH_FSM_H
#define PGR_REFRESH_FSM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "state/intent.h"
#include "state/record.h"
#include "state/settings.h"

/* What the coordinator observed, as one word: the key, with the state, of a row. */
typedef enum refresh_event {
	EV_NONE = 0, /* nothing happened that moves the machine */
	EV_CHECKS_FAILED,
	EV_CHECKS_PASSED,
	EV_CHECKS_PASSED_PRIMARY_NEXT,
	EV_NOTHING_TO_REFRESH,
	EV_CHECKS_TIMEOUT,
	EV_GATE_WAITING, /* the unit is not healthy yet, and what it waits for changed (status shows it) */
	EV_UNIT_HEALTHY,
	EV_UNIT_HEALTHY_PAUSE,
	EV_UNIT_HEALTHY_PRIMARY_NEXT,
	EV_LAST_UNIT_HEALTHY,
	EV_GATE_TIMEOUT,
	EV_RESUMED,
	EV_RESUMED_PRIMARY_NEXT,
	EV_RESUMED_NOTHING_LEFT,
	EV_SWITCHED_OVER,
	EV_SWITCHOVER_FAILED,
	EV_RETRY_GATE,
	EV_RETRY_SWITCHOVER,
	EV_RESUMED_SKIPPING,
	EV_RESUMED_SKIPPING_PRIMARY_NEXT,
	EV_RESUMED_SKIPPING_LAST,
	EV_FORCED,
	EV_ROLLBACK,
	EV_AUTO_ROLLBACK,
	EV_RESUME_ASKED, /* resume-refresh where nothing can resume: no row, refused */
	EV_REFRESH_ASKED, /* refresh: a new refresh, taken only where none is in progress */
	EV_BATCH_UNIT_HEALTHY, /* some units of the batch passed their gate, others are still refreshed */
	EV_COUNT
} refresh_event;

struct refresh_record;
struct fsm_ctx;

/* One row of the table. quiet: a note that changes no state (logged at debug, not as a transition). */
typedef struct fsm_transition {
	refresh_state from;
	refresh_event event;
	refresh_state to;
	const char *meaning;
	void (*apply)(struct refresh_record *next, const struct fsm_ctx *c); /* the step; NULL: state only */
	bool quiet;
} fsm_transition;

const char *refresh_event_name(refresh_event ev);

const fsm_transition *fsm_table(int *count);
/* The row for (from, event), NULL when the table has none. */
const fsm_transition *fsm_row(refresh_state from, refresh_event ev);
/* The row for (from, to, event name), NULL when the table does not allow it. */
const fsm_transition *fsm_find(refresh_state from, refresh_state to, const char *event);
/* Prints the table (text) or as a Graphviz digraph. */
void fsm_print(FILE *out, bool graphviz);

/* What the coordinator observed of one unit this tick. */
typedef struct obs_unit {
	char unit[32];
	char member[32];
	int number;              /* the unit's number (pg/2: 2) */
	bool reporting;          /* its agent reported within the last seconds */
	char role[16];           /* primary | sync-standby | replica | unknown */
	char server_version[16]; /* what PostgreSQL runs, "" when not running */
	char linked_version[16];
	bool running;   /* Patroni state running */
	bool streaming; /* per the primary's replication[] (true for the primary) */
	int64_t lag_bytes;
	bool sql_ok; /* answered SELECT 1 */
} obs_unit;

/* Everything fsm_event and fsm_take need besides the record and the settings. */
typedef struct refresh_obs {
	obs_unit units[32];
	int count;
	int64_t now_ms;
	bool checks_done;       /* in checking: the checks ran */
	char check_problem[240]; /* in checking: "" when all passed */
	char patroni_leader[32];     /* the leader Patroni reports ("" when unknown): the truth for the switchover */
	bool patroni_leader_running;
	bool switchover_failed; /* in switchover */
	char switchover_error[240];
	fsm_intent intent; /* what the user asks this tick, ASK_NONE when nothing */
} refresh_obs;

/* What a step works with: the observation, the settings, the event's cause. */
typedef struct fsm_ctx {
	const refresh_obs *obs;
	const refresh_settings *set;
	refresh_event event;
	const char *cause;
} fsm_ctx;

/*
 * The health gate of one unit: runs target, Patroni running, streaming (unless primary), lag within
 * the limit, answers SQL. false with why ("runs 15.18, not 15.20") otherwise.
 */
bool fsm_unit_healthy(const obs_unit *u, const char *target, int64_t lag_limit_bytes, char *why, size_t whylen);
const obs_unit *fsm_obs_find(const refresh_obs *obs, const char *unit);

/*
 * What happened, as an event: pure, from the record, the observation (and the intent in it) and the
 * settings. cause says why, in words for the log and the record ("pg/1 failed its health gate: ...").
 */
refresh_event fsm_event(const struct refresh_record *rec, const refresh_obs *obs, const refresh_settings *set,
			char *cause, size_t causelen);

typedef enum fsm_result {
	FSM_NOTHING = 0, /* EV_NONE: nothing to record */
	FSM_TAKEN,       /* *next is the record after the row's step: record it */
	FSM_REFUSED,     /* no row for (rec->state, ev): logged, *next == *rec, record nothing */
} fsm_result;

/*
 * The one place a transition happens: looks the row up by (rec->state, ev) in the table, logs it once
 * with its cause and applies its step into *next (*next = *rec first). *row: the row taken, NULL when
 * none. An event without a row is refused and logged.
 */
fsm_result fsm_take(const struct refresh_record *rec, refresh_event ev, const char *cause, const refresh_obs *obs,
		    const refresh_settings *set, struct refresh_record *next, const fsm_transition **row);
/* The same with another table (tests: a table with a row deleted). */
fsm_result fsm_take_in(const fsm_transition *table, int count, const struct refresh_record *rec, refresh_event ev,
		       const char *cause, const refresh_obs *obs, const refresh_settings *set,
		       struct refresh_record *next, const fsm_transition **row);

/* fsm_event then fsm_take, the coordinator's whole decision for one tick; returns the row or NULL. */
const fsm_transition *fsm_decide(const struct refresh_record *rec, const refresh_obs *obs, const refresh_settings *set,
				 struct refresh_record *next);

#endif
