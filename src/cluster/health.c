#include "cluster/health.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void add_problem(health_report *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_problem(health_report *out, const char *fmt, ...)
{
	va_list ap;

	out->healthy = false;
	if (out->problem_count >= HEALTH_MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(out->problems[out->problem_count], sizeof(out->problems[0]), fmt, ap);
	va_end(ap);
	out->problem_count++;
}

bool health_member_streaming(const patroni_node *leader, const char *member)
{
	if (leader == NULL)
		return false;
	for (int i = 0; i < leader->replication_count; i++) {
		if (strcmp(leader->replication[i].application_name, member) == 0 &&
		    strcmp(leader->replication[i].state, "streaming") == 0)
			return true;
	}
	return false;
}

void health_evaluate(const patroni_cluster *cluster, const patroni_node *leader, const char *const members[],
		     int member_count, int64_t lag_limit_bytes, health_report *out)
{
	int leaders = 0, syncs = 0;

	memset(out, 0, sizeof(*out));
	out->healthy = true;
	for (int i = 0; i < cluster->member_count; i++) {
		if (cluster->members[i].role == PATRONI_ROLE_LEADER)
			leaders++;
		if (cluster->members[i].role == PATRONI_ROLE_SYNC_STANDBY)
			syncs++;
	}
	if (leaders == 0)
		add_problem(out, "no primary: Patroni reports no leader");
	else if (leaders > 1)
		add_problem(out, "%d primaries reported", leaders);
	if (syncs == 0 && member_count > 1)
		add_problem(out, "no sync standby");
	if (cluster->paused)
		add_problem(out, "Patroni is in maintenance mode (paused)");
	for (int i = 0; i < member_count; i++) {
		const patroni_member *m = patroni_cluster_member(cluster, members[i]);

		if (m == NULL) {
			add_problem(out, "%s is not a member of the Patroni cluster (not running?)", members[i]);
			continue;
		}
		if (strcmp(m->state, "running") != 0 && strcmp(m->state, "streaming") != 0) {
			add_problem(out, "%s is not running (Patroni state: %s)", members[i], m->state[0] ? m->state : "?");
			continue;
		}
		if (m->role == PATRONI_ROLE_LEADER)
			continue;
		if (leader != NULL && !health_member_streaming(leader, members[i]))
			add_problem(out, "%s is not streaming from the primary", members[i]);
		if (m->lag_bytes < 0)
			add_problem(out, "%s lag unknown", members[i]);
		else if (m->lag_bytes > lag_limit_bytes)
			add_problem(out, "%s lags %lld bytes (limit %lld)", members[i], (long long)m->lag_bytes,
				    (long long)lag_limit_bytes);
	}
	if (leader == NULL && leaders > 0)
		add_problem(out, "the primary's Patroni could not be asked which standbys stream");
}

void health_format_bytes(int64_t bytes, char *buf, size_t len)
{
	if (bytes >= 1024 * 1024)
		snprintf(buf, len, "%.1f MB", (double)bytes / (1024.0 * 1024.0));
	else if (bytes >= 1024)
		snprintf(buf, len, "%lld kB", (long long)(bytes / 1024));
	else
		snprintf(buf, len, "%lld B", (long long)bytes);
}

health_lag_verdict health_lag_judge(const char *member, const int64_t *samples, int count, int64_t limit,
				    long window_ms, bool window_over, char *why, size_t len)
{
	int known = 0;
	int64_t first = -1, last = -1, low = -1;
	char a[32], b[32], c[32], lim[32];

	why[0] = '\0';
	for (int i = 0; i < count; i++) {
		if (samples[i] < 0)
			continue;
		if (known == 0)
			first = samples[i];
		last = samples[i];
		if (low < 0 || samples[i] < low)
			low = samples[i];
		known++;
	}
	if (known == 0)
		return LAG_OK; /* unknown: health_evaluate says so */
	health_format_bytes(limit, lim, sizeof(lim));
	health_format_bytes(low, a, sizeof(a));
	if (low <= limit) {
		snprintf(why, len, "%s lag %s within the %s limit", member, a, lim);
		return LAG_OK;
	}
	if (!window_over)
		return LAG_WAIT;
	health_format_bytes(first, b, sizeof(b));
	health_format_bytes(last, c, sizeof(c));
	if (known >= 2 && last < first) {
		snprintf(why, len, "%s catching up: %s then %s over %.1f s (limit %s)", member, b, c,
			 (double)window_ms / 1000.0, lim);
		return LAG_OK;
	}
	snprintf(why, len, "%s lags %s (limit %s) in all %d samples over %.1f s, not shrinking: first %s, least %s", member,
		 c, lim, known, (double)window_ms / 1000.0, b, a);
	return LAG_TOO_FAR;
}
