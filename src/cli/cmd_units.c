/* `pgrefresh add-unit`, `remove-unit UNIT`, `switchover [--to UNIT]`: cluster operations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cluster/conf.h"
#include "cluster/conf_security.h"
#include "cluster/local.h"
#include "cluster/switchover.h"
#include "etcd/etcd.h"
#include "patroni/patroni.h"
#include "state/unit_record.h"
#include "util/exitcodes.h"
#include "util/fileutil.h"
#include "util/http.h"
#include "util/proc.h"

#define UNIT_OP_TIMEOUT_MS 180000

/* GET /cluster from the first unit that answers: 0, else the exit code (a unit that refused TLS or the password:
 * PGR_EXIT_ERROR; none answers: PGR_EXIT_UNREACHABLE), ctx->err saying which. */
static int read_patroni_cluster(cli_ctx *ctx, const cluster_conf *conf, patroni_cluster *cluster)
{
	patroni_client pc;

	conf_patroni_client(conf, &pc);
	for (int i = 0; i < conf->unit_count; i++) {
		char url[200];
		pgr_err ignored;

		conf_unit_api_url(conf, &conf->units[i], url, sizeof(url));
		if (patroni_get_cluster(&pc, url, 3000, cluster, &ignored) == 0)
			return 0;
		if (http_err_tls(&ignored) || strstr(ignored.msg, "HTTP 401") != NULL) {
			/* reached, but refused: a certificate or the password, not a process to start */
			pgr_err_set(&ctx->err, "Patroni of %s refused pgrefresh: %s", conf->units[i].name, ignored.msg);
			pgr_err_hint(&ctx->err, "check patroni_ca and patroni_auth_secret (%s/secrets.d/<name>) in %s/pgrefresh.conf",
				     conf->dir, conf->dir);
			return PGR_EXIT_ERROR;
		}
	}
	pgr_err_set(&ctx->err, "no unit of cluster %s answers (Patroni REST API)", conf->name);
	pgr_err_hint(&ctx->err, "start it with `pgrefresh cluster start --dir %s`", conf->dir);
	return PGR_EXIT_UNREACHABLE;
}

static const conf_unit *unit_of_member(const cluster_conf *conf, const char *member)
{
	for (int i = 0; i < conf->unit_count; i++)
		if (strcmp(conf->units[i].member, member) == 0)
			return &conf->units[i];
	return NULL;
}

/* The version the running primary runs ("15.18"), asked of its Patroni over the network (never its files). */
static int primary_version(const cluster_conf *conf, const patroni_member *leader, char *version, size_t len)
{
	patroni_node node;
	patroni_client pc;
	char base[200];
	pgr_err err;

	conf_patroni_client(conf, &pc);
	if (patroni_api_base(leader->api_url, base, sizeof(base)) != 0 ||
	    patroni_get_node(&pc, base, 3000, &node, &err) != 0)
		return -1;
	unit_record_version_string(node.server_version, version, len);
	return version[0] ? 0 : -1;
}

/* What add-unit makes on failure, or remove-unit, undone on host unit idx: its agent, Patroni and PostgreSQL
 * stopped; then its PgBouncer, namespace, veth and directory, and conf without it (cluster/local.h). */
static int host_unit_drop(cluster_conf *conf, int idx, pgr_err *err)
{
	if (local_agent_stop(conf, &conf->units[idx], 90000, err) != 0 ||
	    local_unit_stop_leftovers(conf, &conf->units[idx], err) != 0)
		return -1;
	return local_hosts_unit_remove(conf, idx, err);
}

/* add-unit on a cluster of hosts: the new unit (conf's last, named) on a host of its own. */
static int add_host_unit(cli_ctx *ctx, cluster_conf *conf, const conf_unit *primary, const char *version)
{
	conf_unit *unit = &conf->units[conf->unit_count];
	pgr_err cleanup;

	conf->unit_count++;
	fprintf(stderr, "adding unit %s on host h%d, on %s (copied from the primary %s) ...\n", unit->name, unit->number,
		version, primary->name);
	if (local_hosts_unit_add(conf, ctx->self_exe, version, primary, &ctx->err) != 0 ||
	    local_wait_healthy(conf, UNIT_OP_TIMEOUT_MS, &ctx->err) != 0) {
		if (host_unit_drop(conf, conf->unit_count - 1, &cleanup) != 0)
			fprintf(stderr, "pgrefresh: warning: %s\n", cleanup.msg);
		pgr_err_prefix(&ctx->err, "could not add %s", unit->name);
		pgr_err_hint(&ctx->err, "the cluster is as it was; see `pgrefresh status`");
		return PGR_EXIT_ERROR;
	}
	local_agents_reload(conf); /* every agent reads pgrefresh.conf again: the coordinator plans with the new unit */
	printf("added %s on host h%d (%s:%d), streaming from the primary\n", unit->name, unit->number, unit->host,
	       unit->pg_port);
	return PGR_EXIT_OK;
}

static int add_unit_locked(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf, saved;
	patroni_cluster cluster;
	const patroni_member *leader;
	const conf_unit *leader_unit;
	conf_unit *unit;
	char version[32];
	int taken[2 * CONF_MAX_UNITS + 4], ntaken = 0, number = 0, cursor;
	int code;
	pgr_err cleanup;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (conf_load(ctx->dir, &conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	if (!conf.local) {
		pgr_err_set(&ctx->err, "add-unit works on clusters pgrefresh made; on your hosts, start an agent beside the new Patroni");
		pgr_err_hint(&ctx->err, "take the new Patroni under pgrefresh with `pgrefresh adopt` on its host");
		return PGR_EXIT_ERROR;
	}
	if (conf.unit_count >= CONF_MAX_UNITS) {
		pgr_err_set(&ctx->err, "cluster %s already has %d units, the most pgrefresh handles", conf.name, conf.unit_count);
		return PGR_EXIT_ERROR;
	}
	code = read_patroni_cluster(ctx, &conf, &cluster);
	if (code != 0)
		return code;
	leader = patroni_cluster_leader(&cluster);
	leader_unit = leader ? unit_of_member(&conf, leader->name) : NULL;
	if (leader_unit == NULL) {
		pgr_err_set(&ctx->err, "cluster %s has no primary to copy a new unit from", conf.name);
		pgr_err_hint(&ctx->err, "check `pgrefresh status`");
		return PGR_EXIT_ERROR;
	}
	if (primary_version(&conf, leader, version, sizeof(version)) != 0) {
		pgr_err_set(&ctx->err, "cannot tell which version the primary %s runs", leader_unit->name);
		return PGR_EXIT_ERROR;
	}
	saved = conf;
	{
		const char *colon = strrchr(conf.etcd, ':');

		if (colon)
			taken[ntaken++] = (int)strtol(colon + 1, NULL, 10);
	}
	taken[ntaken++] = conf.etcd_peer_port;
	for (int i = 0; i < conf.pgbouncer_count; i++)
		taken[ntaken++] = conf.pgbouncers[i].port;
	for (int i = 0; i < conf.unit_count; i++) {
		taken[ntaken++] = conf.units[i].pg_port;
		taken[ntaken++] = conf.units[i].api_port;
		if (conf.units[i].number >= number)
			number = conf.units[i].number + 1;
	}
	unit = &conf.units[conf.unit_count];
	memset(unit, 0, sizeof(*unit));
	unit->number = number;
	snprintf(unit->name, sizeof(unit->name), "%s/%d", conf.name, number);
	snprintf(unit->member, sizeof(unit->member), "%s-%d", conf.name, number);
	if (conf.hosts_bridge[0])
		return add_host_unit(ctx, &conf, leader_unit, version);
	snprintf(unit->host, sizeof(unit->host), "127.0.0.1");
	cursor = 5440 + number;
	if (local_port_next_free(&cursor, taken, ntaken, &unit->pg_port, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	taken[ntaken++] = unit->pg_port;
	cursor = 8010 + number;
	if (local_port_next_free(&cursor, taken, ntaken, &unit->api_port, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	{
		/* its agent's metrics, when the others serve them: above the highest of theirs */
		int metrics_cursor = 0;

		for (int i = 0; i < conf.unit_count; i++)
			if (conf.units[i].metrics_port >= metrics_cursor)
				metrics_cursor = conf.units[i].metrics_port + 1;
		if (metrics_cursor > 0 &&
		    local_port_next_free(&metrics_cursor, taken, ntaken, &unit->metrics_port, &ctx->err) != 0)
			return PGR_EXIT_ERROR;
	}
	conf.unit_count++;
	fprintf(stderr, "adding unit %s on %s (copied from the primary %s) ...\n", unit->name, version, leader_unit->name);
	if (local_unit_prepare(&conf, unit, version, &ctx->err) != 0 || conf_save(&conf, &ctx->err) != 0 ||
	    local_agent_start(&conf, unit, &ctx->err) != 0 || local_wait_healthy(&conf, UNIT_OP_TIMEOUT_MS, &ctx->err) != 0) {
		char udir[PATH_MAX];

		if (local_agent_stop(&conf, unit, 60000, &cleanup) != 0 ||
		    local_unit_stop_leftovers(&conf, unit, &cleanup) != 0)
			fprintf(stderr, "pgrefresh: warning: %s\n", cleanup.msg);
		conf_unit_dir(&conf, unit, udir, sizeof(udir));
		if (dir_remove_all(udir, &cleanup) != 0 || conf_save(&saved, &cleanup) != 0)
			fprintf(stderr, "pgrefresh: warning: %s\n", cleanup.msg);
		pgr_err_prefix(&ctx->err, "could not add %s", unit->name);
		pgr_err_hint(&ctx->err, "the cluster is as it was; see `pgrefresh status`");
		return PGR_EXIT_ERROR;
	}
	local_agents_reload(&saved); /* the other agents read pgrefresh.conf again: the coordinator plans with it */
	printf("added %s (%s:%d), streaming from the primary\n", unit->name, unit->host, unit->pg_port);
	return PGR_EXIT_OK;
}

/* the operation lock held from start to end */
int cmd_add_unit(cli_ctx *ctx, int argc, char **argv)
{
	cli_op_lock *lock = NULL;
	int code = cli_lock_take(ctx, "add-unit", &lock);

	if (code != PGR_EXIT_OK)
		return code;
	code = add_unit_locked(ctx, argc, argv);
	cli_lock_release(lock);
	return code;
}

/* How long remove-unit waits for Patroni to drop a stopped member: its key's lease runs out after ttl
 * (10 s in the clusters pgrefresh makes), and the remaining members' /cluster then no longer lists it. */
#define MEMBER_GONE_WAIT_MS 30000

/* Waits until no unit's Patroni lists member (0), or says why not (ctx->err). */
static int wait_member_gone(cli_ctx *ctx, const cluster_conf *conf, const char *member)
{
	long long deadline = proc_now_ms() + MEMBER_GONE_WAIT_MS;
	bool listed = true;

	fprintf(stderr, "waiting for Patroni to drop its member %s (its key expires with Patroni's lease) ...\n",
		member);
	while (proc_now_ms() < deadline) {
		patroni_cluster cluster;
		pgr_err ignored = ctx->err;

		listed = false;
		if (read_patroni_cluster(ctx, conf, &cluster) != 0) {
			ctx->err = ignored; /* no unit answers for a moment: ask again */
			listed = true;
		} else {
			for (int i = 0; i < cluster.member_count && !listed; i++)
				listed = strcmp(cluster.members[i].name, member) == 0;
		}
		if (!listed)
			return 0;
		proc_sleep_ms(500);
	}
	pgr_err_set(&ctx->err, "Patroni still lists the member %s %d s after it stopped", member,
		    MEMBER_GONE_WAIT_MS / 1000);
	pgr_err_hint(&ctx->err, "see `pgrefresh status`; the unit is removed from pgrefresh.conf, its Patroni stopped");
	return -1;
}

static int remove_unit_finish(cli_ctx *ctx, const cluster_conf *conf, const conf_unit *removed);

static int remove_unit_locked(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;
	patroni_cluster cluster;
	const patroni_member *leader;
	const conf_unit *unit;
	conf_unit removed;
	char udir[PATH_MAX];
	int idx;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (argc != 1) {
		pgr_err_set(&ctx->err, "remove-unit needs one UNIT (e.g. pg/2)");
		pgr_err_hint(&ctx->err, "see the units with `pgrefresh status`");
		return PGR_EXIT_USAGE;
	}
	if (conf_load(ctx->dir, &conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	unit = conf_find_unit(&conf, argv[0]);
	if (unit == NULL) {
		pgr_err_set(&ctx->err, "cluster %s has no unit %s", conf.name, argv[0]);
		pgr_err_hint(&ctx->err, "see the units with `pgrefresh status`");
		return PGR_EXIT_USAGE;
	}
	if (!conf.local) {
		pgr_err_set(&ctx->err, "remove-unit works on clusters pgrefresh made");
		pgr_err_hint(&ctx->err, "on your hosts: `pgrefresh unadopt` on the unit's host, then stop its Patroni");
		return PGR_EXIT_ERROR;
	}
	if (local_hosts_unit_runs_etcd(&conf, unit)) { /* etcd keeps the members create made */
		pgr_err_set(&ctx->err, "%s's host runs a member of the cluster's etcd: remove-unit removes hosts add-unit made",
			    unit->name);
		pgr_err_hint(&ctx->err, "remove a unit added with `pgrefresh add-unit`; see them with `pgrefresh status`");
		return PGR_EXIT_REFUSED;
	}
	if (conf.unit_count == 1) {
		pgr_err_set(&ctx->err, "%s is the last unit of cluster %s", unit->name, conf.name);
		pgr_err_hint(&ctx->err, "to remove the whole cluster: `pgrefresh cluster destroy`");
		return PGR_EXIT_REFUSED;
	}
	if (read_patroni_cluster(ctx, &conf, &cluster) == 0) {
		leader = patroni_cluster_leader(&cluster);
		if (leader != NULL && strcmp(leader->name, unit->member) == 0) {
			pgr_err_set(&ctx->err, "%s is the primary", unit->name);
			pgr_err_hint(&ctx->err, "move the primary role first: `pgrefresh switchover`, then remove-unit %s",
				     unit->name);
			return PGR_EXIT_REFUSED;
		}
	}
	removed = *unit;
	idx = (int)(unit - conf.units);
	fprintf(stderr, "removing unit %s ...\n", removed.name);
	if (conf.hosts_bridge[0]) { /* its host goes with it: PgBouncer, namespace, veth, directory */
		if (host_unit_drop(&conf, idx, &ctx->err) != 0)
			return PGR_EXIT_ERROR;
		local_agents_reload(&conf);
		return remove_unit_finish(ctx, &conf, &removed);
	}
	if (local_agent_stop(&conf, &removed, 90000, &ctx->err) != 0 ||
	    local_unit_stop_leftovers(&conf, &removed, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	memmove(&conf.units[idx], &conf.units[idx + 1], (size_t)(conf.unit_count - idx - 1) * sizeof(conf.units[0]));
	conf.unit_count--;
	if (conf_save(&conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	conf_unit_dir(&conf, &removed, udir, sizeof(udir));
	if (dir_remove_all(udir, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	local_agents_reload(&conf);
	return remove_unit_finish(ctx, &conf, &removed);
}

/* The end of remove-unit, once the unit is stopped and out of conf: its record, Patroni's view, health. */
static int remove_unit_finish(cli_ctx *ctx, const cluster_conf *conf, const conf_unit *removed)
{
	etcd_client etcd;

	if (conf_etcd_client(conf, &etcd, &ctx->err) == 0) {
		pgr_err warn;
		state_scope scope;

		conf_state_scope(conf, &scope);
		if (unit_record_delete(&etcd, &scope, removed->member, &warn) != 0)
			fprintf(stderr, "pgrefresh: warning: %s\n", warn.msg);
	}
	/* Patroni's member key is Patroni's (design.md, "Who writes what"): it lives on Patroni's own lease and
	 * goes when that expires, Patroni stopped; pgrefresh waits for it instead of deleting it */
	if (wait_member_gone(ctx, conf, removed->member) != 0)
		return PGR_EXIT_TIMEOUT;
	if (local_wait_healthy(conf, UNIT_OP_TIMEOUT_MS, &ctx->err) != 0) {
		pgr_err_prefix(&ctx->err, "%s removed, but", removed->name);
		return PGR_EXIT_ERROR;
	}
	printf("removed %s\n", removed->name);
	return PGR_EXIT_OK;
}

/* the operation lock held from start to end */
int cmd_remove_unit(cli_ctx *ctx, int argc, char **argv)
{
	cli_op_lock *lock = NULL;
	int code = cli_lock_take(ctx, "remove-unit", &lock);

	if (code != PGR_EXIT_OK)
		return code;
	code = remove_unit_locked(ctx, argc, argv);
	cli_lock_release(lock);
	return code;
}

static int switchover_locked(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;
	patroni_cluster cluster;
	const patroni_member *leader, *sync;
	const conf_unit *target = NULL, *leader_unit;
	const char *to = cli_take_option(&argc, argv, "--to");
	char leader_name[64];
	long long deadline;
	etcd_client etcd;
	etcd_lease_keeper keeper;
	switchover_timing timing;
	int rc;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (conf_load(ctx->dir, &conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	if (to != NULL) {
		target = conf_find_unit(&conf, to);
		if (target == NULL) {
			pgr_err_set(&ctx->err, "cluster %s has no unit %s", conf.name, to);
			pgr_err_hint(&ctx->err, "see the units with `pgrefresh status`");
			return PGR_EXIT_USAGE;
		}
	}
	deadline = proc_now_ms() + 30000;
	for (;;) {
		rc = read_patroni_cluster(ctx, &conf, &cluster);
		if (rc != 0)
			return rc;
		leader = patroni_cluster_leader(&cluster);
		sync = patroni_cluster_sync_standby(&cluster);
		if (leader != NULL && (target != NULL || sync != NULL))
			break;
		if (proc_now_ms() > deadline) {
			pgr_err_set(&ctx->err, "no %s to switch over to after 30 s", leader ? "sync standby" : "primary");
			pgr_err_hint(&ctx->err, "check `pgrefresh status`");
			return PGR_EXIT_TIMEOUT;
		}
		proc_sleep_ms(250);
	}
	if (target == NULL)
		target = unit_of_member(&conf, sync->name);
	leader_unit = unit_of_member(&conf, leader->name);
	if (target == NULL || leader_unit == NULL) {
		pgr_err_set(&ctx->err, "Patroni reports members pgrefresh does not know (%s)", leader->name);
		return PGR_EXIT_ERROR;
	}
	if (strcmp(target->member, leader->name) == 0) {
		pgr_err_set(&ctx->err, "%s is already the primary", target->name);
		pgr_err_hint(&ctx->err, "pass another unit with --to");
		return PGR_EXIT_USAGE;
	}
	snprintf(leader_name, sizeof(leader_name), "%s", leader->name);
	fprintf(stderr, "switching over from %s to %s, PgBouncer paused around it ...\n", leader_unit->name, target->name);
	if (conf_etcd_client(&conf, &etcd, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	/* a lease of our own owns the PgBouncer paused mark: if this process dies, the coordinator resumes */
	if (etcd_lease_keeper_start(&keeper, &etcd, 3, &ctx->err) != 0) {
		pgr_err_prefix(&ctx->err, "nothing changed");
		return PGR_EXIT_UNREACHABLE;
	}
	rc = switchover_run(&conf, &etcd, keeper.lease, leader_name, target->member, &timing, &ctx->err);
	etcd_lease_keeper_stop(&keeper);
	if (rc != 0) {
		pgr_err_hint(&ctx->err, "in synchronous mode the target must be the sync standby; see `pgrefresh status`");
		return PGR_EXIT_ERROR;
	}
	/* done when Patroni's view agrees */
	deadline = proc_now_ms() + 30000;
	for (;;) {
		const patroni_member *now;

		if (read_patroni_cluster(ctx, &conf, &cluster) == 0) {
			now = patroni_cluster_leader(&cluster);
			if (now != NULL && strcmp(now->name, target->member) == 0 && strcmp(now->state, "running") == 0)
				break;
		}
		if (proc_now_ms() > deadline) {
			pgr_err_set(&ctx->err, "%s accepts writes, but Patroni does not report it as the leader after 30 s",
				    target->name);
			pgr_err_hint(&ctx->err, "check `pgrefresh status`");
			return PGR_EXIT_TIMEOUT;
		}
		proc_sleep_ms(100);
	}
	printf("switched over: %s is the primary (was %s); clients waited %lld ms\n", target->name, leader_unit->name,
	       timing.paused_ms);
	return PGR_EXIT_OK;
}

/* the operation lock held from start to end */
int cmd_switchover(cli_ctx *ctx, int argc, char **argv)
{
	cli_op_lock *lock = NULL;
	int code = cli_lock_take(ctx, "switchover", &lock);

	if (code != PGR_EXIT_OK)
		return code;
	code = switchover_locked(ctx, argc, argv);
	cli_lock_release(lock);
	return code;
}
