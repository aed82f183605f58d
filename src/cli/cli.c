/*
 * cli.c — the command table, and the one parser that every command goes through (getopt_long).
 * The table drives dispatch, the overview (`pgrefresh --help`) and each command's help.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/exitcodes.h"
#include "util/http.h"
#include "util/log.h"

#define PGREFRESH_VERSION "0.2.0"
#define MAX_OPTIONS 16 /* of one command, besides the common ones */

/* The command tree: the words that name a command, its handler, its usage and what it does. */
struct cli_command {
	const char *words[3];
	cli_handler handler;
	const char *usage;
	const char *help;
	bool needs_cluster; /* refused with a usage error when neither --dir nor $PGREFRESH_DIR names one */
	/* Its options ({NULL} ends the list). NULL: the handler parses its own (only the common options
	 * are taken out before it runs). */
	const cli_option_def *options;
	const char *example;
	const char *details; /* more lines for its --help, or NULL */
};

static const cli_option_def no_options[] = { { NULL, NULL, NULL } };

static const cli_option_def create_options[] = {
	{ "units", "N", "how many units (default 3)" },
	{ "version", "V", "the PostgreSQL version every unit runs, from the catalog (see `pgrefresh versions`)" },
	{ "catalog", "DIR", "the version catalog (default: $PGREFRESH_CATALOG or the default catalog)" },
	{ "name", "NAME", "the cluster's name, Patroni's scope (default pg)" },
	{ "pgbouncers", "N", "how many PgBouncers, 1 to 5 (default 1)" },
	{ "secure", NULL, "a CA, TLS and passwords on every link: etcd (users), Patroni's REST API, PgBouncer, PostgreSQL" },
	{ "hosts", "N", "3 to 5 network-namespace hosts (root), each with an etcd member, a unit and a PgBouncer" },
	{ "insecure", NULL, "with --hosts: no TLS and no etcd/Patroni/PgBouncer-admin passwords (secure is the default there)" },
	{ "backup", NULL, "pgBackRest configured (repository in DIR/pgbackrest, WAL archived), a first full backup" },
	{ NULL, NULL, NULL },
};

static const cli_option_def catalog_options[] = {
	{ "catalog", "DIR", "the catalog (default: the cluster's, else $PGREFRESH_CATALOG or the default)" },
	{ NULL, NULL, NULL },
};

static const cli_option_def status_options[] = {
	{ "watch", NULL, "redraw every second until interrupted" },
	{ NULL, NULL, NULL },
};

static const cli_option_def switchover_options[] = {
	{ "to", "UNIT", "the unit to become the primary (default: the sync standby)" },
	{ NULL, NULL, NULL },
};

static const cli_option_def check_options[] = {
	{ "version", "V", "the target (default: the highest version of the same major in the catalog)" },
	{ NULL, NULL, NULL },
};

static const cli_option_def refresh_options[] = {
	{ "version", "V", "the target (default: the highest version of the same major in the catalog)" },
	{ "dry-run", NULL, "print the plan and the checks' verdicts; change nothing" },
	{ NULL, NULL, NULL },
};

static const cli_option_def resume_options[] = {
	{ "check-health-of-refreshed-units", "true|false",
	  "false: go on past a refreshed unit that is not healthy (default true)" },
	{ NULL, NULL, NULL },
};

static const cli_option_def force_options[] = {
	{ "check-compatibility", "true|false", "false: skip higher-minor and blocklist checks (never a change of major)" },
	{ "run-pre-refresh-checks", "true|false", "false: skip the health checks (units running, streaming, lag)" },
	{ "check-workload", "true|false", "false: skip the target's presence, runnability and extensions on each unit" },
	{ "check-backup", "true|false", "false: skip the backup checks (WAL archiving, require-backup-within-hours)" },
	{ NULL, NULL, NULL },
};

static const cli_option_def wait_options[] = {
	{ "timeout", "SECONDS", "give up after SECONDS (default 600): exit 4" },
	{ NULL, NULL, NULL },
};

static const cli_option_def fsm_options[] = {
	{ "graphviz", NULL, "print it as a Graphviz digraph" },
	{ NULL, NULL, NULL },
};

static const cli_option_def history_options[] = {
	{ "svg", "ID", "draw refresh ID as an SVG timeline (its units' steps, the switchover, the write stall)" },
	{ "output", "FILE", "with --svg: write the picture to FILE (default: stdout)" },
	{ NULL, NULL, NULL },
};

static const cli_option_def agent_options[] = {
	{ "unit", "UNIT", "the unit this agent runs (e.g. pg/0; default: the first line of DIR/unit)" },
	{ NULL, NULL, NULL },
};

static const cli_option_def fetch_options[] = {
	{ "catalog", "DIR", "the version catalog (default: the cluster's, $PGREFRESH_CATALOG or /var/lib/pgrefresh/catalog)" },
	{ "cache", "DIR", "where the packages are unpacked (default $PGREFRESH_DIST or /var/cache/pgrefresh/dist)" },
	{ NULL, NULL, NULL },
};

static const cli_option_def adopt_options[] = {
	{ "config", "PATH", "the unit's Patroni config (Debian: /etc/patroni/VERSION-CLUSTER.yml)" },
	{ "dry-run", NULL, "print what would change (the config's diff), change nothing" },
	{ "catalog", "DIR", "the version catalog (default $PGREFRESH_CATALOG or /var/lib/pgrefresh/catalog)" },
	{ "name", "NAME", "the cluster's name in pgrefresh (default: the scope, '-' made '_')" },
	{ "pgbouncer", "HOST:PORT", "a PgBouncer in front of the cluster: its admin console" },
	{ "pgbouncer-config", "PATH", "that PgBouncer's config file on this host" },
	{ NULL, NULL, NULL },
};

static const cli_option_def unadopt_options[] = {
	{ "bin-dir", "original|catalog", "bin_dir back to the original (default) or to the catalog's copy of the version it runs" },
	{ NULL, NULL, NULL },
};

/* A row may end after needs_cluster (options, example and details then NULL: the handler parses its own). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const cli_command commands[] = {
	{ { "cluster", "create" }, cmd_cluster_create, "cluster create --dir DIR --units N --version V [--pgbouncers 1]",
	  "create and start a local cluster on 127.0.0.1 (etcd, N units under Patroni, PgBouncers)", false,
	  create_options, "pgrefresh cluster create --dir /tmp/pg --units 3 --version 15.18",
	  "DIR must be empty or missing: a directory holding other files is refused.\n"
	  "It returns when the cluster is healthy (a primary and a sync standby streaming)." },
	{ { "cluster", "start" }, cmd_cluster_start, "cluster start --dir DIR",
	  "start whatever of the local cluster is not running", true, no_options, "pgrefresh cluster start --dir /tmp/pg",
	  NULL },
	{ { "cluster", "stop" }, cmd_cluster_stop, "cluster stop --dir DIR", "stop every process of the local cluster, by pid",
	  true, no_options, "pgrefresh cluster stop --dir /tmp/pg", NULL },
	{ { "cluster", "destroy" }, cmd_cluster_destroy, "cluster destroy --dir DIR", "stop and remove the local cluster",
	  true, no_options, "pgrefresh cluster destroy --dir /tmp/pg", "Only what pgrefresh made is removed." },
	{ { "cluster", "env" }, cmd_cluster_env, "cluster env --dir DIR", "shell exports for clients (PgBouncer)", true,
	  no_options, "eval \"$(pgrefresh cluster env --dir /tmp/pg)\"; psql", NULL },
	{ { "versions", "add" }, cmd_versions_add, "versions add PATH",
	  "add an installation (a directory or a .deb) to the catalog", false, catalog_options,
	  "pgrefresh versions add ./postgresql-15_15.20-0+deb12u1_amd64.deb",
	  "PATH: a directory with bin/postgres, a bin directory, a Debian unpack tree, or a postgresql-NN .deb\n"
	  "(its postgresql-client-NN .deb beside it)." },
	{ { "versions", "fetch" }, cmd_versions_fetch, "versions fetch VERSION [--cache DIR]",
	  "download PostgreSQL VERSION with apt (server and client packages) and add it to the catalog", false,
	  fetch_options, "pgrefresh versions fetch 15.20",
	  "The packages postgresql-NN and postgresql-client-NN at VERSION, from this machine's apt archives, are\n"
	  "unpacked into the cache (DIR/VERSION; default $PGREFRESH_DIST or /var/cache/pgrefresh/dist). A version\n"
	  "the archives do not have is refused, listing those they have." },
	{ { "versions" }, cmd_versions, "versions [--format json]", "list the version catalog", false, catalog_options,
	  "pgrefresh versions --dir /tmp/pg", "With a cluster (--dir or $PGREFRESH_DIR), the UNITS column names the units "
					     "that run each version." },
	{ { "status" }, cmd_status, "status [--format tabular|json] [--watch]", "the cluster and its units", true,
	  status_options, "pgrefresh status --dir /tmp/pg --format json", NULL },
	{ { "add-unit" }, cmd_add_unit, "add-unit", "add a replica", true, no_options, "pgrefresh add-unit --dir /tmp/pg",
	  "Refused while a refresh is in progress. On a cluster of hosts, the unit gets a host of its own." },
	{ { "remove-unit" }, cmd_remove_unit, "remove-unit UNIT", "remove a unit", true, no_options,
	  "pgrefresh remove-unit pg/3 --dir /tmp/pg", "Refused while a refresh is in progress, and for the primary. "
	  "On a cluster of hosts its host goes too; a host with an etcd member is refused." },
	{ { "switchover" }, cmd_switchover, "switchover [--to UNIT]", "move the primary role (through Patroni)", true,
	  switchover_options, "pgrefresh switchover --to pg/1",
	  "PgBouncer is paused around it: clients wait instead of failing. Refused while a refresh is in progress." },
	{ { "pre-refresh-check" }, cmd_pre_refresh_check, "pre-refresh-check [--version V]",
	  "is the cluster healthy and ready to refresh? prints the rollback command", true, check_options,
	  "pgrefresh pre-refresh-check --version 15.20", "Exit 0 when ready, 3 when not (one problem a line)." },
	{ { "refresh" }, cmd_refresh, "refresh [--version V] [--dry-run]",
	  "refresh to V (default: the highest of the same major in the catalog)", true, refresh_options,
	  "pgrefresh refresh --version 15.20 && pgrefresh wait idle",
	  "It returns once the refresh is recorded and its checks passed (exit 0), or halted (exit 5).\n"
	  "V must be in the catalog, of the same major: a version in no unit's catalog or of another major is\n"
	  "refused (exit 2) before anything is recorded. When every unit already runs V: \"already on V:\n"
	  "nothing to refresh\", nothing recorded, exit 0." },
	{ { "resume-refresh" }, cmd_resume_refresh, "resume-refresh [--check-health-of-refreshed-units=false]",
	  "continue a paused (or failed) refresh", true, resume_options, "pgrefresh resume-refresh", NULL },
	{ { "force-refresh-start" }, cmd_force_refresh_start,
	  "force-refresh-start [--check-compatibility=false] [--run-pre-refresh-checks=false] [--check-workload=false] "
	  "[--check-backup=false]",
	  "start an incompatible refresh, skipping the named checks", true, force_options,
	  "pgrefresh force-refresh-start --check-workload=false", "At least one check must be false." },
	{ { "rollback" }, cmd_rollback, "rollback", "refresh back to the original version", true, no_options,
	  "pgrefresh rollback && pgrefresh wait rolled-back",
	  "From any state of a refresh; only the units already refreshed, in the same role order, the pause\n"
	  "setting honoured. When it ends, `pgrefresh wait` reports rolled-back." },
	{ { "config" }, cmd_config, "config [KEY] | config set KEY=VALUE...", "settings (pause-after-unit-refresh, ...)",
	  true, no_options, "pgrefresh config set pause-after-unit-refresh=all",
	  "`pgrefresh config` lists every setting with its value, default and meaning." },
	{ { "wait" }, cmd_wait, "wait STATE... [--timeout SECONDS]", "wait until the refresh is in one of the states", true,
	  wait_options, "pgrefresh refresh && pgrefresh wait idle",
	  "STATE: idle, refreshing, paused, incompatible, failed, rolled-back.\n"
	  "The refresh is idle when none is in progress and the last one completed; rolled-back when none is\n"
	  "in progress and the last one was rolled back (by `pgrefresh rollback` or auto-rollback).\n"
	  "Exit codes: 0 in one of the STATEs (printed); 5 halted (failed or incompatible, not asked for);\n"
	  "9 rolled back (rolled-back, not asked for: `wait idle` after a rollback); 4 timeout." },
	{ { "history" }, cmd_history, "history [--svg ID [--output FILE]]", "past refreshes", true, history_options,
	  "pgrefresh history --svg 3 --output refresh-3.svg",
	  "FROM and TO are the refresh as asked; OUTCOME says whether it completed or was rolled back.\n"
	  "--svg draws one refresh (from history, or the one in progress) as a timeline: a row per unit." },
	{ { "repair-refresh-record" }, cmd_repair_refresh_record, "repair-refresh-record",
	  "keep a corrupt refresh record aside (under corrupt/) and remove it", true, no_options,
	  "pgrefresh repair-refresh-record --dir /tmp/pg",
	  "The refresh is over; nothing is rolled back. Every unit keeps the version it runs and its bin link." },
	{ { "debug", "fsm" }, cmd_debug_fsm, "debug fsm [--graphviz]", "print the refresh state machine", false, fsm_options,
	  "pgrefresh debug fsm --graphviz | dot -Tsvg >fsm.svg", NULL },
	{ { "adopt" }, cmd_adopt, "adopt [--config] PATH [--dir CONFDIR] [--dry-run]",
	  "take an existing Patroni unit under pgrefresh (run on its host, once per unit)", false, adopt_options,
	  "pgrefresh adopt --config /etc/patroni/15-main.yml --dir /etc/pgrefresh/15-main",
	  "Copies the running installation into the catalog, points bin_dir at the unit's link (the config kept as\n"
	  "PATH.pgrefresh-orig), has Patroni reload it, registers the unit (CONFDIR, default /etc/pgrefresh/SCOPE)\n"
	  "and starts its agent. Refused, nothing changed: no config, Patroni or etcd not answering, already\n"
	  "adopted, versions that differ between units." },
	{ { "unadopt" }, cmd_unadopt, "unadopt --dir CONFDIR [--bin-dir original|catalog]",
	  "give an adopted unit back: its config as it was, agent stopped, unit deregistered", true, unadopt_options,
	  "pgrefresh unadopt --dir /etc/pgrefresh/15-main --bin-dir catalog",
	  "--bin-dir original is refused when the original path holds another version than the unit runs." },
	{ { "agent" }, cmd_agent, "agent --dir DIR [--unit UNIT]", "the per-unit daemon", true, agent_options,
	  "pgrefresh agent --dir /tmp/pg --unit pg/0", "Started by `pgrefresh cluster start`, or by the host's service manager:\n"
	  "pgrefresh-agent@INSTANCE.service runs it with --dir /etc/pgrefresh/INSTANCE, whose file `unit` names the unit." },
};
#pragma GCC diagnostic pop

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

/* The common options: every command takes them (and `pgrefresh` before the command). */
enum { OPT_DIR = 256, OPT_FORMAT, OPT_HELP, OPT_VERBOSE, OPT_VERSION, OPT_COMMAND };

static const char exit_codes_text[] =
	"Exit codes: 0 ok, 1 error, 2 usage, 3 not ready, 4 timeout, 5 refresh halted, 6 refused,\n"
	"            7 unreachable, 8 missing dependency, 9 rolled back (wait)\n";

static void command_name(const cli_command *cmd, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < 3 && cmd->words[i] != NULL; i++) {
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, "%s%s", i ? " " : "", cmd->words[i]);
	}
}

/* "  pgrefresh USAGE   what it does", the help on a line of its own when the usage is long */
static void print_usage_line(FILE *out, const cli_command *cmd)
{
	if (strlen(cmd->usage) > 44)
		fprintf(out, "  pgrefresh %s\n  %-54s %s\n", cmd->usage, "", cmd->help);
	else
		fprintf(out, "  pgrefresh %-44s %s\n", cmd->usage, cmd->help);
}

static void print_overview(FILE *out)
{
	fprintf(out, "pgrefresh %s — in-place rolling minor refresh of PostgreSQL HA clusters\n\nUsage:\n",
		PGREFRESH_VERSION);
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		print_usage_line(out, &commands[i]);
	fprintf(out, "\nCommon options: --dir DIR (else $PGREFRESH_DIR), --format tabular|json, --verbose, --help\n");
	fprintf(out, "`pgrefresh COMMAND --help` shows one command's options and an example; "
		     "`pgrefresh --version` the version.\n");
	fputs(exit_codes_text, out);
}

static void print_option(FILE *out, const char *name, const char *value_name, const char *help)
{
	char left[80];

	snprintf(left, sizeof(left), "%s%s%s", name, value_name ? " " : "", value_name ? value_name : "");
	if (strlen(left) > 30)
		fprintf(out, "  %s\n  %-30s %s\n", left, "", help);
	else
		fprintf(out, "  %-30s %s\n", left, help);
}

static void print_command_help(FILE *out, const cli_command *cmd)
{
	fprintf(out, "Usage: pgrefresh %s\n\n%c%s.\n", cmd->usage, cmd->help[0] >= 'a' && cmd->help[0] <= 'z'
									   ? cmd->help[0] - 'a' + 'A'
									   : cmd->help[0],
		cmd->help + 1);
	if (cmd->details != NULL)
		fprintf(out, "%s\n", cmd->details);
	if (cmd->options != NULL && cmd->options[0].name != NULL) {
		fprintf(out, "\nOptions:\n");
		for (const cli_option_def *o = cmd->options; o->name != NULL; o++) {
			char name[64];

			snprintf(name, sizeof(name), "--%s", o->name);
			print_option(out, name, o->value_name, o->help);
		}
	}
	fprintf(out, "\nCommon options:\n");
	print_option(out, "--dir", "DIR", "the cluster's directory (holding pgrefresh.conf); else $PGREFRESH_DIR");
	print_option(out, "--format", "tabular|json", "how to print (json: for scripts)");
	print_option(out, "-v, --verbose", NULL, "log more on stderr");
	print_option(out, "-h, --help", NULL, "this help");
	if (cmd->example != NULL)
		fprintf(out, "\nExample:\n  %s\n", cmd->example);
}

void cli_print_help(FILE *out, const cli_parsed *p)
{
	if (p->command != NULL) {
		print_command_help(out, p->command);
		return;
	}
	if (p->name[0] != '\0') {
		fprintf(out, "Usage:\n");
		for (size_t i = 0; i < COMMAND_COUNT; i++)
			if (strcmp(commands[i].words[0], p->name) == 0)
				print_usage_line(out, &commands[i]);
		fprintf(out, "\n`pgrefresh %s SUBCOMMAND --help` shows one's options and an example.\n", p->name);
		return;
	}
	print_overview(out);
}

const char *cli_version(void)
{
	return PGREFRESH_VERSION;
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

/* How many of the command's words start argv (0: not this command). */
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

/* A copy that p owns; NULL when out of memory. */
static char *own(cli_parsed *p, const char *text)
{
	char *copy = strdup(text);
	char **grown;

	if (copy == NULL)
		return NULL;
	grown = realloc(p->owned, (size_t)(p->owned_count + 1) * sizeof(char *));
	if (grown == NULL) {
		free(copy);
		return NULL;
	}
	p->owned = grown;
	p->owned[p->owned_count++] = copy;
	return copy;
}

/* Appends text (copied) to p->argv, which has room for every argument (see cli_parse). */
static int push_arg(cli_parsed *p, const char *text, pgr_err *err)
{
	char *copy = own(p, text);

	if (copy == NULL)
		return pgr_err_set(err, "out of memory");
	p->argv[p->argc++] = copy;
	p->argv[p->argc] = NULL;
	return 0;
}

static int set_format(cli_parsed *p, const char *value, pgr_err *err)
{
	if (strcmp(value, "json") == 0) {
		p->json = true;
		return 0;
	}
	if (strcmp(value, "tabular") == 0) {
		p->json = false;
		return 0;
	}
	pgr_err_set(err, "unknown format \"%s\" (expected tabular or json)", value);
	pgr_err_hint(err, "pass --format tabular or --format json");
	return -1;
}

/* `pgrefresh COMMAND --help` for the hint of a usage error, "pgrefresh --help" before a command. */
static void usage_hint(const cli_parsed *p, pgr_err *err)
{
	if (p->name[0] != '\0')
		pgr_err_hint(err, "see `pgrefresh %s --help`", p->name);
	else
		pgr_err_hint(err, "see `pgrefresh --help`");
}

/*
 * One getopt_long error turned into our message: "option --x needs a value", "option --x takes no
 * value", "unknown option --x". opts: the long options in use (val identifies them).
 */
static int option_error(cli_parsed *p, int ch, int optopt_value, const char *word, const struct option *opts,
			pgr_err *err)
{
	const char *name = NULL;

	for (const struct option *o = opts; o->name != NULL; o++)
		if (o->val == optopt_value)
			name = o->name;
	if (ch == ':' && name != NULL)
		pgr_err_set(err, "option --%s needs a value", name);
	else if (name != NULL && optopt_value >= OPT_DIR)
		pgr_err_set(err, "option --%s takes no value", name);
	else if (optopt_value > 0 && optopt_value < 128 && (word == NULL || strncmp(word, "--", 2) != 0))
		pgr_err_set(err, "unknown option -%c%s%s", optopt_value, p->name[0] ? " for " : "", p->name);
	else
		pgr_err_set(err, "unknown option %s%s%s", word ? word : "?", p->name[0] ? " for " : "", p->name);
	usage_hint(p, err);
	return -1;
}

/* A value given as the next word that is itself an option ("--version --dry-run"): no value given. */
static bool value_is_an_option(const char *optarg_value, char **argv, int index)
{
	return index > 0 && optarg_value == argv[index] && optarg_value[0] == '-' && optarg_value[1] != '\0';
}

/* The common options before the command: --dir, --format, --verbose, --help, --version. */
static int parse_leading(int argc, char **av, cli_parsed *p, bool *help, pgr_err *err)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, OPT_DIR },	   { "format", required_argument, NULL, OPT_FORMAT },
		{ "verbose", no_argument, NULL, OPT_VERBOSE },	   { "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },	   { NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0; /* glibc: start over */
	opterr = 0;
	while ((ch = getopt_long(argc, av, "+:hvV", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_DIR:
		case OPT_FORMAT:
			if (value_is_an_option(optarg, av, optind - 1)) {
				pgr_err_set(err, "option --%s needs a value", ch == OPT_DIR ? "dir" : "format");
				usage_hint(p, err);
				return -1;
			}
			if (ch == OPT_DIR)
				snprintf(p->dir, sizeof(p->dir), "%s", optarg);
			else if (set_format(p, optarg, err) != 0)
				return -1;
			break;
		case OPT_VERBOSE:
		case 'v':
			p->verbose = true;
			break;
		case OPT_HELP:
		case 'h':
			*help = true;
			break;
		case OPT_VERSION:
		case 'V':
			p->action = CLI_VERSION;
			break;
		default:
			return option_error(p, ch, optopt, av[optind - 1], opts, err);
		}
	}
	return optind;
}

/* A command that parses its own options: take the common ones out, hand it the rest. */
static int parse_legacy(int argc, char **rest, cli_parsed *p, pgr_err *err)
{
	char **copy = calloc((size_t)argc + 1, sizeof(char *));
	const char *value;
	int n = argc;

	if (copy == NULL)
		return pgr_err_set(err, "out of memory");
	memcpy(copy, rest, (size_t)argc * sizeof(char *));
	if (cli_take_flag(&n, copy, "--help") || cli_take_flag(&n, copy, "-h"))
		p->action = CLI_HELP;
	value = cli_take_option(&n, copy, "--dir");
	if (value != NULL)
		snprintf(p->dir, sizeof(p->dir), "%s", value);
	value = cli_take_option(&n, copy, "--format");
	if (value != NULL && set_format(p, value, err) != 0) {
		free(copy);
		return -1;
	}
	if (cli_take_flag(&n, copy, "--verbose") || cli_take_flag(&n, copy, "-v"))
		p->verbose = true;
	for (int i = 0; i < n; i++) {
		if (push_arg(p, copy[i], err) != 0) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

/* The command's own and the common options, anywhere after the command words. */
static int parse_command(int argc, char **sub, cli_parsed *p, pgr_err *err)
{
	const cli_command *cmd = p->command;
	struct option opts[MAX_OPTIONS + 5];
	const char *values[MAX_OPTIONS] = { NULL };
	bool given[MAX_OPTIONS] = { false };
	int nopts = 0, ch;

	for (const cli_option_def *o = cmd->options; o->name != NULL && nopts < MAX_OPTIONS; o++, nopts++)
		opts[nopts] = (struct option){ o->name, o->value_name ? required_argument : no_argument, NULL,
					       OPT_COMMAND + nopts };
	opts[nopts] = (struct option){ "dir", required_argument, NULL, OPT_DIR };
	opts[nopts + 1] = (struct option){ "format", required_argument, NULL, OPT_FORMAT };
	opts[nopts + 2] = (struct option){ "verbose", no_argument, NULL, OPT_VERBOSE };
	opts[nopts + 3] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	opts[nopts + 4] = (struct option){ NULL, 0, NULL, 0 };
	optind = 0;
	opterr = 0;
	/* "-": non-options come back in order as 1, so options and arguments may mix */
	while ((ch = getopt_long(argc, sub, "-:hv", opts, NULL)) != -1) {
		if (ch == 1) {
			if (push_arg(p, optarg, err) != 0)
				return -1;
			continue;
		}
		if (ch == 'h' || ch == OPT_HELP) {
			p->action = CLI_HELP;
			return 0;
		}
		if (ch == 'v' || ch == OPT_VERBOSE) {
			p->verbose = true;
			continue;
		}
		if (ch == ':' || ch == '?')
			return option_error(p, ch, optopt, sub[optind - 1], opts, err);
		/* an option with a value */
		if (optarg != NULL && value_is_an_option(optarg, sub, optind - 1)) {
			for (int i = 0; opts[i].name != NULL; i++)
				if (opts[i].val == ch)
					pgr_err_set(err, "option --%s needs a value (\"%s\" is an option)", opts[i].name, optarg);
			usage_hint(p, err);
			return -1;
		}
		if (ch == OPT_DIR)
			snprintf(p->dir, sizeof(p->dir), "%s", optarg);
		else if (ch == OPT_FORMAT) {
			if (set_format(p, optarg, err) != 0)
				return -1;
		} else if (ch >= OPT_COMMAND && ch < OPT_COMMAND + nopts) {
			given[ch - OPT_COMMAND] = true;
			values[ch - OPT_COMMAND] = optarg; /* the last one given wins */
		}
	}
	for (int i = optind; i < argc; i++) /* after "--" */
		if (push_arg(p, sub[i], err) != 0)
			return -1;
	for (int i = 0; i < nopts; i++) {
		char canonical[1024];

		if (!given[i])
			continue;
		if (values[i] != NULL)
			snprintf(canonical, sizeof(canonical), "--%s=%s", opts[i].name, values[i]);
		else
			snprintf(canonical, sizeof(canonical), "--%s", opts[i].name);
		if (push_arg(p, canonical, err) != 0)
			return -1;
	}
	return 0;
}

int cli_parse(int argc, char **argv, cli_parsed *out, pgr_err *err)
{
	char **av;
	bool help = false;
	int first, nwords = 0, rc = -1;

	memset(out, 0, sizeof(*out));
	pgr_err_clear(err);
	out->action = CLI_RUN;
	if (argc < 1)
		return pgr_err_set(err, "no arguments"), PGR_EXIT_USAGE;
	/* getopt permutes: work on copies. av: the whole line; out->argv: room for every argument plus "--x=v" */
	av = calloc((size_t)argc + 1, sizeof(char *));
	out->argv = calloc((size_t)argc + 1, sizeof(char *));
	if (av == NULL || out->argv == NULL) {
		free(av);
		pgr_err_set(err, "out of memory");
		return PGR_EXIT_USAGE;
	}
	memcpy(av, argv, (size_t)argc * sizeof(char *));
	first = parse_leading(argc, av, out, &help, err);
	if (first < 0)
		goto out;
	if (out->action == CLI_VERSION) {
		rc = 0;
		goto out;
	}
	if (first >= argc) {
		if (help) {
			out->action = CLI_HELP;
			rc = 0;
			goto out;
		}
		pgr_err_set(err, "no command given");
		pgr_err_hint(err, "see `pgrefresh --help` for the commands");
		goto out;
	}
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		int n = words_match(&commands[i], argc - first, av + first);

		if (n > nwords) {
			out->command = &commands[i];
			nwords = n;
		}
	}
	if (out->command == NULL) {
		bool group = false;

		for (size_t i = 0; i < COMMAND_COUNT; i++)
			group = group || strcmp(commands[i].words[0], av[first]) == 0;
		if (!group) {
			pgr_err_set(err, "unknown command \"%s\"", av[first]);
			pgr_err_hint(err, "see `pgrefresh --help` for the commands");
			goto out;
		}
		snprintf(out->name, sizeof(out->name), "%s", av[first]);
		for (int i = first + 1; i < argc; i++)
			help = help || strcmp(av[i], "--help") == 0 || strcmp(av[i], "-h") == 0;
		if (help) {
			out->action = CLI_HELP;
			rc = 0;
			goto out;
		}
		pgr_err_set(err, "`pgrefresh %s` needs a subcommand%s%s", av[first], first + 1 < argc ? ", not " : "",
			    first + 1 < argc ? av[first + 1] : "");
		pgr_err_hint(err, "see `pgrefresh %s --help`", av[first]);
		goto out;
	}
	command_name(out->command, out->name, sizeof(out->name));
	if (help) {
		out->action = CLI_HELP;
		rc = 0;
		goto out;
	}
	{
		/* the arguments after the command words, behind a program name for getopt */
		int subc = argc - first - nwords + 1;
		char **sub = av + first + nwords - 1;

		sub[0] = argv[0];
		if (out->command->options == NULL)
			rc = parse_legacy(subc - 1, sub + 1, out, err);
		else
			rc = parse_command(subc, sub, out, err);
	}
out:
	free(av);
	return rc == 0 ? PGR_EXIT_OK : PGR_EXIT_USAGE;
}

void cli_parsed_free(cli_parsed *p)
{
	for (int i = 0; i < p->owned_count; i++)
		free(p->owned[i]);
	free(p->owned);
	free(p->argv);
	memset(p, 0, sizeof(*p));
}

int cli_main(int argc, char **argv)
{
	cli_ctx ctx;
	cli_parsed p;
	pgr_err err;
	int rc = cli_parse(argc, argv, &p, &err);

	if (rc != PGR_EXIT_OK) {
		fprintf(stderr, "pgrefresh: error: %s\n", err.msg);
		if (err.hint[0] != '\0')
			fprintf(stderr, "hint: %s\n", err.hint);
		cli_parsed_free(&p);
		return rc;
	}
	if (p.action == CLI_VERSION) {
		printf("pgrefresh %s\n", PGREFRESH_VERSION);
		cli_parsed_free(&p);
		return PGR_EXIT_OK;
	}
	if (p.action == CLI_HELP) {
		cli_print_help(stdout, &p);
		cli_parsed_free(&p);
		return PGR_EXIT_OK;
	}
	memset(&ctx, 0, sizeof(ctx));
	{
		ssize_t n = readlink("/proc/self/exe", ctx.self_exe, sizeof(ctx.self_exe) - 1);

		if (n > 0)
			ctx.self_exe[n] = '\0';
	}
	if (p.dir[0] != '\0')
		snprintf(ctx.dir, sizeof(ctx.dir), "%s", p.dir);
	else if (getenv("PGREFRESH_DIR") != NULL)
		snprintf(ctx.dir, sizeof(ctx.dir), "%s", getenv("PGREFRESH_DIR"));
	ctx.json = p.json;
	ctx.verbose = p.verbose;
	log_setup(ctx.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, "pgrefresh", 0);
	if (http_global_init(&err) != 0) {
		fprintf(stderr, "pgrefresh: error: %s\n", err.msg);
		cli_parsed_free(&p);
		return PGR_EXIT_MISSING_DEP;
	}
	if (p.command->needs_cluster && ctx.dir[0] == '\0') {
		fprintf(stderr, "pgrefresh: error: no cluster directory given\n");
		fprintf(stderr, "hint: pass --dir DIR or set PGREFRESH_DIR (the directory of pgrefresh.conf)\n");
		http_global_cleanup();
		cli_parsed_free(&p);
		return PGR_EXIT_USAGE;
	}
	rc = p.command->handler(&ctx, p.argc, p.argv);
	if (rc != PGR_EXIT_OK && ctx.err.msg[0] != '\0') {
		fprintf(stderr, "pgrefresh: error: %s\n", ctx.err.msg);
		if (ctx.err.hint[0] != '\0')
			fprintf(stderr, "hint: %s\n", ctx.err.hint);
	}
	http_global_cleanup();
	cli_parsed_free(&p);
	return rc;
}
