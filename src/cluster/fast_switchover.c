#include "cluster/fast_switchover.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/conf_security.h"
#include "cluster/switchover.h"
#include "patroni/patroni.h"
#include "pg/pgsql.h"
#include "state/pg_intent.h"
#include "state/presence.h"
#include "util/log.h"
#include "util/proc.h"

/* The table: docs/fast-switchover.md, "The steps". In step order (checked by the unit tests). */
static const fast_step_def steps[] = {
	{ FAST_CHECKPOINT, "checkpoint", FAST_BY_COORDINATOR,
	  "CHECKPOINT taken on the old primary before the pause: its shutdown checkpoint writes little" },
	{ FAST_MAINTENANCE_ON, "maintenance-on", FAST_BY_COORDINATOR,
	  "Patroni in maintenance mode, seen by every member, before the pause: it promotes and demotes nobody" },
	{ FAST_PAUSE_POOLER, "pause-pooler", FAST_BY_COORDINATOR,
	  "every PgBouncer paused (bounded, undone on timeout, and maintenance mode with it): no client sends anything" },
	{ FAST_STOP_OLD, "stop-old", FAST_BY_OLD_AGENT,
	  "the old primary stopped (fast): its shutdown checkpoint written and sent; pg_controldata reported" },
	{ FAST_CHECK_CANDIDATE, "check-candidate", FAST_BY_COORDINATOR,
	  "the candidate replayed past the old primary's shutdown checkpoint: it has every record the old one wrote" },
	{ FAST_SYNC_OVERRIDE, "sync-override", FAST_BY_CANDIDATE_AGENT,
	  "synchronous_standby_names '*' on the candidate: once promoted it answers no commit without a standby" },
	{ FAST_PROMOTE, "promote", FAST_BY_CANDIDATE_AGENT, "the candidate promoted: the one unit accepting writes" },
	{ FAST_SYNC_STANDBY, "sync-standby", FAST_BY_COORDINATOR,
	  "a standby streams in sync from the candidate (the override's) before any client is let through" },
	{ FAST_REPOINT_RESUME, "repoint-resume", FAST_BY_COORDINATOR,
	  "every PgBouncer leads to the candidate and is resumed (Patroni still in maintenance mode)" },
	{ FAST_MAINTENANCE_OFF, "maintenance-off", FAST_BY_COORDINATOR,
	  "the candidate holds the leader key, then maintenance mode ended: the old primary rejoins as its replica; "
	  "the override reset once Patroni names the sync standby" },
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
		else if (rec >= FAST_SYNC_STANDBY && rec <= FAST_MAINTENANCE_OFF && obs->old_pg == FAST_PG_DOWN &&
			 obs->cand_pg == FAST_PG_DOWN)
			/* promoted with a sync standby, then crashed: the wait for the key starts it again, as the primary
			 * it was, maintenance mode kept on (fast_switchover_key_judge) */
			decide(out, FAST_GO_ON, FAST_MAINTENANCE_OFF, "the candidate crashed after its promotion: "
								      "started again, the wait for the leader key goes on");
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
	if (obs->cand_agent_gone) {
		/* the coordinator that died was often the candidate's own agent: the promotion would wait on nobody */
		decide(out, FAST_ABORT, rec, "the candidate's agent is gone (nobody would promote it): Patroni takes it "
					     "from here");
		return;
	}
	decide(out, FAST_GO_ON, rec > FAST_CHECK_CANDIDATE ? rec : FAST_CHECK_CANDIDATE,
	       "the old primary stopped cleanly and the candidate has its last record: the switchover goes on");
}

fast_key_verdict fast_switchover_key_judge(const fast_key_seen *seen, const char **why)
{
	if (seen->holder == FAST_KEY_CANDIDATE && seen->cand_down_seen == 0) {
		*why = "the candidate holds the leader key";
		return FAST_KEY_TAKEN;
	}
	/* the key, but its PostgreSQL down (crashed after Patroni's loop took it): maintenance mode stays on */
	if (seen->old_pg == FAST_PG_PRIMARY) {
		*why = "the old primary accepts writes again";
		return FAST_KEY_HALT;
	}
	if (seen->holder == FAST_KEY_OTHER) {
		*why = "another member holds the leader key";
		return FAST_KEY_HALT;
	}
	if (seen->timed_out) {
		*why = seen->started ? "the candidate, started again after its crash, did not take the leader key in time"
				     : "the candidate did not take the leader key in time";
		return FAST_KEY_HALT;
	}
	if (!seen->started && seen->cand_down_seen >= 2 && seen->old_pg == FAST_PG_DOWN) {
		*why = "the candidate crashed after its promotion, the old primary is stopped";
		return FAST_KEY_START;
	}
	*why = seen->holder == FAST_KEY_CANDIDATE ? "the candidate holds the leader key, its PostgreSQL is down" : "waiting";
	return FAST_KEY_WAIT;
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

/* ---- the coordinator's side: the steps taken on real processes ---- */

#define MAINTENANCE_BOUND_MS 5000 /* every member reports the pause */
#define STOP_BOUND_MS 70000       /* the old primary's agent stops it (pg_ctl stop -t 60) and answers */
#define CHECK_BOUND_MS 5000       /* the candidate replays the shutdown checkpoint */
#define AGENT_BOUND_MS 10000      /* an agent answers an override */
#define PROMOTE_BOUND_MS 40000    /* the candidate's agent promotes it (pg_promote waits 30 s) */
#define KEY_BOUND_MS 30000        /* the candidate takes the leader key (the old one drops it within loop_wait) */
#define AGENT_START_BOUND_MS 40000 /* the candidate's agent has its Patroni start it again (its POST /restart: 30 s) */
#define SYNC_BOUND_MS 15000       /* a standby in sync on the candidate */
#define FINISH_BOUND_MS 15000     /* Patroni names the sync standby, after the resume */
#define POLL_MS 10
#define PAUSE_SETTLE_MS 200        /* the members' woken loops reload the configuration maintenance mode changed */

typedef struct fast_run {
	const cluster_conf *conf;
	const etcd_client *etcd;
	char prefix[128];
	const conf_unit *old, *cand;
	fast_progress progress;
	char cand_conninfo[1024];
	patroni_client pc;
	char cand_url[200], old_url[200];
	bool lost; /* a write of the progress found the owner key not ours: this process takes no further step */
} fast_run;

/* Records the step about to be taken, conditioned on r->progress.lease holding the owner key. */
static int record(fast_run *r, fast_step step, pgr_err *err)
{
	bool written = false;

	snprintf(r->progress.step, sizeof(r->progress.step), "%s", steps[step].name);
	log_info("fast switchover %s -> %s: %s", r->old->name, r->cand->name, steps[step].name);
	if (fast_progress_put(r->etcd, r->prefix, &r->progress, &written, err) != 0)
		return pgr_err_prefix(err, "cannot record the fast switchover's step %s", steps[step].name);
	if (!written) {
		r->lost = true;
		return pgr_err_set(err, "the fast switchover's step %s was not recorded: lease %" PRId64 " no longer holds "
					"%s%s (its owner lost its lease, or another process took over); no further step taken",
				   steps[step].name, r->progress.lease, r->prefix, FAST_OWNER_LEAF);
	}
	return 0;
}

/* The claim given up (op FAST_PROGRESS_RELEASE: the progress kept for the next coordinator; _REMOVE: ended). */
static void end_claim(fast_run *r, fast_progress_op op)
{
	bool done = false;
	pgr_err err;

	if (fast_progress_end(r->etcd, r->prefix, r->progress.lease, op, &done, &err) != 0)
		log_warn("fast switchover %s -> %s: %s", r->progress.from, r->progress.to, err.msg);
}

/* Asks member's agent for action (its intent written; the token: the progress's and the action's). */
static int ask(fast_run *r, const conf_unit *unit, pg_action action, const char *standby, pgr_err *err)
{
	char token[64], by[128];

	snprintf(token, sizeof(token), "%.40s:%s", r->progress.token, pg_action_name(action));
	snprintf(by, sizeof(by), "fast switchover %s -> %s", r->old->member, r->cand->member);
	return pg_intent_ask(r->etcd, r->prefix, unit->member, action, standby, token, by, err);
}

/*
 * Waits (bounded) for member's agent's answer to the ask of action; -1: failed or not answered. An agent that is
 * gone (its presence key expired with its lease: switchover_cascade_judge's rule) is not waited for, but for the
 * promotion (after it a halt: the agent's return is waited for, to the bound): nobody would answer before it is
 * started again, while clients wait. Its intent stays: a stop is withdrawn by the abort before the agent is back.
 */
static int await_answer(fast_run *r, const conf_unit *unit, pg_action action, long long bound_ms, pg_answer *answer,
			pgr_err *err)
{
	char token[64], key[256];
	long long started = proc_now_ms(), deadline = started + bound_ms, next_presence = 0;
	bool give_up_when_gone = action != PG_ACTION_PROMOTE; /* after it, a halt: the agent's return waited for */

	snprintf(token, sizeof(token), "%.40s:%s", r->progress.token, pg_action_name(action));
	presence_key(r->prefix, unit->member, key, sizeof(key));
	for (;;) {
		bool found = false, presence_read = false, alive = true;
		pgr_err rerr;

		if (pg_answer_read(r->etcd, r->prefix, unit->member, answer, &found, &rerr) == 0 && found &&
		    strcmp(answer->token, token) == 0) {
			if (answer->ok)
				return 0;
			return pgr_err_set(err, "%s's agent could not %s: %s", unit->name, pg_action_name(action),
					   answer->error);
		}
		if (give_up_when_gone && proc_now_ms() >= next_presence) {
			presence_read = presence_alive(r->etcd, r->prefix, unit->member, &alive, &rerr) == 0;
			next_presence = proc_now_ms() + 100;
		}
		switch (switchover_cascade_judge(false, presence_read, alive, proc_now_ms(), deadline)) {
		case CASCADE_AGENT_DOWN:
			return pgr_err_set(err, "%s's agent is down (its presence key %s is gone, its lease expired): it cannot "
						"%s; not waited for (after %lld ms)",
					   unit->name, key, pg_action_name(action), proc_now_ms() - started);
		case CASCADE_TIMED_OUT:
			return pgr_err_set(err, "%s's agent did not answer %s within %lld s (is it running?)", unit->name,
					   pg_action_name(action), bound_ms / 1000);
		case CASCADE_APPLIED:
		case CASCADE_WAIT:
			break;
		}
		proc_sleep_ms(POLL_MS);
	}
}

/* Asks member's agent for action, waits (bounded) for its answer to this ask; -1: failed or not answered. */
static int ask_agent(fast_run *r, const conf_unit *unit, pg_action action, const char *standby, long long bound_ms,
		     pg_answer *answer, pgr_err *err)
{
	if (ask(r, unit, action, standby, err) != 0)
		return -1;
	return await_answer(r, unit, action, bound_ms, answer, err);
}

/* Sends a member's Patroni a PATCH /config with body: one that changes nothing (the pause as it is) only wakes its
 * loop, which otherwise comes at loop_wait. Best effort. */
static void wake_member(fast_run *r, const conf_unit *u, const char *body)
{
	char url[200];
	patroni_client pc;
	pgr_err ignored;

	conf_unit_patroni(r->conf, u, &pc, url, sizeof(url));
	(void)!patroni_patch_config(&pc, url, body, 1000, &ignored);
}

/* Whether every member of the cluster says it is paused (the candidate's /cluster, then each /patroni). wake: a
 * member that does not say so yet is sent the pause again, which wakes its loop (its next loop_wait otherwise). */
static bool all_paused(fast_run *r, bool wake)
{
	patroni_cluster *cluster = calloc(1, sizeof(*cluster));
	patroni_node *node = calloc(1, sizeof(*node));
	bool paused = cluster != NULL && node != NULL;
	pgr_err err;

	if (paused && (patroni_get_cluster(&r->pc, r->cand_url, 1000, cluster, &err) != 0 || !cluster->paused))
		paused = false;
	for (int i = 0; paused && i < r->conf->unit_count; i++) {
		char url[200];
		patroni_client pc;

		conf_unit_patroni(r->conf, &r->conf->units[i], &pc, url, sizeof(url));
		if (patroni_get_node(&pc, url, 1000, node, &err) != 0 || !node->paused) {
			paused = false;
			if (wake)
				wake_member(r, &r->conf->units[i], "{\"pause\": true}");
		}
	}
	free(cluster);
	free(node);
	return paused;
}

static int maintenance(fast_run *r, bool on, pgr_err *err)
{
	return patroni_patch_config(&r->pc, r->cand_url, on ? "{\"pause\": true}" : "{\"pause\": null}", 5000, err);
}

/*
 * What the candidate's Patroni says before anything is done (one GET /patroni): a member tagged nofailover is
 * never promoted by Patroni, nor by this path; maintenance mode someone else put Patroni in is theirs, and this
 * path would end it.
 */
static int refuse_candidate(fast_run *r, pgr_err *err)
{
	patroni_node *node = calloc(1, sizeof(*node));
	int rc = node == NULL ? pgr_err_set(err, "out of memory") : patroni_get_node(&r->pc, r->cand_url, 2000, node, err);

	if (rc != 0)
		pgr_err_prefix(err, "cannot read %s's Patroni; nothing changed", r->cand->name);
	else if (node->tags_nofailover)
		rc = pgr_err_set(err, "%s is tagged nofailover in Patroni: it may not become the primary; nothing changed",
				 r->cand->name);
	else if (node->paused)
		rc = pgr_err_set(err, "Patroni is in maintenance mode already (paused by someone else; the fast switchover "
				      "would end it): `patronictl resume` first, or `pgrefresh config set switchover=patroni`; "
				      "nothing changed");
	free(node);
	return rc;
}

/* The other standby that streams from the candidate (the cascade): the override names it. */
static int pick_standby(fast_run *r, char *buf, size_t len, pgr_err *err)
{
	for (int i = 0; i < r->conf->unit_count; i++) {
		const conf_unit *u = &r->conf->units[i];
		char sql[256], out[16];
		pgr_err qerr;

		if (u == r->old || u == r->cand)
			continue;
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM pg_stat_replication WHERE application_name = '%s' AND state = 'streaming'",
			 u->member);
		if (pg_query_text_timeout(r->cand_conninfo, sql, 2000, out, sizeof(out), &qerr) == 0 && strcmp(out, "1") == 0) {
			snprintf(buf, len, "%s", u->member);
			return 0;
		}
	}
	return pgr_err_set(err, "no other standby streams from %s: the fast switchover needs one to be its synchronous "
				"standby at once (switchover=patroni does without)",
			   r->cand->name);
}

/* Before the promotion was asked: the stop withdrawn, the override reset, maintenance mode ended. */
static void abort_run(fast_run *r, fast_outcome *out)
{
	pg_answer answer;
	pgr_err err;

	if (r->lost) {
		/* another process holds the switchover now (or nobody, until the next coordinator): it decides */
		*out = FAST_OUT_HALTED;
		log_warn("fast switchover %s -> %s: not undone by this process, which no longer owns it", r->progress.from,
			 r->progress.to);
		return;
	}
	*out = FAST_OUT_ABORTED;
	if (ask_agent(r, r->old, PG_ACTION_NONE, "", AGENT_BOUND_MS, &answer, &err) != 0)
		log_warn("fast switchover abort: %s", err.msg);
	if (ask_agent(r, r->cand, PG_ACTION_SYNC_RESET, "", AGENT_BOUND_MS, &answer, &err) != 0)
		log_warn("fast switchover abort: %s", err.msg);
	if (maintenance(r, false, &err) != 0)
		log_error("fast switchover abort: could not end Patroni's maintenance mode (%s): run `patronictl resume`",
			  err.msg);
	end_claim(r, FAST_PROGRESS_REMOVE);
}

static int wait_replayed(fast_run *r, uint64_t checkpoint, pgr_err *err)
{
	long long deadline = proc_now_ms() + CHECK_BOUND_MS;
	char out[32] = "";

	for (;;) {
		uint64_t replay = 0;
		pgr_err qerr;

		if (pg_query_text_timeout(r->cand_conninfo, "SELECT pg_last_wal_replay_lsn()", 2000, out, sizeof(out),
					  &qerr) == 0 &&
		    fast_switchover_lsn_parse(out, &replay, &qerr) == 0 && fast_switchover_has_checkpoint(checkpoint, replay))
			return 0;
		if (proc_now_ms() > deadline)
			return pgr_err_set(err, "%s did not replay %s's shutdown checkpoint at %s within %d s (replayed: %s)",
					   r->cand->name, r->old->name, r->progress.checkpoint_lsn, CHECK_BOUND_MS / 1000,
					   out[0] ? out : "unknown");
		proc_sleep_ms(POLL_MS);
	}
}

/* Who holds the leader key, as the candidate's Patroni sees it (FAST_KEY_UNREAD: /cluster not read). */
static fast_key_holder key_holder(fast_run *r, char *name, size_t len)
{
	patroni_cluster *cluster = calloc(1, sizeof(*cluster));
	fast_key_holder holder = FAST_KEY_UNREAD;
	pgr_err err;

	name[0] = '\0';
	if (cluster != NULL && patroni_get_cluster(&r->pc, r->cand_url, 1000, cluster, &err) == 0) {
		const patroni_member *lead = patroni_cluster_leader(cluster);

		holder = FAST_KEY_NOBODY;
		if (lead != NULL) {
			snprintf(name, len, "%s", lead->name);
			holder = strcmp(lead->name, r->cand->member) == 0		      ? FAST_KEY_CANDIDATE
				 : r->old != NULL && strcmp(lead->name, r->old->member) == 0 ? FAST_KEY_OLD
											      : FAST_KEY_OTHER;
		}
	}
	free(cluster);
	return holder;
}

static fast_pg observe_pg(const cluster_conf *conf, const conf_unit *u);

/*
 * The candidate, promoted, takes the free leader key (P2, P3: the loops woken), then maintenance mode ends. If
 * the candidate crashes meanwhile (its postmaster killed: paused, Patroni neither restarts it nor gives anyone
 * the key), its agent asks its Patroni to start it again, as the primary it was, maintenance mode kept on, and the
 * wait goes on (docs/fast-switchover.md, "The new primary crashes before maintenance mode ends";
 * fast_switchover_key_judge).
 */
static int take_key(fast_run *r, pgr_err *err)
{
	long long deadline = proc_now_ms() + KEY_BOUND_MS;
	fast_key_seen seen = { .holder = FAST_KEY_UNREAD };
	fast_key_verdict v = FAST_KEY_WAIT;
	const char *why = "";
	char lead[64] = "";
	bool start_failed = false;

	for (int round = 0;; round++) {
		seen.holder = key_holder(r, lead, sizeof(lead));
		seen.timed_out = proc_now_ms() > deadline;
		if (seen.holder == FAST_KEY_CANDIDATE || round % 10 == 0) {
			/* every 100 ms, and once it holds the key: does the candidate still run (refused: its postmaster is
			 * gone)? Maintenance mode ends only while it does */
			fast_pg cand = observe_pg(r->conf, r->cand);

			seen.cand_down_seen = cand == FAST_PG_DOWN ? seen.cand_down_seen + 1 : 0;
			if (round % 10 == 0)
				seen.old_pg = r->old != NULL && r->old != r->cand ? observe_pg(r->conf, r->old) : FAST_PG_UNKNOWN;
		}
		v = fast_switchover_key_judge(&seen, &why);
		if (v == FAST_KEY_TAKEN || v == FAST_KEY_HALT)
			break;
		if (v == FAST_KEY_START) {
			pg_answer answer;

			log_warn("fast switchover %s -> %s: %s's PostgreSQL is down after its promotion (crashed); Patroni, in "
				 "maintenance mode, neither restarts it nor gives anyone the leader key: its agent asks its Patroni "
				 "to start it again, as the primary it was (maintenance mode kept: nobody else is promoted)",
				 r->old != NULL ? r->old->name : "?", r->cand->name, r->cand->name);
			seen.started = true;
			if (ask_agent(r, r->cand, PG_ACTION_START, "", AGENT_START_BOUND_MS, &answer, err) != 0) {
				start_failed = true;
				v = FAST_KEY_HALT;
				break;
			}
			deadline = proc_now_ms() + KEY_BOUND_MS;
			log_info("fast switchover: %s started again; waiting for it to take the leader key", r->cand->name);
		}
		if (round % 20 == 0) {
			/* the candidate's loop, woken (a PATCH /config), takes the key once it is free; the old member's,
			 * woken, drops it (P2: paused, its PostgreSQL stopped). The pause asked again changes nothing in
			 * the configuration (a change would make the old member reload against its stopped PostgreSQL,
			 * for seconds): it only wakes the loop, which otherwise comes at loop_wait */
			wake_member(r, r->cand, "{\"pause\": true}");
			if (r->old != NULL && strcmp(r->old->member, r->cand->member) != 0)
				wake_member(r, r->old, "{\"pause\": true}");
		}
		proc_sleep_ms(POLL_MS);
	}
	if (v == FAST_KEY_HALT) {
		if (start_failed)
			return pgr_err_prefix(err, "Patroni left in maintenance mode: %s crashed after its promotion and was not "
						   "started again; once it runs as primary: `patronictl resume`, then `pgrefresh "
						   "resume-refresh`",
					      r->cand->name);
		return pgr_err_set(err, "Patroni left in maintenance mode: %s (leader key: %s); once a unit runs as primary: "
					"`patronictl resume`, then `pgrefresh resume-refresh`",
				   why, lead[0] ? lead : "nobody");
	}
	if (seen.started)
		log_info("fast switchover: %s took the leader key after its crash and start", r->cand->name);
	if (maintenance(r, false, err) != 0)
		return pgr_err_prefix(err, "%s leads, but Patroni's maintenance mode could not be ended", r->cand->name);
	/* the other members' loops see the pause gone at once: the old primary starts as a replica (P4) */
	for (int i = 0; i < r->conf->unit_count; i++)
		if (strcmp(r->conf->units[i].member, r->cand->member) != 0)
			wake_member(r, &r->conf->units[i], "{\"pause\": null}");
	return 0;
}

/* The run of a switchover prepared by owner_lease (its progress read back): -1 when it is not there or not its. */
static int run_of(fast_run *r, const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
		  const conf_unit *old, const conf_unit *cand, pgr_err *err)
{
	cluster_secrets secrets;
	bool found = false;

	memset(r, 0, sizeof(*r));
	r->conf = conf;
	r->etcd = etcd;
	r->old = old;
	r->cand = cand;
	if (etcd == NULL || owner_lease == 0)
		return pgr_err_set(err, "the fast switchover needs etcd and a lease (its steps are recorded there)");
	conf_etcd_prefix(conf, r->prefix, sizeof(r->prefix));
	if (secrets_load(conf->dir, &secrets, err) != 0)
		return -1;
	pg_conninfo(r->cand_conninfo, sizeof(r->cand_conninfo), cand->host, cand->pg_port, conf->superuser,
		    secrets.superuser_password, "postgres", 2);
	conf_unit_patroni(conf, cand, &r->pc, r->cand_url, sizeof(r->cand_url));
	conf_unit_api_url(conf, old, r->old_url, sizeof(r->old_url));
	if (fast_progress_read(etcd, r->prefix, &r->progress, &found, err) != 0)
		return -1;
	if (!found || r->progress.lease != owner_lease || strcmp(r->progress.from, old->member) != 0 ||
	    strcmp(r->progress.to, cand->member) != 0)
		return pgr_err_set(err, "the fast switchover %s -> %s was not prepared by this process (lease %" PRId64 ")",
				   old->name, cand->name, owner_lease);
	return 0;
}

int fast_switchover_prepare(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
			    const conf_unit *old, const conf_unit *cand, pgr_err *err)
{
	fast_run r = { .conf = conf, .etcd = etcd, .old = old, .cand = cand };
	cluster_secrets secrets;
	fast_outcome out;
	long long deadline;
	bool mine = false;
	int64_t holder = 0;

	if (etcd == NULL || owner_lease == 0)
		return pgr_err_set(err, "the fast switchover needs etcd and a lease (its steps are recorded there)");
	conf_etcd_prefix(conf, r.prefix, sizeof(r.prefix));
	if (secrets_load(conf->dir, &secrets, err) != 0)
		return -1;
	pg_conninfo(r.cand_conninfo, sizeof(r.cand_conninfo), cand->host, cand->pg_port, conf->superuser,
		    secrets.superuser_password, "postgres", 2);
	conf_unit_patroni(conf, cand, &r.pc, r.cand_url, sizeof(r.cand_url));
	conf_unit_api_url(conf, old, r.old_url, sizeof(r.old_url));
	r.progress.lease = owner_lease;
	snprintf(r.progress.from, sizeof(r.progress.from), "%s", old->member);
	snprintf(r.progress.to, sizeof(r.progress.to), "%s", cand->member);
	snprintf(r.progress.token, sizeof(r.progress.token), "fast:%" PRId64 ":%lld", owner_lease, proc_now_ms());
	if (refuse_candidate(&r, err) != 0)
		return -1; /* nothing done yet */
	if (pick_standby(&r, r.progress.standby, sizeof(r.progress.standby), err) != 0)
		return FAST_PREPARE_NOT_HERE; /* nothing done yet */
	/* the owner key: every record of a step from here on is conditioned on owner_lease holding it */
	if (fast_progress_claim(etcd, r.prefix, owner_lease, &mine, &holder, err) != 0)
		return -1;
	if (!mine)
		return pgr_err_set(err, "another process (lease %" PRId64 ") is taking a fast switchover's steps; nothing "
					"changed",
				   holder);

	/*
	 * maintenance mode, clients still running: Patroni promotes, demotes and restarts nobody from here (P1, P2);
	 * ended again if PgBouncer's PAUSE does not follow
	 */
	if (record(&r, FAST_MAINTENANCE_ON, err) != 0) {
		if (!r.lost)
			end_claim(&r, FAST_PROGRESS_REMOVE); /* nothing done */
		return -1;
	}
	if (maintenance(&r, true, err) != 0) {
		abort_run(&r, &out);
		pgr_err_prefix(err, "could not put Patroni in maintenance mode; nothing changed");
		return r.lost ? -1 : FAST_PREPARE_NOT_HERE;
	}
	deadline = proc_now_ms() + MAINTENANCE_BOUND_MS;
	for (int round = 0; !all_paused(&r, round % 10 == 0); round++) {
		if (proc_now_ms() > deadline) {
			abort_run(&r, &out);
			pgr_err_set(err, "not every Patroni member reported maintenance mode within %d s; nothing changed",
				    MAINTENANCE_BOUND_MS / 1000);
			return r.lost ? -1 : FAST_PREPARE_NOT_HERE;
		}
		proc_sleep_ms(POLL_MS);
	}
	/*
	 * A member says paused as soon as its REST API has read the configuration (the wake does that); its loop,
	 * woken, reloads the changed configuration just after: let it, while PostgreSQL still runs everywhere. A
	 * reload that finds the old primary stopped retries for a second before that member drops the leader key,
	 * and one that finds the candidate's override in place rewrites postgresql.conf and sleeps a second.
	 */
	proc_sleep_ms(PAUSE_SETTLE_MS);
	/*
	 * the candidate's override asked now, answered while the CHECKPOINT and the PAUSE go on (awaited at
	 * sync-override): on a standby synchronous_standby_names does nothing, and every abort from here resets it
	 */
	if (ask(&r, cand, PG_ACTION_SYNC_OVERRIDE, r.progress.standby, err) != 0) {
		abort_run(&r, &out);
		return -1;
	}
	return 0;
}

void fast_switchover_unprepare(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
			       const conf_unit *old, const conf_unit *cand)
{
	fast_run r;
	fast_outcome out;
	pgr_err err;

	if (run_of(&r, conf, etcd, owner_lease, old, cand, &err) != 0) {
		log_warn("fast switchover %s -> %s not undone: %s", old->name, cand->name, err.msg);
		return;
	}
	abort_run(&r, &out);
}

int fast_switchover_paused(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
			   const conf_unit *old, const conf_unit *cand, long long *promote_ms, fast_outcome *out,
			   pgr_err *err)
{
	fast_run r;
	pg_answer answer;
	long long t_stop, deadline;
	uint64_t checkpoint = 0;

	*out = FAST_OUT_ABORTED;
	*promote_ms = 0;
	if (run_of(&r, conf, etcd, owner_lease, old, cand, err) != 0)
		return -1; /* not prepared: nothing of it to undo */

	/* the old primary stopped by its own agent: its shutdown checkpoint is its last record */
	if (record(&r, FAST_STOP_OLD, err) != 0) {
		abort_run(&r, out);
		return -1;
	}
	t_stop = proc_now_ms();
	if (ask_agent(&r, old, PG_ACTION_STOP, "", STOP_BOUND_MS, &answer, err) != 0) {
		abort_run(&r, out);
		return pgr_err_prefix(err, "the old primary was not stopped; Patroni takes it from here");
	}
	if (fast_switchover_shutdown_of(answer.state) != FAST_SHUTDOWN_CLEAN ||
	    fast_switchover_lsn_parse(answer.checkpoint_lsn, &checkpoint, err) != 0) {
		pgr_err_set(err, "%s stopped as '%s', not cleanly: its last records may be missing on %s", old->name,
			    answer.state, cand->name);
		abort_run(&r, out);
		return -1;
	}
	snprintf(r.progress.checkpoint_lsn, sizeof(r.progress.checkpoint_lsn), "%s", answer.checkpoint_lsn);
	r.progress.timeline = answer.timeline;

	/* the candidate has every record the old primary wrote (P6: not left to Patroni 3.0.2) */
	if (record(&r, FAST_CHECK_CANDIDATE, err) != 0 || wait_replayed(&r, checkpoint, err) != 0) {
		abort_run(&r, out);
		return -1;
	}

	/* no commit answered on the candidate without its standby, from its promotion on (asked at maintenance-on) */
	if (record(&r, FAST_SYNC_OVERRIDE, err) != 0 ||
	    await_answer(&r, cand, PG_ACTION_SYNC_OVERRIDE, AGENT_BOUND_MS, &answer, err) != 0) {
		abort_run(&r, out);
		return -1;
	}

	/* the promotion: from here on never undone */
	if (record(&r, FAST_PROMOTE, err) != 0) {
		abort_run(&r, out);
		return -1;
	}
	if (ask_agent(&r, cand, PG_ACTION_PROMOTE, "", PROMOTE_BOUND_MS, &answer, err) != 0) {
		*out = FAST_OUT_HALTED;
		end_claim(&r, FAST_PROGRESS_RELEASE);
		return pgr_err_prefix(err, "the promotion of %s is not confirmed; Patroni left in maintenance mode",
				      cand->name);
	}
	*promote_ms = proc_now_ms() - t_stop;

	*out = FAST_OUT_HALTED;
	/* a standby in sync before any client is let through */
	if (record(&r, FAST_SYNC_STANDBY, err) != 0) {
		end_claim(&r, FAST_PROGRESS_RELEASE);
		return -1;
	}
	deadline = proc_now_ms() + SYNC_BOUND_MS;
	for (;;) {
		char o[16];
		pgr_err qerr;

		if (pg_query_text_timeout(r.cand_conninfo,
					  "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync' AND "
					  "state = 'streaming'",
					  2000, o, sizeof(o), &qerr) == 0 &&
		    strcmp(o, "0") != 0)
			break;
		if (proc_now_ms() > deadline) {
			end_claim(&r, FAST_PROGRESS_RELEASE);
			return pgr_err_set(err, "%s leads but has no synchronous standby after %d s: PgBouncer is not resumed "
						"towards it",
					   cand->name, SYNC_BOUND_MS / 1000);
		}
		proc_sleep_ms(POLL_MS);
	}
	if (record(&r, FAST_REPOINT_RESUME, err) != 0) {
		end_claim(&r, FAST_PROGRESS_RELEASE);
		return -1;
	}
	*out = FAST_OUT_PROMOTED;
	return 0;
}

int fast_switchover_finish(const cluster_conf *conf, const etcd_client *etcd, const conf_unit *cand,
			   int64_t owner_lease, pgr_err *err)
{
	fast_run r = { .conf = conf, .etcd = etcd, .cand = cand };
	pg_answer answer;
	bool found = false;
	long long deadline;
	pgr_err werr;

	conf_etcd_prefix(conf, r.prefix, sizeof(r.prefix));
	if (fast_progress_read(etcd, r.prefix, &r.progress, &found, err) != 0)
		return -1;
	if (!found)
		return 0;
	r.progress.lease = owner_lease; /* it holds the owner key: fast_switchover_paused's claim, or the recovery's */
	r.old = conf_find_member(conf, r.progress.from);
	if (r.old == NULL)
		r.old = cand;
	conf_unit_patroni(conf, cand, &r.pc, r.cand_url, sizeof(r.cand_url));
	/* the candidate takes the free leader key (P2, P3), then Patroni resumes: the old one rejoins (P4) */
	if (record(&r, FAST_MAINTENANCE_OFF, err) != 0 || take_key(&r, err) != 0) {
		end_claim(&r, FAST_PROGRESS_RELEASE);
		return -1;
	}
	/* Patroni names a sync standby only one that pg_stat_replication shows in sync: the override's, until reset */
	deadline = proc_now_ms() + FINISH_BOUND_MS;
	for (;;) {
		patroni_cluster *cluster = calloc(1, sizeof(*cluster));
		bool named = false;

		if (cluster != NULL && patroni_get_cluster(&r.pc, r.cand_url, 1000, cluster, &werr) == 0) {
			const patroni_member *sync = patroni_cluster_sync_standby(cluster);
			const patroni_member *lead = patroni_cluster_leader(cluster);

			named = sync != NULL && lead != NULL && strcmp(lead->name, cand->member) == 0;
		}
		free(cluster);
		if (named)
			break;
		if (proc_now_ms() > deadline) {
			log_warn("fast switchover: Patroni named no sync standby of %s within %d s; the override is reset all "
				 "the same",
				 cand->name, FINISH_BOUND_MS / 1000);
			break;
		}
		proc_sleep_ms(100);
	}
	if (record(&r, FAST_DONE, &werr) != 0) {
		log_warn("%s", werr.msg);
		if (r.lost)
			return 0; /* the candidate leads; whoever owns the switchover now resets the override */
	}
	if (ask_agent(&r, cand, PG_ACTION_SYNC_RESET, "", AGENT_BOUND_MS, &answer, &werr) != 0) {
		log_warn("fast switchover: %s; %s keeps synchronous_standby_names naming %s (ALTER SYSTEM RESET "
			 "synchronous_standby_names there)",
			 werr.msg, cand->name, r.progress.standby);
		end_claim(&r, FAST_PROGRESS_RELEASE);
	} else
		end_claim(&r, FAST_PROGRESS_REMOVE);
	return 0;
}

/* What a unit's PostgreSQL does now, asked straight (connection refused: down). */
static fast_pg observe_pg(const cluster_conf *conf, const conf_unit *u)
{
	cluster_secrets secrets;
	char conninfo[1024], out[16];
	pgr_err err;

	if (secrets_load(conf->dir, &secrets, &err) != 0)
		return FAST_PG_UNKNOWN;
	pg_conninfo(conninfo, sizeof(conninfo), u->host, u->pg_port, conf->superuser, secrets.superuser_password,
		    "postgres", 2);
	if (pg_query_text_timeout(conninfo, "SELECT pg_is_in_recovery()", 2000, out, sizeof(out), &err) != 0)
		return strstr(err.msg, "Connection refused") != NULL || strstr(err.msg, "No such file") != NULL
			       ? FAST_PG_DOWN
			       : FAST_PG_UNKNOWN;
	return strcmp(out, "f") == 0 ? FAST_PG_PRIMARY : FAST_PG_STANDBY;
}

#define RECOVER_LEASE_TTL_S 5 /* the recovering process's own lease on the owner key (kept alive by a thread) */

/* The recovery proper, the owner key held by r->progress.lease. */
static void recover_owned(fast_run *r)
{
	const cluster_conf *conf = r->conf;
	fast_observed obs = { 0 };
	fast_recovery dec;
	fast_outcome out;
	pg_answer answer;
	bool found = false;
	uint64_t checkpoint = 0;
	pgr_err err;

	if (fast_switchover_step_parse(r->progress.step, &obs.recorded) != 0) {
		log_error("fast switchover left by a process that is gone: its progress names step %s, which is not one; "
			  "left as it is",
			  r->progress.step);
		end_claim(r, FAST_PROGRESS_RELEASE);
		return;
	}
	obs.old_pg = observe_pg(conf, r->old);
	obs.cand_pg = observe_pg(conf, r->cand);
	if (pg_answer_read(r->etcd, r->prefix, r->old->member, &answer, &found, &err) == 0 && found && answer.ok &&
	    strncmp(answer.token, r->progress.token, strlen(r->progress.token)) == 0 && answer.state[0] != '\0') {
		obs.old_shutdown = fast_switchover_shutdown_of(answer.state);
		if (fast_switchover_lsn_parse(answer.checkpoint_lsn, &checkpoint, &err) == 0) {
			snprintf(r->progress.checkpoint_lsn, sizeof(r->progress.checkpoint_lsn), "%s", answer.checkpoint_lsn);
			obs.cand_has_old_end = obs.cand_pg == FAST_PG_STANDBY && wait_replayed(r, checkpoint, &err) == 0;
		}
	}
	{
		bool alive = true;

		/* unreadable: taken as there (the wait for its answer still gives up once its presence key is gone) */
		obs.cand_agent_gone = presence_alive(r->etcd, r->prefix, r->cand->member, &alive, &err) == 0 && !alive;
	}
	fast_switchover_recover(&obs, &dec);
	log_warn("a fast switchover %s -> %s was left at its step %s by a process that is gone: %s: %s", r->old->name,
		 r->cand->name, r->progress.step,
		 dec.action == FAST_GO_ON ? "going on" : dec.action == FAST_ABORT ? "undoing it" : "halting", dec.why);
	if (dec.action == FAST_HALT) {
		log_error("fast switchover %s -> %s halted: %s; Patroni is left in maintenance mode. When a unit runs as "
			  "primary again: `patronictl resume`, then `pgrefresh resume-refresh`",
			  r->old->name, r->cand->name, dec.why);
		end_claim(r, FAST_PROGRESS_RELEASE);
		return;
	}
	if (dec.action == FAST_ABORT) {
		abort_run(r, &out);
		return;
	}
	if (dec.from <= FAST_PROMOTE) {
		if ((dec.from <= FAST_SYNC_OVERRIDE &&
		     (record(r, FAST_SYNC_OVERRIDE, &err) != 0 ||
		      ask_agent(r, r->cand, PG_ACTION_SYNC_OVERRIDE, r->progress.standby, AGENT_BOUND_MS, &answer, &err) != 0))) {
			log_warn("fast switchover: %s; undoing it", err.msg);
			abort_run(r, &out);
			return;
		}
		if (record(r, FAST_PROMOTE, &err) != 0 ||
		    ask_agent(r, r->cand, PG_ACTION_PROMOTE, "", PROMOTE_BOUND_MS, &answer, &err) != 0) {
			log_error("fast switchover %s -> %s halted: %s; Patroni is left in maintenance mode", r->old->name,
				  r->cand->name, err.msg);
			end_claim(r, FAST_PROGRESS_RELEASE);
			return;
		}
	}
	/* PgBouncer is resumed by the caller (it leads to the running leader); the key, maintenance mode, the reset */
	if (fast_switchover_finish(conf, r->etcd, r->cand, r->progress.lease, &err) != 0)
		log_error("fast switchover %s -> %s halted: %s", r->old->name, r->cand->name, err.msg);
}

bool fast_switchover_recover_after(const cluster_conf *conf, const etcd_client *etcd)
{
	fast_run r = { .conf = conf, .etcd = etcd };
	etcd_lease_keeper keeper;
	cluster_secrets secrets;
	bool found = false, mine = false;
	int64_t holder = 0;
	pgr_err err;

	if (etcd == NULL)
		return true;
	conf_etcd_prefix(conf, r.prefix, sizeof(r.prefix));
	if (fast_progress_read(etcd, r.prefix, &r.progress, &found, &err) != 0) {
		log_warn("fast switchover left by a process that is gone: %s", err.msg);
		return false;
	}
	if (!found)
		return true;
	r.old = conf_find_member(conf, r.progress.from);
	r.cand = conf_find_member(conf, r.progress.to);
	if (r.old == NULL || r.cand == NULL || secrets_load(conf->dir, &secrets, &err) != 0) {
		log_error("fast switchover left by a process that is gone: its progress names %s -> %s at step %s, which "
			  "this cluster does not have; left as it is",
			  r.progress.from, r.progress.to, r.progress.step);
		return true;
	}
	pg_conninfo(r.cand_conninfo, sizeof(r.cand_conninfo), r.cand->host, r.cand->pg_port, conf->superuser,
		    secrets.superuser_password, "postgres", 2);
	conf_unit_patroni(conf, r.cand, &r.pc, r.cand_url, sizeof(r.cand_url));
	conf_unit_api_url(conf, r.old, r.old_url, sizeof(r.old_url));
	/* its own lease on the owner key for as long as it takes the steps: if it dies, the next one can */
	if (etcd_lease_keeper_start(&keeper, etcd, RECOVER_LEASE_TTL_S, &err) != 0) {
		log_warn("fast switchover %s -> %s left by a process that is gone: %s; tried again later", r.old->name,
			 r.cand->name, err.msg);
		return false;
	}
	if (fast_progress_claim(etcd, r.prefix, keeper.lease, &mine, &holder, &err) != 0 || !mine) {
		if (!mine && holder != 0)
			log_info("fast switchover %s -> %s: another process (lease %" PRId64 ") is taking its steps",
				 r.old->name, r.cand->name, holder);
		else
			log_warn("fast switchover %s -> %s: %s; tried again later", r.old->name, r.cand->name, err.msg);
		etcd_lease_keeper_stop(&keeper);
		return false;
	}
	r.progress.lease = keeper.lease;
	recover_owned(&r);
	etcd_lease_keeper_stop(&keeper); /* the owner key goes with the lease, whatever was left */
	return true;
}
