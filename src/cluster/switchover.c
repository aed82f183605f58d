#include "cluster/switchover.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cluster/local.h"
#include "patroni/patroni.h"
#include "pg/pgbouncer.h"
#include "pg/pgsql.h"
#include "util/log.h"
#include "util/proc.h"

#define PAUSE_TIMEOUT_MS 10000
#define PROMOTE_TIMEOUT_MS 60000
#define PAUSED_RETRY_MS 4000 /* how long a refused switchover (412/503) is asked again while paused */

static const conf_unit *unit_of(const cluster_conf *conf, const char *member)
{
	for (int i = 0; i < conf->unit_count; i++)
		if (strcmp(conf->units[i].member, member) == 0)
			return &conf->units[i];
	return NULL;
}

int switchover_pgbouncer_command(const cluster_conf *conf, const char *command, pgr_err *err)
{
	cluster_secrets secrets;
	int rc = 0;

	if (conf->pgbouncer_count == 0)
		return 0;
	if (secrets_load(conf->dir, &secrets, err) != 0)
		return -1;
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		pgr_err one;

		if (pgbouncer_admin_command(conf->pgbouncers[i].host, conf->pgbouncers[i].port, conf->superuser,
					    secrets.superuser_password, command, PAUSE_TIMEOUT_MS, &one) != 0) {
			pgr_err_set(err, "PgBouncer %s:%d %s: %s", conf->pgbouncers[i].host, conf->pgbouncers[i].port, command,
				    one.msg);
			rc = -1;
		}
	}
	return rc;
}

/*
 * Whether Patroni is switching over whatever its answer said: the old primary no longer holds the leader
 * key, or no longer runs as primary (it is demoting). Patroni may answer 503 "failed" or "status unknown"
 * by polling its own view while the demotion goes on; clients must not be resumed towards a primary that
 * is shutting down.
 */
static bool switchover_under_way(const conf_unit *old, const conf_unit *cand)
{
	patroni_cluster *cluster = calloc(1, sizeof(*cluster));
	patroni_node *node = calloc(1, sizeof(*node));
	char url[200];
	pgr_err err;
	bool under_way = false;

	if (cluster == NULL || node == NULL) {
		free(cluster);
		free(node);
		return false;
	}
	conf_unit_api_url(cand, url, sizeof(url));
	if (patroni_get_cluster(url, 1000, cluster, &err) == 0) {
		const patroni_member *lead = patroni_cluster_leader(cluster);

		under_way = lead == NULL || strcmp(lead->name, old->member) != 0;
	}
	conf_unit_api_url(old, url, sizeof(url));
	if (!under_way && patroni_get_node(url, 1000, node, &err) == 0)
		under_way = !(node->is_primary && strcmp(node->state, "running") == 0);
	free(cluster);
	free(node);
	return under_way;
}

static int switchover_paused(const cluster_conf *conf, const etcd_client *etcd, switchover_mark *mark,
			     const char *leader, const char *candidate, switchover_timing *timing, pgr_err *err);

void switchover_mark_format(const switchover_mark *mark, char *out, size_t outlen)
{
	json_t *o = json_pack("{s:I, s:b, s:s, s:s}", "lease", (json_int_t)mark->lease, "pgbouncer_paused",
			      mark->pgbouncer_paused, "from", mark->from, "to", mark->to);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	snprintf(out, outlen, "%s", text ? text : "{}");
	free(text);
	json_decref(o);
}

void switchover_mark_parse(const char *value, switchover_mark *mark)
{
	json_t *o = json_loads(value, 0, NULL);
	json_t *v;

	memset(mark, 0, sizeof(*mark));
	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	v = json_object_get(o, "lease");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		mark->lease = (int64_t)json_integer_value(v);
	mark->pgbouncer_paused = json_is_true(json_object_get(o, "pgbouncer_paused"));
	v = json_object_get(o, "from");
	snprintf(mark->from, sizeof(mark->from), "%s", json_is_string(v) ? json_string_value(v) : "");
	v = json_object_get(o, "to");
	snprintf(mark->to, sizeof(mark->to), "%s", json_is_string(v) ? json_string_value(v) : "");
	json_decref(o);
}

/* Writes (mark != NULL) or removes the mark. It is not under the owner's lease: it must outlive its
 * owner, so that whoever comes next sees what was left. */
static void put_mark(const cluster_conf *conf, const etcd_client *etcd, const switchover_mark *mark)
{
	char prefix[128], key[256], value[512];
	pgr_err err;
	int rc;

	if (etcd == NULL)
		return;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	snprintf(key, sizeof(key), "%s%s", prefix, SWITCHOVER_LEAF);
	if (mark != NULL) {
		switchover_mark_format(mark, value, sizeof(value));
		rc = etcd_put(etcd, key, value, 0, &err);
	} else {
		rc = etcd_delete(etcd, key, false, &err);
	}
	if (rc != 0)
		log_warn("could not %s the switchover mark: %s", mark ? "write" : "remove", err.msg);
}

static void resume_all(const cluster_conf *conf)
{
	pgr_err err;

	if (switchover_pgbouncer_command(conf, "RESUME", &err) != 0)
		log_error("%s", err.msg);
}

/* The child that asks Patroni: exit 0 on 200, 2 on 412/503 (retry), 1 otherwise. */
static pid_t ask_patroni(const char *url, const char *leader, const char *candidate)
{
	pid_t child = fork();

	if (child == 0) {
		int status = 0;
		char reply[512];
		pgr_err err;

		if (patroni_switchover(url, leader, candidate, 60000, &status, reply, sizeof(reply), &err) != 0) {
			log_error("switchover request: %s", err.msg);
			_exit(1);
		}
		if (status == 200)
			_exit(0);
		log_warn("Patroni answered the switchover with HTTP %d: %s", status, reply);
		_exit(status == 412 || status == 503 ? 2 : 1);
	}
	return child;
}

/* -1 still running, else the child's exit code (1 when killed). Reaps it: call again only while -1. */
static int child_result(pid_t child, bool block)
{
	int status;
	pid_t r = waitpid(child, &status, block ? 0 : WNOHANG);

	if (r == 0)
		return -1;
	if (r < 0) {
		log_warn("the switchover request process %d: waitpid: %s", (int)child, strerror(errno));
		return 1;
	}
	if (WIFSIGNALED(status))
		log_warn("the switchover request process %d died of signal %d", (int)child, WTERMSIG(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/*
 * The other standbys stream from the candidate before the switchover (Patroni tag replicatefrom), so
 * that the new primary has a synchronous standby the moment it is promoted: with
 * synchronous_mode_strict no commit is then acknowledged on one node only, and none waits long.
 */
static void cascade_from(const cluster_conf *conf, const char *leader, const char *candidate, bool set)
{
	const conf_unit *cand = unit_of(conf, candidate);
	char url[200];
	long long deadline, started;
	int expected = 0;

	if (!conf->local || (set && cand == NULL))
		return;
	for (int i = 0; i < conf->unit_count; i++) {
		const conf_unit *u = &conf->units[i];
		local_unit_tags tags = { .nosync = false };
		pgr_err err;

		/* leader "" (a clean-up after a dead owner): every unit */
		if (leader[0] != '\0' && (strcmp(u->member, leader) == 0 || strcmp(u->member, candidate) == 0))
			continue;
		snprintf(tags.replicatefrom, sizeof(tags.replicatefrom), "%s", set ? candidate : "");
		if (local_unit_set_tags(conf, u, &tags, &err) != 0)
			log_warn("%s: replicatefrom tag: %s", u->name, err.msg);
		else
			expected++;
	}
	if (!set || expected == 0)
		return;
	conf_unit_api_url(cand, url, sizeof(url));
	started = proc_now_ms();
	deadline = started + 20000;
	{
		/* Patroni takes new tags at its next loop (the standby's: follow the candidate; the candidate's:
		 * create the standby's slot): wake both loops now and again until it streams, instead of
		 * waiting up to loop_wait for each */
		int loop_wait = 0;
		long long next_wake = 0;
		pgr_err err;

		if (patroni_get_loop_wait(url, 2000, &loop_wait, &err) != 0)
			log_warn("cannot wake Patroni (%s): waiting for its loop", err.msg);
		while (proc_now_ms() < deadline) {
			patroni_node node;
			int streaming = 0;

			if (loop_wait > 0 && proc_now_ms() >= next_wake) {
				for (int i = 0; i < conf->unit_count; i++) {
					const conf_unit *u = &conf->units[i];
					char uurl[200];

					if (strcmp(u->member, leader) == 0)
						continue;
					conf_unit_api_url(u, uurl, sizeof(uurl));
					if (patroni_wake(uurl, loop_wait, 2000, &err) != 0)
						log_warn("%s: %s", u->name, err.msg);
				}
				next_wake = proc_now_ms() + 250;
			}
			if (patroni_get_node(url, 2000, &node, &err) == 0) {
				for (int i = 0; i < conf->unit_count; i++) {
					const char *m = conf->units[i].member;

					if (strcmp(m, leader) == 0 || strcmp(m, candidate) == 0)
						continue;
					for (int r = 0; r < node.replication_count; r++)
						if (strcmp(node.replication[r].application_name, m) == 0 &&
						    strcmp(node.replication[r].state, "streaming") == 0)
							streaming++;
				}
				if (streaming >= expected) {
					log_info("%d standby(s) stream from %s after %lld ms", expected, candidate,
						 proc_now_ms() - started);
					return;
				}
			}
			proc_sleep_ms(50);
		}
	}
	log_warn("the other standbys do not stream from %s after 20 s; switching over anyway", candidate);
}

void switchover_clean_up_after(const cluster_conf *conf, const etcd_client *etcd)
{
	cascade_from(conf, "", "", false);
	resume_all(conf);
	put_mark(conf, etcd, NULL);
}

int switchover_run(const cluster_conf *conf, const etcd_client *etcd, int64_t owner_lease, const char *leader,
		   const char *candidate, switchover_timing *timing, pgr_err *err)
{
	switchover_mark mark = { .lease = owner_lease };
	int rc;

	snprintf(mark.from, sizeof(mark.from), "%s", leader);
	snprintf(mark.to, sizeof(mark.to), "%s", candidate);
	if (owner_lease == 0 && etcd != NULL)
		log_warn("no lease to own the switchover mark: none written");
	else
		put_mark(conf, etcd, &mark);
	cascade_from(conf, leader, candidate, true);
	rc = switchover_paused(conf, etcd, &mark, leader, candidate, timing, err);
	cascade_from(conf, leader, candidate, false);
	if (owner_lease != 0)
		put_mark(conf, etcd, NULL);
	return rc;
}

/* RESUME every PgBouncer and say so in the mark */
static void resume_marked(const cluster_conf *conf, const etcd_client *etcd, switchover_mark *mark)
{
	resume_all(conf);
	if (mark->lease != 0) {
		mark->pgbouncer_paused = false;
		put_mark(conf, etcd, mark);
	}
}

static int switchover_paused(const cluster_conf *conf, const etcd_client *etcd, switchover_mark *mark,
			     const char *leader, const char *candidate, switchover_timing *timing, pgr_err *err)
{
	const conf_unit *old = unit_of(conf, leader), *cand = unit_of(conf, candidate);
	cluster_secrets secrets;
	char url[200], conninfo[1024];
	long long t0, t_paused, t_asked, deadline, retry_deadline;
	pid_t child;
	int result = -1, r = -1; /* r: the request process's exit code, -1 while it runs */

	memset(timing, 0, sizeof(*timing));
	if (old == NULL || cand == NULL)
		return pgr_err_set(err, "unknown member %s", old == NULL ? leader : candidate);
	if (secrets_load(conf->dir, &secrets, err) != 0)
		return -1;
	pg_conninfo(conninfo, sizeof(conninfo), cand->host, cand->pg_port, conf->superuser, secrets.superuser_password,
		    "postgres", 2);
	conf_unit_api_url(old, url, sizeof(url));
	{
		/* a checkpoint before the pause shortens the old primary's shutdown inside it */
		char old_conninfo[1024];
		pgr_err ignored;

		pg_conninfo(old_conninfo, sizeof(old_conninfo), old->host, old->pg_port, conf->superuser,
			    secrets.superuser_password, "postgres", 2);
		if (pg_exec(old_conninfo, "CHECKPOINT", &ignored) != 0)
			log_warn("CHECKPOINT before the switchover: %s", ignored.msg);
	}
	t0 = proc_now_ms();
	if (mark->lease != 0) {
		mark->pgbouncer_paused = true;
		put_mark(conf, etcd, mark);
	}
	if (switchover_pgbouncer_command(conf, "PAUSE", err) != 0) {
		resume_marked(conf, etcd, mark);
		pgr_err_prefix(err, "PgBouncer could not pause within %d s; nothing changed", PAUSE_TIMEOUT_MS / 1000);
		return -1;
	}
	t_paused = proc_now_ms();
	timing->pause_ms = t_paused - t0;
	deadline = proc_now_ms() + PROMOTE_TIMEOUT_MS;
	retry_deadline = proc_now_ms() + PAUSED_RETRY_MS;
	for (;;) {
		t_asked = proc_now_ms();
		child = ask_patroni(url, leader, candidate);
		if (child < 0) {
			resume_marked(conf, etcd, mark);
			return pgr_err_set(err, "fork: could not ask Patroni; nothing changed");
		}
		/* poll the candidate until it accepts writes, or the request fails; Patroni may answer 200
		 * a moment before the candidate accepts writes: the child is reaped once, then polling goes on */
		r = -1;
		for (;;) {
			char out[16];
			pgr_err ignored;

			if (r < 0)
				r = child_result(child, false);
			if (pg_query_text(conninfo, "SELECT pg_is_in_recovery()", out, sizeof(out), &ignored) == 0 &&
			    strcmp(out, "f") == 0) {
				result = 0;
				break;
			}
			if (proc_now_ms() > deadline)
				break;
			if (r > 0 && !switchover_under_way(old, cand))
				break; /* not 200, and the old primary still leads and runs: nothing happens */
			proc_sleep_ms(10);
		}
		if (result == 0)
			break;
		if (r == 2 && proc_now_ms() < retry_deadline) {
			proc_sleep_ms(200); /* no sync standby right now (412): ask again, briefly: clients wait */
			continue;
		}
		if (r < 0) {
			kill(child, SIGKILL);
			child_result(child, true);
		}
		resume_marked(conf, etcd, mark);
		if (r < 0)
			return pgr_err_set(err, "%s was not promoted within %d s; PgBouncer resumed towards %s", candidate,
					   PROMOTE_TIMEOUT_MS / 1000, leader);
		return pgr_err_set(err, "Patroni refused the switchover to %s (its answer is logged); nothing changed, "
				   "PgBouncer resumed towards %s", candidate, leader);
	}
	timing->promote_ms = proc_now_ms() - t_asked;
	if (conf->local && conf->pgbouncer_count > 0) {
		bool changed;
		int tries = 0;

		while (local_pgbouncer_repoint(conf, cand->host, cand->pg_port, &changed, err) != 0 && ++tries < 5)
			proc_sleep_ms(100);
		if (tries == 5) {
			/* clients must not stay paused: resume, and say the switchover did not end well */
			resume_marked(conf, etcd, mark);
			if (r < 0)
				child_result(child, true);
			return pgr_err_prefix(err, "%s leads, but PgBouncer could not be repointed at it", candidate);
		}
	}
	resume_marked(conf, etcd, mark);
	timing->paused_ms = proc_now_ms() - t0;
	/* Patroni's own answer, for the record */
	if (r < 0)
		r = child_result(child, true);
	if (r != 0)
		log_warn("Patroni's answer to the switchover was not 200, though %s accepts writes", candidate);
	timing->total_ms = proc_now_ms() - t0;
	return 0;
}
