#include "refresh/driver.h"

#include <inttypes.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/conf_security.h"
#include "cluster/switchover.h"
#include "patroni/patroni.h"
#include "pg/pgbouncer.h"
#include "pg/pgsql.h"
#include "refresh/checks.h"
#include "refresh/fsm.h"
#include "state/intent.h"
#include "state/lease.h"
#include "refresh/unit_step.h"
#include "util/fileutil.h"
#include "util/log.h"
#include "util/proc.h"

#define SWITCHOVER_PREP_TIMEOUT_MS 90000

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void refresh_plan_inputs(const cluster_conf *conf, const store_snapshot *snap, plan_input_unit *units, int *count)
{
	*count = 0;
	for (int i = 0; i < conf->unit_count; i++) {
		plan_input_unit *u = &units[(*count)++];

		memset(u, 0, sizeof(*u));
		snprintf(u->unit, sizeof(u->unit), "%s", conf->units[i].name);
		snprintf(u->member, sizeof(u->member), "%s", conf->units[i].member);
		u->number = conf->units[i].number;
		snprintf(u->role, sizeof(u->role), "%s", snap->have[i] ? snap->records[i].role : "unknown");
		snprintf(u->version, sizeof(u->version), "%s", snap->have[i] ? snap->records[i].linked_version : "");
		u->down = !snap->have[i] || !snap->alive[i] || strcmp(snap->records[i].patroni_state, "running") != 0 ||
			  (strcmp(u->role, "primary") != 0 && !snap->records[i].streaming);
	}
}

/* ---- the unit's side ---- */

#define RESTART_GUARD_MS 20000 /* a restart just answered may not show the new version yet */
#define RESTART_RETRY_MS 2000  /* after a restart that failed: the next request */
#define TAGS_SETTLE_MS 1500    /* tags just written: /patroni shows them once the woken loop has reloaded */

/* The standby expected to take the sync role when this one stands aside: the running standby with the
 * least lag (Patroni picks by the highest WAL position), "" if none. */
static void next_sync_guess(const cluster_conf *conf, const conf_unit *unit, char *out, size_t len)
{
	patroni_cluster cluster;
	const patroni_member *best = NULL;
	char url[200];
	patroni_client pc;
	pgr_err err;

	out[0] = '\0';
	conf_unit_patroni(conf, unit, &pc, url, sizeof(url));
	if (patroni_get_cluster(&pc, url, 2000, &cluster, &err) != 0)
		return;
	for (int i = 0; i < cluster.member_count; i++) {
		const patroni_member *m = &cluster.members[i];

		if (strcmp(m->name, unit->member) == 0 || m->role == PATRONI_ROLE_LEADER || m->tags_nosync ||
		    m->tags_replicatefrom[0] != '\0' || m->lag_bytes < 0 ||
		    (strcmp(m->state, "running") != 0 && strcmp(m->state, "streaming") != 0))
			continue;
		if (best == NULL || m->lag_bytes < best->lag_bytes)
			best = m;
	}
	if (best != NULL)
		snprintf(out, len, "%s", best->name);
}

/* This unit's own tags, written by its own agent (agent/tags.h), whatever the cluster. */
static void write_tags(const cluster_conf *conf, const conf_unit *unit, const char *replicatefrom, bool nosync,
		       refresh_unit_state *state)
{
	patroni_tags tags = { .nosync = nosync };
	pgr_err err;

	snprintf(tags.replicatefrom, sizeof(tags.replicatefrom), "%s", replicatefrom);
	if (state->tags == NULL)
		log_error("cannot set Patroni tags: this agent has no tag writer");
	else if (agent_tags_set(state->tags, conf, unit, &tags, &err) != 0)
		log_warn("cannot set Patroni tags: %s", err.msg);
}

static void start_restart(const cluster_conf *conf, const conf_unit *unit, const char *target, const unit_record *me,
			  refresh_unit_state *state)
{
	char url[200];
	patroni_client pc;
	pid_t child;
	pgr_err cerr;

	state->last_restart_ms = wall_ms();
	state->aside_since_ms = 0;
	snprintf(state->last_restart_target, sizeof(state->last_restart_target), "%s", target);
	log_info("restarting PostgreSQL through Patroni to run %s (runs %s)", target,
		 me->server_version[0] ? me->server_version : "nothing");
	conf_unit_patroni(conf, unit, &pc, url, sizeof(url));
	if (patroni_restart_spawn(&pc, url, 120000, unit->name, &child, &cerr) != 0) /* no fork(): the agent has threads */
		log_error("could not restart: %s", cerr.msg);
	else
		state->restart_child = child;
}

static void reap_restart(refresh_unit_state *state)
{
	int status;

	if (state->restart_child <= 0 || waitpid(state->restart_child, &status, WNOHANG) != state->restart_child)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("Patroni restarted PostgreSQL");
	} else {
		/* nothing restarted (Patroni refuses a restart while its etcd does not answer): ask again in
		 * RESTART_RETRY_MS, not after the guard that waits for a restart's new version to show */
		log_warn("Patroni's restart of PostgreSQL failed (see patroni.log): asking again in %d s",
			 RESTART_RETRY_MS / 1000);
		state->last_restart_ms = wall_ms() - (RESTART_GUARD_MS - RESTART_RETRY_MS);
	}
	state->restart_child = 0;
}

bool refresh_unit_in_batch(const refresh_record *rec, const char *unit)
{
	int i = record_find_unit(rec, unit);

	/* the batch being refreshed; in failed, the others of a halted batch finish their step */
	return i >= 0 && rec->units[i].step == STEP_REFRESHING && (rec->state == RS_UNIT || rec->state == RS_FAILED);
}

bool refresh_unit_tick(const cluster_conf *conf, const conf_unit *unit, const refresh_record *rec,
		       bool switchover_marked, const unit_record *me, refresh_unit_state *state)
{
	bool acted = false;

	unit_view view = { .me = me, .switchover_owns_tags = switchover_marked };
	unit_record relinked; /* me, once this tick relinked it */
	patroni_tags intent = { .nosync = false };
	int64_t tags_written_ms = 0;
	pgr_err err;

	reap_restart(state);
	if (rec != NULL && refresh_unit_in_batch(rec, unit->name)) {
		view.target = rec->to;
		view.restart_wanted = true;
	} else if (rec != NULL && rec->state == RS_SWITCHOVER) {
		view.switchover_owns_tags = true;
		if (strcmp(rec->switchover_from, unit->member) == 0)
			view.target = rec->to; /* relink before the switchover: the demotion restart lands on the target */
	}
	view.restart_running = state->restart_child > 0;
	view.restart_recent = view.target != NULL && strcmp(state->last_restart_target, view.target) == 0 &&
			      wall_ms() - state->last_restart_ms < RESTART_GUARD_MS;
	if (!view.restart_wanted)
		state->cascade_after[0] = '\0'; /* the cascade after standing aside is only for this unit's own turn */
	view.cascade_after = state->cascade_after;
	if (!view.restart_wanted || strcmp(me->server_version, view.target) == 0 || view.restart_running ||
	    view.restart_recent)
		state->aside_since_ms = 0; /* standing aside is only ever for the restart to come */
	else if (me->tag_nosync && state->aside_since_ms == 0)
		state->aside_since_ms = wall_ms(); /* stood aside before this agent started */
	view.aside_ms = state->aside_since_ms != 0 ? wall_ms() - state->aside_since_ms : -1;
	if (state->tags != NULL)
		agent_tags_snapshot(state->tags, &tags_written_ms, &intent);
	view.intent_replicatefrom = intent.replicatefrom; /* asked through its intent: kept until asked otherwise */
	view.intent_nosync = intent.nosync;
	view.tags_written_recently = wall_ms() - tags_written_ms < TAGS_SETTLE_MS;
	state->step = unit_step_state(&view);
	snprintf(state->step_target, sizeof(state->step_target), "%s", view.target ? view.target : "");

	for (int steps = 0; steps < 3; steps++) {
		const unit_transition *row;
		unit_action action = unit_step_next(&view, &row);
		char link[PATH_MAX + 16], dest[PATH_MAX + 64], guess[64];

		switch (action) {
		case UNIT_RELINK:
			conf_unit_path(conf, unit, "bin", link, sizeof(link));
			snprintf(dest, sizeof(dest), "%s/%s/bin", conf->catalog, view.target);
			if (!path_is_dir(dest)) {
				log_error("cannot relink to %s: %s is missing", view.target, dest);
				return acted;
			}
			if (symlink_replace(dest, link, &err) != 0) {
				log_error("cannot relink to %s: %s", view.target, err.msg);
				return acted;
			}
			acted = true;
			log_info("relinked bin to %s (was %s)", view.target,
				 me->linked_version[0] ? me->linked_version : "nothing");
			/* decide again on what the unit is now */
			relinked = *me;
			snprintf(relinked.linked_version, sizeof(relinked.linked_version), "%s", view.target);
			view.me = &relinked;
			continue;
		case UNIT_STAND_ASIDE:
			/* nosync only: its upstream stays the primary while it is the sync standby (unit_step.h) */
			next_sync_guess(conf, unit, guess, sizeof(guess));
			log_info("sync standby: standing aside before the restart (nosync), so the primary gives the sync "
				 "role to another standby first%s%s",
				 guess[0] ? "; cascading from it once restarted: " : "", guess);
			write_tags(conf, unit, me->tag_replicatefrom, true, state);
			snprintf(state->cascade_after, sizeof(state->cascade_after), "%s", guess);
			state->aside_since_ms = wall_ms();
			return true;
		case UNIT_RESTART:
			if (view.aside_ms >= UNIT_RELEASE_WAIT_MS && strcmp(me->role, "sync-standby") == 0)
				log_warn("the primary did not release this sync standby within %d ms: restarting anyway",
					 UNIT_RELEASE_WAIT_MS);
			else if (state->cascade_after[0] != '\0' && strcmp(me->tag_replicatefrom, state->cascade_after) != 0) {
				/* released: no commit waits on it any more, its upstream may change, and nosync may go (a
				 * standby that cascades is never the primary's sync standby; the one that took the role stays
				 * preferred). Written now, Patroni's reload of them (a second of its loop) overlaps the
				 * restart, its first loop after the restart follows the standby that took its role, and no
				 * reload is left for after it, when the switchover needs that loop (unit_step.h) */
				log_info("released by the primary: cascading from %s, nosync off, restarted", state->cascade_after);
				write_tags(conf, unit, state->cascade_after, false, state);
			}
			start_restart(conf, unit, view.target, me, state);
			return true;
		case UNIT_UNTAG:
			log_info("Patroni tags back to normal (replicatefrom %s, nosync off)",
				 unit_step_kept_replicatefrom(&view)[0] ? unit_step_kept_replicatefrom(&view) : "none");
			write_tags(conf, unit, unit_step_kept_replicatefrom(&view), false, state);
			return true;
		case UNIT_IDLE:
		case UNIT_WAIT_RELEASE:
		case UNIT_WAIT_RESTART:
			return acted;
		}
	}
	return acted;
}

void refresh_unit_state_save(const refresh_unit_state *state, unit_record *rec)
{
	snprintf(rec->step, sizeof(rec->step), "%s", unit_state_name(state->step));
	snprintf(rec->step_target, sizeof(rec->step_target), "%s", state->step_target);
	rec->step_since_ms = state->step == US_ASIDE	  ? state->aside_since_ms
			     : state->step == US_RESTARTING ? state->last_restart_ms
							    : 0;
	rec->restarted_ms = state->step_target[0] && strcmp(state->last_restart_target, state->step_target) == 0
				    ? state->last_restart_ms
				    : 0;
	if (state->tags != NULL)
		agent_tags_report(state->tags, rec);
}

void refresh_unit_state_restore(refresh_unit_state *state, const unit_record *rec)
{
	memset(state, 0, sizeof(*state));
	for (int s = 0; s < US_COUNT; s++)
		if (strcmp(rec->step, unit_state_name((unit_state)s)) == 0)
			state->step = (unit_state)s;
	snprintf(state->step_target, sizeof(state->step_target), "%s", rec->step_target);
	if (state->step == US_ASIDE)
		state->aside_since_ms = rec->step_since_ms;
	if (state->step == US_RESTARTING) {
		/* the restart's child went with the old agent; its guard holds from when it started */
		state->last_restart_ms = rec->step_since_ms;
		snprintf(state->last_restart_target, sizeof(state->last_restart_target), "%s", rec->step_target);
	}
}

void refresh_unit_state_load(const etcd_client *etcd, const cluster_conf *conf, const conf_unit *unit,
			     refresh_unit_state *state)
{
	state_scope scope;
	unit_record rec;
	bool found = false;
	pgr_err err;

	conf_state_scope(conf, &scope);
	if (unit_record_get(etcd, &scope, unit->member, &rec, &found, &err) != 0) {
		log_debug("cannot read this unit's last record: %s", err.msg);
		return;
	}
	if (found && state->tags != NULL) {
		/* the intent its last agent applied is not applied again (it may since have stood aside) */
		agent_tags_seed(state->tags, rec.intent_token);
	}
	if (found && rec.step[0] != '\0') {
		agent_tags *tags = state->tags;

		refresh_unit_state_restore(state, &rec);
		state->tags = tags;
		if (state->step != US_IDLE)
			log_info("taking up this unit's refresh where its last record left it: %s%s%s", rec.step,
				 rec.step_target[0] ? " for " : "", rec.step_target);
	}
}

/* ---- the coordinator's side ---- */

static int unit_index(const cluster_conf *conf, const char *member)
{
	for (int i = 0; i < conf->unit_count; i++)
		if (strcmp(conf->units[i].member, member) == 0 || strcmp(conf->units[i].name, member) == 0)
			return i;
	return -1;
}

/*
 * While a unit is refreshed, the steps Patroni takes for it wait on its HA loops (every loop_wait):
 * a sync standby's restart waits for the primary to give the sync role to another standby, then for
 * the standby's own loop to notice; the old primary rejoins after its demotion on its loop. Waking
 * the primary's and the unit's loops every WAKE_EVERY_MS (a PATCH /config that changes nothing)
 * makes each step happen when it can instead of at the next tick.
 */
#define WAKE_EVERY_MS 250

bool refresh_wake_wanted(const cluster_conf *conf, const store_snapshot *snap, int i)
{
	const refresh_record *rec = &snap->refresh;

	if (refresh_unit_in_batch(rec, conf->units[i].name) ||
	    (snap->have[i] && strcmp(snap->records[i].role, "primary") == 0))
		return true;
	/* the standby a unit of the batch cascades from: its loop makes the replication slot the unit's
	 * restarted PostgreSQL streams through (until then the walreceiver is refused: "slot does not exist") */
	for (int j = 0; j < conf->unit_count; j++)
		if (j != i && snap->have[j] && snap->records[j].tag_replicatefrom[0] != '\0' &&
		    strcmp(snap->records[j].tag_replicatefrom, conf->units[i].member) == 0 &&
		    refresh_unit_in_batch(rec, conf->units[j].name))
			return true;
	return false;
}

static void wake_patroni(refresh_driver *d, const store_snapshot *snap)
{
	const refresh_record *rec = &snap->refresh;
	int loop_wait = 0;
	patroni_client pc;
	pgr_err err;

	if (rec->state != RS_UNIT || rec->current < 0 || wall_ms() - d->last_wake_ms < WAKE_EVERY_MS)
		return;
	d->last_wake_ms = wall_ms();
	conf_patroni_client(d->conf, &pc);
	for (int i = 0; i < d->conf->unit_count; i++) {
		char url[200];

		if (!refresh_wake_wanted(d->conf, snap, i))
			continue;
		conf_unit_api_url(d->conf, &d->conf->units[i], url, sizeof(url));
		/* loop_wait as it is now, read each time: the wake must never change it */
		if (patroni_get_loop_wait(&pc, url, 300, &loop_wait, &err) != 0 ||
		    patroni_wake(&pc, url, loop_wait, 300, &err) != 0)
			log_debug("wake %s: %s", d->conf->units[i].name, err.msg);
	}
}

static void observe(refresh_driver *d, const store_snapshot *snap, refresh_obs *obs)
{
	const refresh_record *rec = &snap->refresh;
	int64_t now = wall_ms();

	memset(obs, 0, sizeof(*obs));
	obs->now_ms = now;
	if (rec->state == RS_SWITCHOVER) {
		patroni_client pc;

		conf_patroni_client(d->conf, &pc);
		for (int i = 0; i < d->conf->unit_count; i++) {
			char url[200];
			patroni_cluster cluster;
			pgr_err err;

			conf_unit_api_url(d->conf, &d->conf->units[i], url, sizeof(url));
			if (patroni_get_cluster(&pc, url, 2000, &cluster, &err) == 0) {
				const patroni_member *leader = patroni_cluster_leader(&cluster);

				if (leader != NULL) {
					snprintf(obs->patroni_leader, sizeof(obs->patroni_leader), "%s", leader->name);
					obs->patroni_leader_running = strcmp(leader->state, "running") == 0;
				}
				break;
			}
		}
	}
	for (int i = 0; i < d->conf->unit_count && obs->count < 32; i++) {
		obs_unit *o = &obs->units[obs->count++];
		const unit_record *r = &snap->records[i];

		snprintf(o->unit, sizeof(o->unit), "%s", d->conf->units[i].name);
		snprintf(o->member, sizeof(o->member), "%s", d->conf->units[i].member);
		o->number = d->conf->units[i].number;
		o->lag_bytes = -1;
		if (!snap->have[i])
			continue;
		o->reporting = snap->alive[i]; /* its presence key: its lease lives (state/presence.h) */
		snprintf(o->role, sizeof(o->role), "%s", r->role);
		snprintf(o->server_version, sizeof(o->server_version), "%s", r->server_version);
		snprintf(o->linked_version, sizeof(o->linked_version), "%s", r->linked_version);
		o->running = strcmp(r->patroni_state, "running") == 0;
		o->streaming = r->streaming;
		o->lag_bytes = r->lag_bytes;
		if (refresh_unit_in_batch(rec, o->unit) && o->running) {
			cluster_secrets secrets;
			char conninfo[1024];
			pgr_err err;

			if (secrets_load(d->conf->dir, &secrets, &err) == 0) {
				pg_conninfo(conninfo, sizeof(conninfo), d->conf->units[i].host, d->conf->units[i].pg_port,
					    d->conf->superuser, secrets.superuser_password, "postgres", 3);
				o->sql_ok = pg_ping(conninfo, &err) == 0;
			}
		}
	}
}

static void run_checks(refresh_driver *d, const store_snapshot *snap, refresh_obs *obs)
{
	const refresh_record *rec = &snap->refresh;
	check_request req;
	check_report report;
	const check_result *bad;

	memset(&req, 0, sizeof(req));
	snprintf(req.from, sizeof(req.from), "%s", rec->from);
	snprintf(req.to, sizeof(req.to), "%s", rec->to);
	req.rollback = rec->rollback;
	req.skip_pre = rec->skip_prechecks;
	req.skip_compat = rec->skip_compatibility;
	req.skip_workload = rec->skip_workload;
	req.skip_backup = rec->skip_backup;
	checks_run(d->conf, &snap->settings, &req, snap->records, snap->have, &report);
	for (int i = 0; i < report.count; i++)
		if (report.results[i].verdict == CHECK_SKIPPED)
			log_warn("check %s skipped: %s", report.results[i].name, report.results[i].detail);
	obs->checks_done = true;
	bad = checks_first_failure(&report);
	if (bad != NULL)
		snprintf(obs->check_problem, sizeof(obs->check_problem), "%s check %s failed: %s",
			 check_group_name(bad->group), bad->name, bad->detail);
}

/*
 * The standby whose flush the primary's commits wait for now (its pg_stat_replication, through its Patroni's GET
 * /patroni): the unit index of the one streaming standby in sync, -1 if none or several. Patroni writes it into
 * /sync only after it has slept 2 s (process_sync_replication); the fast switchover needs no more than this,
 * for it checks that its candidate replayed the old primary's shutdown checkpoint before it promotes it.
 */
static int sync_standby_now(const cluster_conf *conf, const patroni_client *pc, const char *primary_url)
{
	patroni_node *node = calloc(1, sizeof(*node));
	int found = -1, count = 0;
	pgr_err err;

	if (node != NULL && patroni_get_node(pc, primary_url, 2000, node, &err) == 0)
		for (int r = 0; r < node->replication_count; r++)
			if (strcmp(node->replication[r].sync_state, "sync") == 0 &&
			    strcmp(node->replication[r].state, "streaming") == 0) {
				found = unit_index(conf, node->replication[r].application_name);
				count++;
			}
	free(node);
	return count == 1 ? found : -1;
}

/* The switchover before the primary: returns 0 when done or not yet possible, -1 with error when failed. */
static int switchover(refresh_driver *d, const store_snapshot *snap, char *error, size_t errlen)
{
	const refresh_record *rec = &snap->refresh;
	int old = unit_index(d->conf, rec->switchover_from);
	patroni_cluster cluster;
	patroni_client pc;
	const patroni_member *leader, *sync;
	int cand;
	char url[200];
	pgr_err err;
	bool waiting_too_long = wall_ms() - rec->state_since_ms > SWITCHOVER_PREP_TIMEOUT_MS;

	if (old < 0) {
		snprintf(error, errlen, "unknown unit %s", rec->switchover_from);
		return -1;
	}
	conf_unit_patroni(d->conf, &d->conf->units[old], &pc, url, sizeof(url));
	if (patroni_get_cluster(&pc, url, 3000, &cluster, &err) != 0)
		return 0;
	leader = patroni_cluster_leader(&cluster);
	if (leader == NULL || strcmp(leader->name, rec->switchover_from) != 0)
		return 0; /* already switched (fsm_decide sees it) or no leader right now */
	if (!snap->have[old] || strcmp(snap->records[old].linked_version, rec->to) != 0) {
		if (waiting_too_long) {
			snprintf(error, errlen, "the agent of %s did not relink it to %s", d->conf->units[old].name, rec->to);
			return -1;
		}
		return 0;
	}
	sync = patroni_cluster_sync_standby(&cluster);
	cand = sync ? unit_index(d->conf, sync->name) : -1;
	if (cand < 0 && switchover_fast_applies(snap->settings.switchover_fast, d->conf->unit_count))
		cand = sync_standby_now(d->conf, &pc, url); /* /sync not written yet: the primary's own view */
	if (cand < 0 || !snap->have[cand] || strcmp(snap->records[cand].server_version, rec->to) != 0 ||
	    strcmp(sync ? sync->state : snap->records[cand].patroni_state, "running") != 0) {
		if (waiting_too_long) {
			snprintf(error, errlen, "no sync standby running %s to switch over to", rec->to);
			return -1;
		}
		return 0;
	}
	{
		switchover_timing timing;
		/* one attempt per entry into the state: clients holding transactions are waited for across ticks */
		switchover_policy policy = { .wait_s = snap->settings.switchover_wait_s,
					     .terminate_clients = snap->settings.switchover_terminate_clients,
					     .fast = switchover_fast_applies(snap->settings.switchover_fast,
									     d->conf->unit_count),
					     .attempt = rec->state_since_ms };
		switchover_result sr = switchover_step(d->conf, d->etcd, d->lease, rec->switchover_from,
						       d->conf->units[cand].member, &policy, &timing, &err);

		if (sr == SWITCHOVER_WAITING)
			return 0;
		if (sr == SWITCHOVER_FAILED) {
			snprintf(error, errlen, "%s", err.msg);
			return -1;
		}
		log_info("switchover: clients waited %lld ms (PAUSE %lld ms, promotion %lld ms)", timing.paused_ms,
			 timing.pause_ms, timing.promote_ms);
		d->stall_started_ms = wall_ms() - timing.total_ms; /* PAUSE was sent total_ms ago */
		d->stall_ms = timing.paused_ms;
		{
			/* the old primary's restart is the switchover's demotion: it begins inside the pause */
			int k = record_find_member(rec, rec->switchover_from);

			if (k >= 0 && rec->id == d->seen_id && d->seen[k].restart_ms == 0)
				d->seen[k].restart_ms = d->stall_started_ms;
		}
	}
	log_info("switchover done: %s is the primary", d->conf->units[cand].name);
	return 0;
}

/*
 * A switchover whose process is gone (a coordinator or a CLI killed inside it): its lease has expired.
 * Put back what it left: cascading standbys, PgBouncer paused. PgBouncer already leads to the running
 * leader (the agents on its host keep it so: follow_leader_poolers in agent.c).
 */
static void clean_up_dead_switchover(refresh_driver *d, const store_snapshot *snap)
{
	const switchover_mark *mark = &snap->switchover;
	bool owner_alive = false;
	pgr_err err;

	if (mark->lease != 0) {
		if (mark->lease == d->lease) {
			/* ours: never undo our own switchover; but one that waited for clients is left over once
			 * the refresh has moved on (a rollback while it waited) */
			if (!mark->pgbouncer_paused && (!snap->have_refresh || snap->refresh.state != RS_SWITCHOVER))
				switchover_clean_up_after(d->conf, d->etcd);
			return;
		}
		if (state_lease_alive(d->etcd, mark->lease, &owner_alive, &err) != 0) {
			log_warn("a switchover is marked in progress; cannot tell whether its owner lives: %s", err.msg);
			return;
		}
		if (owner_alive)
			return; /* its owner is switching over right now */
	}
	if (mark->pgbouncer_paused)
		log_warn("PgBouncer was left paused by a process that is gone (switchover %s -> %s, lease %" PRId64
			 " expired): resuming it",
			 mark->from, mark->to, mark->lease);
	else
		log_warn("a switchover %s -> %s was left by a process that is gone (lease %" PRId64 " expired): cleaning up",
			 mark->from, mark->to, mark->lease);
	switchover_clean_up_after(d->conf, d->etcd);
}

/*
 * The intent the user wrote (state/intent.h), if one is pending: into obs->intent. *rev: its revision
 * (0: none). One already taken into the record (the coordinator died before answering) is answered now.
 * A config set is taken here (its settings in snap from then on), and is no event: *rev 0.
 */
static void read_intent(refresh_driver *d, store_snapshot *snap, refresh_obs *obs, refresh_intent *in,
			int64_t *rev)
{
	bool found = false;
	pgr_err err;

	*rev = 0;
	if (intent_read(d->etcd, &d->scope, in, &found, rev, &err) != 0) {
		if (found)
			log_warn("ignoring a corrupt intent: %s", err.msg);
		*rev = 0;
		return;
	}
	if (!found || in->answer != INTENT_PENDING) {
		*rev = 0;
		return;
	}
	if (in->ask.ask == ASK_SETTINGS) {
		/* a setting change is no transition: applied, recorded and answered in the state layer */
		bool answered = false;

		if (store_take_settings_intent(d->etcd, &d->scope, d->lease, snap, in, *rev, &answered, &err) != 0)
			log_warn("could not take the config-set intent: %s", err.msg);
		*rev = 0;
		return;
	}
	if (in->ask.ask != ASK_REFRESH && (!snap->have_refresh || snap->refresh.state == RS_DONE)) {
		if (intent_answer_it(d->etcd, &d->scope, d->lease, in, *rev, INTENT_REFUSED, "no refresh is in progress",
				     &err) != 0)
			log_warn("could not answer the %s intent: %s", intent_ask_name(in->ask.ask), err.msg);
		*rev = 0;
		return;
	}
	if (strcmp(snap->refresh.intent_token, in->ask.token) == 0) {
		if (intent_answer_it(d->etcd, &d->scope, d->lease, in, *rev, INTENT_TAKEN, "taken", &err) != 0)
			log_warn("could not answer the %s intent: %s", intent_ask_name(in->ask.ask), err.msg);
		*rev = 0;
		return;
	}
	obs->intent = in->ask;
}

/* The steps of the units of the batch and of the one being switched over, as their agents report them. */
static void note_steps(refresh_driver *d, const store_snapshot *snap, int64_t now_ms)
{
	const refresh_record *rec = &snap->refresh;

	if (!snap->have_refresh || rec->id != d->seen_id) {
		memset(d->seen, 0, sizeof(d->seen));
		memset(d->seen_started_ms, 0, sizeof(d->seen_started_ms));
		d->seen_id = snap->have_refresh ? rec->id : 0;
	}
	for (int i = 0; i < rec->unit_count; i++) {
		int j = unit_index(d->conf, rec->units[i].member);
		bool busy = i == rec->current || rec->units[i].step == STEP_REFRESHING; /* of the batch */

		if (d->seen_started_ms[i] != 0 && d->seen_started_ms[i] != rec->units[i].started_ms)
			memset(&d->seen[i], 0, sizeof(d->seen[i])); /* refreshed again (a rollback) */
		d->seen_started_ms[i] = rec->units[i].started_ms;
		if (j >= 0 && snap->have[j] && (busy || strcmp(rec->units[i].member, rec->switchover_from) == 0))
			/* running the target is judged on the version it reports (its step may say so a tick later) */
			record_unit_note_step(&d->seen[i],
					      strcmp(snap->records[j].server_version, rec->to) == 0 ? "on-target"
												 : snap->records[j].step,
					      snap->records[j].step_since_ms,
					      busy && snap->records[j].restarted_ms >= rec->units[i].started_ms
						      ? snap->records[j].restarted_ms
						      : 0,
					      now_ms);
	}
}

void refresh_driver_tick(refresh_driver *d)
{
	store_snapshot *snap = calloc(1, sizeof(*snap));
	refresh_obs obs;
	refresh_record next;
	refresh_intent intent;
	int64_t intent_rev = 0;
	const fsm_transition *row = NULL;
	refresh_event ev;
	fsm_result taken;
	char cause[400], answer[400];
	pgr_err err;
	bool swapped = false;

	if (snap == NULL)
		return;
	conf_state_scope(d->conf, &d->scope);
	if (store_read(d->etcd, &d->scope, snap, &err) != 0) {
		log_warn("coordinator cannot read etcd: %s", err.msg);
		goto out;
	}
	if (snap->have_switchover)
		clean_up_dead_switchover(d, snap);
	if (snap->refresh_corrupt) {
		/* never guessed at: wait for `pgrefresh repair-refresh-record` */
		if (d->corrupt_logged_rev != snap->refresh_mod_revision)
			log_error("the refresh record is corrupt (%s): waiting for `pgrefresh repair-refresh-record`",
				  snap->refresh_corrupt_why);
		d->corrupt_logged_rev = snap->refresh_mod_revision;
		goto out;
	}
	memset(&obs, 0, sizeof(obs));
	read_intent(d, snap, &obs, &intent, &intent_rev);
	{
		/* the operation lock: held by this coordinator for the refresh; someone else's live lock is respected */
		bool mine = false;
		char owner[64], who[300];

		snprintf(owner, sizeof(owner), "coordinator %s", snap->coordinator);
		if (store_hold_lock(d->etcd, &d->scope, snap, d->lease, owner, &mine, &err) != 0)
			log_warn("operation lock: %s", err.msg);
		if (!mine) {
			if (snap->have_lock && snap->lock.mod_revision != d->lock_logged_revision) {
				state_lock_describe(&snap->lock, wall_ms(), who, sizeof(who));
				log_info("refresh %d waits: the operation lock is held by %s", snap->refresh.id, who);
				d->lock_logged_revision = snap->lock.mod_revision;
			}
			goto out;
		}
	}
	if (!snap->have_refresh && intent_rev == 0)
		goto out;
	if (snap->refresh.state == RS_DONE) {
		if (store_archive_refresh(d->etcd, &d->scope, d->lease, &snap->refresh, snap->refresh_mod_revision,
					  &err) != 0)
			log_warn("could not archive the refresh: %s", err.msg);
		else
			log_info("refresh %d %s: %s -> %s, recorded in history%s%s", snap->refresh.id,
				 snap->refresh.rollback ? "rolled back" : "completed", snap->refresh.from, snap->refresh.to,
				 snap->refresh.cause[0] ? "; cause: " : "", snap->refresh.cause);
		goto out;
	}
	if (!snap->have_refresh) {
		/* no record: the state a new refresh starts from (a refresh intent is pending) */
		memset(&snap->refresh, 0, sizeof(snap->refresh));
		snap->refresh.state = RS_DONE;
		snap->refresh.current = -1;
		snap->refresh_mod_revision = 0;
	}
	if (intent_rev == 0)
		wake_patroni(d, snap);
	observe(d, snap, &obs);
	if (intent_rev != 0) {
		obs.intent = intent.ask; /* what the user asks comes first: no I/O of the state this tick */
	} else {
		if (snap->refresh.state == RS_CHECKING)
			run_checks(d, snap, &obs);
		if (snap->refresh.state == RS_SWITCHOVER &&
		    switchover(d, snap, obs.switchover_error, sizeof(obs.switchover_error)) != 0)
			obs.switchover_failed = true;
		if (snap->refresh.state == RS_SWITCHOVER && !obs.switchover_failed) {
			/* re-read: the switchover may just have happened */
			store_snapshot *again = calloc(1, sizeof(*again));

			if (again != NULL && store_read(d->etcd, &d->scope, again, &err) == 0 && again->have_refresh &&
			    again->refresh_mod_revision == snap->refresh_mod_revision) {
				*snap = *again;
				observe(d, snap, &obs);
			}
			free(again);
		}
	}
	note_steps(d, snap, obs.now_ms);
	ev = fsm_event(&snap->refresh, &obs, &snap->settings, cause, sizeof(cause));
	taken = fsm_take(&snap->refresh, ev, cause, &obs, &snap->settings, &next, &row);
	if (taken == FSM_REFUSED && intent_rev != 0) {
		snprintf(answer, sizeof(answer), "%s refused: the refresh is %s (%s)", intent_ask_name(intent.ask.ask),
			 refresh_state_display(snap->refresh.state), refresh_state_name(snap->refresh.state));
		if (intent_answer_it(d->etcd, &d->scope, d->lease, &intent, intent_rev, INTENT_REFUSED, answer, &err) != 0)
			log_warn("could not answer the %s intent: %s", intent_ask_name(intent.ask.ask), err.msg);
	}
	if (taken != FSM_TAKEN)
		goto out;
	if (next.id == d->seen_id) {
		record_merge_times(&next, d->seen, RECORD_MAX_UNITS);
		if (d->stall_ms != 0 && d->stall_started_ms > next.stall_started_ms &&
		    d->stall_started_ms >= next.started_ms) {
			next.stall_started_ms = d->stall_started_ms;
			next.stall_ms = d->stall_ms;
		}
	}
	record_note_transition(&snap->refresh, &next, obs.now_ms);
	if (store_put_refresh(d->etcd, &d->scope, d->lease, &next, snap->refresh_mod_revision, &swapped, &err) != 0) {
		log_warn("could not record the refresh: %s", err.msg);
		goto out;
	}
	if (!swapped) {
		if (snap->refresh_mod_revision == 0 && intent_rev != 0) {
			/* a new refresh: another refresh was recorded, or another operation holds the lock */
			snprintf(answer, sizeof(answer), "refresh refused: another refresh or operation is in progress "
				 "(see `pgrefresh status`)");
			if (intent_answer_it(d->etcd, &d->scope, d->lease, &intent, intent_rev, INTENT_REFUSED, answer,
					     &err) != 0)
				log_warn("could not answer the %s intent: %s", intent_ask_name(intent.ask.ask), err.msg);
			goto out;
		}
		log_info("refresh %d: the record changed meanwhile; %s not recorded, deciding again", next.id,
			 refresh_event_name(ev));
		goto out;
	}
	if (intent_rev != 0) {
		snprintf(answer, sizeof(answer), "%s -> %s: %s", refresh_state_name(row->from), refresh_state_name(row->to),
			 row->meaning);
		if (intent_answer_it(d->etcd, &d->scope, d->lease, &intent, intent_rev, INTENT_TAKEN, answer, &err) != 0)
			log_warn("could not answer the %s intent: %s", intent_ask_name(intent.ask.ask), err.msg);
	}
out:
	free(snap);
}
