#include "cluster/switchover.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "cluster/conf_security.h"
#include "cluster/fast_switchover.h"
#include "patroni/patroni.h"
#include "pg/activity.h"
#include "pg/pgsql.h"
#include "pooler/pooler.h"
#include "state/pooler_intent.h"
#include "state/presence.h"
#include "state/settings.h"
#include "state/store.h"
#include "state/unit_intent.h"
#include "state/unit_record.h"
#include "util/log.h"
#include "util/proc.h"

#define PAUSE_TIMEOUT_MS 2000    /* a PAUSE that takes longer is held by a transaction: undone, tried again */
#define RESUME_TIMEOUT_MS 10000
#define XACT_AGE_BOUND_MS 1000   /* transactions open this long are waited for before pausing */
#define TERMINATE_GRACE_MS 20000 /* after ending clients' sessions, how long PAUSE is tried again before halting */
#define PROMOTE_TIMEOUT_MS 60000
#define PAUSED_RETRY_MS 4000 /* how long a refused switchover (412/503) is asked again while paused */

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* RESUME pooler i; one that is not paused is fine (no error, nothing logged). */
static int resume_one(const cluster_conf *conf, int i, pgr_err *err)
{
	pooler p;
	int rc;

	if (pooler_open(conf, i, &p, err) != 0)
		return -1;
	rc = p.ops->resume(&p, RESUME_TIMEOUT_MS, err);
	pooler_close(&p);
	return rc;
}

int switchover_pgbouncer_command(const cluster_conf *conf, const char *command, pgr_err *err)
{
	int rc = 0;

	for (int i = 0; i < conf->pgbouncer_count; i++) {
		pgr_err one;
		bool timed_out = false;
		pooler p;

		if (strcmp(command, "RESUME") == 0) {
			if (resume_one(conf, i, &one) != 0) {
				*err = one;
				rc = -1;
			}
			continue;
		}
		if (strcmp(command, "PAUSE") != 0)
			return pgr_err_set(err, "poolers: unknown command %s", command);
		if (pooler_open(conf, i, &p, &one) != 0 || p.ops->pause(&p, RESUME_TIMEOUT_MS, &timed_out, &one) != 0) {
			*err = one;
			rc = -1;
		}
		pooler_close(&p);
	}
	return rc;
}

/*
 * PAUSE every pooler, each bounded by PAUSE_TIMEOUT_MS. On failure none is left paused: the ones
 * that paused are resumed once each, and one whose PAUSE did not complete was undone by its pause
 * itself (resuming it again would only draw "not paused"). *timed_out: a PAUSE did not complete in
 * time (a transaction held it), rather than a pooler failing.
 */
static int pause_all(const cluster_conf *conf, bool *timed_out, pgr_err *err)
{
	int paused = 0;

	*timed_out = false;
	for (; paused < conf->pgbouncer_count; paused++) {
		pooler p;
		int rc;

		if (pooler_open(conf, paused, &p, err) != 0)
			break;
		rc = p.ops->pause(&p, PAUSE_TIMEOUT_MS, timed_out, err);
		pooler_close(&p);
		if (rc != 0)
			break;
	}
	if (paused == conf->pgbouncer_count)
		return 0;
	for (int i = 0; i < paused; i++) {
		pgr_err one;

		if (resume_one(conf, i, &one) != 0)
			log_error("%s", one.msg);
	}
	return -1;
}

/*
 * The repoint, through intents (state/pooler_intent.h): the coordinator cannot write a pooler's config
 * on another host, so the agent of a unit on that host does.
 *
 * Why the intent is written and taken BEFORE the PAUSE: the candidate is known then, and everything
 * that can be slow or can fail for want of an agent (an agent on the pooler's host seeing the intent
 * at its next tick, the compare-and-swap that makes it the one that applies it) happens while clients
 * still run, and before the CHECKPOINT, so that the checkpoint stays as close to the PAUSE as it was. If no agent takes it within ARM_TIMEOUT_MS, the switchover
 * stops there: nothing was paused or switched, the pooler still leads to the old primary, and the
 * error names the host whose agent is missing. Inside the stall there remain only the "go" (one
 * compare-and-swap), the armed agent seeing it (it polls every POOLER_APPLY_POLL_MS), the rewrite and
 * RELOAD, its "applied", and the check through the admin console (SHOW DATABASES).
 */
#define ARM_TIMEOUT_MS 5000     /* agents tick every 0.2 s in a refresh, 1 s otherwise */
#define REPOINT_BOUND_MS 5000   /* from go to applied: clients are paused meanwhile */
#define CHECK_TIMEOUT_MS 2000   /* SHOW DATABASES */
#define INTENT_POLL_MS 2
#define REASK_MS 1000 /* go not applied by then: put up again for another agent on the pooler's host */

/* Removes every pooler intent (the end of an attempt, whatever came of it). */
static void withdraw_repoint(const cluster_conf *conf, const etcd_client *etcd)
{
	char prefix[128];

	if (etcd == NULL)
		return;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		pgr_err err;

		if (pooler_intent_remove(etcd, prefix, conf->pgbouncers[i].name, &err) != 0)
			log_warn("pooler %s: could not remove its repoint intent: %s", conf->pgbouncers[i].name, err.msg);
	}
}

/* Asks for every pooler to be repointed at cand, and waits (bounded, unpaused) until an agent took each. */
static int request_repoint(const cluster_conf *conf, const etcd_client *etcd, int64_t attempt, int64_t lease,
			   const conf_unit *cand, pgr_err *err)
{
	char prefix[128];
	long long deadline = proc_now_ms() + ARM_TIMEOUT_MS;
	int armed = 0;

	if (conf->pgbouncer_count == 0)
		return 0;
	if (etcd == NULL)
		return pgr_err_set(err, "poolers are repointed through etcd, and there is none here");
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	withdraw_repoint(conf, etcd); /* what an earlier attempt may have left */
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		const conf_pooler *c = &conf->pgbouncers[i];
		pooler_intent in;
		bool swapped = false;

		memset(&in, 0, sizeof(in));
		snprintf(in.pooler, sizeof(in.pooler), "%s", c->name);
		snprintf(in.host, sizeof(in.host), "%s", c->config_host[0] ? c->config_host : c->host);
		snprintf(in.target_host, sizeof(in.target_host), "%s", cand->host);
		in.target_port = cand->pg_port;
		in.attempt = attempt;
		in.lease = lease;
		in.state = POOLER_INTENT_REQUESTED;
		if (pooler_intent_put_if(etcd, prefix, &in, &swapped, err) != 0 || !swapped) {
			if (!swapped)
				pgr_err_set(err, "pooler %s: a repoint intent appeared meanwhile", c->name);
			withdraw_repoint(conf, etcd);
			return pgr_err_prefix(err, "nothing changed");
		}
	}
	while (armed < conf->pgbouncer_count) {
		armed = 0;
		for (int i = 0; i < conf->pgbouncer_count; i++) {
			pooler_intent in;
			bool found = false;
			pgr_err one;

			if (pooler_intent_read(etcd, prefix, conf->pgbouncers[i].name, &found, &in, &one) == 0 && found &&
			    in.state == POOLER_INTENT_ARMED)
				armed++;
		}
		if (armed == conf->pgbouncer_count)
			break;
		if (proc_now_ms() > deadline) {
			for (int i = 0; i < conf->pgbouncer_count; i++) {
				pooler_intent in;
				bool found = false;
				pgr_err one;
				const conf_pooler *c = &conf->pgbouncers[i];

				if (pooler_intent_read(etcd, prefix, c->name, &found, &in, &one) == 0 && found &&
				    in.state == POOLER_INTENT_ARMED)
					continue;
				/* short: status adds what to run, and the whole must fit its 240 bytes */
				pgr_err_set(err, "no agent on host %s took the repoint of pooler %s in %d s: start the agent of a "
					    "unit there; nothing changed",
					    c->config_host, c->name, ARM_TIMEOUT_MS / 1000);
				break;
			}
			withdraw_repoint(conf, etcd);
			return -1;
		}
		proc_sleep_ms(20);
	}
	log_info("switchover: every pooler's repoint to %s (%s:%d) taken by an agent on its host", cand->name, cand->host,
		 cand->pg_port);
	return 0;
}

/*
 * Paused, the candidate accepts writes: "go" to each armed agent, wait until each applied it, then see
 * through each pooler's admin console that it leads to cand. Bounded by REPOINT_BOUND_MS.
 */
static int repoint_all(const cluster_conf *conf, const etcd_client *etcd, const conf_unit *cand, pgr_err *err)
{
	char prefix[128];
	long long t0 = proc_now_ms(), deadline = t0 + REPOINT_BOUND_MS;
	long long asked[CONF_MAX_PGBOUNCERS]; /* when each was last told go (or put up for another agent) */
	int applied = 0;

	if (conf->pgbouncer_count == 0)
		return 0;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		asked[i] = t0;
		pooler_intent in;
		bool found = false, swapped = false;

		if (pooler_intent_read(etcd, prefix, conf->pgbouncers[i].name, &found, &in, err) != 0)
			return -1;
		if (!found || in.state != POOLER_INTENT_ARMED)
			return pgr_err_set(err, "pooler %s: its repoint intent is %s, not armed", conf->pgbouncers[i].name,
					   found ? pooler_intent_state_name(in.state) : "gone");
		in.state = POOLER_INTENT_GO;
		if (pooler_intent_put_if(etcd, prefix, &in, &swapped, err) != 0)
			return -1;
		if (!swapped)
			return pgr_err_set(err, "pooler %s: its repoint intent changed under the switchover",
					   conf->pgbouncers[i].name);
	}
	while (applied < conf->pgbouncer_count) {
		applied = 0;
		for (int i = 0; i < conf->pgbouncer_count; i++) {
			pooler_intent in;
			bool found = false;
			pgr_err one;

			if (pooler_intent_read(etcd, prefix, conf->pgbouncers[i].name, &found, &in, &one) != 0 || !found)
				continue;
			if (in.state == POOLER_INTENT_FAILED)
				return pgr_err_set(err, "pooler %s: the agent of %s could not repoint it: %s",
						   conf->pgbouncers[i].name, in.by, in.message);
			if (in.state == POOLER_INTENT_APPLIED) {
				applied++;
			} else if (in.state == POOLER_INTENT_ARMED) {
				/* taken again, by another agent (below): go */
				bool swapped = false;

				in.state = POOLER_INTENT_GO;
				if (pooler_intent_put_if(etcd, prefix, &in, &swapped, &one) == 0 && swapped)
					asked[i] = proc_now_ms();
			} else if (in.state == POOLER_INTENT_GO && proc_now_ms() - asked[i] > REASK_MS) {
				/* the agent that took it does not apply it (it died since, or its loop is held up):
				 * put it up again for any agent on the pooler's host; clients wait meanwhile */
				bool swapped = false;
				char was[sizeof(in.by)];

				snprintf(was, sizeof(was), "%s", in.by);
				in.state = POOLER_INTENT_REQUESTED;
				in.by[0] = '\0';
				if (pooler_intent_put_if(etcd, prefix, &in, &swapped, &one) == 0 && swapped) {
					asked[i] = proc_now_ms();
					log_warn("pooler %s: the agent of %s did not apply the repoint within %d ms: asking another",
						 in.pooler, was, REASK_MS);
				}
			}
		}
		if (applied == conf->pgbouncer_count)
			break;
		if (proc_now_ms() > deadline)
			return pgr_err_set(err, "%d of %d poolers repointed within %d ms (is the agent that took it running?)",
					   applied, conf->pgbouncer_count, REPOINT_BOUND_MS);
		proc_sleep_ms(INTENT_POLL_MS);
	}
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		pooler p;
		int rc;

		if (pooler_open(conf, i, &p, err) != 0)
			return -1;
		rc = p.ops->check_target(&p, cand->host, cand->pg_port, CHECK_TIMEOUT_MS, err);
		pooler_close(&p);
		if (rc != 0)
			return -1;
	}
	log_info("switchover: %d pooler(s) lead to %s, repointed by their hosts' agents and checked in %lld ms",
		 conf->pgbouncer_count, cand->name, proc_now_ms() - t0);
	return 0;
}

/*
 * Whether Patroni is switching over whatever its answer said: the old primary no longer holds the leader
 * key, or no longer runs as primary (it is demoting). Patroni may answer 503 "failed" or "status unknown"
 * by polling its own view while the demotion goes on; clients must not be resumed towards a primary that
 * is shutting down.
 */
static bool switchover_under_way(const cluster_conf *conf, const conf_unit *old, const conf_unit *cand)
{
	patroni_cluster *cluster = calloc(1, sizeof(*cluster));
	patroni_node *node = calloc(1, sizeof(*node));
	char url[200];
	patroni_client pc;
	pgr_err err;
	bool under_way = false;

	if (cluster == NULL || node == NULL) {
		free(cluster);
		free(node);
		return false;
	}
	conf_unit_patroni(conf, cand, &pc, url, sizeof(url));
	if (patroni_get_cluster(&pc, url, 1000, cluster, &err) == 0) {
		const patroni_member *lead = patroni_cluster_leader(cluster);

		under_way = lead == NULL || strcmp(lead->name, old->member) != 0;
	}
	conf_unit_api_url(conf, old, url, sizeof(url));
	if (!under_way && patroni_get_node(&pc, url, 1000, node, &err) == 0)
		under_way = !(node->is_primary && strcmp(node->state, "running") == 0);
	free(cluster);
	free(node);
	return under_way;
}

/* "pid 123 ('app', 127.0.0.1:5555, open 14 s)" for holder i, its age as of now_ms */
static void holder_text(const switchover_mark *mark, int i, int64_t now_ms, char *buf, size_t len)
{
	const switchover_holder *h = &mark->holders[i];
	pg_xact x = { .pid = h->pid, .xact_start_us = h->xact_start_us, .age_ms = h->age_ms };

	snprintf(x.application, sizeof(x.application), "%s", h->application);
	snprintf(x.client, sizeof(x.client), "%s", h->client);
	snprintf(x.state, sizeof(x.state), "%s", h->state);
	if (mark->holders_seen_ms > 0 && now_ms > mark->holders_seen_ms)
		x.age_ms += now_ms - mark->holders_seen_ms;
	pg_activity_describe(&x, buf, len);
}

/* the first `most` holders named, then "and N more" */
static void holders_text(const switchover_mark *mark, int64_t now_ms, int most, char *buf, size_t len)
{
	size_t used = 0;
	int named = mark->holder_count < SWITCHOVER_MAX_HOLDERS ? mark->holder_count : SWITCHOVER_MAX_HOLDERS;

	if (named > most)
		named = most;
	buf[0] = '\0';
	for (int i = 0; i < named && used < len; i++) {
		char one[200];
		int w;

		holder_text(mark, i, now_ms, one, sizeof(one));
		w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", one);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (mark->holder_count > named && used < len)
		snprintf(buf + used, len - used, " and %d more", mark->holder_count - named);
}

void switchover_mark_waiting_text(const switchover_mark *mark, int64_t now_ms, char *buf, size_t len)
{
	char who[400];
	int64_t waited_s, left_s;

	if (len > 0)
		buf[0] = '\0';
	if (mark->waiting_since_ms == 0 || mark->holder_count == 0)
		return;
	holders_text(mark, now_ms, 1, who, sizeof(who));
	waited_s = now_ms > mark->waiting_since_ms ? (now_ms - mark->waiting_since_ms) / 1000 : 0;
	left_s = mark->wait_s - waited_s;
	if (left_s < 0)
		left_s = 0;
	snprintf(buf, len, "Switchover waits, PgBouncer not paused, for %d open transaction%s: %s. %s in %lld s "
		 "(switchover-wait-seconds=%d)",
		 mark->holder_count, mark->holder_count == 1 ? "" : "s", who,
		 mark->terminate ? "Ends them" : "Halts", (long long)left_s, mark->wait_s);
}

void switchover_halt_text(const switchover_mark *mark, char *buf, size_t len)
{
	char who[400];

	/* short: the refresh's reason, then status's "Roll back: ...; or go on: ..." must fit one line */
	holders_text(mark, mark->holders_seen_ms, 2, who, sizeof(who));
	if (mark->holder_count == 1)
		snprintf(buf, len, "a transaction outlasted the %d s wait: %s; end it or set "
			 "switchover-terminate-clients=true",
			 mark->wait_s, who);
	else
		snprintf(buf, len, "%d transactions outlasted the %d s wait: %s; end them or set "
			 "switchover-terminate-clients=true",
			 mark->holder_count, mark->wait_s, who);
}

/*
 * Writes the mark (state/switchover_mark.h: by compare-and-swap, never over a live mark of another
 * owner). It is not under the owner's lease: it must outlive its owner, so that whoever comes next sees
 * what was left. false: not written, another live switchover holds the mark (err says whose), or etcd
 * failed (logged).
 */
static bool put_mark(const cluster_conf *conf, const etcd_client *etcd, const switchover_mark *mark, pgr_err *err)
{
	char prefix[128];
	switchover_mark holder;
	bool written = false;

	if (etcd == NULL || mark->lease == 0)
		return true;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	if (switchover_mark_put(etcd, prefix, mark, &written, &holder, err) != 0) {
		log_warn("could not write the switchover mark: %s", err->msg);
		return false;
	}
	if (!written) {
		pgr_err_set(err, "another switchover is in progress (%s -> %s, lease %" PRId64 "): not taking it over",
			    holder.from, holder.to, holder.lease);
		log_warn("%s", err->msg);
	}
	return written;
}

/* put_mark for a step whose caller goes on whatever came of it (it logged why) */
static void note_mark(const cluster_conf *conf, const etcd_client *etcd, const switchover_mark *mark)
{
	pgr_err err;

	(void)put_mark(conf, etcd, mark, &err);
}

/* Removes the mark if it is owner_lease's, or its owner is gone (owner_lease 0: only then). */
static void remove_mark(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease)
{
	char prefix[128];
	bool removed = false;
	pgr_err err;

	if (etcd == NULL)
		return;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	if (switchover_mark_remove(etcd, prefix, owner_lease, &removed, &err) != 0)
		log_warn("could not remove the switchover mark: %s", err.msg);
	else if (!removed)
		log_warn("the switchover mark belongs to a live switchover: left as it is");
}

static void resume_all(const cluster_conf *conf)
{
	pgr_err err;

	if (switchover_pgbouncer_command(conf, "RESUME", &err) != 0)
		log_error("%s", err.msg);
}

/*
 * Patroni's POST /switchover blocks until Patroni has polled the result (about 2 s), while the
 * candidate is watched to resume clients the moment it accepts writes: the request runs in a worker
 * thread (not a forked child: the agent has threads, and the child used libcurl and jansson). The
 * thread only fills its own struct; `done` is set last.
 */
typedef struct patroni_request {
	pthread_t thread;
	bool started;
	char url[200], leader[64], candidate[64];
	patroni_client pc;
	long timeout_ms;
	atomic_bool done;
	int rc;          /* patroni_switchover's */
	int http_status; /* 0 when no answer */
	char reply[256]; /* the start of the answer's body */
	pgr_err err;
} patroni_request;

static void *patroni_request_main(void *arg)
{
	patroni_request *req = arg;

	req->rc = patroni_switchover(&req->pc, req->url, req->leader, req->candidate, req->timeout_ms, &req->http_status,
				     req->reply, (int)sizeof(req->reply), &req->err);
	atomic_store(&req->done, true);
	return NULL;
}

static int patroni_request_start(patroni_request *req, const patroni_client *pc, const char *url, const char *leader,
				 const char *candidate, long timeout_ms, pgr_err *err)
{
	int rc;

	memset(req, 0, sizeof(*req));
	atomic_init(&req->done, false);
	req->pc = *pc;
	snprintf(req->url, sizeof(req->url), "%s", url);
	snprintf(req->leader, sizeof(req->leader), "%s", leader);
	snprintf(req->candidate, sizeof(req->candidate), "%s", candidate);
	req->timeout_ms = timeout_ms;
	rc = pthread_create(&req->thread, NULL, patroni_request_main, req);
	if (rc != 0)
		return pgr_err_set(err, "could not start the switchover request: pthread_create: %s", strerror(rc));
	req->started = true;
	return 0;
}

/*
 * -1 while the request runs; else 0 (200), 2 (412/503: ask again), 1 (refused or no answer), and
 * the thread joined. Blocking waits for it (bounded by the request's own timeout). Logs the answer
 * once, with its HTTP status and the start of its body.
 */
static int patroni_request_result(patroni_request *req, bool block)
{
	if (!req->started)
		return req->rc != 0 || req->http_status != 200 ? (req->http_status == 412 || req->http_status == 503 ? 2 : 1) : 0;
	if (!block && !atomic_load(&req->done))
		return -1;
	pthread_join(req->thread, NULL);
	req->started = false;
	if (req->rc != 0) {
		log_error("switchover request: %s", req->err.msg);
		return 1;
	}
	if (req->http_status == 200)
		return 0;
	log_warn("Patroni at %s answered the switchover %s -> %s with HTTP %d: %s", req->url, req->leader, req->candidate,
		 req->http_status, req->reply);
	return req->http_status == 412 || req->http_status == 503 ? 2 : 1;
}

/* What Patroni answered, for an error message: "HTTP 412: <body>" or the request's own error. */
static void patroni_request_answer(const patroni_request *req, char *buf, size_t len)
{
	if (req->rc != 0)
		snprintf(buf, len, "%s", req->err.msg);
	else
		snprintf(buf, len, "HTTP %d: %.100s", req->http_status, req->reply);
}

cascade_wait switchover_cascade_judge(bool answered, bool presence_read, bool alive, long long now_ms,
				      long long deadline_ms)
{
	if (answered)
		return CASCADE_APPLIED;
	if (presence_read && !alive)
		return CASCADE_AGENT_DOWN;
	if (now_ms >= deadline_ms)
		return CASCADE_TIMED_OUT;
	return CASCADE_WAIT;
}

/*
 * The other standbys stream from the candidate before the switchover (Patroni tag replicatefrom), so
 * that the new primary has a synchronous standby the moment it is promoted: with
 * synchronous_mode_strict no commit is then acknowledged on one node only, and none waits long.
 * Each unit is asked through its intent (state/unit_intent.h); its own agent sets its own tags, on whatever
 * host it runs, and reports the intent's token. set: the cascade, waited for (each agent's report and the
 * standbys streaming from the candidate, 20 s at most; a unit whose agent is down, its presence key gone, is
 * not waited for at all; a unit that does not answer is named in the log and in note, and the switchover goes
 * on without it); !set: the tags cleared (leader "": every unit, a clean-up after a dead owner), not waited for.
 */
#define CASCADE_TIMEOUT_MS 20000

static void cascade_from(const cluster_conf *conf, const etcd_client *etcd, const char *leader, const char *candidate,
			 bool set, char *note, size_t notelen)
{
	const conf_unit *cand = conf_find_member(conf, candidate);
	unit_intent_tags tags = { .nosync = false };
	bool asked[CONF_MAX_UNITS] = { false }, answered[CONF_MAX_UNITS] = { false }, down[CONF_MAX_UNITS] = { false };
	char prefix[128], token[64], by[128], url[200];
	patroni_client pc;
	long long deadline, started;
	int expected = 0;

	if (note != NULL && notelen > 0)
		note[0] = '\0';
	if (set && cand == NULL)
		return;
	if (etcd == NULL) {
		log_warn("no etcd: the other units cannot be asked for their replicatefrom tag; switching over without "
			 "the cascade");
		return;
	}
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	snprintf(token, sizeof(token), "%s:%d.%lld", set ? "cascade" : "uncascade", (int)getpid(), (long long)wall_ms());
	if (leader[0] != '\0')
		snprintf(by, sizeof(by), "switchover %s -> %s (pid %d)", leader, candidate, (int)getpid());
	else
		snprintf(by, sizeof(by), "clean-up after a switchover's owner died (pid %d)", (int)getpid());
	snprintf(tags.replicatefrom, sizeof(tags.replicatefrom), "%s", set ? candidate : "");
	for (int i = 0; i < conf->unit_count && i < CONF_MAX_UNITS; i++) {
		const conf_unit *u = &conf->units[i];
		pgr_err err;

		/* leader "" (a clean-up after a dead owner): every unit */
		if (leader[0] != '\0' && (strcmp(u->member, leader) == 0 || strcmp(u->member, candidate) == 0))
			continue;
		if (unit_intent_ask(etcd, prefix, u->member, &tags, token, by, &err) != 0) {
			log_warn("%s: cannot ask its agent for replicatefrom=%s: %s", u->name, set ? candidate : "none",
				 err.msg);
			continue;
		}
		asked[i] = true;
		expected++;
	}
	if (!set || expected == 0)
		return;
	log_info("asked %d unit(s) to stream from %s (intent %s)", expected, candidate, token);
	conf_unit_patroni(conf, cand, &pc, url, sizeof(url));
	started = proc_now_ms();
	deadline = started + CASCADE_TIMEOUT_MS;
	{
		/* Patroni takes new tags at its next loop (the standby's: follow the candidate; the candidate's:
		 * create the standby's slot): wake the loops now and again until it streams, instead of waiting
		 * up to loop_wait for each (each agent wakes its own once it has written its tags) */
		int loop_wait = 0, acked = 0, down_count = 0;
		long long next_wake = 0;
		pgr_err err;

		if (patroni_get_loop_wait(&pc, url, 2000, &loop_wait, &err) != 0)
			log_warn("cannot wake Patroni (%s): waiting for its loop", err.msg);
		for (;;) {
			patroni_node node;
			int streaming = 0;
			bool timed_out = false;

			for (int i = 0; i < conf->unit_count && i < CONF_MAX_UNITS; i++) {
				char key[256];
				etcd_kv kv;
				unit_record rec;
				bool found = false, answer = false, presence_read = false, alive = false;

				if (!asked[i] || answered[i] || down[i])
					continue;
				snprintf(key, sizeof(key), "%sunits/%s", prefix, conf->units[i].member);
				if (etcd_get(etcd, key, &kv, &found, &err) == 0 && found && kv.value != NULL &&
				    unit_record_parse(kv.value, &rec, &err) == 0 && strcmp(rec.intent_token, token) == 0)
					answer = true;
				etcd_kv_free(&kv);
				if (!answer) /* its agent's presence key (bound to its lease): gone, nobody applies the intent */
					presence_read = presence_alive(etcd, prefix, conf->units[i].member, &alive, &err) == 0;
				switch (switchover_cascade_judge(answer, presence_read, alive, proc_now_ms(), deadline)) {
				case CASCADE_APPLIED:
					answered[i] = true;
					acked++;
					if (rec.intent_error[0] != '\0')
						log_warn("%s: its agent could not set replicatefrom=%s: %s", conf->units[i].name,
							 candidate, rec.intent_error);
					break;
				case CASCADE_AGENT_DOWN:
					down[i] = true;
					down_count++;
					presence_key(prefix, conf->units[i].member, key, sizeof(key));
					log_warn("%s: its agent is down (its presence key %s is gone, its lease expired): it cannot "
						 "set replicatefrom=%s; switching over without its cascade (after %lld ms)",
						 conf->units[i].name, key, candidate, proc_now_ms() - started);
					break;
				case CASCADE_TIMED_OUT:
					timed_out = true;
					break;
				case CASCADE_WAIT:
					break;
				}
			}
			if (timed_out || proc_now_ms() >= deadline)
				break;
			if (acked == 0 && down_count >= expected)
				break; /* every agent asked is down: none will stream from the candidate */
			if (loop_wait > 0 && proc_now_ms() >= next_wake) {
				for (int i = 0; i < conf->unit_count; i++) {
					const conf_unit *u = &conf->units[i];
					char uurl[200];

					if (strcmp(u->member, leader) == 0)
						continue;
					conf_unit_api_url(conf, u, uurl, sizeof(uurl));
					if (patroni_wake(&pc, uurl, loop_wait, 2000, &err) != 0)
						log_warn("%s: %s", u->name, err.msg);
				}
				next_wake = proc_now_ms() + 250;
			}
			if (acked + down_count >= expected && patroni_get_node(&pc, url, 2000, &node, &err) == 0) {
				/* the units that applied it stream from the candidate (one whose agent is down is not waited for) */
				for (int i = 0; i < conf->unit_count && i < CONF_MAX_UNITS; i++) {
					const char *m = conf->units[i].member;

					if (!answered[i])
						continue;
					for (int r = 0; r < node.replication_count; r++)
						if (strcmp(node.replication[r].application_name, m) == 0 &&
						    strcmp(node.replication[r].state, "streaming") == 0)
							streaming++;
				}
				if (streaming >= acked) {
					log_info("%d standby(s) stream from %s after %lld ms", acked, candidate,
						 proc_now_ms() - started);
					break;
				}
			}
			proc_sleep_ms(acked + down_count >= expected ? 50 : 20);
		}
	}
	{
		size_t used = 0;
		bool any_down = false, any_silent = false;

		for (int i = 0; i < conf->unit_count && i < CONF_MAX_UNITS; i++) {
			if (!asked[i] || answered[i])
				continue;
			if (down[i])
				any_down = true;
			else {
				any_silent = true;
				log_warn("%s: its agent did not apply replicatefrom=%s (intent %s) within %d s: is it running? "
					 "Switching over without its cascade",
					 conf->units[i].name, candidate, token, CASCADE_TIMEOUT_MS / 1000);
			}
			if (note != NULL && used < notelen) {
				int w = snprintf(note + used, notelen - used, "%s%s", used ? ", " : "", conf->units[i].name);

				used = w > 0 ? used + (size_t)w : used;
			}
		}
		if (note != NULL && used > 0 && used < notelen && any_silent)
			snprintf(note + used, notelen - used, "'s agent did not set its replicatefrom tag within %d s",
				 CASCADE_TIMEOUT_MS / 1000);
		else if (note != NULL && used > 0 && used < notelen)
			snprintf(note + used, notelen - used, "'s agent is down: its replicatefrom tag was not set");
		if (any_silent)
			log_warn("the other standbys do not stream from %s after %d s; switching over anyway", candidate,
				 CASCADE_TIMEOUT_MS / 1000);
		else if (any_down)
			log_warn("switching over without the cascade of the unit(s) whose agent is down");
	}
}

/*
 * Before a step of a switchover that already cascaded: the units whose agent has not applied the cascade
 * it was asked for (its intent names the candidate, its record another token), "" if none: said in the
 * error if the switchover then fails.
 */
static void cascade_unanswered(const cluster_conf *conf, const etcd_client *etcd, const char *leader,
			       const char *candidate, char *note, size_t notelen)
{
	char prefix[128];
	size_t used = 0;

	note[0] = '\0';
	if (etcd == NULL)
		return;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	for (int i = 0; i < conf->unit_count; i++) {
		const conf_unit *u = &conf->units[i];
		unit_intent intent;
		char key[256];
		etcd_kv kv;
		unit_record rec;
		bool found = false, done = false;
		pgr_err err;

		if (strcmp(u->member, leader) == 0 || strcmp(u->member, candidate) == 0 ||
		    unit_intent_read(etcd, prefix, u->member, &intent, &found, &err) != 0 || !found ||
		    strcmp(intent.tags.replicatefrom, candidate) != 0)
			continue;
		snprintf(key, sizeof(key), "%sunits/%s", prefix, u->member);
		if (etcd_get(etcd, key, &kv, &found, &err) == 0 && found && kv.value != NULL &&
		    unit_record_parse(kv.value, &rec, &err) == 0)
			done = strcmp(rec.intent_token, intent.token) == 0;
		etcd_kv_free(&kv);
		if (!done && used < notelen) {
			int w = snprintf(note + used, notelen - used, "%s%s", used ? ", " : "", u->name);

			used = w > 0 ? used + (size_t)w : used;
		}
	}
	if (used > 0 && used < notelen)
		snprintf(note + used, notelen - used, "'s agent did not set its replicatefrom tag");
}

void switchover_clean_up_after(const cluster_conf *conf, const etcd_client *etcd)
{
	if (!fast_switchover_recover_after(conf, etcd)) /* switchover=fast: its own steps first (none: nothing) */
		return; /* another live process takes them, or etcd failed: the next tick cleans up */
	cascade_from(conf, etcd, "", "", false, NULL, 0);
	withdraw_repoint(conf, etcd);
	resume_all(conf);
	remove_mark(conf, etcd, 0); /* only a dead owner's: a live one is left as it is */
}

/* RESUME every PgBouncer and say so in the mark */
static void resume_marked(const cluster_conf *conf, const etcd_client *etcd, switchover_mark *mark)
{
	resume_all(conf);
	if (mark->lease != 0) {
		mark->pgbouncer_paused = false;
		note_mark(conf, etcd, mark);
	}
}

/* The mark this caller left at an earlier step of the same attempt: found, lease, members and attempt match. */
static bool read_own_mark(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease, const char *leader,
			  const char *candidate, int64_t attempt, switchover_mark *out)
{
	char prefix[128];
	bool found = false;
	pgr_err err;

	memset(out, 0, sizeof(*out));
	if (etcd == NULL || owner_lease == 0 || attempt == 0)
		return false;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	if (switchover_mark_read(etcd, prefix, out, &found, NULL, &err) != 0) {
		log_warn("cannot read the switchover mark: %s", err.msg);
		return false;
	}
	return found && out->lease == owner_lease && out->attempt == attempt && strcmp(out->from, leader) == 0 &&
	       strcmp(out->to, candidate) == 0;
}

static void set_holders(switchover_mark *mark, const pg_xact *xacts, int n, int64_t now_ms)
{
	mark->holder_count = n;
	for (int i = 0; i < n && i < SWITCHOVER_MAX_HOLDERS; i++) {
		switchover_holder *h = &mark->holders[i];

		memset(h, 0, sizeof(*h));
		h->pid = xacts[i].pid;
		snprintf(h->application, sizeof(h->application), "%s", xacts[i].application);
		snprintf(h->client, sizeof(h->client), "%s", xacts[i].client);
		snprintf(h->state, sizeof(h->state), "%s", xacts[i].state);
		h->xact_start_us = xacts[i].xact_start_us;
		h->age_ms = xacts[i].age_ms;
	}
	mark->holders_seen_ms = now_ms;
}

/* The same transactions named (pid and start), and as many. */
static bool same_holders(const switchover_mark *a, const switchover_mark *b)
{
	if (a->holder_count != b->holder_count)
		return false;
	for (int i = 0; i < a->holder_count && i < SWITCHOVER_MAX_HOLDERS; i++)
		if (a->holders[i].pid != b->holders[i].pid || a->holders[i].xact_start_us != b->holders[i].xact_start_us)
			return false;
	return true;
}

/* Writes mark unless it says what prev (as read at the start of this step) said. */
static void put_mark_if_changed(const cluster_conf *conf, const etcd_client *etcd, const switchover_mark *prev,
				const switchover_mark *mark)
{
	char a[4096], b[4096];

	switchover_mark_format(prev, a, sizeof(a));
	switchover_mark_format(mark, b, sizeof(b));
	if (strcmp(a, b) != 0)
		note_mark(conf, etcd, mark);
}

/* The end of an attempt, whatever it came to: no standby cascades any more, the mark removed. */
static void finish(const cluster_conf *conf, const etcd_client *etcd, const switchover_mark *mark, const char *leader,
		   const char *candidate)
{
	if (mark->cascaded)
		cascade_from(conf, etcd, leader, candidate, false, NULL, 0);
	withdraw_repoint(conf, etcd);
	if (mark->lease != 0)
		remove_mark(conf, etcd, mark->lease);
}

static int switchover_paused(const cluster_conf *conf, const etcd_client *etcd, switchover_mark *mark,
			     const conf_unit *old, const conf_unit *cand, long long t0, switchover_timing *timing,
			     pgr_err *err);

static int switchover_paused_fast(const cluster_conf *conf, const etcd_client *etcd, switchover_mark *mark,
				  const conf_unit *old, const conf_unit *cand, long long t0, switchover_timing *timing,
				  bool *undone, pgr_err *err);

/* Whether member's agent is present (its presence key, bound to its lease): false when it is gone or unknown. */
static bool agent_present(const cluster_conf *conf, const etcd_client *etcd, const char *member)
{
	char prefix[128];
	bool alive = false;
	pgr_err err;

	if (etcd == NULL)
		return false;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	return presence_alive(etcd, prefix, member, &alive, &err) == 0 && alive;
}

static switchover_result step(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
			      const char *leader, const char *candidate, const switchover_policy *policy,
			      switchover_timing *timing, char *cascade_note, size_t notelen, pgr_err *err)
{
	const conf_unit *old = conf_find_member(conf, leader), *cand = conf_find_member(conf, candidate);
	switchover_mark mark, prev;
	cluster_secrets secrets;
	char old_conninfo[1024];
	pg_xact xacts[PG_ACTIVITY_MAX];
	int n = 0;
	int64_t now, wait_ms;
	bool continuing, timed_out = false, fast = policy->fast;
	long long t0;
	pgr_err qerr;

	memset(timing, 0, sizeof(*timing));
	if (old == NULL || cand == NULL) {
		pgr_err_set(err, "unknown member %s", old == NULL ? leader : candidate);
		return SWITCHOVER_FAILED;
	}
	if (secrets_load(conf->dir, &secrets, err) != 0)
		return SWITCHOVER_FAILED;
	pg_conninfo(old_conninfo, sizeof(old_conninfo), old->host, old->pg_port, conf->superuser,
		    secrets.superuser_password, "postgres", 2);
	continuing = read_own_mark(conf, etcd, owner_lease, leader, candidate, policy->attempt, &prev);
	memset(&mark, 0, sizeof(mark));
	mark.lease = etcd != NULL ? owner_lease : 0;
	snprintf(mark.from, sizeof(mark.from), "%s", leader);
	snprintf(mark.to, sizeof(mark.to), "%s", candidate);
	mark.attempt = policy->attempt;
	mark.wait_s = policy->wait_s;
	mark.terminate = policy->terminate_clients;
	wait_ms = (int64_t)policy->wait_s * 1000;
	if (continuing) {
		mark.cascaded = prev.cascaded;
		mark.waiting_since_ms = prev.waiting_since_ms;
		mark.pause_timeouts = prev.pause_timeouts;
		mark.pause_not_before_ms = prev.pause_not_before_ms;
		memcpy(mark.holders, prev.holders, sizeof(mark.holders));
		mark.holder_count = prev.holder_count;
		mark.holders_seen_ms = prev.holders_seen_ms;
		mark.patroni_way = prev.patroni_way;
	} else {
		log_info("switchover: %s -> %s, PgBouncer paused around it (clients holding a transaction open are waited "
			 "for %d s, then %s)",
			 old->name, cand->name, policy->wait_s, policy->terminate_clients ? "their sessions ended" : "it halts");
		if (owner_lease == 0 && etcd != NULL)
			log_warn("no lease to own the switchover mark: none written");
	}
	if (!mark.cascaded) {
		/* written before anything is done; a live switchover of another owner is left alone */
		if (!put_mark(conf, etcd, &mark, err))
			return SWITCHOVER_FAILED;
		cascade_from(conf, etcd, leader, candidate, true, cascade_note, notelen);
		mark.cascaded = true;
		note_mark(conf, etcd, &mark);
	}

	/* 1. transactions open on the primary for a while would hold the PAUSE: wait for them, unpaused */
	now = wall_ms();
	if (pg_activity_open_transactions(old_conninfo, XACT_AGE_BOUND_MS, xacts, PG_ACTIVITY_MAX, &n, &qerr) != 0) {
		log_warn("%s: cannot see the open transactions (%s); pausing all the same (bounded)", old->name, qerr.msg);
		n = 0;
	}
	if (n > 0) {
		switchover_mark before = mark;

		set_holders(&mark, xacts, n, now);
		if (mark.waiting_since_ms == 0)
			mark.waiting_since_ms = now;
		if (now - mark.waiting_since_ms < wait_ms) {
			if (!same_holders(&before, &mark) || before.waiting_since_ms != mark.waiting_since_ms) {
				char text[400];

				/* a warning: `pgrefresh switchover` shows it too, and the refresh is held up */
				switchover_mark_waiting_text(&mark, now, text, sizeof(text));
				log_warn("%s", text);
				note_mark(conf, etcd, &mark);
			}
			return SWITCHOVER_WAITING;
		}
		if (!policy->terminate_clients || now - mark.waiting_since_ms > wait_ms + TERMINATE_GRACE_MS) {
			switchover_halt_text(&mark, err->msg, sizeof(err->msg));
			finish(conf, etcd, &mark, leader, candidate);
			return SWITCHOVER_FAILED;
		}
		for (int i = 0; i < n && i < PG_ACTIVITY_MAX; i++) {
			char who[200];
			bool ended = false;

			pg_activity_describe(&xacts[i], who, sizeof(who));
			if (pg_activity_terminate(old_conninfo, &xacts[i], &ended, &qerr) != 0)
				log_warn("%s: could not end the session of %s: %s", old->name, who, qerr.msg);
			else if (ended)
				log_warn("%s: ended the session of %s: its transaction was open past switchover-wait-seconds=%d "
					 "(switchover-terminate-clients=true)",
					 old->name, who, policy->wait_s);
		}
		proc_sleep_ms(100); /* PgBouncer sees the server connections close */
	}
	mark.holder_count = 0; /* none waited for any more: status no longer names them */
	if (now < mark.pause_not_before_ms && now - mark.waiting_since_ms < wait_ms) {
		/* a PAUSE timed out a moment ago: clients get their turn before the next one holds them */
		put_mark_if_changed(conf, etcd, &prev, &mark);
		return SWITCHOVER_WAITING;
	}

	/* 2. the repoint asked of the agents on the poolers' hosts, and taken, while clients still run */
	if (request_repoint(conf, etcd, mark.attempt, owner_lease, cand, err) != 0) {
		finish(conf, etcd, &mark, leader, candidate);
		return SWITCHOVER_FAILED;
	}

	/* 3. a checkpoint before the pause shortens the old primary's shutdown inside it */
	if (pg_exec(old_conninfo, "CHECKPOINT", &qerr) != 0)
		log_warn("CHECKPOINT before the switchover: %s", qerr.msg);

	/*
	 * switchover=fast: Patroni's maintenance mode before the PAUSE, clients still running (docs/fast-switchover.md).
	 * Its steps are taken by the old primary's and the candidate's agents: with either agent gone, Patroni's own
	 * switchover, which needs neither
	 */
	fast = fast && !mark.patroni_way;
	if (fast) {
		bool old_present = agent_present(conf, etcd, old->member);

		if (!old_present || !agent_present(conf, etcd, cand->member)) {
			log_warn("switchover=fast: the agent of %s is not present (its presence key is gone): Patroni's own "
				 "switchover this time, which needs no agent",
				 !old_present ? old->name : cand->name);
			fast = false;
			mark.patroni_way = true;
			note_mark(conf, etcd, &mark);
		}
	}
	if (fast) {
		int rc = fast_switchover_prepare(conf, etcd, mark.lease, old, cand, err);

		if (rc == FAST_PREPARE_NOT_HERE) {
			log_warn("switchover=fast: %s; Patroni's own switchover this time", err->msg);
			fast = false;
			mark.patroni_way = true;
			note_mark(conf, etcd, &mark);
		} else if (rc != 0) {
			finish(conf, etcd, &mark, leader, candidate);
			pgr_err_prefix(err, "fast switchover to %s not started", cand->name);
			return SWITCHOVER_FAILED;
		}
	}

	/* 4. PAUSE, bounded: a transaction that began since still holds it; then undone at once, tried again */
	t0 = proc_now_ms();
	if (mark.lease != 0) {
		mark.pgbouncer_paused = true;
		note_mark(conf, etcd, &mark);
	}
	if (pause_all(conf, &timed_out, err) != 0) {
		if (fast) /* no pause, no fast switchover: Patroni out of maintenance mode again */
			fast_switchover_unprepare(conf, etcd, mark.lease, old, cand);
		mark.pgbouncer_paused = false;
		if (!timed_out) {
			finish(conf, etcd, &mark, leader, candidate);
			pgr_err_prefix(err, "PgBouncer could not pause; nothing changed");
			return SWITCHOVER_FAILED;
		}
		mark.pause_timeouts++;
		now = wall_ms();
		/* each PAUSE that times out held every client up to PAUSE_TIMEOUT_MS: back off, 2 s more each time */
		mark.pause_not_before_ms = now + (mark.pause_timeouts < 8 ? mark.pause_timeouts : 8) * 2000LL;
		if (mark.waiting_since_ms == 0)
			mark.waiting_since_ms = now;
		if (pg_activity_open_transactions(old_conninfo, XACT_AGE_BOUND_MS, xacts, PG_ACTIVITY_MAX, &n, &qerr) == 0)
			set_holders(&mark, xacts, n, now);
		{
			char who[300] = "no client transaction open for 1 s or more to name";

			if (mark.holder_count > 0)
				holders_text(&mark, now, 2, who, sizeof(who));
			log_warn("PgBouncer's PAUSE did not complete within %d ms (held by: %s): resumed at once; trying again "
				 "once no transaction holds it",
				 PAUSE_TIMEOUT_MS, who);
		}
		if (now - mark.waiting_since_ms >= wait_ms + (policy->terminate_clients ? TERMINATE_GRACE_MS : 0)) {
			if (mark.holder_count > 0)
				switchover_halt_text(&mark, err->msg, sizeof(err->msg));
			else
				pgr_err_set(err, "PgBouncer's PAUSE did not complete within %d ms %d times in %lld s: "
					    "transactions keep it busy; nothing changed",
					    PAUSE_TIMEOUT_MS, mark.pause_timeouts, (long long)((now - mark.waiting_since_ms) / 1000));
			finish(conf, etcd, &mark, leader, candidate);
			return SWITCHOVER_FAILED;
		}
		withdraw_repoint(conf, etcd);
		note_mark(conf, etcd, &mark);
		return SWITCHOVER_WAITING;
	}
	timing->pause_ms = proc_now_ms() - t0;

	/* 5. paused: Patroni switches over (switchover=fast: pgrefresh's own steps), PgBouncer follows, resumed */
	{
		bool undone = false;
		int rc = fast ? switchover_paused_fast(conf, etcd, &mark, old, cand, t0, timing, &undone, err)
			      : switchover_paused(conf, etcd, &mark, old, cand, t0, timing, err);

		if (rc != 0 && undone && mark.lease != 0) {
			/*
			 * the fast path undone (nobody promoted, maintenance mode ended, PgBouncer resumed towards the old
			 * primary): Patroni's switchover at the next call of this attempt, which needs no agent
			 */
			log_warn("switchover %s -> %s: %s; Patroni's own switchover next", old->name, cand->name, err->msg);
			mark.patroni_way = true;
			mark.pgbouncer_paused = false;
			withdraw_repoint(conf, etcd);
			note_mark(conf, etcd, &mark);
			return SWITCHOVER_WAITING;
		}
		finish(conf, etcd, &mark, leader, candidate);
		return rc == 0 ? SWITCHOVER_DONE : SWITCHOVER_FAILED;
	}
}

switchover_result switchover_step(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease,
				  const char *leader, const char *candidate, const switchover_policy *policy,
				  switchover_timing *timing, pgr_err *err)
{
	char note[300];
	switchover_result r;

	/* a unit whose agent did not cascade is said with the failure (the step that cascades says it itself) */
	cascade_unanswered(conf, etcd, leader, candidate, note, sizeof(note));
	r = step(conf, etcd, owner_lease, leader, candidate, policy, timing, note, sizeof(note), err);
	if (r == SWITCHOVER_FAILED && note[0] != '\0') {
		char cause[sizeof(err->msg)];

		snprintf(cause, sizeof(cause), "%s", err->msg);
		pgr_err_set(err, "%.600s (and %s)", cause, note);
	}
	return r;
}

/* The cluster's settings for clients holding transactions (`pgrefresh config`), else their defaults. */
bool switchover_fast_applies(bool asked, int unit_count)
{
	return asked && unit_count >= 3;
}

static void read_policy(const cluster_conf *conf, const etcd_client *etcd, switchover_policy *policy)
{
	refresh_settings settings;
	state_scope scope;
	pgr_err err;

	settings_defaults(&settings);
	if (etcd != NULL) {
		conf_state_scope(conf, &scope);
		if (store_read_settings(etcd, &scope, &settings, &err) != 0)
			log_warn("cannot read the settings (%s): the switchover uses the defaults", err.msg);
	}
	policy->wait_s = settings.switchover_wait_s;
	policy->terminate_clients = settings.switchover_terminate_clients;
	policy->fast = switchover_fast_applies(settings.switchover_fast, conf->unit_count);
}

int switchover_run(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease, const char *leader,
		   const char *candidate, switchover_timing *timing, pgr_err *err)
{
	switchover_policy policy = { .attempt = wall_ms() };
	long long give_up;

	read_policy(conf, etcd, &policy);
	/* the mark carries the wait from step to step; without one (no etcd), this bounds it */
	give_up = proc_now_ms() + (long long)policy.wait_s * 1000 + TERMINATE_GRACE_MS;

	for (;;) {
		switchover_result r = switchover_step(conf, etcd, owner_lease, leader, candidate, &policy, timing, err);

		if (r == SWITCHOVER_DONE)
			return 0;
		if (r == SWITCHOVER_FAILED)
			return -1;
		if (proc_now_ms() > give_up)
			return pgr_err_set(err, "clients kept transactions open on %s for %d s; nothing changed", leader,
					   policy.wait_s);
		proc_sleep_ms(200);
	}
}

static int switchover_paused(const cluster_conf *conf, const etcd_client *etcd, switchover_mark *mark,
			     const conf_unit *old, const conf_unit *cand, long long t0, switchover_timing *timing,
			     pgr_err *err)
{
	const char *leader = old->member, *candidate = cand->member;
	cluster_secrets secrets;
	char url[200], conninfo[1024];
	patroni_client pc;
	long long t_asked, deadline, retry_deadline;
	patroni_request req;
	int result = -1, r = -1; /* r: the request's result, -1 while it runs */

	if (secrets_load(conf->dir, &secrets, err) != 0) {
		resume_marked(conf, etcd, mark);
		return -1;
	}
	pg_conninfo(conninfo, sizeof(conninfo), cand->host, cand->pg_port, conf->superuser, secrets.superuser_password,
		    "postgres", 2);
	conf_unit_patroni(conf, old, &pc, url, sizeof(url));
	deadline = proc_now_ms() + PROMOTE_TIMEOUT_MS;
	retry_deadline = proc_now_ms() + PAUSED_RETRY_MS;
	for (;;) {
		t_asked = proc_now_ms();
		if (patroni_request_start(&req, &pc, url, leader, candidate, PROMOTE_TIMEOUT_MS, err) != 0) {
			resume_marked(conf, etcd, mark);
			return pgr_err_prefix(err, "nothing changed");
		}
		/* poll the candidate until it accepts writes, or the request fails; Patroni may answer 200
		 * a moment before the candidate accepts writes: then polling goes on */
		r = -1;
		for (;;) {
			char out[16];
			pgr_err ignored;

			if (r < 0)
				r = patroni_request_result(&req, false);
			if (pg_query_text(conninfo, "SELECT pg_is_in_recovery()", out, sizeof(out), &ignored) == 0 &&
			    strcmp(out, "f") == 0) {
				result = 0;
				break;
			}
			if (proc_now_ms() > deadline)
				break;
			if (r > 0 && !switchover_under_way(conf, old, cand))
				break; /* not 200, and the old primary still leads and runs: nothing happens */
			proc_sleep_ms(10);
		}
		if (result == 0)
			break;
		if (r == 2 && proc_now_ms() < retry_deadline) {
			proc_sleep_ms(200); /* no sync standby right now (412): ask again, briefly: clients wait */
			continue;
		}
		if (r < 0)
			r = patroni_request_result(&req, true); /* bounded by the request's own timeout */
		resume_marked(conf, etcd, mark);
		if (r == 0 || proc_now_ms() > deadline)
			return pgr_err_set(err, "%s was not promoted within %d s; PgBouncer resumed towards %s", candidate,
					   PROMOTE_TIMEOUT_MS / 1000, leader);
		{
			char answer[160];

			patroni_request_answer(&req, answer, sizeof(answer));
			return pgr_err_set(err, "Patroni refused the switchover to %s (%s); nothing changed, PgBouncer resumed "
					   "towards %s",
					   candidate, answer, leader);
		}
	}
	timing->promote_ms = proc_now_ms() - t_asked;
	if (repoint_all(conf, etcd, cand, err) != 0) {
		/* clients must not stay paused: resume, and say the switchover did not end well */
		resume_marked(conf, etcd, mark);
		if (r < 0)
			(void)patroni_request_result(&req, true);
		return pgr_err_prefix(err, "%s leads, but the poolers could not be repointed at it", candidate);
	}
	resume_marked(conf, etcd, mark);
	timing->paused_ms = proc_now_ms() - t0;
	/* Patroni's own answer, for the record */
	if (r < 0)
		r = patroni_request_result(&req, true);
	if (r != 0)
		log_warn("Patroni's answer to the switchover was not 200, though %s accepts writes", candidate);
	timing->total_ms = proc_now_ms() - t0;
	return 0;
}

/*
 * A fast switchover undone: PgBouncer still leads to the old primary. If its postmaster died (killed while
 * paused), Patroni, its maintenance mode ended, starts it again "as readonly because i had the session lock"
 * and promotes it a loop later: clients resumed at once would write into that read-only window and fail. So
 * they stay paused until it accepts writes, bounded (Patroni's crash recovery and start take about 1 s here);
 * one that runs still accepts writes at once. True once it does: all is as before the attempt, and Patroni's
 * switchover can take it from there.
 */
#define UNDONE_WRITABLE_WAIT_MS 10000

static bool await_old_writable(const cluster_conf *conf, const conf_unit *old)
{
	long long t0 = proc_now_ms();
	cluster_secrets secrets;
	char conninfo[1024], out[16];
	pgr_err err;

	if (secrets_load(conf->dir, &secrets, &err) != 0)
		return false;
	pg_conninfo(conninfo, sizeof(conninfo), old->host, old->pg_port, conf->superuser, secrets.superuser_password,
		    "postgres", 1);
	while (pg_query_text_timeout(conninfo, "SELECT pg_is_in_recovery()", 1000, out, sizeof(out), &err) != 0 ||
	       strcmp(out, "f") != 0) {
		if (proc_now_ms() - t0 > UNDONE_WRITABLE_WAIT_MS) {
			log_warn("fast switchover undone: %s does not accept writes after %d s: PgBouncer resumed all the same",
				 old->name, UNDONE_WRITABLE_WAIT_MS / 1000);
			return false;
		}
		proc_sleep_ms(10);
	}
	if (proc_now_ms() - t0 > 100)
		log_info("fast switchover undone: %s accepts writes again after %lld ms, PgBouncer paused meanwhile",
			 old->name, proc_now_ms() - t0);
	return true;
}

/* switchover=fast (docs/fast-switchover.md): the steps in Patroni's maintenance mode, then as above: repoint,
 * resume. PgBouncer is resumed on every path; towards the candidate only once it has a sync standby. */
static int switchover_paused_fast(const cluster_conf *conf, const etcd_client *etcd, switchover_mark *mark,
				  const conf_unit *old, const conf_unit *cand, long long t0, switchover_timing *timing,
				  bool *undone, pgr_err *err)
{
	fast_outcome outcome;
	long long promote_ms = 0;

	*undone = false;
	if (fast_switchover_paused(conf, etcd, mark->lease, old, cand, &promote_ms, &outcome, err) != 0) {
		if (outcome == FAST_OUT_ABORTED)
			*undone = await_old_writable(conf, old);
		resume_marked(conf, etcd, mark);
		if (outcome == FAST_OUT_ABORTED)
			return pgr_err_prefix(err, "fast switchover to %s undone, PgBouncer resumed", cand->name);
		return pgr_err_prefix(err, "fast switchover to %s halted, PgBouncer resumed", cand->name);
	}
	timing->promote_ms = promote_ms;
	if (repoint_all(conf, etcd, cand, err) != 0) {
		resume_marked(conf, etcd, mark);
		return pgr_err_prefix(err, "%s leads, but the poolers could not be repointed at it", cand->name);
	}
	resume_marked(conf, etcd, mark);
	timing->paused_ms = proc_now_ms() - t0;
	/* clients run again; Patroni follows: the leader key, maintenance mode ended, the override reset */
	if (fast_switchover_finish(conf, etcd, cand, mark->lease, err) != 0)
		return pgr_err_prefix(err, "%s leads and PgBouncer was resumed towards it, but", cand->name);
	timing->total_ms = proc_now_ms() - t0;
	return 0;
}
