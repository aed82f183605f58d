/*
 * cli.h — the command tree of pgrefresh. One table lists every command with its handler and help;
 * main() finds the command, fills a cli_ctx from the common options, runs the handler, prints the
 * error (one line, then a hint line) and exits with the handler's code (util/exitcodes.h).
 *
 * A handler gets the arguments that follow the command words, with the common options
 * (--dir, --format, --verbose) already removed.
 */
#ifndef PGR_CLI_CLI_H
#define PGR_CLI_CLI_H

#include <limits.h>
#include <stdbool.h>

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

/* Handlers, one family per file. */
int cmd_cluster_create(cli_ctx *ctx, int argc, char **argv);
int cmd_cluster_start(cli_ctx *ctx, int argc, char **argv);
int cmd_cluster_stop(cli_ctx *ctx, int argc, char **argv);
int cmd_cluster_destroy(cli_ctx *ctx, int argc, char **argv);
int cmd_cluster_env(cli_ctx *ctx, int argc, char **argv);
int cmd_versions(cli_ctx *ctx, int argc, char **argv);
int cmd_versions_add(cli_ctx *ctx, int argc, char **argv);
int cmd_status(cli_ctx *ctx, int argc, char **argv);
int cmd_agent(cli_ctx *ctx, int argc, char **argv);
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
