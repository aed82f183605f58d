/*
 * refresh_view.h — the CLI's pure decisions about a refresh, apart from etcd and printing so that
 * they are unit-tested: whether a target asked for can be refreshed to at all (before anything is
 * recorded), the state `pgrefresh wait` sees, and a history entry's FROM/TO as the user asked.
 */
#ifndef PGR_CLI_REFRESH_VIEW_H
#define PGR_CLI_REFRESH_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "state/record.h"
#include "util/err.h"

/* What refresh --version V gets before anything is recorded. */
typedef enum target_verdict {
	TARGET_OK,             /* recorded; the coordinator's checks decide the rest */
	TARGET_SAME,           /* every unit already runs it: nothing to refresh */
	TARGET_BAD,            /* not a version */
	TARGET_NOT_IN_CATALOG, /* in no unit's catalog */
	TARGET_OTHER_MAJOR,    /* another major: never a refresh, not even forced */
} target_verdict;

/*
 * Judges refreshing a cluster on `from` to `to`, given the versions the units' catalogs hold
 * (versions[0..count-1], any order). Fills err (message and hint) for every verdict but TARGET_OK:
 * for TARGET_SAME the message is "already on V: nothing to refresh".
 */
target_verdict refresh_view_check_target(const char *from, const char *to, const char (*versions)[16], int count,
					 pgr_err *err);

/* The state `pgrefresh wait` sees. */
#define WAIT_ROLLED_BACK "rolled-back"
/*
 * current: the refresh record (NULL when none); last: the last refresh in history (NULL when none).
 * While a refresh is recorded: its state as status names it ("refreshing" once resumed and while a
 * finished one is not yet in history). With none: "rolled-back" when the last one was rolled back,
 * else "idle".
 */
const char *refresh_view_wait_state(const refresh_record *current, const refresh_record *last);
/* The refresh of history that ended last (greatest ended_ms, then id), NULL when count is 0. */
const refresh_record *refresh_view_last(const refresh_record *history, int count);
/* FROM and TO of a refresh as the user asked: a rollback's original refresh, not the way back. */
void refresh_view_asked(const refresh_record *r, const char **from, const char **to);

#endif
