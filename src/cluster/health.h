/*
 * health.h — is the cluster healthy? One pure decision from what Patroni reports, used by
 * `cluster create` (wait until healthy), `pre-refresh-check` and the refresh's health gates.
 * Healthy: every expected member running, exactly one primary, one sync standby, every other member
 * a replica streaming from the primary (the primary's replication[] says so), lag under the limit.
 */
#ifndef PGR_CLUSTER_HEALTH_H
#define PGR_CLUSTER_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "patroni/patroni.h"

#define HEALTH_MAX_PROBLEMS 16

/* The verdict and, when not healthy, one problem a line (for the user). */
typedef struct health_report {
	bool healthy;
	char problems[HEALTH_MAX_PROBLEMS][200];
	int problem_count;
} health_report;

/*
 * cluster: GET /cluster; leader: GET /patroni of the leader (NULL if it could not be read);
 * members: the Patroni member names expected ("pg-0", ...); lag_limit_bytes: the largest lag allowed.
 */
void health_evaluate(const patroni_cluster *cluster, const patroni_node *leader, const char *const members[],
		     int member_count, int64_t lag_limit_bytes, health_report *out);

/* True when member streams from the primary, per the leader's replication[]. */
bool health_member_streaming(const patroni_node *leader, const char *member);

#endif
