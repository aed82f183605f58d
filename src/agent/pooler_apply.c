#include "agent/pooler_apply.h"

#include <stdio.h>
#include <string.h>

#include "pooler/pooler.h"
#include "state/pooler_intent.h"
#include "util/log.h"
#include "util/proc.h"

#define REPOINT_TIMEOUT_MS 5000 /* the RELOAD on the admin console */

static int pooler_index(const cluster_conf *conf, const char *name)
{
	for (int i = 0; i < conf->pgbouncer_count; i++)
		if (strcmp(conf->pgbouncers[i].name, name) == 0)
			return i;
	return -1;
}

/* Records in's outcome (compare-and-swap on the revision it was read at); a lost race is logged. */
static void record(const etcd_client *etcd, const char *prefix, pooler_intent *in)
{
	bool swapped = false;
	pgr_err err;

	if (pooler_intent_put_if(etcd, prefix, in, &swapped, &err) != 0)
		log_error("pooler %s: could not record the repoint as %s: %s", in->pooler, pooler_intent_state_name(in->state),
			  err.msg);
	else if (!swapped)
		log_warn("pooler %s: the repoint intent changed meanwhile; %s not recorded", in->pooler,
			 pooler_intent_state_name(in->state));
}

/* go: rewrite the config, RELOAD, record applied or failed. */
static void apply(const etcd_client *etcd, const cluster_conf *conf, const char *prefix, pooler_intent *in)
{
	int i = pooler_index(conf, in->pooler);
	long long t0 = proc_now_ms();
	pooler p;
	bool changed = false;
	pgr_err err;

	if (i < 0) {
		pgr_err_set(&err, "no pooler %s in %s/pgrefresh.conf", in->pooler, conf->dir);
	} else if (pooler_open(conf, i, &p, &err) == 0) {
		int rc = p.ops->repoint(&p, in->target_host, in->target_port, REPOINT_TIMEOUT_MS, &changed, &err);

		if (rc == 0)
			snprintf(in->message, sizeof(in->message), "%s %s and reloaded it in %lld ms",
				 changed ? "rewrote" : "found already right", p.config, proc_now_ms() - t0);
		pooler_close(&p);
		if (rc == 0) {
			in->state = POOLER_INTENT_APPLIED;
			log_info("pooler %s now leads to %s:%d: %s (for the switchover)", in->pooler, in->target_host,
				 in->target_port, in->message);
			record(etcd, prefix, in);
			return;
		}
	}
	in->state = POOLER_INTENT_FAILED;
	snprintf(in->message, sizeof(in->message), "%s", err.msg);
	log_error("pooler %s: could not lead it to %s:%d: %s", in->pooler, in->target_host, in->target_port, err.msg);
	record(etcd, prefix, in);
}

/* Watches the intent this agent armed until go (then applies it), until it is no longer ours, or a bound. */
static void watch(const etcd_client *etcd, const cluster_conf *conf, const conf_unit *unit, const char *prefix,
		  const char *name, volatile sig_atomic_t *stop)
{
	long long until = proc_now_ms() + POOLER_APPLY_WATCH_MS;

	while (!*stop && proc_now_ms() < until) {
		pooler_intent in;
		bool found = false;
		pgr_err err;

		if (pooler_intent_read(etcd, prefix, name, &found, &in, &err) != 0) {
			proc_sleep_ms(POOLER_APPLY_POLL_MS);
			continue;
		}
		if (!found || strcmp(in.by, unit->name) != 0 ||
		    (in.state != POOLER_INTENT_ARMED && in.state != POOLER_INTENT_GO))
			return; /* withdrawn, taken by another, or done */
		if (in.state == POOLER_INTENT_GO) {
			apply(etcd, conf, prefix, &in);
			return;
		}
		proc_sleep_ms(POOLER_APPLY_POLL_MS);
	}
}

void pooler_apply_tick(const etcd_client *etcd, const cluster_conf *conf, const conf_unit *unit,
		       volatile sig_atomic_t *stop)
{
	pooler_intent intents[CONF_MAX_PGBOUNCERS];
	char prefix[128];
	int n = 0;
	pgr_err err;

	if (conf->pgbouncer_count == 0)
		return;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	if (pooler_intent_list(etcd, prefix, intents, CONF_MAX_PGBOUNCERS, &n, &err) != 0)
		return; /* etcd down: the agent's loop says so */
	for (int k = 0; k < n && !*stop; k++) {
		pooler_intent *in = &intents[k];

		/* only for a pooler whose config is on this unit's host, as the coordinator's record says */
		if (strcmp(in->host, unit->host) != 0)
			continue;
		if (in->state == POOLER_INTENT_REQUESTED) {
			bool swapped = false;

			in->state = POOLER_INTENT_ARMED;
			snprintf(in->by, sizeof(in->by), "%s", unit->name);
			if (pooler_intent_put_if(etcd, prefix, in, &swapped, &err) != 0) {
				log_warn("pooler %s: could not take the repoint intent: %s", in->pooler, err.msg);
				continue;
			}
			if (!swapped)
				continue; /* another agent took it */
			log_info("pooler %s: took the repoint to %s:%d; applying it when the switchover says go", in->pooler,
				 in->target_host, in->target_port);
		} else if (strcmp(in->by, unit->name) != 0 ||
			   (in->state != POOLER_INTENT_ARMED && in->state != POOLER_INTENT_GO)) {
			continue;
		}
		watch(etcd, conf, unit, prefix, in->pooler, stop);
	}
}
