/*
 * fsm.h — the refresh state machine, as data. The table lists every allowed transition {from, to,
 * event, what it means}; fsm_decide() is the one pure function that, from the refresh record and what
 * was observed of the units, says which transition to take next and what the record becomes. The
 * coordinator (refresh/driver.h) records that with compare-and-swap before acting on it; the CLI uses
 * fsm_find() to check its own transitions (rollback, force). `pgrefresh debug fsm` prints the table.
 *
 * States (what `status` shows in brackets):
 *   checking      [refreshing]  recorded; checks run before any unit is touched
 *   incompatible  [incompatible] a check failed, nothing changed
 *   unit          [refreshing]  one unit is being moved to the target and gated
 *   paused        [paused]      waiting for resume-refresh
 *   switchover    [refreshing]  moving the primary role to a refreshed standby before the primary
 *   failed        [failed]      a unit failed its gate or the switchover failed
 *   done          [idle]        every unit runs the target; the record goes to history
 */
#ifndef PGR_REFRESH_FSM_H
#define PGR_REFRESH_FSM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "refresh/settings.h"

typedef enum refresh_state {
	RS_CHECKING = 0,
	RS_INCOMPATIBLE,
	RS_UNIT,
	RS_PAUSED,
	RS_SWITCHOVER,
	RS_FAILED,
	RS_DONE,
	RS_COUNT
} refresh_state;

/* One row of the table. */
typedef struct fsm_transition {
	refresh_state from;
	refresh_state to;
	const char *event;
	const char *meaning;
} fsm_transition;

const char *refresh_state_name(refresh_state s);
/* What status shows: refreshing | paused | incompatible | failed | idle */
const char *refresh_state_display(refresh_state s);
int refresh_state_from_name(const char *name, refresh_state *s);

const fsm_transition *fsm_table(int *count);
/* The row for (from, to, event), NULL when the table does not allow it. */
const fsm_transition *fsm_find(refresh_state from, refresh_state to, const char *event);
/* Prints the table (text) or as a Graphviz digraph. */
void fsm_print(FILE *out, bool graphviz);

/* What the coordinator observed of one unit this tick. */
typedef struct obs_unit {
	char unit[32];
	char member[32];
	bool reporting;          /* its agent reported within the last seconds */
	char role[16];           /* primary | sync-standby | replica | unknown */
	char server_version[16]; /* what PostgreSQL runs, "" when not running */
	char linked_version[16];
	bool running;   /* Patroni state running */
	bool streaming; /* per the primary's replication[] (true for the primary) */
	int64_t lag_bytes;
	bool sql_ok; /* answered SELECT 1 */
} obs_unit;

/* Everything fsm_decide needs besides the record and the settings. */
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
} refresh_obs;

struct refresh_record;

/*
 * The health gate of one unit: runs target, Patroni running, streaming (unless primary), lag within
 * the limit, answers SQL. false with why ("runs 15.18, not 15.20") otherwise.
 */
bool fsm_unit_healthy(const obs_unit *u, const char *target, int64_t lag_limit_bytes, char *why, size_t whylen);
const obs_unit *fsm_obs_find(const refresh_obs *obs, const char *unit);

/*
 * Decides the next step. Returns the row taken and fills *next with the record after it, or returns
 * NULL when nothing changes this tick (*next is then a copy of rec).
 */
const fsm_transition *fsm_decide(const struct refresh_record *rec, const refresh_obs *obs, const refresh_settings *set,
				 struct refresh_record *next);

#endif
