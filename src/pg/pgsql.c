/*
 * pgsql.c — one connection per call; errors say where (host:port), the SQLSTATE and the primary message.
 * Nothing blocks past the call's deadline: PQconnectStart/PQconnectPoll, PQsendQuery, poll() on PQsocket,
 * and a cancel when the deadline passes.
 */
#include "pg/pgsql.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Appends " key='value'" with \ and ' escaped. Returns false when it does not fit. */
static bool append_kv(char *buf, size_t len, size_t *used, const char *key, const char *value)
{
	size_t n = *used;
	int w;

	w = snprintf(buf + n, len - n, "%s%s='", n > 0 ? " " : "", key);
	if (w < 0 || (size_t)w >= len - n)
		return false;
	n += (size_t)w;
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '\'') {
			if (n + 1 >= len)
				return false;
			buf[n++] = '\\';
		}
		if (n + 1 >= len)
			return false;
		buf[n++] = *p;
	}
	if (n + 2 > len)
		return false;
	buf[n++] = '\'';
	buf[n] = '\0';
	*used = n;
	return true;
}

void pg_conninfo(char *buf, size_t len, const char *host, int port, const char *user, const char *password,
		 const char *dbname, int connect_timeout_s)
{
	size_t used = 0;
	char num[16];
	bool ok = true;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ok && host && host[0])
		ok = append_kv(buf, len, &used, "host", host);
	if (ok && port > 0) {
		snprintf(num, sizeof(num), "%d", port);
		ok = append_kv(buf, len, &used, "port", num);
	}
	if (ok && user && user[0])
		ok = append_kv(buf, len, &used, "user", user);
	if (ok && password && password[0])
		ok = append_kv(buf, len, &used, "password", password);
	if (ok && dbname && dbname[0])
		ok = append_kv(buf, len, &used, "dbname", dbname);
	if (ok && connect_timeout_s > 0) {
		snprintf(num, sizeof(num), "%d", connect_timeout_s);
		ok = append_kv(buf, len, &used, "connect_timeout", num);
	}
	if (!ok)
		buf[0] = '\0';
}

/* The first line of a libpq message, without its trailing newline. */
static void one_line(const char *msg, char *out, size_t outlen)
{
	size_t n = 0;

	if (msg == NULL)
		msg = "";
	while (msg[n] && msg[n] != '\n' && n + 1 < outlen) {
		out[n] = msg[n];
		n++;
	}
	out[n] = '\0';
}

/* "host:port" of a connection (or of the conninfo when the connection failed early). */
static void where(PGconn *conn, char *out, size_t outlen)
{
	const char *host = conn ? PQhost(conn) : NULL;
	const char *port = conn ? PQport(conn) : NULL;

	snprintf(out, outlen, "%s:%s", host && host[0] ? host : "(default)", port && port[0] ? port : "(default)");
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the connection's socket is ready. 1 ready, 0 deadline passed, -1 error. */
static int wait_socket(PGconn *conn, bool for_write, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pfd = { PQsocket(conn), (short)(for_write ? POLLOUT : POLLIN), 0 };
		int rc;

		if (pfd.fd < 0)
			return -1;
		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* connect_timeout of a connection string, in ms (0 when absent or not a positive number). */
static long conninfo_connect_timeout_ms(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	long ms = 0;

	if (opts == NULL)
		return 0;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL) {
			char *end;
			long v = strtol(o->val, &end, 10);

			/* libpq itself treats 1 as 2 seconds */
			if (end != o->val && *end == '\0' && v > 0 && v < 86400)
				ms = (v < 2 ? 2 : v) * 1000;
		}
	}
	PQconninfoFree(opts);
	return ms;
}

/*
 * Connects without blocking past the deadline (nor past the conninfo's connect_timeout): PQconnectStart,
 * then PQconnectPoll whenever the socket is ready.
 */
static PGconn *connect_or_err(const char *conninfo, long long started, long long deadline, pgr_err *err)
{
	PGconn *conn;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	long connect_ms;
	long long connect_deadline = deadline;
	char at[160], line[512];

	if (conninfo == NULL || conninfo[0] == '\0') {
		pgr_err_set(err, "PostgreSQL: empty connection string (too long to build?)");
		return NULL;
	}
	connect_ms = conninfo_connect_timeout_ms(conninfo);
	if (connect_ms > 0 && started + connect_ms < deadline)
		connect_deadline = started + connect_ms;
	conn = PQconnectStart(conninfo);
	if (conn == NULL) {
		pgr_err_set(err, "PostgreSQL: out of memory while connecting");
		return NULL;
	}
	while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		int ready = wait_socket(conn, st == PGRES_POLLING_WRITING, connect_deadline);

		if (ready == 0) {
			where(conn, at, sizeof(at));
			pgr_err_set(err, "PostgreSQL %s: could not connect: timed out after %lld ms", at,
				    connect_deadline - started);
			PQfinish(conn);
			return NULL;
		}
		if (ready < 0)
			break;
		st = PQconnectPoll(conn);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		where(conn, at, sizeof(at));
		one_line(PQerrorMessage(conn), line, sizeof(line));
		pgr_err_set(err, "PostgreSQL %s: could not connect: %s", at, line);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Turns a failed result into our error: SQLSTATE and primary message. Always returns -1. */
static int result_err(PGconn *conn, const PGresult *res, const char *sql, pgr_err *err)
{
	char at[160], line[512];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	where(conn, at, sizeof(at));
	if (primary != NULL)
		one_line(primary, line, sizeof(line));
	else
		one_line(PQerrorMessage(conn), line, sizeof(line));
	return pgr_err_set(err, "PostgreSQL %s: %.60s%s: SQLSTATE %s: %s", at, sql, strlen(sql) > 60 ? "..." : "",
			   state ? state : "(none)", line);
}

static bool res_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY;
}

/*
 * PQcancel blocks until the server closes the cancel connection, which a frozen server never does: it
 * runs on a detached thread of its own, so that the caller's deadline holds whatever the server does.
 */
static void *cancel_main(void *arg)
{
	PGcancel *cancel = arg;
	char errbuf[256];

	(void)PQcancel(cancel, errbuf, sizeof(errbuf));
	PQfreeCancel(cancel);
	return NULL;
}

static void cancel_in_background(PGconn *conn)
{
	PGcancel *cancel = PQgetCancel(conn);
	pthread_attr_t attr;
	pthread_t thread;
	bool started = false;

	if (cancel == NULL)
		return;
	if (pthread_attr_init(&attr) == 0) {
		if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0)
			started = pthread_create(&thread, &attr, cancel_main, cancel) == 0;
		pthread_attr_destroy(&attr);
	}
	if (!started)
		PQfreeCancel(cancel); /* no thread: the query is left to end when the connection closes */
}

/*
 * Sends sql and collects every result until the deadline. The first failed result is the error (the
 * server stops at it). With out, the first column of the first row of the last result with rows.
 * On timeout the query is cancelled and the error says so.
 */
static int run_bounded(const char *conninfo, const char *sql, long timeout_ms, char *out, size_t outlen,
		       pgr_err *err)
{
	long long started = now_ms();
	long long deadline = started + (timeout_ms > 0 ? timeout_ms : PGSQL_DEFAULT_TIMEOUT_MS);
	PGconn *conn;
	bool failed = false;
	int rc = 0;
	char at[160], line[512];

	if (outlen > 0)
		out[0] = '\0';
	conn = connect_or_err(conninfo, started, deadline, err);
	if (conn == NULL)
		return -1;
	if (!PQsendQuery(conn, sql)) {
		where(conn, at, sizeof(at));
		one_line(PQerrorMessage(conn), line, sizeof(line));
		rc = pgr_err_set(err, "PostgreSQL %s: %.60s%s: could not send: %s", at, sql, strlen(sql) > 60 ? "..." : "",
				 line);
		PQfinish(conn);
		return rc;
	}
	for (;;) {
		int ready;

		while (!PQisBusy(conn)) {
			PGresult *res = PQgetResult(conn);

			if (res == NULL) {
				PQfinish(conn);
				return failed ? -1 : 0;
			}
			if (!res_ok(res)) {
				if (!failed)
					result_err(conn, res, sql, err);
				failed = true;
			} else if (!failed && out != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && outlen > 0) {
				out[0] = '\0';
				if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
					snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
			}
			PQclear(res);
		}
		ready = wait_socket(conn, false, deadline);
		if (ready == 0) {
			where(conn, at, sizeof(at));
			rc = pgr_err_set(err, "PostgreSQL %s: %.60s%s: timed out after %lld ms; cancelled", at, sql,
					 strlen(sql) > 60 ? "..." : "", now_ms() - started);
			cancel_in_background(conn);
			PQfinish(conn);
			if (outlen > 0)
				out[0] = '\0';
			return rc;
		}
		if (ready < 0 || !PQconsumeInput(conn)) {
			where(conn, at, sizeof(at));
			one_line(PQerrorMessage(conn), line, sizeof(line));
			rc = pgr_err_set(err, "PostgreSQL %s: %.60s%s: connection lost: %s", at, sql,
					 strlen(sql) > 60 ? "..." : "", line);
			PQfinish(conn);
			if (outlen > 0)
				out[0] = '\0';
			return rc;
		}
	}
}

int pg_query_text_timeout(const char *conninfo, const char *sql, long timeout_ms, char *out, size_t outlen,
			  pgr_err *err)
{
	return run_bounded(conninfo, sql, timeout_ms, out, outlen, err);
}

int pg_query_text(const char *conninfo, const char *sql, char *out, size_t outlen, pgr_err *err)
{
	return run_bounded(conninfo, sql, PGSQL_DEFAULT_TIMEOUT_MS, out, outlen, err);
}

int pg_exec_timeout(const char *conninfo, const char *sql, long timeout_ms, pgr_err *err)
{
	return run_bounded(conninfo, sql, timeout_ms, NULL, 0, err);
}

int pg_exec(const char *conninfo, const char *sql, pgr_err *err)
{
	return run_bounded(conninfo, sql, PGSQL_DEFAULT_TIMEOUT_MS, NULL, 0, err);
}

int pg_ping_timeout(const char *conninfo, long timeout_ms, pgr_err *err)
{
	char one[8];

	if (run_bounded(conninfo, "SELECT 1", timeout_ms, one, sizeof(one), err) != 0)
		return -1;
	if (strcmp(one, "1") != 0)
		return pgr_err_set(err, "PostgreSQL: SELECT 1 answered \"%s\"", one);
	return 0;
}

int pg_ping(const char *conninfo, pgr_err *err)
{
	return pg_ping_timeout(conninfo, PGSQL_DEFAULT_TIMEOUT_MS, err);
}
