/*
 * activity.h — the primary's open transactions, as pg_stat_activity shows them, and ending one with
 * pg_terminate_backend. Used before PgBouncer's PAUSE: in transaction pooling a PAUSE waits until
 * every server connection is released, so one client holding a transaction open holds every other
 * client too. The switchover looks first, waits without pausing while such a transaction is open,
 * and names its holder (pid, application, client address, age) in status and errors.
 */
#ifndef PGR_PG_ACTIVITY_H
#define PGR_PG_ACTIVITY_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* At most this many transactions are read (the oldest first); the count says how many there were. */
#define PG_ACTIVITY_MAX 8

/* One client backend in a transaction: enough to name it to a person and to end exactly it. */
typedef struct pg_xact {
	int pid;
	char application[64]; /* application_name, "" when none */
	char client[80];      /* "127.0.0.1:51234", or "local" for a Unix socket */
	char state[32];       /* "idle in transaction", "active", ... */
	int64_t xact_start_us; /* the server's clock, microseconds since the epoch: identifies the transaction */
	int64_t age_ms;        /* how long it had been open when read */
} pg_xact;

/*
 * The client backends of the server at conninfo whose transaction has been open for at least
 * min_age_ms (Patroni's own sessions and this one left out), the oldest first: up to max into xacts,
 * *count how many there are in all.
 */
int pg_activity_open_transactions(const char *conninfo, long min_age_ms, pg_xact *xacts, int max, int *count,
				  pgr_err *err) __attribute__((warn_unused_result));

/* Parses the query's JSON answer (an array of objects): pure, for the tests. */
int pg_activity_parse(const char *json, pg_xact *xacts, int max, int *count, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Ends the session of xact with pg_terminate_backend, if it still runs that same transaction (pid and
 * xact_start): *ended false when it was gone or had moved on (nothing done then).
 */
int pg_activity_terminate(const char *conninfo, const pg_xact *xact, bool *ended, pgr_err *err)
	__attribute__((warn_unused_result));

/* "pid 123 (app 'x', 127.0.0.1:5555, open 14 s)" */
void pg_activity_describe(const pg_xact *xact, char *buf, size_t len);

#endif
