/*
 * pooler_apply.h — the agent's side of a pooler repoint (state/pooler_intent.h): an agent whose unit is
 * on the host where a pooler's config lives takes a requested intent by compare-and-swap (one agent
 * wins), then watches it closely until the coordinator says go, rewrites that pooler's config, reloads
 * it and records what came of it. On the local cluster every unit is on 127.0.0.1: any live agent.
 */
#ifndef PGR_AGENT_POOLER_APPLY_H
#define PGR_AGENT_POOLER_APPLY_H

#include <signal.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"

#define POOLER_APPLY_POLL_MS 10     /* an armed intent is read this often: clients are paused meanwhile */
#define POOLERS_POLL_MS 200         /* the agent's pooler thread looks for repoint intents this often */
#define POOLER_APPLY_WATCH_MS 20000 /* one call watches an armed intent at most this long (the loop's bound is 30 s) */

/*
 * One look at the pooler intents, from the agent's loop (or its pooler thread): takes a requested one meant for this unit's
 * host, and while this agent holds an armed one, watches it every POOLER_APPLY_POLL_MS (at most
 * POOLER_APPLY_WATCH_MS in this call; the next call goes on) and applies it on go. Returns at once when
 * there is nothing for it (one etcd range read), or when *stop is set. Logs what it does.
 */
void pooler_apply_tick(const etcd_client *etcd, const cluster_conf *conf, const conf_unit *unit,
		       volatile sig_atomic_t *stop);

#endif
