/*
 * pgsql.h — short libpq conversations with one PostgreSQL server: run one statement, read one value,
 * check that it answers. Each call opens its own connection and closes it (no pooling: pgrefresh talks
 * to a server a few times per step). Errors carry the SQLSTATE and the server's primary message.
 *
 * Every call is bounded: the connection (also by the conninfo's connect_timeout, if shorter) and the
 * statement together take at most the call's timeout (PGSQL_DEFAULT_TIMEOUT_MS for the functions
 * without one); past it the statement is cancelled and the error says "timed out after N ms", naming
 * host:port. A frozen server cannot hold the caller.
 */
#ifndef PGR_PG_PGSQL_H
#define PGR_PG_PGSQL_H

#include <stddef.h>

#include "util/err.h"

/* The deadline of pg_query_text, pg_exec and pg_ping (connection and statement together). */
#define PGSQL_DEFAULT_TIMEOUT_MS 10000L

/*
 * Writes a libpq connection string "host='H' port='P' user='U' password='X' dbname='D' connect_timeout='T'"
 * into buf, every value quoted (\ and ' escaped). NULL or "" values and port/timeout <= 0 are left out.
 * Truncation leaves buf empty (a silently cut password would be worse than no string).
 */
void pg_conninfo(char *buf, size_t len, const char *host, int port, const char *user, const char *password,
		 const char *dbname, int connect_timeout_s);

/*
 * The one bounded conversation every call here (and PgBouncer's admin console, pg/pgbouncer.h) goes
 * through: connect (PQconnectStart + poll), send (PQsendQuery), collect results polling PQsocket, and
 * past the deadline a cancel on a thread of its own, waited for at most cancel_wait_ms.
 */
typedef struct pg_result pg_result_t; /* libpq's PGresult, without including libpq-fe.h here */

typedef enum pg_run_result {
	PG_RUN_OK,
	PG_RUN_FAILED,  /* could not connect, a statement failed, or the connection was lost: err says which */
	PG_RUN_TIMEOUT, /* the deadline passed: the statement was cancelled */
} pg_run_result;

typedef struct pg_run_opts {
	const char *label;   /* how errors name the server: "PostgreSQL" (NULL) or "PgBouncer" */
	const char *connect_to; /* NULL, or what it connects to, in errors: "could not connect to the admin console" */
	long timeout_ms;     /* connection and statements together; <= 0: PGSQL_DEFAULT_TIMEOUT_MS */
	long cancel_wait_ms; /* on timeout, how long to wait for the cancel to be delivered; 0: not at all */
} pg_run_opts;

/*
 * Runs sql (simple query protocol); the first failed statement is the error (errors name label,
 * host:port, the statement, SQLSTATE and the primary message). With last, on PG_RUN_OK *last is the last
 * result that had rows, or NULL (the caller PQclears it).
 */
pg_run_result pg_run(const char *conninfo, const char *sql, const pg_run_opts *opts, pg_result_t **last,
		     pgr_err *err) __attribute__((warn_unused_result));

/* Runs sql and writes the first column of the first row into out ("" if no row, or NULL). */
int pg_query_text(const char *conninfo, const char *sql, char *out, size_t outlen, pgr_err *err)
	__attribute__((warn_unused_result));
int pg_query_text_timeout(const char *conninfo, const char *sql, long timeout_ms, char *out, size_t outlen,
			  pgr_err *err) __attribute__((warn_unused_result));

/* Runs sql (one or more statements, simple query protocol), discarding any rows; stops at the first error. */
int pg_exec(const char *conninfo, const char *sql, pgr_err *err) __attribute__((warn_unused_result));
int pg_exec_timeout(const char *conninfo, const char *sql, long timeout_ms, pgr_err *err)
	__attribute__((warn_unused_result));

/* Connects and runs SELECT 1. */
int pg_ping(const char *conninfo, pgr_err *err) __attribute__((warn_unused_result));
int pg_ping_timeout(const char *conninfo, long timeout_ms, pgr_err *err) __attribute__((warn_unused_result));

#endif
