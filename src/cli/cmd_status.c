/* `pgrefresh status [--format json] [--watch]` and `pgrefresh agent`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "status/status.h"
#include "util/exitcodes.h"
#include "util/proc.h"

static volatile sig_atomic_t watch_stop;

static void on_interrupt(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Reads the agents' reports and the coordinator from etcd and builds the view. */
static int read_view(cli_ctx *ctx, const cluster_conf *conf, status_view *view)
{
	etcd_client client;
	etcd_kvs kvs;
	char prefix[128], key[256];
	unit_record records[CONF_MAX_UNITS];
	bool have[CONF_MAX_UNITS];
	char coordinator[32] = "";

	if (etcd_client_init(&client, conf->etcd, &ctx->err) != 0)
		return -1;
	client.timeout_ms = 3000;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	if (etcd_get_prefix(&client, prefix, &kvs, &ctx->err) != 0) {
		pgr_err_prefix(&ctx->err, "etcd of cluster %s unreachable", conf->name);
		pgr_err_hint(&ctx->err, "start the cluster with `pgrefresh cluster start --dir %s`", conf->dir);
		return -1;
	}
	memset(have, 0, sizeof(have));
	for (int i = 0; i < conf->unit_count; i++) {
		snprintf(key, sizeof(key), "%sunits/%s", prefix, conf->units[i].member);
		for (int k = 0; k < kvs.count; k++) {
			pgr_err ignored;

			if (strcmp(kvs.items[k].key, key) == 0 && kvs.items[k].value != NULL &&
			    unit_record_parse(kvs.items[k].value, &records[i], &ignored) == 0)
				have[i] = true;
		}
	}
	snprintf(key, sizeof(key), "%scoordinator", prefix);
	for (int k = 0; k < kvs.count; k++)
		if (strcmp(kvs.items[k].key, key) == 0 && kvs.items[k].value != NULL)
			snprintf(coordinator, sizeof(coordinator), "%s", kvs.items[k].value);
	etcd_kvs_free(&kvs);
	status_build(conf, records, have, coordinator, wall_ms(), view);
	return 0;
}

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;
	status_view view;
	bool watch = cli_take_flag(&argc, argv, "--watch");
	char *text = NULL;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (conf_load(ctx->dir, &conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	if (!watch) {
		int rc;

		if (read_view(ctx, &conf, &view) != 0)
			return PGR_EXIT_UNREACHABLE;
		rc = ctx->json ? status_render_json(&view, &text, &ctx->err) : status_render_table(&view, &text, &ctx->err);
		if (rc != 0)
			return PGR_EXIT_ERROR;
		fputs(text, stdout);
		if (ctx->json)
			fputc('\n', stdout);
		free(text);
		return PGR_EXIT_OK;
	}
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	while (!watch_stop) {
		if (read_view(ctx, &conf, &view) == 0) {
			if ((ctx->json ? status_render_json(&view, &text, &ctx->err)
				       : status_render_table(&view, &text, &ctx->err)) == 0) {
				/* home, draw, clear what is left of the previous frame */
				printf("\033[H\033[2J%s", text);
				free(text);
				text = NULL;
			}
		} else {
			printf("\033[H\033[2J%s\n", ctx->err.msg);
		}
		fflush(stdout);
		for (int i = 0; i < 10 && !watch_stop; i++)
			proc_sleep_ms(100);
	}
	pgr_err_clear(&ctx->err);
	return PGR_EXIT_OK;
}

int cmd_agent(cli_ctx *ctx, int argc, char **argv)
{
	const char *unit = cli_take_option(&argc, argv, "--unit");

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (unit == NULL) {
		pgr_err_set(&ctx->err, "agent needs --unit UNIT (e.g. pg/0)");
		return PGR_EXIT_USAGE;
	}
	if (agent_run(ctx->dir, unit, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	return PGR_EXIT_OK;
}
