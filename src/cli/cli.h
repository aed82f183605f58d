/*
 * cli.h — the command tree of pgrefresh. One table (cli.c) lists every command: its words, handler,
 * usage, options and an example. The same table drives parsing (getopt_long), dispatch, the overview
 * (`pgrefresh --help`) and each command's help (`pgrefresh COMMAND --help`). main() calls cli_main,
 * which parses, fills a cli_ctx from the common options, runs the handler, prints the error (one
 * line, then a hint line) and returns the handler's exit code (util/exitcodes.h).
 *
 * A handler gets its positional arguments followed by its own options, already checked by
 * getopt_long and written as "--name=value" or "--name"; cli_take_option / cli_take_flag pick them
 * out. The common options (--dir, --format, --verbose, --help) are in the cli_ctx instead.
 */
#ifndef PGR_CLI_CLI_H
#define PGR_CLI_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "util/err.h"

/* What every command knows: where the cluster is, how to print, and where its error goes. */
typedef struct cli_ctx {
	char dir[PATH_MAX];   /* --dir, else $PGREFRESH_DIR, else "" */
	bool json;            /* --format json */
	bool verbose;
	char self_exe[PATH_MAX]; /* this program's path, for starting agents */
	pgr_err err;
} cli_ctx;

/* A command handler returns an exit code; on failure it has filled ctx->err. */
typedef int (*cli_handler)(cli_ctx *ctx, int argc, char **argv);

/* One option of a command, for getopt_long and for its help. */
typedef struct cli_option_def {
	const char *name;       /* without the dashes: "version" */
	const char *value_name; /* "V" when it takes a value, NULL for a flag */
	const char *help;
} cli_option_def;

/* One row of the command table. */
typedef struct cli_command cli_command;

/* What the command line asks for. */
typedef enum cli_action {
	CLI_RUN,     /* run command */
	CLI_HELP,    /* print help: of command, of the commands starting with group, else the overview */
	CLI_VERSION, /* print the tool's version */
} cli_action;

/* A parsed command line; cli_parsed_free releases it. */
typedef struct cli_parsed {
	cli_action action;
	const cli_command *command; /* NULL: no command (overview, version, or a group's help) */
	char name[64];              /* the command's words, "cluster create"; for a group's help, "cluster" */
	char dir[PATH_MAX];         /* --dir, "" when not given */
	bool json;                  /* --format json */
	bool verbose;
	int argc;    /* positional arguments, then the command's options as "--name=value" / "--name" */
	char **argv; /* argc entries and a NULL; the handler may reorder it */
	char **owned;
	int owned_count;
} cli_parsed;

/*
 * Parses argv (argv[0] the program) with getopt_long against the command table. Returns PGR_EXIT_OK,
 * or PGR_EXIT_USAGE with err filled (one line, and a hint naming `pgrefresh [COMMAND] --help`).
 * Pure: reads no environment, prints nothing. *out is to be freed with cli_parsed_free in both cases.
 */
int cli_parse(int argc, char **argv, cli_parsed *out, pgr_err *err) __attribute__((warn_unused_result));
void cli_parsed_free(cli_parsed *p);
/* Prints the help that p asks for (p->action == CLI_HELP): one command's, a group's or the overview. */
void cli_print_help(FILE *out, const cli_parsed *p);
/* The tool's version, e.g. "0.2.0". */
const char *cli_version(void);
/* Parses, runs and reports; returns the exit code for main. */
int cli_main(int argc, char **argv);

/* Handlers, one family per file. */
int cmd_cluster_create(cli_ctx *ctx, int argc, char **argv);
int cmd_cluster_start(cli_ctx *ctx, int argc, char **argv);
int cmd_cluster_stop(cli_ctx *ctx, int argc, char **argv);
int cmd_cluster_destroy(cli_ctx *ctx, int argc, char **argv);
int cmd_cluster_env(cli_ctx *ctx, int argc, char **argv);
int cmd_versions(cli_ctx *ctx, int argc, char **argv);
int cmd_versions_add(cli_ctx *ctx, int argc, char **argv);
int cmd_versions_fetch(cli_ctx *ctx, int argc, char **argv);
int cmd_status(cli_ctx *ctx, int argc, char **argv);
int cmd_agent(cli_ctx *ctx, int argc, char **argv);
int cmd_repair_refresh_record(cli_ctx *ctx, int argc, char **argv);
int cmd_add_unit(cli_ctx *ctx, int argc, char **argv);
int cmd_remove_unit(cli_ctx *ctx, int argc, char **argv);
int cmd_switchover(cli_ctx *ctx, int argc, char **argv);
int cmd_pre_refresh_check(cli_ctx *ctx, int argc, char **argv);
int cmd_refresh(cli_ctx *ctx, int argc, char **argv);
int cmd_resume_refresh(cli_ctx *ctx, int argc, char **argv);
int cmd_force_refresh_start(cli_ctx *ctx, int argc, char **argv);
int cmd_rollback(cli_ctx *ctx, int argc, char **argv);
int cmd_config(cli_ctx *ctx, int argc, char **argv);
int cmd_wait(cli_ctx *ctx, int argc, char **argv);
int cmd_history(cli_ctx *ctx, int argc, char **argv);
int cmd_debug_fsm(cli_ctx *ctx, int argc, char **argv);
int cmd_adopt(cli_ctx *ctx, int argc, char **argv);
int cmd_unadopt(cli_ctx *ctx, int argc, char **argv);

/* The operation lock: PGR_EXIT_OK when no refresh is in progress, else fills ctx->err and refuses. */
int cli_refuse_during_refresh(cli_ctx *ctx, const char *what);
/*
 * The operation lock (state/lock.h) for a cluster operation (add-unit, remove-unit, switchover), held from
 * start to end: taken by compare-and-swap, only when no refresh is in progress, under a lease of this
 * process (so that it goes when the process dies). PGR_EXIT_OK and *lock when taken; else ctx->err says
 * who holds it and since when. cli_lock_release(NULL) does nothing.
 */
typedef struct cli_op_lock cli_op_lock;
int cli_lock_take(cli_ctx *ctx, const char *operation, cli_op_lock **lock);
void cli_lock_release(cli_op_lock *lock);

/* Helpers shared by handlers. */
/* Finds "--name=value" or "--name value" in argv; removes it; returns the value or NULL. */
const char *cli_take_option(int *argc, char **argv, const char *name);
/* Finds a bare flag "--name"; removes it; returns true if it was there. */
bool cli_take_flag(int *argc, char **argv, const char *name);
/* Fails with a usage error if any "--..." argument is left. */
int cli_no_more_options(cli_ctx *ctx, int argc, char **argv);

#endif
