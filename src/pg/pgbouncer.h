/*
 * pgbouncer.h — PgBouncer as pgrefresh drives it: its configuration file written from a struct (and
 * the current target read back from it), and its admin console (PAUSE, RESUME, RELOAD, SHOW) reached
 * through libpq on the special database "pgbouncer". Every admin command is bounded by a timeout.
 *
 * Repointing PgBouncer at a new primary = render the ini with the new target, write it durably,
 * RELOAD. PAUSE waits for running transactions to finish: that wait is bounded, and a PAUSE that
 * times out is undone with RESUME so that clients are never left stuck.
 */
#ifndef PGR_PG_PGBOUNCER_H
#define PGR_PG_PGBOUNCER_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define PGBOUNCER_MAX_DBS 16

/*
 * What pgrefresh puts in pgbouncer.ini; the rest is fixed (pool_mode transaction, scram-sha-256,
 * server_login_retry 1, server_connect_timeout 3, query_wait_timeout 60,
 * ignore_startup_parameters extra_float_digits). Strings may not hold newlines; hosts and database
 * names are restricted to characters that need no quoting.
 */
typedef struct pgbouncer_ini {
	char listen_addr[64];     /* "127.0.0.1" */
	int listen_port;          /* 6432 */
	char unix_socket_dir[256]; /* "" disables the Unix socket */
	char auth_file[256];      /* userlist.txt: "user" "password" lines */
	char logfile[256];        /* "" = log to stderr only */
	char pidfile[256];        /* "" = none */
	char admin_user[64];      /* admin_users: may PAUSE/RESUME/RELOAD */
	char target_host[256];    /* the current primary */
	int target_port;
	/* the databases to route; none = a "*" wildcard entry that routes every database name */
	char dbnames[PGBOUNCER_MAX_DBS][64];
	int dbname_count;
} pgbouncer_ini;

/* Writes the ini text into buf (NUL-terminated). -1 when a value is invalid or buf is too small. */
int pgbouncer_ini_render(const pgbouncer_ini *ini, char *buf, size_t len, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Reads the target (host, port) of the [databases] section of ini_text. Every entry must point at the
 * same host and port (as rendered); -1 when there is none, an entry has no host, or entries disagree.
 * A missing port= reads as 5432, as PgBouncer itself does.
 */
int pgbouncer_ini_target(const char *ini_text, char *host, size_t hostlen, int *port, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * ini_text with every [databases] entry leading to host:port (pure): host= and port= replaced (port=
 * added where absent), every other token and line kept as written. *out is a heap string (free()).
 * -1 when an entry has no host=, a line is malformed, there is no entry, or host needs quoting.
 */
int pgbouncer_ini_retarget(const char *ini_text, const char *host, int port, char **out, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Runs one admin command ("PAUSE", "RESUME", "RELOAD", "SHOW VERSION", ...) on the admin console at
 * host:port as user, bounded by timeout_ms (connection included). On timeout the command is
 * cancelled; a PAUSE that timed out is undone with RESUME. Errors carry PgBouncer's message.
 */
int pgbouncer_admin_command(const char *host, int port, const char *user, const char *password, const char *command,
			    long timeout_ms, pgr_err *err) __attribute__((warn_unused_result));

/*
 * PAUSE bounded by timeout_ms. On failure *timed_out says whether the bound passed (the PAUSE was
 * then cancelled and undone with one RESUME: clients go on) rather than PgBouncer failing or being
 * unreachable.
 */
int pgbouncer_pause(const char *host, int port, const char *user, const char *password, long timeout_ms,
		    bool *timed_out, pgr_err *err) __attribute__((warn_unused_result));

/*
 * RESUME, where a PgBouncer that is not paused is fine (PgBouncer answers "pooler is not
 * paused/suspended"): 0 then too, *was_paused false.
 */
int pgbouncer_resume(const char *host, int port, const char *user, const char *password, long timeout_ms,
		     bool *was_paused, pgr_err *err) __attribute__((warn_unused_result));

/* Whether an admin console error is PgBouncer's answer to a RESUME of a PgBouncer that is not paused. */
bool pgbouncer_not_paused_error(const char *msg);

/*
 * SHOW DATABASES as text. A row: its name, host and port columns as PgBouncer sent them (host "" for
 * the admin console "pgbouncer", which leads to no server). pgbouncer_databases owns the text.
 */
#define PGBOUNCER_MAX_SHOWN 64

typedef struct pgbouncer_db_row {
	const char *name, *host, *port;
} pgbouncer_db_row;

typedef struct pgbouncer_db_text {
	char name[64], host[256], port[16];
} pgbouncer_db_text;

typedef struct pgbouncer_databases {
	pgbouncer_db_row rows[PGBOUNCER_MAX_SHOWN]; /* point into text */
	pgbouncer_db_text text[PGBOUNCER_MAX_SHOWN];
	int count; /* rows past PGBOUNCER_MAX_SHOWN are left out */
} pgbouncer_databases;

/* The host and port of dbname's row (pure). -1 when there is none, or its host or port is not usable. */
int pgbouncer_databases_target(const pgbouncer_db_row *rows, int n, const char *dbname, char *host, size_t hostlen,
			       int *port, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Whether every database that leads to a server leads to host:port (pure): 0 then, *routed = how many
 * do (0 when no client made one yet: a wildcard entry shows only the databases clients asked for);
 * -1 naming the first that leads elsewhere, or whose port is not a port.
 */
int pgbouncer_databases_check(const pgbouncer_db_row *rows, int n, const char *host, int port, int *routed,
			      pgr_err *err) __attribute__((warn_unused_result));

/* SHOW DATABASES on the admin console at host:port, bounded by timeout_ms. */
int pgbouncer_show_databases(const char *host, int port, const char *user, const char *password, long timeout_ms,
			     pgbouncer_databases *dbs, pgr_err *err) __attribute__((warn_unused_result));

/*
 * SHOW DATABASES, the row of dbname: where PgBouncer currently sends that database (what it loaded,
 * not what the file says). -1 when there is no such row.
 */
int pgbouncer_show_databases_target(const char *host, int port, const char *user, const char *password,
				    const char *dbname, long timeout_ms, char *target_host, size_t hostlen,
				    int *target_port, pgr_err *err) __attribute__((warn_unused_result));

#endif
