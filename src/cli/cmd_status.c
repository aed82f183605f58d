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
#include "refresh/store.h"
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

/* Reads the agents' reports, the coordinator and the refresh from etcd and builds the view. */
static int read_view(cli_ctx *ctx, const cluster_conf *conf, status_view *view)
{
	etcd_client client;
	store_snapshot *snap = calloc(1, sizeof(*snap));

	if (snap == NULL)
		return pgr_err_set(&ctx->err, "out of memory");
	if (etcd_client_init(&client, conf->etcd, &ctx->err) != 0) {
		free(snap);
		return -1;
	}
	client.timeout_ms = 3000;
	if (store_read(&client, conf, snap, &ctx->err) != 0) {
		pgr_err_prefix(&ctx->err, "etcd of cluster %s unreachable", conf->name);
		pgr_err_hint(&ctx->err, "start the cluster with `pgrefresh cluster start --dir %s`", conf->dir);
		free(snap);
		return -1;
	}
	status_build(conf, snap->records, snap->have, snap->coordinator, snap->have_refresh ? &snap->refresh : NULL,
		     wall_ms(), view);
	if (snap->have_switchover)
		status_note_switchover_wait(view, snap->have_refresh ? &snap->refresh : NULL, &snap->switchover, wall_ms());
	free(snap);
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
