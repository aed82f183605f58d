/*
 * record.h — the refresh record: everything about the refresh in progress, stored as one JSON value in
 * etcd at /pgrefresh/<cluster>/refresh and changed only by compare-and-swap on its mod_revision (by the
 * coordinator as it moves the state machine; the CLI creates it, then asks through intents). Completed
 * refreshes move to /pgrefresh/<cluster>/history/<id>. Pure encoding and decoding.
 */
#ifndef PGR_STATE_RECORD_H
#define PGR_STATE_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define RECORD_MAX_UNITS 32

/* Where the refresh is: the states of the refresh table (refresh/fsm.h says what each means). */
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

const char *refresh_state_name(refresh_state s);
/* What status shows: refreshing | paused | incompatible | failed | idle */
const char *refresh_state_display(refresh_state s);
int refresh_state_from_name(const char *name, refresh_state *s);

/* Where one unit is in the refresh. */
typedef enum unit_step { STEP_PENDING = 0, STEP_REFRESHING, STEP_DONE, STEP_FAILED, STEP_SKIPPED } unit_step;

/*
 * When each step of a unit was seen (ms since the epoch, 0: not seen), for the picture and the metrics:
 * the bin link switched to the target, the sync standby stood aside, the restart began (the agent's
 * clock for these two), the unit ran the target (its health gate began; it ends at done_ms), and a pause
 * after the unit and its end. Kept under "times" in the record's JSON; older records have none.
 */
typedef struct record_unit_times {
	int64_t relinked_ms;
	int64_t aside_ms;
	int64_t restart_ms;
	int64_t gate_ms;
	int64_t paused_ms;
	int64_t resumed_ms;
} record_unit_times;

/* One unit of the plan, in refresh order. */
typedef struct record_unit {
	char unit[32];
	char member[32];
	char planned_role[16];
	int batch; /* its batch (0, 1, ...): the units of a batch are refreshed at once (refresh/plan.h) */
	unit_step step;
	int64_t started_ms;
	int64_t done_ms;
	char message[160];
	record_unit_times times;
} record_unit;

typedef struct refresh_record {
	int id;
	refresh_state state;
	bool rollback;
	char from[16];
	char to[16];
	char original[16]; /* the version the first (forward) refresh started from */
	record_unit units[RECORD_MAX_UNITS];
	int unit_count;
	int current;             /* index into units of the unit being refreshed, -1 when none */
	bool first_pause_done;   /* `first`: the pause after the first unit has happened */
	bool skip_health_check;  /* resume-refresh --check-health-of-refreshed-units=false */
	bool skip_compatibility; /* force-refresh-start flags */
	bool skip_prechecks;
	bool skip_workload;
	bool skip_backup;
	char switchover_from[32]; /* Patroni member names */
	char switchover_to[32];
	char failed_unit[32];
	char reason[240]; /* why it is failed / incompatible now (cleared when it goes on) */
	char cause[600];  /* the cause of every halt and rollback, oldest first ("pg/1 failed its health gate: ..."),
			   * kept in history */
	char intent_token[64]; /* the last intent taken (state/intent.h): a retaken intent is known */
	int64_t started_ms;
	int64_t state_since_ms;
	int64_t ended_ms;
	/* when the checks ended, the switchover's span, and the clients' write stall in it: PgBouncer's
	 * PAUSE sent to RESUME answered, the upper bound of what clients waited (0: none, or not recorded) */
	int64_t checks_ended_ms;
	int64_t switchover_started_ms;
	int64_t switchover_ended_ms;
	int64_t stall_started_ms;
	int64_t stall_ms;
} refresh_record;

int record_to_json(const refresh_record *rec, char **json, pgr_err *err) __attribute__((warn_unused_result));
int record_parse(const char *json, refresh_record *rec, pgr_err *err) __attribute__((warn_unused_result));
const char *unit_step_name(unit_step step);
/* Units done or skipped, and units in the plan. */
int record_done_count(const refresh_record *rec);
/* Index of the first pending unit in plan order, -1 when none. */
int record_next_pending(const refresh_record *rec);
/* Batches in the plan (the last unit's batch + 1; 0 with no unit). */
int record_batch_count(const refresh_record *rec);
/* Index of unit ("pg/1") in the plan, -1 when absent. */
int record_find_unit(const refresh_record *rec, const char *unit);
/* Index of the unit whose Patroni member is member ("pg-1"), -1 when absent. */
int record_find_member(const refresh_record *rec, const char *member);
/*
 * What the coordinator saw of a unit's own step (unit_record's step: "linked", "aside", "restarting",
 * "on-target"), since_ms the agent's stamp of it (0: none), restarted_ms when the agent began its restart
 * for this refresh (0: none or unknown; a coordinator busy for the whole restart still learns it) and
 * now_ms the coordinator's clock: the first sighting of each step is kept in times. Pure.
 */
void record_unit_note_step(record_unit_times *times, const char *step, int64_t since_ms, int64_t restarted_ms,
			   int64_t now_ms);
/* Copies into next each time that next lacks and seen has (seen: one per unit of next, in plan order). */
void record_merge_times(refresh_record *next, const record_unit_times *seen, int seen_count);
/* Stamps what the move from prev to next (a transition recorded at now_ms) begins or ends: the checks,
 * the switchover, a pause (on the last unit done). Pure. */
void record_note_transition(const refresh_record *prev, refresh_record *next, int64_t now_ms);

#endif
