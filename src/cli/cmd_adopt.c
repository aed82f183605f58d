/*
 * cmd_adopt.c — `pgrefresh adopt [CONFIG] [--config PATH] [--dir CONFDIR] [--dry-run] ...` and `pgrefresh
 * unadopt [--bin-dir original|catalog]`: an existing Patroni unit taken under pgrefresh and given back
 * (adopt/adopt.h does the work).
 */
#include <stdio.h>
#include <string.h>

#include "adopt/adopt.h"
#include "cli/cli.h"
#include "util/exitcodes.h"

#define ADOPT_HINT "pgrefresh adopt --config /etc/patroni/15-main.yml [--dir /etc/pgrefresh/15-main] [--dry-run]"

static int copy_option(cli_ctx *ctx, const char *value, const char *name, char *buf, size_t len)
{
	if (value == NULL)
		return 0;
	if (strlen(value) >= len) {
		pgr_err_set(&ctx->err, "%s: too long", name);
		pgr_err_hint(&ctx->err, "%s", ADOPT_HINT);
		return -1;
	}
	snprintf(buf, len, "%s", value);
	return 0;
}

int cmd_adopt(cli_ctx *ctx, int argc, char **argv)
{
	adopt_opts o;
	const char *config = cli_take_option(&argc, argv, "--config");

	memset(&o, 0, sizeof(o));
	o.dry_run = cli_take_flag(&argc, argv, "--dry-run");
	if (copy_option(ctx, cli_take_option(&argc, argv, "--catalog"), "--catalog", o.catalog, sizeof(o.catalog)) != 0 ||
	    copy_option(ctx, cli_take_option(&argc, argv, "--name"), "--name", o.name, sizeof(o.name)) != 0 ||
	    copy_option(ctx, cli_take_option(&argc, argv, "--pgbouncer"), "--pgbouncer", o.pgbouncer,
			sizeof(o.pgbouncer)) != 0 ||
	    copy_option(ctx, cli_take_option(&argc, argv, "--pgbouncer-config"), "--pgbouncer-config",
			o.pgbouncer_config, sizeof(o.pgbouncer_config)) != 0)
		return PGR_EXIT_USAGE;
	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (argc > 1 || (argc == 1 && config != NULL)) {
		pgr_err_set(&ctx->err, "adopt takes one Patroni config");
		pgr_err_hint(&ctx->err, "%s", ADOPT_HINT);
		return PGR_EXIT_USAGE;
	}
	if (argc == 1)
		config = argv[0];
	if (config == NULL) {
		pgr_err_set(&ctx->err, "adopt needs the unit's Patroni config (Debian's is %s/VERSION-CLUSTER.yml)",
			    ADOPT_DEFAULT_CONFIG_DIR);
		pgr_err_hint(&ctx->err, "%s", ADOPT_HINT);
		return PGR_EXIT_USAGE;
	}
	if (copy_option(ctx, config, "--config", o.config, sizeof(o.config)) != 0)
		return PGR_EXIT_USAGE;
	if ((o.pgbouncer[0] == '\0') != (o.pgbouncer_config[0] == '\0')) {
		pgr_err_set(&ctx->err, "--pgbouncer and --pgbouncer-config go together");
		pgr_err_hint(&ctx->err, "pgrefresh adopt ... --pgbouncer 127.0.0.1:6432 --pgbouncer-config "
					"/etc/pgbouncer/pgbouncer.ini");
		return PGR_EXIT_USAGE;
	}
	snprintf(o.dir, sizeof(o.dir), "%s", ctx->dir);
	o.self_exe = ctx->self_exe;
	return adopt_run(&o, stdout, &ctx->err);
}

int cmd_unadopt(cli_ctx *ctx, int argc, char **argv)
{
	const char *bin = cli_take_option(&argc, argv, "--bin-dir");
	adopt_bin_choice choice = ADOPT_BIN_ORIGINAL;
	int rc;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (argc != 0 || (bin != NULL && strcmp(bin, "original") != 0 && strcmp(bin, "catalog") != 0)) {
		pgr_err_set(&ctx->err, argc != 0 ? "unadopt takes no arguments" : "--bin-dir is original or catalog");
		pgr_err_hint(&ctx->err, "pgrefresh unadopt --dir /etc/pgrefresh/15-main [--bin-dir original|catalog]");
		return PGR_EXIT_USAGE;
	}
	if (bin != NULL && strcmp(bin, "catalog") == 0)
		choice = ADOPT_BIN_CATALOG;
	rc = cli_refuse_during_refresh(ctx, "unadopt");
	if (rc != PGR_EXIT_OK)
		return rc;
	return unadopt_run(ctx->dir, choice, stdout, &ctx->err);
}
