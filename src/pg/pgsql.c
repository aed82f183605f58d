/*
 * pgsql.c — one connection per call; errors say where (host:port), the SQLSTATE and the primary message.
 */
#include "pg/pgsql.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

static PGconn *connect_or_err(const char *conninfo, pgr_err *err)
{
	PGconn *conn;
	char at[160], line[512];

	if (conninfo == NULL || conninfo[0] == '\0') {
		pgr_err_set(err, "PostgreSQL: empty connection string (too long to build?)");
		return NULL;
	}
	conn = PQconnectdb(conninfo);
	if (conn == NULL) {
		pgr_err_set(err, "PostgreSQL: out of memory while connecting");
		return NULL;
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

int pg_query_text(const char *conninfo, const char *sql, char *out, size_t outlen, pgr_err *err)
{
	PGconn *conn;
	PGresult *res;
	int rc = 0;

	if (outlen > 0)
		out[0] = '\0';
	conn = connect_or_err(conninfo, err);
	if (conn == NULL)
		return -1;
	res = PQexec(conn, sql);
	if (!res_ok(res)) {
		rc = result_err(conn, res, sql, err);
	} else if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0) && outlen > 0) {
		snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}

int pg_exec(const char *conninfo, const char *sql, pgr_err *err)
{
	PGconn *conn;
	PGresult *res;
	int rc = 0;

	conn = connect_or_err(conninfo, err);
	if (conn == NULL)
		return -1;
	/* several statements in one string: PQexec returns the last result, and stops at the first error */
	res = PQexec(conn, sql);
	if (!res_ok(res))
		rc = result_err(conn, res, sql, err);
	PQclear(res);
	PQfinish(conn);
	return rc;
}

int pg_ping(const char *conninfo, pgr_err *err)
{
	char one[8];

	if (pg_query_text(conninfo, "SELECT 1", one, sizeof(one), err) != 0)
		return -1;
	if (strcmp(one, "1") != 0)
		return pgr_err_set(err, "PostgreSQL: SELECT 1 answered \"%s\"", one);
	return 0;
}
