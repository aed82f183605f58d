/* `pgrefresh cluster create|start|stop|destroy|env`: the local cluster. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "cluster/conf.h"
#include "cluster/conf_security.h"
#include "cluster/hosts.h"
#include "cluster/local.h"
#include "cluster/local_secure.h"
#include "cluster/local_backup.h"
#include "etcd/etcd.h"
#include "state/store.h"
#include "util/exitcodes.h"
#include "util/proc.h"

#define CREATE_TIMEOUT_MS 180000

static int parse_positive(const char *text, int *value)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 1 || v > 100000)
		return -1;
	*value = (int)v;
	return 0;
}

/*
 * Patroni is healthy; wait (briefly) until the agents' reports say so too, so that the first
 * `pgrefresh status` after create/start shows the roles Patroni has.
 */
static void wait_reports(const cluster_conf *conf)
{
	etcd_client etcd;
	store_snapshot *snap = calloc(1, sizeof(*snap));
	long long deadline = proc_now_ms() + 15000;
	state_scope scope;
	pgr_err err;

	if (snap == NULL || conf_etcd_client(conf, &etcd, &err) != 0) {
		free(snap);
		return;
	}
	conf_state_scope(conf, &scope);
	while (proc_now_ms() < deadline) {
		int primaries = 0, syncs = 0, running = 0;

		if (store_read(&etcd, &scope, snap, &err) == 0) {
			for (int i = 0; i < conf->unit_count; i++) {
				if (!snap->have[i] || strcmp(snap->records[i].patroni_state, "running") != 0)
					continue;
				running++;
				primaries += strcmp(snap->records[i].role, "primary") == 0;
				syncs += strcmp(snap->records[i].role, "sync-standby") == 0;
			}
			if (running == conf->unit_count && primaries == 1 && (conf->unit_count == 1 || syncs >= 1) &&
			    snap->coordinator[0])
				break;
		}
		proc_sleep_ms(200);
	}
	free(snap);
}

/* --hosts N: N network-namespace hosts, a unit and a PgBouncer each (cluster/hosts.h). */
static int create_hosts_opts(cli_ctx *ctx, const char *hosts, const char *units, const char *bouncers,
			     local_create_opts *opts)
{
	if (parse_positive(hosts, &opts->hosts) != 0 || opts->hosts < HOSTS_MIN || opts->hosts > HOSTS_MAX) {
		pgr_err_set(&ctx->err, "--hosts must be a number from %d to %d, not \"%s\"", HOSTS_MIN, HOSTS_MAX, hosts);
		pgr_err_hint(&ctx->err, "e.g. `pgrefresh cluster create --hosts 3 --dir DIR --version V`");
		return -1;
	}
	if ((units != NULL && opts->units != opts->hosts) || bouncers != NULL) {
		pgr_err_set(&ctx->err, "--hosts %d makes a unit and a PgBouncer on each host: %s does not apply", opts->hosts,
			    bouncers != NULL ? "--pgbouncers" : "another --units");
		pgr_err_hint(&ctx->err, "leave out %s: `pgrefresh cluster create --hosts %d --dir DIR --version V`",
			     bouncers != NULL ? "--pgbouncers" : "--units", opts->hosts);
		return -1;
	}
	opts->units = opts->hosts;
	opts->pgbouncers = opts->hosts;
	return 0;
}

int cmd_cluster_create(cli_ctx *ctx, int argc, char **argv)
{
	local_create_opts opts;
	cluster_conf conf;
	const char *units = cli_take_option(&argc, argv, "--units");
	const char *version = cli_take_option(&argc, argv, "--version");
	const char *catalog = cli_take_option(&argc, argv, "--catalog");
	const char *name = cli_take_option(&argc, argv, "--name");
	const char *bouncers = cli_take_option(&argc, argv, "--pgbouncers");
	bool secure = cli_take_flag(&argc, argv, "--secure");
	bool insecure = cli_take_flag(&argc, argv, "--insecure");
	const char *hosts = cli_take_option(&argc, argv, "--hosts");
	bool backup = cli_take_flag(&argc, argv, "--backup");

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	memset(&opts, 0, sizeof(opts));
	opts.secure = secure;
	opts.backup = backup;
	if (ctx->dir[0] == '\0') {
		pgr_err_set(&ctx->err, "cluster create needs --dir DIR");
		pgr_err_hint(&ctx->err, "e.g. `pgrefresh cluster create --dir /tmp/pg --units 3 --version 15.18`");
		return PGR_EXIT_USAGE;
	}
	snprintf(opts.dir, sizeof(opts.dir), "%s", ctx->dir);
	opts.units = 3;
	if (units != NULL && parse_positive(units, &opts.units) != 0) {
		pgr_err_set(&ctx->err, "--units must be a positive number, not \"%s\"", units);
		pgr_err_hint(&ctx->err, "e.g. --units 3");
		return PGR_EXIT_USAGE;
	}
	opts.pgbouncers = 1;
	if (bouncers != NULL && (parse_positive(bouncers, &opts.pgbouncers) != 0 || opts.pgbouncers > CONF_MAX_PGBOUNCERS)) {
		pgr_err_set(&ctx->err, "--pgbouncers must be a number from 1 to %d, not \"%s\"", CONF_MAX_PGBOUNCERS, bouncers);
		pgr_err_hint(&ctx->err, "e.g. --pgbouncers 2");
		return PGR_EXIT_USAGE;
	}
	if (hosts != NULL && create_hosts_opts(ctx, hosts, units, bouncers, &opts) != 0)
		return PGR_EXIT_USAGE;
	if (secure && insecure) {
		pgr_err_set(&ctx->err, "--secure and --insecure contradict each other");
		pgr_err_hint(&ctx->err, "give one: `pgrefresh cluster create --secure ...` or `--insecure ...`");
		return PGR_EXIT_USAGE;
	}
	if (hosts != NULL) /* across hosts TLS and passwords are the default; --insecure opts out */
		opts.secure = !insecure;
	if (hosts != NULL && backup) { /* the repository is in DIR, which the hosts' processes do not reach */
		pgr_err_set(&ctx->err, "--backup with --hosts is not supported yet: the pgBackRest repository is made for a cluster on 127.0.0.1");
		pgr_err_hint(&ctx->err, "use `pgrefresh cluster create --backup` (on 127.0.0.1) or `--hosts N` without --backup");
		return PGR_EXIT_USAGE;
	}
	if (version == NULL) {
		pgr_err_set(&ctx->err, "cluster create needs --version V");
		pgr_err_hint(&ctx->err, "see the versions you have with `pgrefresh versions`");
		return PGR_EXIT_USAGE;
	}
	snprintf(opts.version, sizeof(opts.version), "%s", version);
	if (catalog != NULL)
		snprintf(opts.catalog, sizeof(opts.catalog), "%s", catalog);
	else
		catalog_default_dir(opts.catalog, sizeof(opts.catalog));
	{
		char *real = realpath(opts.catalog, NULL);

		if (real != NULL) {
			snprintf(opts.catalog, sizeof(opts.catalog), "%s", real);
			free(real);
		}
	}
	snprintf(opts.name, sizeof(opts.name), "%s", name ? name : "pg");
	if (strpbrk(opts.name, "/- \t") != NULL || opts.name[0] == '\0') {
		pgr_err_set(&ctx->err, "bad cluster name \"%s\" (letters, digits and _ only)", opts.name);
		return PGR_EXIT_USAGE;
	}
	opts.timeout_ms = CREATE_TIMEOUT_MS;
	if (opts.hosts > 0 && hosts_check_root(&ctx->err) != 0)
		return PGR_EXIT_ERROR;
	fprintf(stderr, "creating cluster %s: %d unit(s) on PostgreSQL %s in %s%s ...\n", opts.name, opts.units,
		opts.version, opts.dir, opts.hosts > 0 ? ", a host each (network namespaces)" : "");
	if (local_cluster_create(&opts, ctx->self_exe, &conf, &ctx->err) != 0) {
		if (ctx->err.hint[0] == '\0')
			pgr_err_hint(&ctx->err, "fix the cause, then run `pgrefresh cluster create` again");
		return PGR_EXIT_ERROR;
	}
	wait_reports(&conf);
	printf("cluster %s created in %s: %d unit(s) on %s, PgBouncer on ", conf.name, conf.dir, conf.unit_count,
	       opts.version);
	for (int i = 0; i < conf.pgbouncer_count; i++)
		printf("%s%s:%d", i ? ", " : "", conf.pgbouncers[i].host, conf.pgbouncers[i].port);
	printf("\n");
	if (opts.backup) {
		char label[64];
		pgr_err berr;

		fprintf(stderr, "taking the first full backup with pgBackRest ...\n");
		if (local_backup_first(&conf, label, sizeof(label), &berr) == 0)
			printf("backup: stanza %s in %s/pgbackrest, WAL archived, full backup %s taken\n", conf.name, conf.dir,
			       label);
		else
			printf("backup: stanza %s configured in %s/pgbackrest, but %s\nnext: %s\n", conf.name, conf.dir,
			       berr.msg, berr.hint);
	}
	printf("next: `pgrefresh status --dir %s`\n", conf.dir);
	return PGR_EXIT_OK;
}

static int load_local(cli_ctx *ctx, cluster_conf *conf)
{
	if (conf_load(ctx->dir, conf, &ctx->err) != 0)
		return -1;
	if (!conf->local) {
		pgr_err_set(&ctx->err, "%s is not a local cluster: its processes are run by the hosts", conf->dir);
		pgr_err_hint(&ctx->err, "use the hosts' service manager");
		return -1;
	}
	if (conf->hosts_net[0] && conf->hosts_bridge[0] == '\0') { /* DIR/hosts/hN: one host's own file */
		char top[PATH_MAX];
		char *slash;

		snprintf(top, sizeof(top), "%s", conf->dir);
		for (int i = 0; i < 2 && (slash = strrchr(top, '/')) != NULL && slash != top; i++)
			*slash = '\0';
		pgr_err_set(&ctx->err, "%s is one host of a cluster of hosts: its own file, for its agent", conf->dir);
		pgr_err_hint(&ctx->err, "manage the whole cluster: `pgrefresh cluster start|stop|destroy --dir %s`", top);
		return -1;
	}
	return 0;
}

int cmd_cluster_start(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (load_local(ctx, &conf) != 0)
		return PGR_EXIT_ERROR;
	if (local_cluster_start(&conf, ctx->self_exe, CREATE_TIMEOUT_MS, &ctx->err) != 0) {
		pgr_err_hint(&ctx->err, "see the logs under %s/units/, then `pgrefresh cluster start` again", conf.dir);
		return PGR_EXIT_ERROR;
	}
	wait_reports(&conf);
	printf("cluster %s running (%d units)\n", conf.name, conf.unit_count);
	return PGR_EXIT_OK;
}

int cmd_cluster_stop(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (load_local(ctx, &conf) != 0)
		return PGR_EXIT_ERROR;
	if (local_cluster_stop(&conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	printf("cluster %s stopped\n", conf.name);
	return PGR_EXIT_OK;
}

int cmd_cluster_destroy(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;
	bool kept = false;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (load_local(ctx, &conf) != 0)
		return PGR_EXIT_ERROR;
	if (local_cluster_destroy(&conf, &kept, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	if (kept)
		printf("cluster %s destroyed (what pgrefresh made in %s removed; the directory stays: it holds other files)\n",
		       conf.name, conf.dir);
	else
		printf("cluster %s destroyed (%s removed)\n", conf.name, conf.dir);
	return PGR_EXIT_OK;
}

int cmd_cluster_env(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (conf_load(ctx->dir, &conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	if (conf.pgbouncer_count == 0) {
		pgr_err_set(&ctx->err, "cluster %s has no PgBouncer", conf.name);
		return PGR_EXIT_ERROR;
	}
	if (conf.hosts_net[0] && !local_secure_on(&conf)) /* a comment: `eval` skips it, a reader sees it */
		printf("# cluster %s is insecure (made with --insecure): no TLS, no etcd users, Patroni's REST API open\n",
		       conf.name);
	printf("export PGHOST=%s\nexport PGPORT=%d\nexport PGUSER=%s\nexport PGDATABASE=postgres\n"
	       "export PGPASSFILE=%s/pgpass\nexport PGREFRESH_DIR=%s\n",
	       conf.pgbouncers[0].host, conf.pgbouncers[0].port, conf.superuser, conf.dir, conf.dir);
	return PGR_EXIT_OK;
}
