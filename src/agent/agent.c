#include "agent/agent.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/pooler_apply.h"
#include "agent/tags.h"
#include "catalog/catalog.h"
#include "cluster/conf.h"
#include "cluster/conf_security.h"
#include "cluster/health.h"
#include "cluster/switchover.h"
#include "etcd/etcd.h"
#include "metrics/publisher.h"
#include "agent/pg_action.h"
#include "patroni/patroni.h"
#include "pg/pgbouncer.h"
#include "pooler/pooler.h"
#include "refresh/driver.h"
#include "state/intent.h"
#include "state/lease.h"
#include "state/presence.h"
#include "state/store.h"
#include "state/unit_record.h"
#include "util/fileutil.h"
#include "util/log.h"
#include "util/proc.h"

#define AGENT_LEASE_TTL_S 5
#define AGENT_TICK_MS 1000
#define WAKE_POLL_MS 100 /* between ticks: is there a reason to tick now (see tick_now)? */
#define AGENT_REFRESH_TICK_MS 200 /* while a refresh is in progress: each step is seen within this */
#define AGENT_BUSY_TICK_MS 100 /* while the refresh moves (checks, a unit, the switchover) and this unit has a step
				* under way, or this agent coordinates it: each hand-off (a step done, reported, seen
				* by the coordinator) waits on two ticks */
#define PATRONI_BIN "/usr/bin/patroni"
#define ETCD_DOWN_LOG_INTERVAL_MS 30000 /* while etcd is unreachable: one line this often */
#define INTENT_POLL_FAST_MS 50  /* this unit's intent, while a switchover (marked, or the refresh's) or its own
				 * refresh step is live */
#define INTENT_POLL_SLOW_MS 500 /* ... otherwise (a switchover mark is looked for as often) */
#define PRESENCE_REWRITE_MS 10000 /* the presence key is rewritten this often under the same lease (if removed) */

/* Set by the signal handler: the only global. */
static volatile sig_atomic_t agent_stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	agent_stop_requested = 1;
}

/* SIGHUP: pgrefresh.conf changed (add-unit, remove-unit): the agent stops its loop and execs itself again,
 * its Patroni left running (the new image adopts it by its pidfile). */
static volatile sig_atomic_t agent_reexec_requested;

static void on_reload_signal(int sig)
{
	(void)sig;
	agent_reexec_requested = 1;
	agent_stop_requested = 1;
}

/* One catalog entry's facts as last found, and the identity of the entry they were found for. */
typedef struct fact_cache_entry {
	char identity[PATH_MAX + 256]; /* catalog_entry_identity */
	unit_version_facts facts;
} fact_cache_entry;

/* Everything the agent knows, passed explicitly. */
typedef struct agent_ctx {
	cluster_conf conf;
	const conf_unit *unit;
	etcd_client etcd;
	char prefix[128];         /* /pgrefresh/<cluster>/ */
	state_scope scope;        /* the same, and the members, for the state layer */
	char api_url[200];        /* this unit's Patroni */
	patroni_client patroni;   /* and how to reach it (conf_patroni_client) */
	char patroni_pidfile[PATH_MAX + 32];
	int64_t lease;            /* 0 = none yet */
	bool coordinator;
	int patroni_restarts;
	refresh_unit_state unit_state; /* this unit's part of a refresh */
	refresh_driver driver;         /* the coordinator's part */
	/*
	 * The keeper thread keeps the lease alive and the heartbeat fresh while the main loop is busy
	 * (a switchover blocks it for seconds): without it the coordinator's lease would expire mid-step.
	 * lease, coordinator, last_report and last_report_ms are shared with it, under lock.
	 */
	pthread_mutex_t lock;
	char *last_report; /* the last unit record written (JSON), heap */
	long long last_report_ms;
	bool keeper_stop;
	/* the main loop's progress: stamped before each step, with the bound that step keeps */
	long long progress_ms;
	long long progress_bound_ms;
	log_throttle etcd_down; /* "etcd unreachable" lines, from both threads */
	bool refresh_active; /* a refresh record exists: tick faster */
	bool refresh_moving; /* and it moves (not paused, failed or done): the refresh's own agents tick faster still */
	bool intents_fast;   /* under lock: the refresh switches over, or is at this unit: poll its intent fast */
	agent_tags tags;     /* this unit's Patroni tags: its own steps and its unit intent (agent/tags.h) */
	bool intents_stop;   /* under lock: the intent poller ends */
	agent_pg pg;         /* the intent poller's only: the fast switchover's asks of this PostgreSQL (agent/pg_action.h) */
	int64_t refresh_seen_rev; /* mod_revision of the refresh record at the last tick (0: none) */
	int64_t presence_lease;     /* the lease the presence key was last written under (0: not yet) */
	long long presence_put_ms;  /* when (monotonic) */
	fact_cache_entry fact_cache[UNIT_RECORD_MAX_FACTS]; /* the main loop's only */
	int fact_cache_count;
	metrics_publisher metrics; /* its Prometheus metrics (the main loop's only; served from their own thread) */
} agent_ctx;

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

agent_keeper_action agent_keeper_decide(long long now_ms, long long progress_ms, long long progress_bound_ms,
					bool has_report, long long last_report_ms, long long tick_ms)
{
	if (now_ms - progress_ms > progress_bound_ms)
		return AGENT_KEEPER_WITHHOLD;
	if (has_report && now_ms - last_report_ms > 2 * tick_ms)
		return AGENT_KEEPER_RENEW_REPUBLISH;
	return AGENT_KEEPER_RENEW;
}

/* The main loop begins a step that keeps bound_ms: the keeper renews the lease until then. */
static void loop_progress(agent_ctx *ctx, long long bound_ms)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->progress_ms = proc_now_ms();
	ctx->progress_bound_ms = bound_ms;
	pthread_mutex_unlock(&ctx->lock);
}

/*
 * An etcd call failed (what: what it was for). Unreachable etcd goes through the throttle: one line at
 * the first failure, then one every ETCD_DOWN_LOG_INTERVAL_MS with a count. Other failures (a refused
 * request) are logged as they come, at level.
 */
static void etcd_failed(agent_ctx *ctx, enum log_level level, const char *what, const pgr_err *err)
{
	enum log_throttle_verdict v;
	long count;
	long long down_ms;

	if (!etcd_err_unreachable(err)) {
		log_at(level, "%s: %s", what, err->msg);
		return;
	}
	pthread_mutex_lock(&ctx->lock);
	v = log_throttle_failure(&ctx->etcd_down, proc_now_ms(), &count, &down_ms);
	pthread_mutex_unlock(&ctx->lock);
	if (v == LOG_THROTTLE_FIRST)
		log_warn("etcd unreachable (%s): %s", what, err->msg);
	else if (v == LOG_THROTTLE_REPEAT)
		log_warn("etcd still unreachable after %lld s (%ld failed calls since the last line): %s",
			 down_ms / 1000, count, err->msg);
}

/* An etcd call answered: after an outage, say so once. */
static void etcd_answered(agent_ctx *ctx)
{
	enum log_throttle_verdict v;
	long count;
	long long down_ms;

	pthread_mutex_lock(&ctx->lock);
	v = log_throttle_success(&ctx->etcd_down, proc_now_ms(), &count, &down_ms);
	pthread_mutex_unlock(&ctx->lock);
	if (v == LOG_THROTTLE_RECOVERED)
		log_info("etcd reachable again after %lld s (%ld failed calls)", (down_ms + 500) / 1000, count);
}

/* Ensures the unit's Patroni runs: adopts the one of the pidfile, or starts one. */
static void ensure_patroni(agent_ctx *ctx)
{
	char yml[PATH_MAX + 32], log[PATH_MAX + 32];
	char *argv[] = { PATRONI_BIN, yml, NULL };
	proc_user user;
	pid_t pid;
	pgr_err err;

	if (proc_pidfile_alive(ctx->patroni_pidfile, NULL))
		return;
	conf_unit_path(&ctx->conf, ctx->unit, "patroni.yml", yml, sizeof(yml));
	conf_unit_path(&ctx->conf, ctx->unit, "patroni.log", log, sizeof(log));
	if (proc_user_for_servers(&user, &err) != 0 ||
	    proc_spawn_daemon_reaped(argv, NULL, &user, log, ctx->patroni_pidfile, &pid, &err) != 0) {
		log_error("could not start Patroni: %s", err.msg);
		return;
	}
	if (ctx->patroni_restarts++ == 0)
		log_info("started Patroni (pid %d)", (int)pid);
	else
		log_warn("Patroni was not running: restarted it (pid %d)", (int)pid);
}

/*
 * Lease lease is gone (expired, or etcd no longer knows it): forget it, and with it the coordinator role,
 * unless another thread already did. ensure_lease then grants a new one.
 */
static void lease_lost(agent_ctx *ctx, int64_t lease)
{
	pthread_mutex_lock(&ctx->lock);
	if (ctx->lease == lease) {
		ctx->lease = 0;
		if (ctx->coordinator)
			log_warn("no longer coordinator (lease expired)");
		ctx->coordinator = false;
	}
	pthread_mutex_unlock(&ctx->lock);
}

/* The main loop: get a lease when there is none (the keeper keeps it alive). */
static void ensure_lease(agent_ctx *ctx)
{
	pgr_err err;
	int64_t lease = 0;

	pthread_mutex_lock(&ctx->lock);
	lease = ctx->lease;
	pthread_mutex_unlock(&ctx->lock);
	if (lease != 0)
		return;
	if (state_lease_grant(&ctx->etcd, AGENT_LEASE_TTL_S, &lease, &err) != 0) {
		etcd_failed(ctx, LOG_LEVEL_WARN, "could not get a lease from etcd", &err);
		return;
	}
	etcd_answered(ctx);
	pthread_mutex_lock(&ctx->lock);
	ctx->lease = lease;
	pthread_mutex_unlock(&ctx->lock);
}

/*
 * The main loop: the presence key (state/presence.h) under the current lease. Written when the lease is
 * new, and again every PRESENCE_REWRITE_MS in case it was removed; it goes when the lease expires.
 */
static void ensure_presence(agent_ctx *ctx)
{
	presence p;
	int64_t lease;
	long long now = proc_now_ms();
	pgr_err err;

	pthread_mutex_lock(&ctx->lock);
	lease = ctx->lease;
	pthread_mutex_unlock(&ctx->lock);
	if (lease == 0 || (lease == ctx->presence_lease && now - ctx->presence_put_ms < PRESENCE_REWRITE_MS))
		return;
	memset(&p, 0, sizeof(p));
	snprintf(p.unit, sizeof(p.unit), "%s", ctx->unit->name);
	p.pid = (int)getpid();
	p.ttl_s = AGENT_LEASE_TTL_S;
	if (presence_put(&ctx->etcd, ctx->prefix, ctx->unit->member, &p, lease, &err) != 0) {
		if (!state_lease_err_gone(&err)) {
			etcd_failed(ctx, LOG_LEVEL_WARN, "could not write the presence key", &err);
			return;
		}
		/* cut off longer than its TTL (a partition): the lease is gone, a new one at once, not a retry */
		etcd_answered(ctx);
		log_warn("lease %lld expired (etcd no longer knows it): getting a new one", (long long)lease);
		lease_lost(ctx, lease);
		ensure_lease(ctx);
		pthread_mutex_lock(&ctx->lock);
		lease = ctx->lease;
		pthread_mutex_unlock(&ctx->lock);
		if (lease == 0)
			return;
		if (presence_put(&ctx->etcd, ctx->prefix, ctx->unit->member, &p, lease, &err) != 0) {
			etcd_failed(ctx, LOG_LEVEL_WARN, "could not write the presence key", &err);
			return;
		}
	}
	ctx->presence_lease = lease;
	ctx->presence_put_ms = now;
}

static void *keeper_main(void *arg)
{
	agent_ctx *ctx = arg;
	bool withholding = false;

	for (;;) {
		int64_t lease;
		bool alive = false;
		char *report = NULL;
		agent_keeper_action action;
		long long now, stuck_ms, bound_ms;
		pgr_err err;

		for (int i = 0; i < 10; i++) {
			bool stop;

			pthread_mutex_lock(&ctx->lock);
			stop = ctx->keeper_stop;
			pthread_mutex_unlock(&ctx->lock);
			if (stop)
				return NULL;
			proc_sleep_ms(AGENT_TICK_MS / 10);
		}
		now = proc_now_ms();
		pthread_mutex_lock(&ctx->lock);
		lease = ctx->lease;
		stuck_ms = now - ctx->progress_ms;
		bound_ms = ctx->progress_bound_ms;
		action = agent_keeper_decide(now, ctx->progress_ms, ctx->progress_bound_ms, ctx->last_report != NULL,
					     ctx->last_report_ms, AGENT_TICK_MS);
		if (action == AGENT_KEEPER_RENEW_REPUBLISH)
			report = strdup(ctx->last_report);
		pthread_mutex_unlock(&ctx->lock);
		if (action == AGENT_KEEPER_WITHHOLD) {
			if (!withholding)
				log_error("the main loop has made no progress for %lld s (its step is bounded by %lld s): "
					  "no longer renewing lease %lld, so that another agent can coordinate",
					  stuck_ms / 1000, bound_ms / 1000, (long long)lease);
			withholding = true;
			continue;
		}
		if (withholding)
			log_warn("the main loop progresses again: renewing the lease again");
		withholding = false;
		if (lease != 0) {
			if (state_lease_renew(&ctx->etcd, lease, &alive, &err) != 0) {
				etcd_failed(ctx, LOG_LEVEL_WARN, "lease keep-alive failed", &err);
			} else if (!alive) {
				etcd_answered(ctx);
				log_warn("lease %lld expired", (long long)lease);
				lease_lost(ctx, lease);
			} else {
				etcd_answered(ctx);
			}
		}
		if (report != NULL) {
			/* the main loop is in a long step within its bound: say we are alive with the last report */
			unit_record rec;

			if (unit_record_parse(report, &rec, &err) == 0) {
				struct timeval tv;

				gettimeofday(&tv, NULL);
				rec.heartbeat_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
				if (unit_record_put(&ctx->etcd, &ctx->scope, &rec, NULL, &err) != 0)
					etcd_failed(ctx, LOG_LEVEL_WARN, "could not report to etcd", &err);
			}
			free(report);
		}
	}
}

/* What the intent poller just applied, published at once: the last report with the intent's token and a
 * fresh heartbeat (the main loop's next report carries it too). No report yet: the first one will. */
static void publish_intent_applied(agent_ctx *ctx)
{
	char *report, *json = NULL;
	unit_record rec;
	pgr_err err;

	pthread_mutex_lock(&ctx->lock);
	report = ctx->last_report != NULL ? strdup(ctx->last_report) : NULL;
	pthread_mutex_unlock(&ctx->lock);
	if (report == NULL)
		return;
	if (unit_record_parse(report, &rec, &err) == 0) {
		agent_tags_report(&ctx->tags, &rec);
		rec.heartbeat_ms = wall_ms();
		if (unit_record_put(&ctx->etcd, &ctx->scope, &rec, &json, &err) != 0)
			etcd_failed(ctx, LOG_LEVEL_WARN, "could not report the intent applied", &err);
		/* the keeper republishes this one while the main loop is busy, not the report without the token
		 * (unless the main loop reported again meanwhile: its report has the token already) */
		pthread_mutex_lock(&ctx->lock);
		if (json != NULL && ctx->last_report != NULL && strcmp(ctx->last_report, report) == 0) {
			free(ctx->last_report);
			ctx->last_report = json;
			json = NULL;
		}
		pthread_mutex_unlock(&ctx->lock);
		free(json);
	}
	free(report);
}

/* Whether a switchover mark is in etcd (a switchover may ask this unit for tags any moment). */
static bool switchover_marked_now(agent_ctx *ctx)
{
	switchover_mark mark;
	bool found = false;
	pgr_err err;

	if (switchover_mark_read(&ctx->etcd, ctx->prefix, &mark, &found, NULL, &err) != 0)
		return false;
	return found;
}

/*
 * The intent poller: this unit's intent (state/unit_intent.h) is applied on a thread of its own, so that
 * the agent answers while its main loop is busy (a coordinator's own switchover waits for it). Every
 * INTENT_POLL_FAST_MS while a switchover (a mark, or the refresh's) or this unit's own refresh step is
 * live, every INTENT_POLL_SLOW_MS otherwise (a refresh paused for the user polls slowly);
 * each poll one bounded etcd read, each apply bounded by Patroni's requests.
 */
static void *intents_main(void *arg)
{
	agent_ctx *ctx = arg;
	long long next_mark_check = 0;
	bool marked = false;
	char last_error[256] = "";

	for (;;) {
		bool stop, fast, changed = false;
		long long period;
		pgr_err err;

		pthread_mutex_lock(&ctx->lock);
		stop = ctx->intents_stop;
		fast = ctx->intents_fast;
		pthread_mutex_unlock(&ctx->lock);
		if (stop)
			return NULL;
		if (!fast && proc_now_ms() >= next_mark_check) {
			marked = switchover_marked_now(ctx);
			next_mark_check = proc_now_ms() + (marked ? 1000 : INTENT_POLL_SLOW_MS);
		}
		if (agent_tags_take_intent(&ctx->tags, &ctx->etcd, ctx->prefix, &ctx->conf, ctx->unit, &changed, &err) != 0) {
			/* unreachable etcd is throttled there; a corrupt intent is said once, not every poll */
			if (etcd_err_unreachable(&err) || strncmp(last_error, err.msg, sizeof(last_error) - 1) != 0)
				etcd_failed(ctx, LOG_LEVEL_WARN, "cannot read this unit's intent", &err);
			snprintf(last_error, sizeof(last_error), "%s", err.msg);
		} else {
			last_error[0] = '\0';
			if (changed)
				publish_intent_applied(ctx);
		}
		if (fast || marked) {
			bool acted = false;

			/* asked only while a switchover is marked: read then, fast */
			if (agent_pg_take_intent(&ctx->pg, &ctx->etcd, ctx->prefix, &ctx->conf, ctx->unit, &acted, &err) != 0) {
				etcd_failed(ctx, LOG_LEVEL_WARN, "cannot take this unit's pg intent", &err);
				/* not answered: taken again, not at once (the intent waits unanswered: no busy loop) */
				proc_sleep_ms(AGENT_PG_POLL_MS);
				continue;
			}
			if (acted)
				continue; /* the next step is usually asked at once: no pause */
			/* instead of the pause below: the pg intent read every AGENT_PG_POLL_MS, taken once asked */
			(void)agent_pg_intent_waiting(&ctx->pg, &ctx->etcd, ctx->prefix, ctx->unit, INTENT_POLL_FAST_MS);
			continue;
		}
		period = fast || marked ? INTENT_POLL_FAST_MS : INTENT_POLL_SLOW_MS;
		for (long long slept = 0; slept < period; slept += INTENT_POLL_FAST_MS) {
			pthread_mutex_lock(&ctx->lock);
			stop = ctx->intents_stop;
			pthread_mutex_unlock(&ctx->lock);
			if (stop)
				return NULL;
			proc_sleep_ms(INTENT_POLL_FAST_MS);
		}
	}
}

/* Whether another unit of the cluster has this unit's host (loopback). */
static bool unit_host_shared(const agent_ctx *ctx)
{
	for (int i = 0; i < ctx->conf.unit_count; i++)
		if (&ctx->conf.units[i] != ctx->unit && strcmp(ctx->conf.units[i].host, ctx->unit->host) == 0)
			return true;
	return false;
}

/*
 * A unit alone on its host (several hosts): the poolers whose config is there are repointed from a thread
 * of their own, so that the coordinator, whose main loop runs the switchover, still takes the repoint of
 * the pooler on its own host (no other agent is there to take it). Where units share a host, the main
 * loop does it (another agent than the busy coordinator takes the switchover's repoint).
 */
static void *poolers_main(void *arg)
{
	agent_ctx *ctx = arg;

	for (;;) {
		bool stop;

		pthread_mutex_lock(&ctx->lock);
		stop = ctx->intents_stop;
		pthread_mutex_unlock(&ctx->lock);
		if (stop || agent_stop_requested)
			return NULL;
		pooler_apply_tick(&ctx->etcd, &ctx->conf, ctx->unit, &agent_stop_requested);
		proc_sleep_ms(POOLERS_POLL_MS);
	}
}

static void add_extension(const char *name, void *arg)
{
	unit_facts_add_extension(arg, name);
}

/*
 * The facts of one catalog entry, found on this host: the runnable check (bounded: postgres --version
 * under a timeout, see catalog.h) and the extension names. From the cache when the entry is unchanged.
 */
static void entry_facts(agent_ctx *ctx, const catalog_entry *entry, fact_cache_entry *next, int *next_count,
			unit_version_facts *out)
{
	char identity[sizeof(next->identity)];
	pgr_err err;

	catalog_entry_identity(entry, identity, sizeof(identity));
	for (int i = 0; i < ctx->fact_cache_count; i++) {
		if (strcmp(ctx->fact_cache[i].identity, identity) == 0 &&
		    strcmp(ctx->fact_cache[i].facts.version, entry->version) == 0) {
			*out = ctx->fact_cache[i].facts;
			next[(*next_count)++] = ctx->fact_cache[i];
			return;
		}
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->version, sizeof(out->version), "%s", entry->version);
	out->runnable = catalog_check_runnable(entry, &err) == 0;
	if (!out->runnable)
		snprintf(out->problem, sizeof(out->problem), "%s", err.msg);
	if (catalog_extension_names(entry, add_extension, out, &err) != 0) {
		out->extensions_cut = true; /* unreadable: nothing can be said to be missing for sure */
		log_warn("catalog entry %s: %s", entry->version, err.msg);
	}
	log_info("catalog entry %s at %s: %s%s", entry->version, entry->root, out->runnable ? "runs here" : "does not run: ",
		 out->runnable ? "" : out->problem);
	snprintf(next[*next_count].identity, sizeof(next[0].identity), "%s", identity);
	next[(*next_count)++].facts = *out;
}

/*
 * The catalog as this unit's host has it: every version, and the facts of the highest
 * UNIT_RECORD_MAX_FACTS. The unit's own catalog (its directory's `catalog`, a directory or a link) when
 * it has one, else the cluster's (pgrefresh.conf).
 */
static void observe_catalog(agent_ctx *ctx, unit_record *rec)
{
	catalog_entry *entries = NULL;
	fact_cache_entry *next = calloc(UNIT_RECORD_MAX_FACTS, sizeof(*next));
	int count = 0, next_count = 0;
	char own[PATH_MAX + 32];
	pgr_err err;

	conf_unit_path(&ctx->conf, ctx->unit, "catalog", own, sizeof(own));
	if (next == NULL || catalog_list(path_exists(own) ? own : ctx->conf.catalog, &entries, &count, &err) != 0) {
		free(next);
		return; /* no catalog facts this tick: the checks say the unit reports none */
	}
	for (int i = 0; i < count && rec->catalog_count < UNIT_RECORD_MAX_VERSIONS; i++)
		snprintf(rec->catalog[rec->catalog_count++], sizeof(rec->catalog[0]), "%s", entries[i].version);
	for (int i = count > UNIT_RECORD_MAX_FACTS ? count - UNIT_RECORD_MAX_FACTS : 0; i < count; i++)
		entry_facts(ctx, &entries[i], next, &next_count, &rec->facts[rec->fact_count++]);
	memcpy(ctx->fact_cache, next, sizeof(ctx->fact_cache));
	ctx->fact_cache_count = next_count;
	free(next);
	free(entries);
}

static void role_name(patroni_role role, char *out, size_t len)
{
	snprintf(out, len, "%s", patroni_role_display(role));
}

/* Reads Patroni and fills the record. */
static void observe_unit(agent_ctx *ctx, unit_record *rec)
{
	patroni_node node;
	patroni_cluster cluster;
	pgr_err err;

	memset(rec, 0, sizeof(*rec));
	snprintf(rec->unit, sizeof(rec->unit), "%s", ctx->unit->name);
	snprintf(rec->member, sizeof(rec->member), "%s", ctx->unit->member);
	snprintf(rec->host, sizeof(rec->host), "%s", ctx->unit->host);
	rec->port = ctx->unit->pg_port;
	snprintf(rec->role, sizeof(rec->role), "unknown");
	rec->lag_bytes = -1;
	rec->agent_pid = (int)getpid();
	rec->heartbeat_ms = wall_ms();
	if (conf_unit_linked_version(&ctx->conf, ctx->unit, rec->linked_version, sizeof(rec->linked_version)) != 0)
		rec->linked_version[0] = '\0';
	observe_catalog(ctx, rec);
	if (patroni_get_node(&ctx->patroni, ctx->api_url, 2000, &node, &err) != 0) {
		log_debug("Patroni does not answer: %s", err.msg);
		return;
	}
	snprintf(rec->patroni_state, sizeof(rec->patroni_state), "%s", node.state);
	rec->timeline = node.timeline;
	if (strcmp(node.state, "running") == 0)
		unit_record_version_string(node.server_version, rec->server_version, sizeof(rec->server_version));
	if (patroni_get_cluster(&ctx->patroni, ctx->api_url, 2000, &cluster, &err) != 0)
		return;
	{
		const patroni_member *me = patroni_cluster_member(&cluster, ctx->unit->member);
		const patroni_member *leader = patroni_cluster_leader(&cluster);

		if (me == NULL)
			return;
		role_name(me->role, rec->role, sizeof(rec->role));
		rec->lag_bytes = me->lag_bytes;
		rec->tag_nosync = node.tags_nosync;
		snprintf(rec->tag_replicatefrom, sizeof(rec->tag_replicatefrom), "%s", node.tags_replicatefrom);
		if (me->role == PATRONI_ROLE_LEADER) {
			rec->streaming = strcmp(node.state, "running") == 0;
			rec->lag_bytes = 0;
		} else if (leader != NULL) {
			/* from the primary, or from the standby its replicatefrom tag names (a cascade) */
			const patroni_member *upstream[2] = { leader, NULL };

			if (node.tags_replicatefrom[0] != '\0')
				upstream[1] = patroni_cluster_member(&cluster, node.tags_replicatefrom);
			for (int i = 0; i < 2 && !rec->streaming; i++) {
				patroni_node up;
				char base[200];

				if (upstream[i] != NULL && patroni_api_base(upstream[i]->api_url, base, sizeof(base)) == 0 &&
				    patroni_get_node(&ctx->patroni, base, 2000, &up, &err) == 0)
					rec->streaming = health_member_streaming(&up, ctx->unit->member);
			}
		}
	}
}

static void report(agent_ctx *ctx, unit_record *out)
{
	unit_record rec;
	char *json = NULL;
	pgr_err err;

	observe_unit(ctx, &rec);
	if (ctx->unit_state.aside_since_ms != 0)
		snprintf(rec.message, sizeof(rec.message),
			 "Stands aside as sync standby before its restart (Patroni tag nosync)");
	else if (rec.tag_replicatefrom[0] != '\0')
		snprintf(rec.message, sizeof(rec.message), "Streams from %s, the next primary (cascade for the switchover)",
			 rec.tag_replicatefrom);
	refresh_unit_state_save(&ctx->unit_state, &rec);
	*out = rec;
	if (unit_record_put(&ctx->etcd, &ctx->scope, &rec, &json, &err) != 0) {
		if (json == NULL) {
			log_error("%s", err.msg);
			return;
		}
		etcd_failed(ctx, LOG_LEVEL_WARN, "could not report to etcd", &err);
	} else {
		etcd_answered(ctx);
	}
	pthread_mutex_lock(&ctx->lock);
	free(ctx->last_report);
	ctx->last_report = json;
	ctx->last_report_ms = proc_now_ms();
	pthread_mutex_unlock(&ctx->lock);
}

/* Reads the refresh record and does this unit's part of it. Returns whether that changed the unit. */
static bool take_part_in_refresh(agent_ctx *ctx, const unit_record *rec)
{
	bool found = false, parsed = false, marked = false, fast = false, acted;
	int64_t rev = 0;
	refresh_record refresh;
	pgr_err err;

	if (store_read_refresh(&ctx->etcd, &ctx->scope, &found, &rev, &refresh, &parsed, &err) != 0) {
		etcd_failed(ctx, LOG_LEVEL_DEBUG, "cannot read the refresh record", &err);
		return false;
	}
	ctx->refresh_active = found;
	ctx->refresh_moving = parsed && (refresh.state == RS_CHECKING || refresh.state == RS_UNIT ||
					 refresh.state == RS_SWITCHOVER);
	ctx->refresh_seen_rev = rev;
	metrics_publisher_note_refresh(&ctx->metrics, found, parsed ? &refresh : NULL);
	if (rec->tag_replicatefrom[0] != '\0') {
		/* a cascade tag: is a switchover (which owns those tags) marked? */
		switchover_mark mark;

		if (switchover_mark_read(&ctx->etcd, ctx->prefix, &mark, &marked, NULL, &err) != 0) {
			etcd_failed(ctx, LOG_LEVEL_DEBUG, "cannot read the switchover mark", &err);
			return false;
		}
	}
	acted = refresh_unit_tick(&ctx->conf, ctx->unit, parsed ? &refresh : NULL, marked, rec, &ctx->unit_state);
	fast = parsed && refresh.state == RS_SWITCHOVER;
	pthread_mutex_lock(&ctx->lock);
	ctx->intents_fast = fast || marked || ctx->unit_state.step != US_IDLE;
	pthread_mutex_unlock(&ctx->lock);
	return acted;
}

static void set_coordinator(agent_ctx *ctx, bool value)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->coordinator = value;
	pthread_mutex_unlock(&ctx->lock);
}

static void elect(agent_ctx *ctx)
{
	bool mine = false, coordinator;
	int64_t lease;
	pgr_err err;

	pthread_mutex_lock(&ctx->lock);
	lease = ctx->lease;
	coordinator = ctx->coordinator;
	pthread_mutex_unlock(&ctx->lock);
	if (lease == 0)
		return;
	if (coordinator) {
		if (store_coordinator_held(&ctx->etcd, &ctx->scope, lease, &mine, &err) != 0)
			return;
		if (!mine) {
			log_warn("no longer coordinator");
			set_coordinator(ctx, false);
		}
		return;
	}
	if (store_claim_coordinator(&ctx->etcd, &ctx->scope, ctx->unit->name, lease, &mine, &err) != 0) {
		etcd_failed(ctx, LOG_LEVEL_DEBUG, "coordinator election", &err);
		if (state_lease_err_gone(&err))
			lease_lost(ctx, lease); /* the next loop's ensure_lease grants a new one */
		return;
	}
	if (mine) {
		set_coordinator(ctx, true);
		log_info("became the coordinator");
	}
}

static bool is_coordinator(agent_ctx *ctx)
{
	bool value;

	pthread_mutex_lock(&ctx->lock);
	value = ctx->coordinator;
	pthread_mutex_unlock(&ctx->lock);
	return value;
}

/*
 * The poolers whose config lives on this unit's host follow the running leader (after a failover that
 * no switchover drove). Every agent looks after the poolers on its own host, never another host's; on a
 * host with several agents, each may repoint: the same target, written durably, is harmless twice.
 * While a live switchover holds its mark (state/switchover_mark.h) they stand aside: the switchover
 * repoints through its pooler intents (state/pooler_intent.h), applied by the host's agent, at the moment
 * it chose (PgBouncer paused, the candidate writable); a follower seeing Patroni's new leader a moment
 * earlier must not repoint in the middle of it. The mark is read only when a pooler would be repointed,
 * after the leader was read: a switchover that ended since has already led the pooler there. A dead
 * switchover's mark does not hold them back: its clean-up finds the poolers leading to the running leader.
 */
/* Whether pooler number i's config file (on this host) already leads to host:port. */
static bool pooler_config_leads_to(const cluster_conf *conf, int i, const char *host, int port)
{
	char path[PATH_MAX], cur_host[256];
	char *text = NULL;
	int cur_port = 0;
	bool same;
	pgr_err err;

	conf_pooler_config(conf, i, path, sizeof(path));
	same = file_read_all(path, &text, NULL, &err) == 0 &&
	       pgbouncer_ini_target(text, cur_host, sizeof(cur_host), &cur_port, &err) == 0 && cur_port == port &&
	       strcmp(cur_host, host) == 0;
	free(text);
	return same;
}

static void follow_leader_poolers(agent_ctx *ctx)
{
	patroni_cluster cluster;
	const patroni_member *leader;
	bool mine = false, mark_checked = false, marked = false;
	pgr_err err;

	for (int i = 0; i < ctx->conf.pgbouncer_count; i++)
		mine = mine || strcmp(ctx->conf.pgbouncers[i].config_host, ctx->unit->host) == 0;
	if (!mine)
		return;
	if (patroni_get_cluster(&ctx->patroni, ctx->api_url, 2000, &cluster, &err) != 0)
		return; /* its own Patroni does not answer: the agents of the other units on the host do */
	leader = patroni_cluster_leader(&cluster);
	if (leader == NULL || strcmp(leader->state, "running") != 0)
		return;
	for (int i = 0; i < ctx->conf.pgbouncer_count; i++) {
		bool changed = false;
		pooler p;

		if (strcmp(ctx->conf.pgbouncers[i].config_host, ctx->unit->host) != 0 ||
		    pooler_config_leads_to(&ctx->conf, i, leader->host, leader->port))
			continue; /* another host's, or leads there already: no RELOAD every tick */
		if (!mark_checked) {
			mark_checked = true;
			if (switchover_mark_held(&ctx->etcd, ctx->prefix, &marked, &err) != 0)
				return; /* cannot tell: a switchover may be repointing */
		}
		if (marked)
			return; /* the switchover's repoint is its own (its pooler intents) */
		if (pooler_open(&ctx->conf, i, &p, &err) != 0 ||
		    p.ops->repoint(&p, leader->host, leader->port, 5000, &changed, &err) != 0)
			log_error("could not lead pooler %s to the primary %s: %s", ctx->conf.pgbouncers[i].name,
				  leader->name, err.msg);
		else if (changed)
			log_info("pooler %s now leads to the primary %s (%s:%d)", ctx->conf.pgbouncers[i].name,
				 leader->name, leader->host, leader->port);
		pooler_close(&p);
	}
}

static void shutdown_unit(agent_ctx *ctx)
{
	pgr_err err;

	log_info("stopping: stopping Patroni");
	if (proc_stop_pidfile(ctx->patroni_pidfile, SIGTERM, 90000, &err) != 0)
		log_error("%s", err.msg);
	if (ctx->lease != 0 && state_lease_revoke(&ctx->etcd, ctx->lease, &err) != 0)
		log_warn("could not revoke the lease: %s", err.msg);
	log_info("stopped");
}

/*
 * Between ticks, every WAKE_POLL_MS: whether to tick now rather than at the end of the pause. A new or
 * changed refresh record (the CLI started one, the coordinator moved to this unit) or this unit's
 * restart through Patroni ending: each is then acted on, and reported, at once instead of up to a tick
 * later.
 */
static bool tick_now(agent_ctx *ctx)
{
	bool found = false;
	int64_t rev = 0;
	pgr_err err;

	if (ctx->unit_state.restart_child > 0) {
		siginfo_t info;

		memset(&info, 0, sizeof(info));
		/* WNOWAIT: only look; refresh_unit_tick reaps it and says how it went */
		if (waitid(P_PID, (id_t)ctx->unit_state.restart_child, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    info.si_pid != 0)
			return true;
	}
	if (is_coordinator(ctx) && intent_pending(&ctx->etcd, &ctx->scope))
		return true; /* the user asks something of the refresh (state/intent.h) */
	if (store_read_refresh(&ctx->etcd, &ctx->scope, &found, &rev, NULL, NULL, &err) != 0)
		return false;
	return rev != ctx->refresh_seen_rev;
}

long agent_tick_ms(bool refresh_active, bool refresh_moving, bool step_under_way, bool coordinator)
{
	if (refresh_moving && (step_under_way || coordinator))
		return AGENT_BUSY_TICK_MS;
	return refresh_active ? AGENT_REFRESH_TICK_MS : AGENT_TICK_MS;
}

/* The main loop, until a stop signal. */
static void agent_loop(agent_ctx *ctx)
{
	while (!agent_stop_requested) {
		long long started = proc_now_ms();
		unit_record rec;
		long long spent;

		loop_progress(ctx, AGENT_STEP_BOUND_MS);
		if (conf_agent_runs_patroni(&ctx->conf))
			ensure_patroni(ctx);
		ensure_lease(ctx);
		ensure_presence(ctx);
		loop_progress(ctx, AGENT_STEP_BOUND_MS);
		report(ctx, &rec);
		if (unit_host_shared(ctx)) /* a pooler on its host; alone on its host: poolers_main */
			pooler_apply_tick(&ctx->etcd, &ctx->conf, ctx->unit, &agent_stop_requested);
		loop_progress(ctx, AGENT_STEP_BOUND_MS);
		if (take_part_in_refresh(ctx, &rec)) {
			/* the unit changed (relinked, restart begun): reported now, for the coordinator's next look */
			loop_progress(ctx, AGENT_STEP_BOUND_MS);
			report(ctx, &rec);
		}
		loop_progress(ctx, AGENT_STEP_BOUND_MS);
		elect(ctx);
		follow_leader_poolers(ctx);
		loop_progress(ctx, AGENT_STEP_BOUND_MS);
		if (is_coordinator(ctx)) {
			/* its tick may hold a whole switchover (agent.h): the old primary's stop alone is bounded by 70 s */
			loop_progress(ctx, AGENT_COORDINATOR_STEP_BOUND_MS);
			pthread_mutex_lock(&ctx->lock);
			ctx->driver.lease = ctx->lease;
			pthread_mutex_unlock(&ctx->lock);
			refresh_driver_tick(&ctx->driver);
		}
		metrics_publisher_tick(&ctx->metrics, &ctx->etcd, &ctx->scope, ctx->conf.name, &rec, is_coordinator(ctx));
		loop_progress(ctx, AGENT_STEP_BOUND_MS);
		spent = proc_now_ms() - started;
		for (long long left = agent_tick_ms(ctx->refresh_active, ctx->refresh_moving,
						    ctx->unit_state.step != US_IDLE, is_coordinator(ctx)) - spent;
		     left > 0 && !agent_stop_requested && !tick_now(ctx); left -= WAKE_POLL_MS)
			proc_sleep_ms(left < WAKE_POLL_MS ? (long)left : WAKE_POLL_MS);
	}
}

int agent_run(const char *dir, const char *unit_name, pgr_err *err)
{
	agent_ctx ctx;
	struct sigaction sa;
	pthread_t keeper, intents, poolers;
	int rc, prc;

	memset(&ctx, 0, sizeof(ctx));
	if (conf_load(dir, &ctx.conf, err) != 0)
		return -1;
	ctx.unit = conf_find_unit(&ctx.conf, unit_name);
	if (ctx.unit == NULL)
		return pgr_err_set(err, "unit %s is not in %s/pgrefresh.conf", unit_name, ctx.conf.dir);
	log_setup(LOG_LEVEL_INFO, ctx.unit->name, 1);
	if (conf_etcd_client(&ctx.conf, &ctx.etcd, err) != 0)
		return -1;
	ctx.etcd.timeout_ms = 2000;
	conf_etcd_prefix(&ctx.conf, ctx.prefix, sizeof(ctx.prefix));
	conf_state_scope(&ctx.conf, &ctx.scope);
	conf_unit_patroni(&ctx.conf, ctx.unit, &ctx.patroni, ctx.api_url, sizeof(ctx.api_url));
	conf_unit_path(&ctx.conf, ctx.unit, "patroni.pid", ctx.patroni_pidfile, sizeof(ctx.patroni_pidfile));
	ctx.driver.conf = &ctx.conf;
	ctx.driver.etcd = &ctx.etcd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_reload_signal;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("agent started (pid %d)", (int)getpid());
	agent_tags_init(&ctx.tags);
	ctx.unit_state.tags = &ctx.tags;
	refresh_unit_state_load(&ctx.etcd, &ctx.conf, ctx.unit, &ctx.unit_state);

	ctx.etcd_down.interval_ms = ETCD_DOWN_LOG_INTERVAL_MS;
	ctx.progress_ms = proc_now_ms();
	ctx.progress_bound_ms = AGENT_STEP_BOUND_MS;
	pthread_mutex_init(&ctx.lock, NULL);
	rc = pthread_create(&keeper, NULL, keeper_main, &ctx);
	if (rc != 0) {
		pthread_mutex_destroy(&ctx.lock);
		agent_tags_destroy(&ctx.tags);
		return pgr_err_set(err, "could not start the keeper thread: %s", strerror(rc));
	}
	rc = pthread_create(&intents, NULL, intents_main, &ctx);
	if (rc != 0)
		log_error("could not start the intent poller: %s; this unit's intents are taken by no one", strerror(rc));
	{
		pgr_err merr;

		if (metrics_publisher_start(&ctx.metrics, ctx.unit, &merr) != 0) /* the unit runs on without them */
			log_error("%s; this agent serves no metrics", merr.msg);
	}
	prc = unit_host_shared(&ctx) ? -1 : pthread_create(&poolers, NULL, poolers_main, &ctx);
	if (prc > 0)
		log_error("could not start the pooler poller: %s; poolers on this host are repointed by no one", strerror(prc));
	agent_loop(&ctx);
	pthread_mutex_lock(&ctx.lock);
	ctx.keeper_stop = true;
	ctx.intents_stop = true;
	pthread_mutex_unlock(&ctx.lock);
	pthread_join(keeper, NULL);
	if (rc == 0)
		pthread_join(intents, NULL);
	if (prc == 0)
		pthread_join(poolers, NULL);
	if (conf_agent_runs_patroni(&ctx.conf) && !agent_reexec_requested) {
		shutdown_unit(&ctx);
	} else if (ctx.lease != 0) {
		pgr_err ignored;

		if (state_lease_revoke(&ctx.etcd, ctx.lease, &ignored) != 0)
			log_warn("could not revoke the lease: %s", ignored.msg);
	}
	free(ctx.last_report);
	metrics_publisher_stop(&ctx.metrics);
	pthread_mutex_destroy(&ctx.lock);
	agent_tags_destroy(&ctx.tags);
	if (agent_reexec_requested) {
		char *const again[] = { "pgrefresh", "agent", "--dir", (char *)dir, "--unit", (char *)unit_name, NULL };
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		/* its own path (the process keeps its name), or the running image when that file is gone */
		if (n > 0)
			exe[n] = '\0';
		if (n <= 0 || access(exe, X_OK) != 0)
			snprintf(exe, sizeof(exe), "/proc/self/exe");
		log_info("SIGHUP: reading pgrefresh.conf again (the agent execs itself; Patroni runs on)");
		execv(exe, again);
		return pgr_err_set(err, "could not exec the agent again (%s): %s", exe, strerror(errno));
	}
	return 0;
}
