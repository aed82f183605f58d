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
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/proc.h"

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

/* Waits until the connection's socket is ready. 1 ready, 0 deadline passed, -1 error. */
static int wait_socket(PGconn *conn, bool for_write, long long deadline)
{
	for (;;) {
		long long left = deadline - proc_now_ms();
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
 * then PQconnectPoll whenever the socket is ready. label names the server in errors ("PostgreSQL").
 */
static PGconn *connect_or_err(const char *conninfo, const char *label, const char *connect_to, long long started,
			      long long deadline, pgr_err *err)
{
	const char *to = connect_to != NULL ? " to " : "";
	PGconn *conn;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	long connect_ms;
	long long connect_deadline = deadline;
	char at[160], line[512];

	if (conninfo == NULL || conninfo[0] == '\0') {
		pgr_err_set(err, "%s: empty connection string (too long to build?)", label);
		return NULL;
	}
	connect_ms = conninfo_connect_timeout_ms(conninfo);
	if (connect_ms > 0 && started + connect_ms < deadline)
		connect_deadline = started + connect_ms;
	conn = PQconnectStart(conninfo);
	if (conn == NULL) {
		pgr_err_set(err, "%s: out of memory while connecting", label);
		return NULL;
	}
	while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		int ready = wait_socket(conn, st == PGRES_POLLING_WRITING, connect_deadline);

		if (ready == 0) {
			where(conn, at, sizeof(at));
			pgr_err_set(err, "%s %s: could not connect%s%s: timed out after %lld ms", label, at, to,
				    connect_to ? connect_to : "", connect_deadline - started);
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
		pgr_err_set(err, "%s %s: could not connect%s%s: %s", label, at, to, connect_to ? connect_to : "", line);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* Turns a failed result into our error: SQLSTATE and primary message. Always returns -1. */
static int result_err(PGconn *conn, const char *label, const PGresult *res, const char *sql, pgr_err *err)
{
	char at[160], line[512];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	where(conn, at, sizeof(at));
	if (primary != NULL)
		one_line(primary, line, sizeof(line));
	else
		one_line(PQerrorMessage(conn), line, sizeof(line));
	return pgr_err_set(err, "%s %s: %.60s%s: SQLSTATE %s: %s", label, at, sql, strlen(sql) > 60 ? "..." : "",
			   state ? state : "(none)", line);
}

static bool res_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY;
}

/*
 * PQcancel blocks until the server closes the cancel connection, which a frozen server never does, and
 * libpq 15 (Debian 12) has no asynchronous cancel (PQcancelStart came with libpq 17). So PQcancel runs
 * on a thread of its own that owns the PGcancel and frees it; the caller waits for it at most
 * cancel_wait_ms (pthread_timedjoin_np), then leaves it detached: the caller's deadline holds whatever
 * the server does. Waiting a little matters for PgBouncer: a cancelled PAUSE must be gone before the
 * RESUME that follows (a RESUME while a PAUSE is pending can leave the PAUSE hung).
 */
struct cancel_job {
	PGcancel *cancel;
	atomic_int refs; /* the thread's and the waiter's: the last one frees */
	atomic_bool delivered;
};

static void cancel_job_release(struct cancel_job *job)
{
	if (atomic_fetch_sub(&job->refs, 1) == 1) {
		PQfreeCancel(job->cancel);
		free(job);
	}
}

static void *cancel_main(void *arg)
{
	struct cancel_job *job = arg;
	char errbuf[256];

	if (PQcancel(job->cancel, errbuf, sizeof(errbuf)) == 1)
		atomic_store(&job->delivered, true);
	cancel_job_release(job);
	return NULL;
}

static bool cancel_bounded(PGconn *conn, long cancel_wait_ms)
{
	struct cancel_job *job = calloc(1, sizeof(*job));
	pthread_t thread;
	bool delivered = false;

	if (job == NULL)
		return false;
	job->cancel = PQgetCancel(conn);
	if (job->cancel == NULL) {
		free(job);
		return false;
	}
	atomic_init(&job->refs, 2);
	atomic_init(&job->delivered, false);
	if (pthread_create(&thread, NULL, cancel_main, job) != 0) {
		/* no thread: the statement is left to end when the connection closes */
		PQfreeCancel(job->cancel);
		free(job);
		return false;
	}
	if (cancel_wait_ms > 0) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += cancel_wait_ms / 1000;
		until.tv_nsec += (cancel_wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(thread, NULL, &until) == 0) {
			delivered = atomic_load(&job->delivered);
			cancel_job_release(job);
			return delivered;
		}
	}
	pthread_detach(thread);
	cancel_job_release(job);
	return false;
}

pg_run_result pg_run(const char *conninfo, const char *sql, const pg_run_opts *opts, PGresult **last, pgr_err *err)
{
	const char *label = opts != NULL && opts->label != NULL ? opts->label : "PostgreSQL";
	long timeout_ms = opts != NULL && opts->timeout_ms > 0 ? opts->timeout_ms : PGSQL_DEFAULT_TIMEOUT_MS;
	long long started = proc_now_ms();
	long long deadline = started + timeout_ms;
	PGconn *conn;
	bool failed = false;
	char at[160], line[512];
	const char *more = strlen(sql) > 60 ? "..." : "";

	if (last != NULL)
		*last = NULL;
	conn = connect_or_err(conninfo, label, opts != NULL ? opts->connect_to : NULL, started, deadline, err);
	if (conn == NULL)
		return PG_RUN_FAILED;
	if (!PQsendQuery(conn, sql)) {
		where(conn, at, sizeof(at));
		one_line(PQerrorMessage(conn), line, sizeof(line));
		pgr_err_set(err, "%s %s: %.60s%s: could not send: %s", label, at, sql, more, line);
		PQfinish(conn);
		return PG_RUN_FAILED;
	}
	for (;;) {
		int ready;

		while (!PQisBusy(conn)) {
			PGresult *res = PQgetResult(conn);

			if (res == NULL) {
				PQfinish(conn);
				return failed ? PG_RUN_FAILED : PG_RUN_OK;
			}
			if (!res_ok(res)) {
				if (!failed)
					result_err(conn, label, res, sql, err);
				failed = true;
				if (last != NULL) {
					PQclear(*last);
					*last = NULL;
				}
			} else if (!failed && last != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
				PQclear(*last);
				*last = res;
				continue;
			}
			PQclear(res);
		}
		ready = wait_socket(conn, false, deadline);
		if (ready == 0) {
			where(conn, at, sizeof(at));
			pgr_err_set(err, "%s %s: %.60s%s: timed out after %lld ms; cancelled", label, at, sql, more,
				    proc_now_ms() - started);
			(void)cancel_bounded(conn, opts != NULL ? opts->cancel_wait_ms : 0);
			break;
		}
		if (ready < 0 || !PQconsumeInput(conn)) {
			where(conn, at, sizeof(at));
			one_line(PQerrorMessage(conn), line, sizeof(line));
			pgr_err_set(err, "%s %s: %.60s%s: connection lost: %s", label, at, sql, more, line);
			PQfinish(conn);
			if (last != NULL) {
				PQclear(*last);
				*last = NULL;
			}
			return PG_RUN_FAILED;
		}
	}
	PQfinish(conn);
	if (last != NULL) {
		PQclear(*last);
		*last = NULL;
	}
	return PG_RUN_TIMEOUT;
}

/* With out, the first column of the first row of the last result with rows ("" if none, or NULL). */
static int run_bounded(const char *conninfo, const char *sql, long timeout_ms, char *out, size_t outlen,
		       pgr_err *err)
{
	pg_run_opts opts = { .label = "PostgreSQL", .timeout_ms = timeout_ms, .cancel_wait_ms = 0 };
	PGresult *res = NULL;

	if (outlen > 0)
		out[0] = '\0';
	if (pg_run(conninfo, sql, &opts, out != NULL ? &res : NULL, err) != PG_RUN_OK)
		return -1;
	if (res != NULL && outlen > 0 && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
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
