#include "status/status.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "state/presence.h"

void status_format_eta(int seconds, char *buf, size_t len)
{
	if (seconds < 0)
		snprintf(buf, len, "-");
	else if (seconds < 60)
		snprintf(buf, len, "%ds", seconds);
	else
		snprintf(buf, len, "%dm%02ds", seconds / 60, seconds % 60);
}

void status_format_bytes(int64_t bytes, char *buf, size_t len)
{
	if (bytes < 0)
		snprintf(buf, len, "-");
	else if (bytes < 10 * 1024)
		snprintf(buf, len, "%lld B", (long long)bytes);
	else if (bytes < 10 * 1024 * 1024)
		snprintf(buf, len, "%lld kB", (long long)(bytes / 1024));
	else
		snprintf(buf, len, "%lld MB", (long long)(bytes / (1024 * 1024)));
}

/* "18:02:11 UTC" of an agent's own clock (ms since the epoch), for display only. */
static void agent_clock_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "unknown");
}

void status_agent_down_message(presence_verdict verdict, status_host_seen seen, const char *host_name,
			       const char *addr, const char *last, bool refreshing, char *buf, size_t len)
{
	char host[96];

	if (seen == STATUS_HOST_SILENT) {
		/* its agent may well be alive: out of reach, nothing to start; the lease's expiry is the only sign */
		if (host_name[0])
			snprintf(host, sizeof(host), "Host %s (%s)", host_name, addr);
		else
			snprintf(host, sizeof(host), "Host %s", addr);
		snprintf(buf, len, "%s does not answer: check its network; %s when it is back", host,
			 refreshing ? "the refresh waits for it and resumes" : "its agent reports again");
		return;
	}
	/* its host answers (or was not asked): the agent is gone, start it (words t_20 and the fault cells read) */
	if (verdict == PRESENCE_NEVER)
		snprintf(buf, len, "No report from its agent yet. Start it: `pgrefresh cluster start`");
	else
		snprintf(buf, len, "Agent not reporting (its lease expired; last report %s). Start it: `pgrefresh cluster start`",
			 last[0] ? last : "unknown");
}

/* The name of a unit's host: "hN" in a cluster of namespace hosts (cluster/hosts.h), else "" (its address says). */
static void unit_host_name(const cluster_conf *conf, const conf_unit *cu, char *buf, size_t len)
{
	if (conf->hosts_net[0])
		snprintf(buf, len, "h%d", cu->number);
	else
		snprintf(buf, len, "%s", "");
}

/* A refresh that moves on by itself, and so waits for a unit out of reach (not paused, failed or done). */
static bool refresh_moving(const refresh_record *refresh)
{
	return refresh != NULL &&
	       (refresh->state == RS_CHECKING || refresh->state == RS_UNIT || refresh->state == RS_SWITCHOVER);
}

static void build_unit(const cluster_conf *conf, const conf_unit *cu, const unit_record *rec, bool have, bool alive,
		       bool corrupt, status_host_seen seen, const refresh_record *refresh, const char *prefix,
		       status_unit *u)
{
	char last[32], host_name[16];
	presence_verdict verdict;

	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", cu->name);
	snprintf(u->host, sizeof(u->host), "%s", cu->host);
	u->port = cu->pg_port;
	snprintf(u->role, sizeof(u->role), "unknown");
	u->lag_bytes = -1;
	if (!have && corrupt) {
		/* its agent overwrites the record at its next report: until then, say so, guess nothing */
		snprintf(u->state, sizeof(u->state), "down");
		snprintf(u->message, sizeof(u->message),
			 "Its record %sunits/%s is corrupt; its agent rewrites it within 1 s, else `pgrefresh cluster start`",
			 prefix, cu->member);
		return;
	}
	verdict = presence_judge(have, alive);
	if (verdict != PRESENCE_REPORTING) {
		/* its lease expired: etcd says so, no clock is compared; its last report's time is its own clock's */
		last[0] = '\0';
		if (verdict == PRESENCE_GONE) {
			snprintf(u->version, sizeof(u->version), "%s", rec->server_version);
			agent_clock_text(rec->heartbeat_ms, last, sizeof(last));
		}
		snprintf(u->state, sizeof(u->state), "down");
		unit_host_name(conf, cu, host_name, sizeof(host_name));
		status_agent_down_message(verdict, seen, host_name, cu->host, last, refresh_moving(refresh), u->message,
					  sizeof(u->message));
		return;
	}
	if (!have) {
		/* alive, but no record yet: its first report is on its way */
		snprintf(u->state, sizeof(u->state), "down");
		snprintf(u->message, sizeof(u->message), "No report from its agent yet (it is alive: wait a second)");
		return;
	}
	/* what PostgreSQL runs, never what the link points at (switched before the restart that uses it) */
	snprintf(u->version, sizeof(u->version), "%s", rec->server_version);
	snprintf(u->role, sizeof(u->role), "%s", rec->role[0] ? rec->role : "unknown");
	u->lag_bytes = rec->lag_bytes;
	if (strcmp(rec->patroni_state, "running") != 0) {
		snprintf(u->state, sizeof(u->state), "down");
		snprintf(u->message, sizeof(u->message), "PostgreSQL not running (Patroni: %s)",
			 rec->patroni_state[0] ? rec->patroni_state : "not answering");
		return;
	}
	snprintf(u->state, sizeof(u->state), "active");
	if (strcmp(u->role, "primary") != 0 && !rec->streaming)
		snprintf(u->message, sizeof(u->message), "Not streaming from the primary");
	else if (rec->message[0])
		snprintf(u->message, sizeof(u->message), "%s", rec->message);
}

/* Units of batch b in the plan. */
static int batch_size(const refresh_record *rec, int b)
{
	int n = 0;

	for (int i = 0; i < rec->unit_count; i++)
		n += rec->units[i].batch == b;
	return n;
}

/* "pg/4, pg/3": the units of batch b at step, in plan order; returns how many. */
static int batch_units_text(const refresh_record *rec, int b, unit_step step, char *buf, size_t len)
{
	size_t used = 0;
	int n = 0;

	buf[0] = '\0';
	for (int i = 0; i < rec->unit_count; i++) {
		if (rec->units[i].batch != b || rec->units[i].step != step)
			continue;
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", n ? ", " : "", rec->units[i].unit);
		n++;
	}
	return n;
}

int status_batch_units(const refresh_record *rec, unit_step step, char *buf, size_t len)
{
	for (int i = 0; i < rec->unit_count; i++)
		if (rec->units[i].step == step) {
			batch_units_text(rec, rec->units[i].batch, step, buf, len);
			return rec->units[i].batch;
		}
	buf[0] = '\0';
	return -1;
}

void status_refresh_message(const refresh_record *rec, const char *next_unit, char *buf, size_t len)
{
	const char *what = rec->rollback ? "Rollback" : "Refresh";

	switch (rec->state) {
	case RS_CHECKING:
		snprintf(buf, len, "%s %s→%s recorded: checking before any unit is touched", what, rec->from, rec->to);
		break;
	case RS_INCOMPATIBLE:
		snprintf(buf, len, "Nothing changed: %s. Cancel: `pgrefresh rollback`; or skip it: `pgrefresh force-refresh-start %s`",
			 rec->reason, strncmp(rec->reason, "backup check", 12) == 0 ? "--check-backup=false"
				      : strstr(rec->reason, "compatibility") ? "--check-compatibility=false"
				      : strstr(rec->reason, "workload") ? "--check-workload=false"
									: "--run-pre-refresh-checks=false");
		break;
	case RS_UNIT: {
		char units[160], batch[32] = "";
		int b = status_batch_units(rec, STEP_REFRESHING, units, sizeof(units));

		if (b >= 0 && record_batch_count(rec) < rec->unit_count)
			snprintf(batch, sizeof(batch), " (batch %d/%d)", b + 1, record_batch_count(rec));
		snprintf(buf, len, "Refreshing %s to %s%s. Emergency stop: `pgrefresh config set pause-after-unit-refresh=all`%s",
			 b >= 0 ? units : rec->current >= 0 ? rec->units[rec->current].unit : "?", rec->to, batch,
			 rec->rollback ? "" : ". To roll back: `pgrefresh rollback`");
		break;
	}
	case RS_PAUSED: {
		const char *last = "the refreshed unit";
		char units[160];
		int last_i = -1;

		for (int i = 0; i < rec->unit_count; i++)
			if (rec->units[i].step == STEP_DONE) {
				last = rec->units[i].unit;
				last_i = i;
			}
		/* the batch that was refreshed last: every unit of it */
		if (last_i >= 0 && batch_size(rec, rec->units[last_i].batch) > 1 &&
		    batch_units_text(rec, rec->units[last_i].batch, STEP_DONE, units, sizeof(units)) > 1)
			last = units;
		snprintf(buf, len, "Check %s %s healthy, then run `pgrefresh resume-refresh` (next: %s)%s", last,
			 strchr(last, ',') ? "are" : "is", next_unit[0] ? next_unit : "-",
			 rec->rollback ? "" : ". To roll back: `pgrefresh rollback`");
		break;
	}
	case RS_SWITCHOVER:
		snprintf(buf, len, "Switching the primary over from %s to a refreshed standby, PgBouncer paused around it",
			 rec->switchover_from);
		break;
	case RS_FAILED: {
		/* the commands always fit: a long reason (an etcd error quoted in it) is cut, never them */
		char commands[160];
		int room;

		snprintf(commands, sizeof(commands), ". Roll back: `pgrefresh rollback`; or go on: `pgrefresh resume-refresh%s`",
			 rec->failed_unit[0] ? " --check-health-of-refreshed-units=false" : "");
		room = (int)len - 1 - (int)strlen(commands);
		if (room > 4 && (int)strlen(rec->reason) > room)
			snprintf(buf, len, "%.*s...%s", room - 3, rec->reason, commands);
		else
			snprintf(buf, len, "%s%s", rec->reason, commands);
		break;
	}
	default:
		snprintf(buf, len, "%s %s→%s done", what, rec->from, rec->to);
		break;
	}
}

/* Fills the refresh part of the view and the units' refresh states. */
static void build_refresh(const refresh_record *rec, const status_host_seen *seen, status_view *view, int64_t now_ms)
{
	status_refresh *r = &view->refresh;
	int64_t spent = 0;
	int timed = 0;
	int next = record_next_pending(rec);

	snprintf(r->state, sizeof(r->state), "%s", refresh_state_display(rec->state));
	r->rollback = rec->rollback;
	snprintf(r->from, sizeof(r->from), "%s", rec->from);
	snprintf(r->to, sizeof(r->to), "%s", rec->to);
	r->done = record_done_count(rec);
	r->total = rec->unit_count;
	r->batches = record_batch_count(rec);
	{
		/* the batch being refreshed, or the one halted (its failed units) */
		char ignored[8];
		int b = status_batch_units(rec, STEP_REFRESHING, ignored, sizeof(ignored));

		if (b < 0 && rec->state == RS_FAILED)
			b = status_batch_units(rec, STEP_FAILED, ignored, sizeof(ignored));
		r->batch = rec->state == RS_UNIT || rec->state == RS_FAILED ? b + 1 : 0;
	}
	if (rec->state == RS_UNIT && rec->current >= 0)
		snprintf(r->next_unit, sizeof(r->next_unit), "%s", rec->units[rec->current].unit);
	else if (next >= 0)
		snprintf(r->next_unit, sizeof(r->next_unit), "%s", rec->units[next].unit);
	for (int i = 0; i < rec->unit_count; i++) {
		if (rec->units[i].step == STEP_DONE && rec->units[i].done_ms > rec->units[i].started_ms) {
			spent += rec->units[i].done_ms - rec->units[i].started_ms;
			timed++;
		}
	}
	{
		/* the units of a batch go at once: what is left is the batches with a unit not done */
		int left = 0;

		for (int b = 0; b < r->batches; b++)
			for (int i = 0; i < rec->unit_count; i++)
				if (rec->units[i].batch == b && rec->units[i].step != STEP_DONE &&
				    rec->units[i].step != STEP_SKIPPED) {
					left++;
					break;
				}
		r->eta_seconds = timed ? (int)((spent / timed) * left / 1000) : -1;
	}
	status_refresh_message(rec, r->next_unit, r->message, sizeof(r->message));
	snprintf(r->cause, sizeof(r->cause), "%s", rec->cause);
	if (rec->state == RS_INCOMPATIBLE || rec->state == RS_CHECKING)
		return; /* no unit is touched before the checks pass */
	if (strcmp(r->state, "refreshing") != 0)
		r->eta_seconds = -1; /* halted (paused, failed, incompatible): nothing moves until the user acts */
	for (int u = 0; u < view->unit_count; u++) {
		status_unit *su = &view->units[u];
		int i = record_find_unit(rec, su->name);

		/* a down unit stays down, unless the refresh is working on it or halted on it */
		if (strcmp(su->state, "down") == 0 &&
		    (i < 0 || (rec->units[i].step != STEP_REFRESHING && rec->units[i].step != STEP_FAILED))) {
			su->batch = i >= 0 ? rec->units[i].batch + 1 : 0;
			continue;
		}
		if (i < 0) {
			if (rec->state != RS_DONE)
				snprintf(su->message, sizeof(su->message), "Already on %s", rec->to);
			continue;
		}
		su->batch = rec->units[i].batch + 1;
		switch (rec->units[i].step) {
		case STEP_PENDING:
			snprintf(su->state, sizeof(su->state), "waiting");
			if (strcmp(su->role, "primary") == 0)
				snprintf(su->message, sizeof(su->message), "Refreshes last, after a switchover");
			else if (i == next || (next >= 0 && rec->units[i].batch == rec->units[next].batch))
				snprintf(su->message, sizeof(su->message), "Next");
			else
				snprintf(su->message, sizeof(su->message), "Waiting");
			break;
		case STEP_REFRESHING:
			snprintf(su->state, sizeof(su->state), "refreshing");
			snprintf(su->message, sizeof(su->message), "To %s for %llds%s%s", rec->to,
				 (long long)((now_ms - rec->units[i].started_ms) / 1000),
				 rec->units[i].message[0] ? ": " : "", rec->units[i].message);
			break;
		case STEP_DONE:
			snprintf(su->message, sizeof(su->message), "%s", rec->units[i].message[0] ? rec->units[i].message : "Refreshed");
			break;
		case STEP_FAILED:
			snprintf(su->state, sizeof(su->state), "failed");
			snprintf(su->message, sizeof(su->message), "%s", rec->units[i].message);
			break;
		case STEP_SKIPPED:
			snprintf(su->message, sizeof(su->message), "Skipped after failing its health gate");
			break;
		}
	}
	if (rec->state == RS_SWITCHOVER) {
		for (int u = 0; u < view->unit_count; u++) {
			char member[48];

			snprintf(member, sizeof(member), "%s", view->units[u].name);
			member[strcspn(member, "/")] = '-';
			if (strcmp(member, rec->switchover_from) != 0)
				continue;
			if (strcmp(view->units[u].state, "down") == 0 && seen != NULL && seen[u] == STATUS_HOST_SILENT) {
				/* out of reach: nothing to start; its message names the host */
				snprintf(r->message, sizeof(r->message),
					 "The switchover from %s waits for its host, which does not answer (nothing is "
					 "paused): check its network",
					 view->units[u].name);
				continue;
			}
			if (strcmp(view->units[u].state, "down") == 0) {
				/* only its agent relinks it and takes part: the switchover waits for it, say what to run */
				char was[sizeof(view->units[u].message)];

				snprintf(was, sizeof(was), "%s", view->units[u].message);
				snprintf(view->units[u].message, sizeof(view->units[u].message),
					 "The switchover waits for this unit's agent. %s", was);
				snprintf(r->message, sizeof(r->message),
					 "The switchover from %s waits for its agent, which does not report (nothing is "
					 "paused). Start it: `pgrefresh cluster start`",
					 view->units[u].name);
				continue;
			}
			snprintf(view->units[u].state, sizeof(view->units[u].state), "refreshing");
			snprintf(view->units[u].message, sizeof(view->units[u].message),
				 "Switching over to a refreshed standby, linked to %s", rec->to);
		}
	}
}

void status_lowest_version(const status_view *view, char *buf, size_t len)
{
	pg_version low = { 0, 0 };
	bool any = false;

	buf[0] = '\0';
	for (int i = 0; i < view->unit_count; i++) {
		pg_version v;
		pgr_err err;

		if (pg_version_parse(view->units[i].version, &v, &err) != 0)
			continue; /* not running: unknown, left aside */
		if (!any || pg_version_compare(&v, &low) < 0) {
			low = v;
			any = true;
			snprintf(buf, len, "%s", view->units[i].version);
		}
	}
}

void status_build(const cluster_conf *conf, const unit_record *records, const bool *have_record, const bool *alive,
		  const char *coordinator, const refresh_record *refresh, int64_t now_ms, status_view *view)
{
	status_build_checked(conf, records, have_record, alive, NULL, coordinator, refresh, now_ms, view);
}

void status_build_checked(const cluster_conf *conf, const unit_record *records, const bool *have_record,
			  const bool *alive, const status_corrupt *corrupt, const char *coordinator, const refresh_record *refresh,
			  int64_t now_ms, status_view *view)
{
	status_build_observed(conf, records, have_record, alive, corrupt, NULL, coordinator, refresh, now_ms, view);
}

void status_build_observed(const cluster_conf *conf, const unit_record *records, const bool *have_record,
			   const bool *alive, const status_corrupt *corrupt, const status_host_seen *seen,
			   const char *coordinator, const refresh_record *refresh, int64_t now_ms, status_view *view)
{
	char prefix[128];
	int active = 0;
	const char *first_problem = NULL;
	const status_unit *problem_unit = NULL;

	memset(view, 0, sizeof(*view));
	snprintf(view->cluster, sizeof(view->cluster), "%s", conf->name);
	if (conf->hosts_net[0] && conf->security.etcd_ca[0] == '\0') /* across hosts, made with --insecure */
		snprintf(view->security, sizeof(view->security),
			 "insecure (made with --insecure): no TLS, no etcd users, Patroni's REST API open");
	snprintf(view->coordinator, sizeof(view->coordinator), "%s", coordinator ? coordinator : "");
	view->pgbouncer_count = conf->pgbouncer_count;
	for (int i = 0; i < conf->pgbouncer_count && i < CONF_MAX_PGBOUNCERS; i++) {
		snprintf(view->pgbouncers[i].host, sizeof(view->pgbouncers[i].host), "%s", conf->pgbouncers[i].host);
		view->pgbouncers[i].port = conf->pgbouncers[i].port;
	}
	snprintf(view->refresh.state, sizeof(view->refresh.state), "idle");
	view->refresh.eta_seconds = -1;
	view->unit_count = conf->unit_count;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	for (int i = 0; i < conf->unit_count; i++) {
		status_unit *u = &view->units[i];

		build_unit(conf, &conf->units[i], &records[i], have_record[i], alive[i], corrupt != NULL && corrupt->unit[i],
			   seen != NULL ? seen[i] : STATUS_HOST_UNKNOWN, refresh, prefix, u);
		if (strcmp(u->state, "active") == 0 && u->message[0] == '\0')
			active++;
		else if (first_problem == NULL) {
			first_problem = u->message;
			problem_unit = u;
		}
	}
	status_lowest_version(view, view->version, sizeof(view->version));
	if (problem_unit != NULL)
		snprintf(view->message, sizeof(view->message), "%s: %s", problem_unit->name, first_problem);
	else if (view->coordinator[0] == '\0')
		snprintf(view->message, sizeof(view->message), "All %d units active; no coordinator elected yet",
			 view->unit_count);
	else
		snprintf(view->message, sizeof(view->message),
			 "All %d units active on %s. Before a refresh: `pgrefresh pre-refresh-check`", active,
			 view->version);
	snprintf(view->refresh.message, sizeof(view->refresh.message), "No refresh in progress");
	if (corrupt != NULL && corrupt->refresh) {
		/* never guessed at: no plan, no unit states from it; say what it is and what repairs it */
		snprintf(view->refresh.state, sizeof(view->refresh.state), "corrupt");
		snprintf(view->refresh.message, sizeof(view->refresh.message),
			 "The refresh record at %s is corrupt (%s). Repair: `pgrefresh repair-refresh-record`",
			 corrupt->refresh_key, corrupt->refresh_why);
	} else if (refresh != NULL && refresh->state != RS_DONE) {
		build_refresh(refresh, seen, view, now_ms);
	}
	/* the cluster line describes the refresh whenever there is one */
	if (strcmp(view->refresh.state, "idle") != 0)
		snprintf(view->message, sizeof(view->message), "%s", view->refresh.message);
}

void status_note_switchover_wait(status_view *view, const refresh_record *refresh, const switchover_mark *mark,
				 int64_t now_ms)
{
	char text[240];

	switchover_mark_waiting_text(mark, now_ms, text, sizeof(text));
	if (text[0] == '\0')
		return;
	if (refresh != NULL && refresh->state == RS_SWITCHOVER)
		snprintf(view->refresh.message, sizeof(view->refresh.message), "%s", text);
	else if (refresh == NULL)
		snprintf(view->message, sizeof(view->message), "%s", text);
}

/* A growable text buffer for the table. */
struct text {
	char *data;
	size_t len, cap;
	int failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;

		va_start(ap, fmt);
		n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if (t->data && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		{
			size_t cap = t->cap ? t->cap * 2 : 1024;
			char *grown;

			while (cap < t->len + (size_t)n + 1)
				cap *= 2;
			grown = realloc(t->data, cap);
			if (grown == NULL) {
				t->failed = 1;
				return;
			}
			t->data = grown;
			t->cap = cap;
		}
	}
}

int status_render_table(const status_view *view, char **out, pgr_err *err)
{
	struct text t = { 0 };
	char refresh[96], eta[32];
	bool show_host = false;
	/* a refresh in batches of several units (max-parallel-units): a Batch column, and the batch running */
	bool show_batch = strcmp(view->refresh.state, "idle") != 0 && view->refresh.batches > 0 &&
			  view->refresh.batches < view->refresh.total;

	status_format_eta(view->refresh.eta_seconds, eta, sizeof(eta));

	if (strcmp(view->refresh.state, "idle") == 0)
		snprintf(refresh, sizeof(refresh), "idle");
	else
		snprintf(refresh, sizeof(refresh), "%s%s %s→%s %d/%d", view->refresh.rollback ? "rollback " : "",
			 view->refresh.state, view->refresh.from, view->refresh.to, view->refresh.done,
			 view->refresh.total);
	if (strcmp(view->refresh.state, "corrupt") == 0) {
		snprintf(refresh, sizeof(refresh), "corrupt record");
	} else if (strcmp(view->refresh.state, "paused") == 0) {
		size_t used = strlen(refresh);

		/* no ETA: nothing moves until the user resumes */
		snprintf(refresh + used, sizeof(refresh) - used, ": waiting for resume-refresh");
	} else if (view->refresh.eta_seconds >= 0 && strcmp(view->refresh.state, "refreshing") == 0) {
		size_t used = strlen(refresh);

		snprintf(refresh + used, sizeof(refresh) - used, " ETA %s", eta);
	}
	if (show_batch && view->refresh.batch > 0) {
		size_t used = strlen(refresh);

		snprintf(refresh + used, sizeof(refresh) - used, " batch %d/%d", view->refresh.batch, view->refresh.batches);
	}
	text_add(&t, "%-8s %-8s %-30s %s\n", "Cluster", "Version", "Refresh", "Message");
	/* printf pads bytes, not columns: give back what the multi-byte arrow takes */
	text_add(&t, "%-8s %-8s %-*s %s\n", view->cluster, view->version[0] ? view->version : "-",
		 30 + (strstr(refresh, "→") ? 2 : 0), refresh,
		 strcmp(view->refresh.state, "idle") == 0 ? view->message : view->refresh.message);
	if (strcmp(view->refresh.state, "idle") != 0 && view->refresh.cause[0])
		text_add(&t, "%-8s %s\n", "Cause", view->refresh.cause);
	if (view->security[0])
		text_add(&t, "%-8s %s\n", "Security", view->security);
	for (int i = 0; i < view->unit_count; i++) /* units on several hosts: a Host column */
		show_host = show_host || strcmp(view->units[i].host, "127.0.0.1") != 0;
	text_add(&t, "\n%-6s %s%-13s %-8s %-11s %-7s %s%s\n", "Unit", show_host ? "Host            " : "", "Role",
		 "Version", "State", "Lag", show_batch ? "Batch " : "", "Message");
	for (int i = 0; i < view->unit_count; i++) {
		const status_unit *u = &view->units[i];
		char lag[32];
		char name[40], host[80] = "", batch[16] = "";

		status_format_bytes(u->lag_bytes, lag, sizeof(lag));
		snprintf(name, sizeof(name), "%s%s", u->name, strcmp(u->name, view->coordinator) == 0 ? "*" : "");
		if (show_host)
			snprintf(host, sizeof(host), "%-15s ", u->host);
		if (show_batch && u->batch > 0)
			snprintf(batch, sizeof(batch), "%-5d ", u->batch);
		else if (show_batch)
			snprintf(batch, sizeof(batch), "%-5s ", "-");
		text_add(&t, "%-6s %s%-13s %-8s %-11s %-7s %s%s\n", name, host, u->role, u->version[0] ? u->version : "-",
			 u->state, lag, batch, u->message);
	}
	if (view->coordinator[0])
		text_add(&t, "\n* coordinator\n");
	if (t.failed) {
		free(t.data);
		return pgr_err_set(err, "out of memory rendering status");
	}
	*out = t.data;
	return 0;
}

int status_render_json(const status_view *view, char **out, pgr_err *err)
{
	json_t *root = json_object();
	json_t *bouncers = json_array();
	json_t *refresh = json_object();
	json_t *units = json_array();

	for (int i = 0; i < view->pgbouncer_count; i++)
		json_array_append_new(bouncers, json_pack("{s:s,s:i}", "host", view->pgbouncers[i].host, "port",
							  view->pgbouncers[i].port));
	json_object_set_new(refresh, "state", json_string(view->refresh.state));
	json_object_set_new(refresh, "rollback", json_boolean(view->refresh.rollback));
	json_object_set_new(refresh, "from", view->refresh.from[0] ? json_string(view->refresh.from) : json_null());
	json_object_set_new(refresh, "to", view->refresh.to[0] ? json_string(view->refresh.to) : json_null());
	json_object_set_new(refresh, "next_unit",
			    view->refresh.next_unit[0] ? json_string(view->refresh.next_unit) : json_null());
	json_object_set_new(refresh, "done", json_integer(view->refresh.done));
	json_object_set_new(refresh, "total", json_integer(view->refresh.total));
	json_object_set_new(refresh, "batch", view->refresh.batch > 0 ? json_integer(view->refresh.batch) : json_null());
	json_object_set_new(refresh, "batches", json_integer(view->refresh.batches));
	json_object_set_new(refresh, "eta_seconds",
			    view->refresh.eta_seconds >= 0 ? json_integer(view->refresh.eta_seconds) : json_null());
	json_object_set_new(refresh, "message", json_string(view->refresh.message));
	json_object_set_new(refresh, "cause", view->refresh.cause[0] ? json_string(view->refresh.cause) : json_null());
	for (int i = 0; i < view->unit_count; i++) {
		const status_unit *u = &view->units[i];

		json_array_append_new(units,
				      json_pack("{s:s,s:s,s:i,s:s,s:o,s:s,s:o,s:s,s:o}", "name", u->name, "host", u->host,
						"port", u->port, "role", u->role, "version",
						u->version[0] ? json_string(u->version) : json_null(), "state", u->state,
						"lag_bytes", u->lag_bytes >= 0 ? json_integer(u->lag_bytes) : json_null(),
						"message", u->message, "batch", u->batch > 0 ? json_integer(u->batch) : json_null()));
	}
	json_object_set_new(root, "cluster", json_string(view->cluster));
	json_object_set_new(root, "version", view->version[0] ? json_string(view->version) : json_null());
	json_object_set_new(root, "coordinator", view->coordinator[0] ? json_string(view->coordinator) : json_null());
	json_object_set_new(root, "message", json_string(view->message));
	if (view->security[0])
		json_object_set_new(root, "security", json_string(view->security));
	json_object_set_new(root, "pgbouncer", bouncers);
	json_object_set_new(root, "refresh", refresh);
	json_object_set_new(root, "units", units);
	*out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (*out == NULL)
		return pgr_err_set(err, "could not encode status as JSON");
	return 0;
}
