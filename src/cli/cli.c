#include "cli/cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/exitcodes.h"
#include "util/http.h"
#include "util/log.h"

/* The command tree: the words that name a command, its handler, its usage and what it does. */
typedef struct cli_command {
	const char *words[3];
	cli_handler handler;
	const char *usage;
	const char *help;
	bool needs_cluster; /* refused with a usage error when neither --dir nor $PGREFRESH_DIR names one */
} cli_command;

static const cli_command commands[] = {
	{ { "cluster", "create" }, cmd_cluster_create, "cluster create --dir DIR --units N --version V [--pgbouncers 1]",
	  "create and start a local cluster on 127.0.0.1 (etcd, N units under Patroni, PgBouncers)" , false },
	{ { "cluster", "start" }, cmd_cluster_start, "cluster start --dir DIR",
	  "start whatever of the local cluster is not running" , true },
	{ { "cluster", "stop" }, cmd_cluster_stop, "cluster stop --dir DIR", "stop every process of the local cluster, by pid" , true },
	{ { "cluster", "destroy" }, cmd_cluster_destroy, "cluster destroy --dir DIR", "stop and remove the local cluster" , true },
	{ { "cluster", "env" }, cmd_cluster_env, "cluster env --dir DIR", "shell exports for clients (PgBouncer)" , true },
	{ { "versions", "add" }, cmd_versions_add, "versions add PATH", "add an installation (a directory or a .deb) to the catalog" , false },
	{ { "versions" }, cmd_versions, "versions [--format json]", "list the version catalog" , false },
	{ { "status" }, cmd_status, "status [--format tabular|json] [--watch]", "the cluster and its units" , true },
	{ { "add-unit" }, cmd_add_unit, "add-unit", "add a replica" , true },
	{ { "remove-unit" }, cmd_remove_unit, "remove-unit UNIT", "remove a unit" , true },
	{ { "switchover" }, cmd_switchover, "switchover [--to UNIT]", "move the primary role (through Patroni)" , true },
	{ { "pre-refresh-check" }, cmd_pre_refresh_check, "pre-refresh-check [--version V]",
	  "is the cluster healthy and ready to refresh? prints the rollback command" , true },
	{ { "refresh" }, cmd_refresh, "refresh [--version V] [--dry-run]",
	  "refresh to V (default: the highest of the same major in the catalog)" , true },
	{ { "resume-refresh" }, cmd_resume_refresh, "resume-refresh [--check-health-of-refreshed-units=false]",
	  "continue a paused (or failed) refresh" , true },
	{ { "force-refresh-start" }, cmd_force_refresh_start,
	  "force-refresh-start [--check-compatibility=false] [--run-pre-refresh-checks=false] [--check-workload=false]",
	  "start an incompatible refresh, skipping the named checks" , true },
	{ { "rollback" }, cmd_rollback, "rollback", "refresh back to the original version" , true },
	{ { "config" }, cmd_config, "config [KEY] | config set KEY=VALUE...", "settings (pause-after-unit-refresh, ...)" , true },
	{ { "wait" }, cmd_wait, "wait STATE... [--timeout SECONDS]", "wait until the refresh is in one of the states" , true },
	{ { "history" }, cmd_history, "history", "past refreshes" , true },
	{ { "repair-refresh-record" }, cmd_repair_refresh_record, "repair-refresh-record",
	  "keep a corrupt refresh record aside (under corrupt/) and remove it", true },
	{ { "debug", "fsm" }, cmd_debug_fsm, "debug fsm [--graphviz]", "print the refresh state machine" , false },
	{ { "agent" }, cmd_agent, "agent --dir DIR --unit UNIT", "the per-unit daemon" , true },
};

static void print_usage(FILE *out)
{
	fprintf(out, "pgrefresh — in-place rolling minor refresh of PostgreSQL HA clusters\n\nUsage:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  pgrefresh %-44s %s\n", commands[i].usage, commands[i].help);
	fprintf(out, "\nCommon options: --dir DIR (else $PGREFRESH_DIR), --format tabular|json, --verbose\n");
	fprintf(out, "Exit codes: 0 ok, 1 error, 2 usage, 3 not ready, 4 timeout, 5 refresh halted, 6 refused,\n"
		     "            7 unreachable, 8 missing dependency\n");
}

const char *cli_take_option(int *argc, char **argv, const char *name)
{
	size_t len = strlen(name);

	for (int i = 0; i < *argc; i++) {
		const char *value = NULL;
		int eat = 0;

		if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') {
			value = argv[i] + len + 1;
			eat = 1;
		} else if (strcmp(argv[i], name) == 0 && i + 1 < *argc) {
			value = argv[i + 1];
			eat = 2;
		}
		if (eat) {
			memmove(&argv[i], &argv[i + eat], (size_t)(*argc - i - eat + 1) * sizeof(char *));
			*argc -= eat;
			return value;
		}
	}
	return NULL;
}

bool cli_take_flag(int *argc, char **argv, const char *name)
{
	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], name) == 0) {
			memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof(char *));
			(*argc)--;
			return true;
		}
	}
	return false;
}

int cli_no_more_options(cli_ctx *ctx, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			pgr_err_set(&ctx->err, "unknown option %s", argv[i]);
			pgr_err_hint(&ctx->err, "see `pgrefresh --help`");
			return -1;
		}
	}
	return 0;
}

static int words_match(const cli_command *cmd, int argc, char **argv)
{
	int n = 0;

	while (n < 3 && cmd->words[n] != NULL) {
		if (n >= argc || strcmp(argv[n], cmd->words[n]) != 0)
			return 0;
		n++;
	}
	return n;
}

int cli_main(int argc, char **argv)
{
	cli_ctx ctx;
	const char *value;
	const cli_command *found = NULL;
	int nwords = 0;
	int rc;
	int args = argc - 1;
	char **av = calloc((size_t)argc + 1, sizeof(char *));

	if (av == NULL)
		return PGR_EXIT_ERROR;
	memcpy(av, argv + 1, (size_t)args * sizeof(char *));
	memset(&ctx, 0, sizeof(ctx));
	{
		ssize_t n = readlink("/proc/self/exe", ctx.self_exe, sizeof(ctx.self_exe) - 1);

		if (n > 0)
			ctx.self_exe[n] = '\0';
	}
	if (args == 0 || cli_take_flag(&args, av, "--help") || cli_take_flag(&args, av, "-h")) {
		print_usage(args == 0 ? stderr : stdout);
		free(av);
		return args == 0 && argc <= 1 ? PGR_EXIT_USAGE : PGR_EXIT_OK;
	}
	value = cli_take_option(&args, av, "--dir");
	if (value != NULL)
		snprintf(ctx.dir, sizeof(ctx.dir), "%s", value);
	else if (getenv("PGREFRESH_DIR") != NULL)
		snprintf(ctx.dir, sizeof(ctx.dir), "%s", getenv("PGREFRESH_DIR"));
	value = cli_take_option(&args, av, "--format");
	if (value != NULL) {
		if (strcmp(value, "json") == 0) {
			ctx.json = true;
		} else if (strcmp(value, "tabular") != 0) {
			fprintf(stderr, "pgrefresh: error: unknown format \"%s\" (expected tabular or json)\n", value);
			fprintf(stderr, "hint: pass --format tabular or --format json\n");
			free(av);
			return PGR_EXIT_USAGE;
		}
	}
	ctx.verbose = cli_take_flag(&args, av, "--verbose") || cli_take_flag(&args, av, "-v");
	log_setup(ctx.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, "pgrefresh", 0);

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int n = words_match(&commands[i], args, av);

		if (n > nwords) {
			found = &commands[i];
			nwords = n;
		}
	}
	if (found == NULL) {
		fprintf(stderr, "pgrefresh: error: unknown command \"%s\"\n", av[0]);
		fprintf(stderr, "hint: see `pgrefresh --help` for the commands\n");
		free(av);
		return PGR_EXIT_USAGE;
	}
	{
		pgr_err err;

		if (http_global_init(&err) != 0) {
			fprintf(stderr, "pgrefresh: error: %s\n", err.msg);
			free(av);
			return PGR_EXIT_MISSING_DEP;
		}
	}
	if (found->needs_cluster && ctx.dir[0] == '\0') {
		fprintf(stderr, "pgrefresh: error: no cluster directory given\n");
		fprintf(stderr, "hint: pass --dir DIR or set PGREFRESH_DIR (the directory of pgrefresh.conf)\n");
		http_global_cleanup();
		free(av);
		return PGR_EXIT_USAGE;
	}
	rc = found->handler(&ctx, args - nwords, av + nwords);
	if (rc != PGR_EXIT_OK && ctx.err.msg[0] != '\0') {
		fprintf(stderr, "pgrefresh: error: %s\n", ctx.err.msg);
		if (ctx.err.hint[0] != '\0')
			fprintf(stderr, "hint: %s\n", ctx.err.hint);
	}
	http_global_cleanup();
	free(av);
	return rc;
}
