#include "cluster/fast_switchover.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The table: docs/fast-switchover.md, "The steps". In step order (checked by the unit tests). */
static const fast_step_def steps[] = {
	{ FAST_CHECKPOINT, "checkpoint", FAST_BY_COORDINATOR,
	  "CHECKPOINT taken on the old primary before the pause: its shutdown checkpoint writes little" },
	{ FAST_PAUSE_POOLER, "pause-pooler", FAST_BY_COORDINATOR,
	  "every PgBouncer paused (bounded, undone on timeout): no client sends anything" },
	{ FAST_MAINTENANCE_ON, "maintenance-on", FAST_BY_COORDINATOR,
	  "Patroni in maintenance mode, seen by every member: it promotes and demotes nobody" },
	{ FAST_STOP_OLD, "stop-old", FAST_BY_OLD_AGENT,
	  "the old primary stopped (fast): its shutdown checkpoint written and sent; pg_controldata reported" },
	{ FAST_CHECK_CANDIDATE, "check-candidate", FAST_BY_COORDINATOR,
	  "the candidate replayed past the old primary's shutdown checkpoint: it has every record the old one wrote" },
	{ FAST_SYNC_OVERRIDE, "sync-override", FAST_BY_CANDIDATE_AGENT,
	  "synchronous_standby_names '*' on the candidate: once promoted it answers no commit without a standby" },
	{ FAST_PROMOTE, "promote", FAST_BY_CANDIDATE_AGENT, "the candidate promoted: the one unit accepting writes" },
	{ FAST_MAINTENANCE_OFF, "maintenance-off", FAST_BY_COORDINATOR,
	  "the candidate holds the leader key, then maintenance mode ended: the old primary rejoins as its replica" },
	{ FAST_SYNC_STANDBY, "sync-standby", FAST_BY_CANDIDATE_AGENT,
	  "a standby in sync under Patroni's own synchronous_standby_names; the override removed" },
	{ FAST_REPOINT_RESUME, "repoint-resume", FAST_BY_COORDINATOR,
	  "every PgBouncer leads to the candidate and is resumed; the mark removed" },
	{ FAST_DONE, "done", FAST_BY_COORDINATOR, "the candidate leads" },
};

_Static_assert(sizeof(steps) / sizeof(steps[0]) == FAST_STEP_COUNT, "one row per step");

const fast_step_def *fast_switchover_step_def(fast_step step)
{
	if ((int)step < 0 || step >= FAST_STEP_COUNT)
		return NULL;
	return &steps[step];
}

int fast_switchover_step_parse(const char *name, fast_step *step)
{
	for (int i = 0; i < FAST_STEP_COUNT; i++)
		if (strcmp(steps[i].name, name) == 0) {
			*step = steps[i].step;
			return 0;
		}
	return -1;
}

bool fast_switchover_can_abort(fast_step recorded)
{
	/* the promotion is asked only once FAST_PROMOTE was recorded: before that, nobody was promoted */
	return recorded < FAST_PROMOTE;
}

static void decide(fast_recovery *out, fast_action action, fast_step from, const char *why)
{
	out->action = action;
	out->from = from;
	out->why = why;
}

void fast_switchover_recover(const fast_observed *obs, fast_recovery *out)
{
	fast_step rec = obs->recorded;

	if (obs->old_pg == FAST_PG_PRIMARY && obs->cand_pg == FAST_PG_PRIMARY) {
		decide(out, FAST_HALT, rec, "both the old primary and the candidate accept writes");
		return;
	}
	if (obs->cand_pg == FAST_PG_PRIMARY) {
		if (fast_switchover_can_abort(rec))
			decide(out, FAST_HALT, rec, "the candidate accepts writes, but its promotion was never asked: "
						    "something else promoted it");
		else
			decide(out, FAST_GO_ON, rec, "the candidate was promoted: the switchover goes on");
		return;
	}
	if (!fast_switchover_can_abort(rec)) {
		/* the promotion may have been asked: never undone; the old primary must not be started */
		if (obs->old_pg == FAST_PG_PRIMARY)
			decide(out, FAST_HALT, rec, "the old primary accepts writes again after the promotion was asked");
		else if (rec == FAST_PROMOTE && obs->cand_pg == FAST_PG_STANDBY)
			decide(out, FAST_GO_ON, FAST_PROMOTE, "the candidate is not promoted yet: asked again");
		else if (rec == FAST_PROMOTE)
			decide(out, FAST_HALT, rec, "the candidate does not run after its promotion was asked; "
						    "maintenance mode left on");
		else
			decide(out, FAST_HALT, rec, "the candidate no longer accepts writes after its promotion");
		return;
	}
	if (rec < FAST_STOP_OLD) {
		decide(out, FAST_ABORT, rec, "the old primary was not asked to stop: nothing changed");
		return;
	}
	if (obs->old_pg != FAST_PG_DOWN) {
		decide(out, FAST_ABORT, rec, "the old primary was not seen stopped: its stop is withdrawn");
		return;
	}
	if (obs->old_shutdown != FAST_SHUTDOWN_CLEAN) {
		decide(out, FAST_ABORT, rec, obs->old_shutdown == FAST_SHUTDOWN_CRASHED
						     ? "the old primary crashed instead of stopping: Patroni takes it from here"
						     : "how the old primary stopped is not known: Patroni takes it from here");
		return;
	}
	if (obs->cand_pg != FAST_PG_STANDBY || !obs->cand_has_old_end) {
		decide(out, FAST_ABORT, rec, obs->cand_pg != FAST_PG_STANDBY
						     ? "the candidate does not run as a standby: Patroni takes it from here"
						     : "the candidate lacks the old primary's shutdown checkpoint: Patroni "
						       "takes it from here");
		return;
	}
	decide(out, FAST_GO_ON, rec > FAST_CHECK_CANDIDATE ? rec : FAST_CHECK_CANDIDATE,
	       "the old primary stopped cleanly and the candidate has its last record: the switchover goes on");
}

int fast_switchover_lsn_parse(const char *text, uint64_t *lsn, pgr_err *err)
{
	unsigned long long hi, lo;
	const char *p = text, *slash;
	char *end;

	slash = strchr(text, '/');
	if (slash == NULL || slash == text || slash - text > 8 || strlen(slash + 1) == 0 || strlen(slash + 1) > 8)
		return pgr_err_set(err, "not an LSN: '%.40s'", text);
	for (const char *c = p; *c != '\0'; c++)
		if (c != slash && !isxdigit((unsigned char)*c))
			return pgr_err_set(err, "not an LSN: '%.40s'", text);
	errno = 0;
	hi = strtoull(text, &end, 16);
	if (errno != 0 || end != slash)
		return pgr_err_set(err, "not an LSN: '%.40s'", text);
	lo = strtoull(slash + 1, &end, 16);
	if (errno != 0 || *end != '\0')
		return pgr_err_set(err, "not an LSN: '%.40s'", text);
	*lsn = ((uint64_t)hi << 32) | (uint64_t)lo;
	return 0;
}

bool fast_switchover_has_checkpoint(uint64_t checkpoint_lsn, uint64_t replay_lsn)
{
	return replay_lsn > checkpoint_lsn;
}

/* The value after "label:" on a line of its own (leading blanks skipped, trailing ones cut); NULL: none. */
static const char *field(const char *text, const char *label, char *buf, size_t len)
{
	size_t n = strlen(label);

	for (const char *line = text; line != NULL && *line != '\0';) {
		const char *eol = strchr(line, '\n');
		size_t linelen = eol != NULL ? (size_t)(eol - line) : strlen(line);

		if (linelen > n && strncmp(line, label, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1, *e = line + linelen;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
				e--;
			snprintf(buf, len, "%.*s", (int)(e - v), v);
			return buf;
		}
		line = eol != NULL ? eol + 1 : NULL;
	}
	return NULL;
}

int fast_switchover_controldata_parse(const char *text, fast_controldata *out, pgr_err *err)
{
	char v[64];
	char *end;
	unsigned long tli;

	memset(out, 0, sizeof(*out));
	if (field(text, "Database cluster state", v, sizeof(v)) == NULL || v[0] == '\0')
		return pgr_err_set(err, "pg_controldata: no 'Database cluster state' line");
	snprintf(out->state, sizeof(out->state), "%s", v);
	if (field(text, "Latest checkpoint location", v, sizeof(v)) == NULL)
		return pgr_err_set(err, "pg_controldata: no 'Latest checkpoint location' line");
	if (fast_switchover_lsn_parse(v, &out->checkpoint_lsn, err) != 0)
		return pgr_err_prefix(err, "pg_controldata: Latest checkpoint location");
	if (field(text, "Latest checkpoint's TimeLineID", v, sizeof(v)) == NULL)
		return pgr_err_set(err, "pg_controldata: no 'Latest checkpoint's TimeLineID' line");
	errno = 0;
	tli = strtoul(v, &end, 10);
	if (!isdigit((unsigned char)v[0]) || errno != 0 || *end != '\0' || tli == 0 || tli > UINT32_MAX)
		return pgr_err_set(err, "pg_controldata: Latest checkpoint's TimeLineID is not a timeline: '%.20s'", v);
	out->timeline = (uint32_t)tli;
	return 0;
}

fast_shutdown fast_switchover_shutdown_of(const char *state)
{
	if (strcmp(state, "shut down") == 0)
		return FAST_SHUTDOWN_CLEAN;
	/* a postmaster that is not running but says so died in the middle: crash recovery is due */
	if (strcmp(state, "in production") == 0 || strcmp(state, "shutting down") == 0 ||
	    strcmp(state, "in crash recovery") == 0)
		return FAST_SHUTDOWN_CRASHED;
	/* "shut down in recovery", "in archive recovery": it was not the primary */
	return FAST_SHUTDOWN_UNKNOWN;
}
