/*
 * metrics.h — what an agent tells Prometheus: the text exposition format (version 0.0.4), built from what
 * the agent knows, pure. Names follow Patroni's own /metrics (patroni_postgres_running, patroni_version):
 * a pgrefresh_ prefix, the cluster as label scope, a gauge for each, HELP and TYPE lines for each.
 *
 * Every agent says whether it is the coordinator and what its own unit runs; the coordinator adds the
 * refresh: its state, units done and total, each unit's restart and gate seconds, the last switchover's
 * write stall, and the start and end of the refresh. The state is one series per state with value 1 for
 * the current one and 0 for the others (pgrefresh_refresh_state{state="paused"} 1), not a numeric code: a
 * query or an alert names the state it means (== 1), the values need no legend, and a state added later
 * is one more series instead of a code that shifts the meaning of the others.
 */
#ifndef PGR_METRICS_METRICS_H
#define PGR_METRICS_METRICS_H

#include <stdbool.h>

#include "state/record.h"
#include "util/err.h"

/* What one agent knows at one tick. */
typedef struct metrics_view {
	const char *scope;    /* the cluster ("pg") */
	const char *unit;     /* this agent's unit ("pg/1") */
	const char *version;  /* what its PostgreSQL runs ("15.18"), "" when it does not run */
	bool coordinator;     /* this agent holds the coordinator lease: the refresh's metrics follow */
	/* the coordinator's: the refresh in progress, or the last one it saw finish (NULL: none known) */
	const refresh_record *refresh;
	bool refresh_in_progress; /* refresh is in progress (false: it is the last one, finished) */
} metrics_view;

/* The exposition text of v, into a heap string (caller frees). */
int metrics_format(const metrics_view *v, char **text, pgr_err *err) __attribute__((warn_unused_result));

/* Writes value as a label value of the exposition format (backslash, quote and newline escaped). */
void metrics_label_escape(const char *value, char *out, size_t len);

#endif
