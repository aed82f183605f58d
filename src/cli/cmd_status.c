/* `pgrefresh status [--format json] [--watch]` and `pgrefresh agent`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "cluster/conf.h"
#include "cluster/conf_security.h"
#include "cluster/unit_file.h"
#include "etcd/etcd.h"
#include "patroni/patroni.h"
#include "state/record.h"
#include "state/store.h"
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

/*
 * What the CLI sees of the host of unit cu, whose agent does not report: its Patroni REST API, then the
 * etcd member on its host (an endpoint of the cluster's etcd at the unit's address), 1 s each. Any answer
 * (an error too) means the host is there; none, that it is out of reach.
 */
static status_host_seen probe_unit_host(const cluster_conf *conf, const etcd_client *client, const conf_unit *cu)
{
	patroni_client pc;
	char url[200], at[80];
	etcd_client member = *client;
	bool healthy = false;
	pgr_err err;

	conf_unit_patroni(conf, cu, &pc, url, sizeof(url));
	if (patroni_health(&pc, url, 1000, &healthy, &err) == 0)
		return STATUS_HOST_ANSWERS;
	snprintf(at, sizeof(at), "//%s:", cu->host);
	member.endpoint_count = 0;
	member.timeout_ms = 1000;
	for (int i = 0; i < client->endpoint_count; i++)
		if (strstr(client->endpoints[i], at) != NULL)
			snprintf(member.endpoints[member.endpoint_count++], sizeof(member.endpoints[0]), "%s",
				 client->endpoints[i]);
	if (member.endpoint_count > 0 && (etcd_health(&member, &err) == 0 || !etcd_err_unreachable(&err)))
		return STATUS_HOST_ANSWERS;
	return STATUS_HOST_SILENT;
}

/* Reads the agents' reports, the coordinator and the refresh from etcd and builds the view; *corrupt_refresh
 * says whether the refresh record did not parse (ctx->err then says so, with the repair command). Returns 0, -1, or
 * the exit code etcd's failure calls for (etcd_err_explain). */
static int read_view(cli_ctx *ctx, const cluster_conf *conf, status_view *view, bool *corrupt_refresh)
{
	etcd_client client;
	store_snapshot *snap = calloc(1, sizeof(*snap));
	status_corrupt corrupt;
	status_host_seen seen[CONF_MAX_UNITS];
	state_scope scope;

	if (snap == NULL)
		return pgr_err_set(&ctx->err, "out of memory");
	conf_state_scope(conf, &scope);
	if (conf_etcd_client(conf, &client, &ctx->err) != 0) {
		free(snap);
		return -1;
	}
	client.timeout_ms = 3000;
	if (store_read(&client, &scope, snap, &ctx->err) != 0) {
		/* unreachable, TLS refused or credentials refused: each its message, hint and exit code */
		int code = etcd_err_explain(&ctx->err, conf->name, conf->dir, conf->security.etcd_password_secret);

		free(snap);
		return code;
	}
	memset(&corrupt, 0, sizeof(corrupt));
	corrupt.refresh = snap->refresh_corrupt;
	store_key(&scope, "refresh", corrupt.refresh_key, sizeof(corrupt.refresh_key));
	snprintf(corrupt.refresh_why, sizeof(corrupt.refresh_why), "%s", snap->refresh_corrupt_why);
	memcpy(corrupt.unit, snap->unit_corrupt, sizeof(corrupt.unit));
	for (int i = 0; i < conf->unit_count; i++)
		seen[i] = snap->alive[i] ? STATUS_HOST_UNKNOWN : probe_unit_host(conf, &client, &conf->units[i]);
	status_build_observed(conf, snap->records, snap->have, snap->alive, &corrupt, seen, snap->coordinator,
			      snap->have_refresh ? &snap->refresh : NULL, wall_ms(), view);
	if (snap->have_switchover)
		status_note_switchover_wait(view, snap->have_refresh ? &snap->refresh : NULL, &snap->switchover, wall_ms());
	*corrupt_refresh = snap->refresh_corrupt;
	if (snap->refresh_corrupt) {
		pgr_err_set(&ctx->err, "the refresh record at %s is corrupt (%s); no refresh acts on it", corrupt.refresh_key,
			    snap->refresh_corrupt_why);
		pgr_err_hint(&ctx->err, "`pgrefresh repair-refresh-record` archives it and removes it (see its --help)");
	}
	free(snap);
	return 0;
}

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;
	status_view view;
	bool watch = cli_take_flag(&argc, argv, "--watch");
	char *text = NULL;
	bool corrupt = false;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (conf_load(ctx->dir, &conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	if (!watch) {
		int rc;
		pgr_err corrupt_err;

		rc = read_view(ctx, &conf, &view, &corrupt);
		if (rc != 0)
			return rc > 0 ? rc : PGR_EXIT_UNREACHABLE;
		corrupt_err = ctx->err;
		pgr_err_clear(&ctx->err);
		rc = ctx->json ? status_render_json(&view, &text, &ctx->err) : status_render_table(&view, &text, &ctx->err);
		if (rc != 0)
			return PGR_EXIT_ERROR;
		fputs(text, stdout);
		if (ctx->json)
			fputc('\n', stdout);
		free(text);
		if (corrupt) {
			/* the view is shown; the command still fails, naming the key and the repair */
			ctx->err = corrupt_err;
			return PGR_EXIT_ERROR;
		}
		return PGR_EXIT_OK;
	}
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	while (!watch_stop) {
		if (read_view(ctx, &conf, &view, &corrupt) == 0) {
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
	char unit_from_file[64];

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (unit == NULL) { /* DIR/unit names it: pgrefresh-agent@.service gives --dir alone */
		if (unit_file_read(ctx->dir, unit_from_file, sizeof(unit_from_file), &ctx->err) != 0)
			return PGR_EXIT_USAGE;
		unit = unit_from_file;
	}
	if (agent_run(ctx->dir, unit, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	return PGR_EXIT_OK;
}

/* Units whose link points elsewhere than what they run: they run the linked version at their next restart. */
static void print_unit_versions(const cluster_conf *conf, const store_snapshot *snap)
{
	for (int i = 0; i < conf->unit_count; i++) {
		const unit_record *r = &snap->records[i];

		if (!snap->have[i]) {
			printf("  %-6s no report from its agent\n", conf->units[i].name);
			continue;
		}
		printf("  %-6s runs %-6s linked to %-6s%s\n", conf->units[i].name, r->server_version[0] ? r->server_version : "-",
		       r->linked_version[0] ? r->linked_version : "-",
		       r->server_version[0] && r->linked_version[0] && strcmp(r->server_version, r->linked_version) != 0
			       ? "  (runs the linked version at its next restart)"
			       : "");
	}
}

/*
 * `pgrefresh repair-refresh-record`: the refresh record at /pgrefresh/<cluster>/refresh does not parse.
 * Nothing guesses at it (the coordinator waits, status says so); this keeps its value under
 * /pgrefresh/<cluster>/corrupt/<its mod revision> and removes it, compare-and-swap on that revision so
 * that a record rewritten meanwhile is left alone. Units keep what they run and their links; the
 * refresh it described is over: a new `refresh --version V` plans from what the units report.
 */
int cmd_repair_refresh_record(cli_ctx *ctx, int argc, char **argv)
{
	cluster_conf conf;
	etcd_client client;
	store_repair *rep;
	pgr_err perr;
	store_snapshot *snap;
	state_scope scope;
	int code = PGR_EXIT_OK;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (argc > 0) {
		pgr_err_set(&ctx->err, "repair-refresh-record takes no arguments (got \"%s\")", argv[0]);
		pgr_err_hint(&ctx->err, "run `pgrefresh repair-refresh-record`");
		return PGR_EXIT_USAGE;
	}
	if (conf_load(ctx->dir, &conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	if (conf_etcd_client(&conf, &client, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	client.timeout_ms = 3000;
	conf_state_scope(&conf, &scope);
	rep = calloc(1, sizeof(*rep));
	if (rep == NULL) {
		pgr_err_set(&ctx->err, "out of memory");
		return PGR_EXIT_ERROR;
	}
	if (store_repair_refresh(&client, &scope, rep, &ctx->err) != 0) {
		code = PGR_EXIT_ERROR;
		if (rep->result == STORE_REPAIR_UNREAD) {
			pgr_err_prefix(&ctx->err, "etcd of cluster %s unreachable", conf.name);
			pgr_err_hint(&ctx->err, "start the cluster with `pgrefresh cluster start --dir %s`", conf.dir);
			code = PGR_EXIT_UNREACHABLE;
		}
		goto out;
	}
	if (rep->result == STORE_REPAIR_ABSENT) {
		printf("No refresh record at %s: nothing to repair\n", rep->key);
		goto out;
	}
	if (rep->result == STORE_REPAIR_NOT_CORRUPT) {
		pgr_err_set(&ctx->err, "the refresh record at %s is not corrupt (refresh %d, %s): nothing done", rep->key,
			    rep->rec.id, refresh_state_name(rep->rec.state));
		pgr_err_hint(&ctx->err, "see `pgrefresh status`; to undo a refresh: `pgrefresh rollback`");
		code = PGR_EXIT_REFUSED;
		goto out;
	}
	if (rep->result != STORE_REPAIR_DONE) {
		pgr_err_set(&ctx->err, "%s changed while it was being repaired: nothing removed", rep->key);
		pgr_err_hint(&ctx->err, "see `pgrefresh status`, then run `pgrefresh repair-refresh-record` again if it is still corrupt");
		code = PGR_EXIT_ERROR;
		goto out;
	}
	printf("Removed the corrupt refresh record %s (%s); its value is kept at %s\n", rep->key, rep->why, rep->kept_at);
	snap = calloc(1, sizeof(*snap));
	if (snap != NULL && store_read(&client, &scope, snap, &perr) == 0) {
		printf("The units keep what they run:\n");
		print_unit_versions(&conf, snap);
	}
	free(snap);
	printf("Next: `pgrefresh status`, then `pgrefresh refresh --version V` to bring every unit to V\n");
out:
	free(rep);
	return code;
}
