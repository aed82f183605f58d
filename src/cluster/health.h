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

/*
 * Lag judged as operators do, over a short window rather than from one sample: a standby under a steady
 * write load is behind by whatever is in flight at the instant it is sampled. samples: one member's lag in
 * bytes, oldest first (-1 unknown, left to health_evaluate). Verdicts:
 *   LAG_OK      a sample within the limit, or (window over) the lag shrank from the first sample to the last;
 *   LAG_WAIT    every sample over the limit so far, the window is not over: sample again;
 *   LAG_TOO_FAR the window is over, every sample over the limit and the lag not shrinking.
 * why gets the figures ("pg-1 lags 3.7 MB (limit 1.0 MB) in all 8 samples over 2.0 s, not shrinking: ...").
 */
#define HEALTH_LAG_WINDOW_MS 2000
#define HEALTH_LAG_SAMPLE_MS 250
typedef enum health_lag_verdict { LAG_OK = 0, LAG_WAIT, LAG_TOO_FAR } health_lag_verdict;

health_lag_verdict health_lag_judge(const char *member, const int64_t *samples, int count, int64_t limit,
				    long window_ms, bool window_over, char *why, size_t len);
/* "3.7 MB", "512 kB", "96 B" */
void health_format_bytes(int64_t bytes, char *buf, size_t len);

/* True when member streams from the primary, per the leader's replication[]. */
bool health_member_streaming(const patroni_node *leader, const char *member);

#endif
