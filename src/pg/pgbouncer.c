/*
 * pgbouncer.c — pgbouncer.ini written and read back (pure), and the admin console through libpq with
 * a deadline on everything: connect (PQconnectStart + poll), the command (PQsendQuery + poll on
 * PQsocket), PQcancel when the deadline passes.
 */
#include "pg/pgbouncer.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pg/pgsql.h"

/* ---- the ini file ---- */

/* A bounded text builder: appends until full, then remembers that it overflowed. */
struct textbuf {
	char *buf;
	size_t len;
	size_t used;
	bool overflow;
};

static void tb_printf(struct textbuf *tb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(struct textbuf *tb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (tb->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(tb->buf + tb->used, tb->len - tb->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= tb->len - tb->used) {
		tb->overflow = true;
		return;
	}
	tb->used += (size_t)n;
}

/* Characters allowed in a value that PgBouncer reads without quoting (hosts, names). */
static bool plain_token(const char *s, const char *extra)
{
	if (s == NULL || s[0] == '\0')
		return false;
	for (const char *p = s; *p; p++) {
		if (!isalnum((unsigned char)*p) && strchr(extra, *p) == NULL)
			return false;
	}
	return true;
}

/* A path or address on one line, without surrounding blanks (the ini parser would trim them). */
static bool one_line_value(const char *s)
{
	size_t n = strlen(s);

	if (strpbrk(s, "\r\n") != NULL)
		return false;
	return n == 0 || (!isspace((unsigned char)s[0]) && !isspace((unsigned char)s[n - 1]));
}

int pgbouncer_ini_render(const pgbouncer_ini *ini, char *buf, size_t len, pgr_err *err)
{
	struct textbuf tb = { buf, len, 0, false };
	const char *paths[][2] = { { "unix_socket_dir", ini->unix_socket_dir }, { "auth_file", ini->auth_file },
				   { "logfile", ini->logfile },		    { "pidfile", ini->pidfile },
				   { "listen_addr", ini->listen_addr } };

	if (len > 0)
		buf[0] = '\0';
	if (!plain_token(ini->target_host, "._-:/"))
		return pgr_err_set(err, "pgbouncer.ini: target host \"%s\" is empty or has characters PgBouncer would need quoted",
				   ini->target_host);
	if (ini->target_port <= 0 || ini->target_port > 65535)
		return pgr_err_set(err, "pgbouncer.ini: target port %d is out of range", ini->target_port);
	if (ini->listen_port <= 0 || ini->listen_port > 65535)
		return pgr_err_set(err, "pgbouncer.ini: listen_port %d is out of range", ini->listen_port);
	if (ini->listen_addr[0] == '\0')
		return pgr_err_set(err, "pgbouncer.ini: listen_addr is empty");
	if (ini->auth_file[0] == '\0')
		return pgr_err_set(err, "pgbouncer.ini: auth_file is empty");
	if (!plain_token(ini->admin_user, "._-@"))
		return pgr_err_set(err, "pgbouncer.ini: admin user \"%s\" is empty or has unusual characters", ini->admin_user);
	if (ini->dbname_count < 0 || ini->dbname_count > PGBOUNCER_MAX_DBS)
		return pgr_err_set(err, "pgbouncer.ini: %d databases, at most %d", ini->dbname_count, PGBOUNCER_MAX_DBS);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (!one_line_value(paths[i][1]))
			return pgr_err_set(err, "pgbouncer.ini: the value of %s holds a newline or surrounding blanks",
					   paths[i][0]);
	}
	for (int i = 0; i < ini->dbname_count; i++) {
		if (!plain_token(ini->dbnames[i], "_.-"))
			return pgr_err_set(err, "pgbouncer.ini: database name \"%s\" is empty or needs quoting", ini->dbnames[i]);
	}

	tb_printf(&tb, "; written by pgrefresh: edits are overwritten at the next repoint\n");
	tb_printf(&tb, "[databases]\n");
	if (ini->dbname_count == 0)
		tb_printf(&tb, "* = host=%s port=%d\n", ini->target_host, ini->target_port);
	for (int i = 0; i < ini->dbname_count; i++)
		tb_printf(&tb, "%s = host=%s port=%d dbname=%s\n", ini->dbnames[i], ini->target_host, ini->target_port,
			  ini->dbnames[i]);
	tb_printf(&tb, "\n[pgbouncer]\n");
	tb_printf(&tb, "listen_addr = %s\n", ini->listen_addr);
	tb_printf(&tb, "listen_port = %d\n", ini->listen_port);
	/* empty: no Unix socket (Debian's default directory may belong to another PgBouncer) */
	tb_printf(&tb, "unix_socket_dir = %s\n", ini->unix_socket_dir);
	tb_printf(&tb, "auth_type = scram-sha-256\n");
	tb_printf(&tb, "auth_file = %s\n", ini->auth_file);
	if (ini->logfile[0])
		tb_printf(&tb, "logfile = %s\n", ini->logfile);
	if (ini->pidfile[0])
		tb_printf(&tb, "pidfile = %s\n", ini->pidfile);
	tb_printf(&tb, "admin_users = %s\n", ini->admin_user);
	tb_printf(&tb, "pool_mode = transaction\n");
	tb_printf(&tb, "server_login_retry = 1\n");
	tb_printf(&tb, "server_connect_timeout = 3\n");
	tb_printf(&tb, "query_wait_timeout = 60\n");
	tb_printf(&tb, "ignore_startup_parameters = extra_float_digits\n");
	if (tb.overflow) {
		if (len > 0)
			buf[0] = '\0';
		return pgr_err_set(err, "pgbouncer.ini: the text does not fit in %zu bytes", len);
	}
	return 0;
}

/* Trims blanks in place at both ends; returns the new start. */
static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/*
 * Reads host= and port= out of a PgBouncer connection string ("host=H port=P dbname=D", values maybe
 * in single quotes, '' or \' for a quote). host/port stay untouched when absent.
 */
#define CONNSTR_VALUE_MAX 256

static int connstr_target(const char *s, char host[CONNSTR_VALUE_MAX], char port[CONNSTR_VALUE_MAX], int lineno,
			  pgr_err *err)
{
	const char *p = s;

	while (*p) {
		char key[64], val[CONNSTR_VALUE_MAX];
		size_t k = 0, v = 0;
		bool too_long = false;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		while (*p && *p != '=' && !isspace((unsigned char)*p) && k + 1 < sizeof(key))
			key[k++] = *p++;
		key[k] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			return pgr_err_set(err, "pgbouncer.ini line %d: \"%s\" has no value", lineno, key);
		p++;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\'') {
			p++;
			for (;;) {
				if (*p == '\0')
					return pgr_err_set(err, "pgbouncer.ini line %d: unterminated quote", lineno);
				if ((*p == '\'' && p[1] == '\'') || (*p == '\\' && p[1] != '\0'))
					p++;
				else if (*p == '\'')
					break;
				if (v + 1 < sizeof(val))
					val[v++] = *p;
				else
					too_long = true;
				p++;
			}
			p++;
		} else {
			while (*p && !isspace((unsigned char)*p)) {
				if (v + 1 < sizeof(val))
					val[v++] = *p;
				else
					too_long = true;
				p++;
			}
		}
		val[v] = '\0';
		if (too_long)
			return pgr_err_set(err, "pgbouncer.ini line %d: the value of %s is longer than %d bytes", lineno, key,
					   CONNSTR_VALUE_MAX - 1);
		if (strcmp(key, "host") == 0)
			memcpy(host, val, v + 1);
		else if (strcmp(key, "port") == 0)
			memcpy(port, val, v + 1);
	}
	return 0;
}

int pgbouncer_ini_target(const char *ini_text, char *host, size_t hostlen, int *port, pgr_err *err)
{
	bool in_databases = false;
	int entries = 0;
	int lineno = 0;
	char first_host[CONNSTR_VALUE_MAX] = "";
	int first_port = 0;
	const char *p = ini_text;

	if (hostlen > 0)
		host[0] = '\0';
	*port = 0;
	if (ini_text == NULL)
		return pgr_err_set(err, "pgbouncer.ini: no text");
	while (*p) {
		char line[1024];
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char *s, *eq;

		lineno++;
		if (n >= sizeof(line))
			return pgr_err_set(err, "pgbouncer.ini line %d: longer than %zu bytes", lineno, sizeof(line) - 1);
		memcpy(line, p, n);
		line[n] = '\0';
		p = eol ? eol + 1 : p + n;
		s = trim(line);
		if (*s == '\0' || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (close == NULL)
				return pgr_err_set(err, "pgbouncer.ini line %d: section header without ']'", lineno);
			*close = '\0';
			in_databases = strcasecmp(trim(s + 1), "databases") == 0;
			continue;
		}
		if (!in_databases)
			continue;
		eq = strchr(s, '=');
		if (eq == NULL)
			return pgr_err_set(err, "pgbouncer.ini line %d: a [databases] entry without '='", lineno);
		{
			char h[CONNSTR_VALUE_MAX] = "", portstr[CONNSTR_VALUE_MAX] = "";
			char *end;
			long pv;

			if (connstr_target(eq + 1, h, portstr, lineno, err) != 0)
				return -1;
			if (h[0] == '\0')
				return pgr_err_set(err, "pgbouncer.ini line %d: the entry has no host=", lineno);
			pv = 5432; /* PgBouncer's default, as libpq's */
			if (portstr[0]) {
				errno = 0;
				pv = strtol(portstr, &end, 10);
				if (errno != 0 || *end != '\0' || pv <= 0 || pv > 65535)
					return pgr_err_set(err, "pgbouncer.ini line %d: port \"%s\" is not a port number",
							   lineno, portstr);
			}
			if (entries == 0) {
				snprintf(first_host, sizeof(first_host), "%s", h);
				first_port = (int)pv;
			} else if (strcmp(first_host, h) != 0 || first_port != (int)pv) {
				return pgr_err_set(err,
						   "pgbouncer.ini line %d: entries disagree on the target (%s:%d here, %s:%d above)",
						   lineno, h, (int)pv, first_host, first_port);
			}
			entries++;
		}
	}
	if (entries == 0)
		return pgr_err_set(err, "pgbouncer.ini: no entry in [databases]");
	if (strlen(first_host) >= hostlen)
		return pgr_err_set(err, "pgbouncer.ini: target host longer than %zu bytes", hostlen - 1);
	snprintf(host, hostlen, "%s", first_host);
	*port = first_port;
	return 0;
}

/* ---- the admin console ---- */

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

static void first_line(const char *msg, char *out, size_t outlen)
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

static PGconn *admin_connect(const char *host, int port, const char *user, const char *password, long long deadline,
			     pgr_err *err)
{
	char conninfo[1024];
	char line[512];
	PGconn *conn;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	pg_conninfo(conninfo, sizeof(conninfo), host, port, user, password, "pgbouncer", 0);
	if (conninfo[0] == '\0') {
		pgr_err_set(err, "PgBouncer %s:%d: connection parameters too long", host, port);
		return NULL;
	}
	conn = PQconnectStart(conninfo);
	if (conn == NULL) {
		pgr_err_set(err, "PgBouncer %s:%d: out of memory", host, port);
		return NULL;
	}
	while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		int ready = wait_socket(conn, st == PGRES_POLLING_WRITING, deadline);

		if (ready == 0) {
			pgr_err_set(err, "PgBouncer %s:%d: could not connect to the admin console in time", host, port);
			PQfinish(conn);
			return NULL;
		}
		if (ready < 0)
			break;
		st = PQconnectPoll(conn);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		first_line(PQerrorMessage(conn), line, sizeof(line));
		pgr_err_set(err, "PgBouncer %s:%d: could not connect to the admin console: %s", host, port, line);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

enum run_result { RUN_OK, RUN_FAILED, RUN_TIMEOUT };

/*
 * Sends command and collects its results until the deadline. On RUN_OK, *last (if not NULL) holds the
 * last result with rows (caller PQclears). On RUN_TIMEOUT the command has been cancelled.
 */
static enum run_result admin_run(PGconn *conn, const char *command, long long deadline, PGresult **last,
				 const char *where, pgr_err *err)
{
	bool failed = false;
	char line[512];

	if (last)
		*last = NULL;
	if (!PQsendQuery(conn, command)) {
		first_line(PQerrorMessage(conn), line, sizeof(line));
		pgr_err_set(err, "%s: %s: could not send: %s", where, command, line);
		return RUN_FAILED;
	}
	for (;;) {
		int ready;

		while (!PQisBusy(conn)) {
			PGresult *res = PQgetResult(conn);
			ExecStatusType st;

			if (res == NULL)
				return failed ? RUN_FAILED : RUN_OK;
			st = PQresultStatus(res);
			if (st == PGRES_TUPLES_OK && last && !failed) {
				PQclear(*last);
				*last = res;
				continue;
			}
			if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_EMPTY_QUERY && !failed) {
				const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
				const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

				first_line(primary ? primary : PQerrorMessage(conn), line, sizeof(line));
				pgr_err_set(err, "%s: %s: SQLSTATE %s: %s", where, command, state ? state : "(none)", line);
				failed = true;
				if (last) {
					PQclear(*last);
					*last = NULL;
				}
			}
			PQclear(res);
		}
		ready = wait_socket(conn, false, deadline);
		if (ready == 0) {
			PGcancel *cancel = PQgetCancel(conn);
			char errbuf[256];

			if (cancel != NULL) {
				(void)PQcancel(cancel, errbuf, sizeof(errbuf));
				PQfreeCancel(cancel);
			}
			if (last) {
				PQclear(*last);
				*last = NULL;
			}
			return RUN_TIMEOUT;
		}
		if (ready < 0 || !PQconsumeInput(conn)) {
			first_line(PQerrorMessage(conn), line, sizeof(line));
			pgr_err_set(err, "%s: %s: connection lost: %s", where, command, line);
			if (last) {
				PQclear(*last);
				*last = NULL;
			}
			return RUN_FAILED;
		}
	}
}

/* True for "PAUSE" or "PAUSE db" (any case, blanks around). */
static bool is_pause(const char *command)
{
	while (isspace((unsigned char)*command))
		command++;
	return strncasecmp(command, "PAUSE", 5) == 0 && (command[5] == '\0' || isspace((unsigned char)command[5]) ||
							 command[5] == ';');
}

static int admin_command(const char *host, int port, const char *user, const char *password, const char *command,
			 long timeout_ms, bool *timed_out, pgr_err *err)
{
	long long start = now_ms();
	long long deadline = start + timeout_ms;
	char where[300];
	PGconn *conn;
	enum run_result rr;

	snprintf(where, sizeof(where), "PgBouncer %s:%d", host, port);
	conn = admin_connect(host, port, user, password, deadline, err);
	if (conn == NULL)
		return -1;
	rr = admin_run(conn, command, deadline, NULL, where, err);
	PQfinish(conn);
	if (rr == RUN_OK)
		return 0;
	if (rr == RUN_FAILED)
		return -1;
	*timed_out = true;

	/*
	 * Timed out, and cancelled. PgBouncer aborts a pending PAUSE when its admin client cancels
	 * (admin_handle_cancel); RESUME anyway in case the cancel got lost, and take "not paused" as done.
	 */
	if (is_pause(command)) {
		pgr_err undo = { 0 };

		if (pgbouncer_admin_command(host, port, user, password, "RESUME", 2000, &undo) != 0 &&
		    !pgbouncer_not_paused_error(undo.msg))
			return pgr_err_set(err,
					   "%s: PAUSE did not complete within %ld ms (a transaction still runs?), and the "
					   "RESUME that should undo it failed: %s",
					   where, timeout_ms, undo.msg);
		return pgr_err_set(err,
				   "%s: PAUSE did not complete within %ld ms (a transaction still runs?); cancelled, "
				   "PgBouncer is resumed",
				   where, timeout_ms);
	}
	return pgr_err_set(err, "%s: %s did not complete within %ld ms; cancelled", where, command, timeout_ms);
}

int pgbouncer_admin_command(const char *host, int port, const char *user, const char *password, const char *command,
			    long timeout_ms, pgr_err *err)
{
	bool timed_out = false;

	return admin_command(host, port, user, password, command, timeout_ms, &timed_out, err);
}

int pgbouncer_pause(const char *host, int port, const char *user, const char *password, long timeout_ms,
		    bool *timed_out, pgr_err *err)
{
	*timed_out = false;
	return admin_command(host, port, user, password, "PAUSE", timeout_ms, timed_out, err);
}

bool pgbouncer_not_paused_error(const char *msg)
{
	/* PgBouncer: "pooler is not paused/suspended" */
	return strstr(msg, "not paused") != NULL;
}

int pgbouncer_resume(const char *host, int port, const char *user, const char *password, long timeout_ms,
		     bool *was_paused, pgr_err *err)
{
	pgr_err one = { 0 };

	*was_paused = false;
	if (pgbouncer_admin_command(host, port, user, password, "RESUME", timeout_ms, &one) == 0) {
		*was_paused = true;
		return 0;
	}
	if (pgbouncer_not_paused_error(one.msg))
		return 0;
	*err = one;
	return -1;
}

int pgbouncer_show_databases_target(const char *host, int port, const char *user, const char *password,
				    const char *dbname, long timeout_ms, char *target_host, size_t hostlen,
				    int *target_port, pgr_err *err)
{
	long long deadline = now_ms() + timeout_ms;
	char where[300];
	PGconn *conn;
	PGresult *res = NULL;
	enum run_result rr;
	int rc = -1;
	int cname, chost, cport;

	if (hostlen > 0)
		target_host[0] = '\0';
	*target_port = 0;
	snprintf(where, sizeof(where), "PgBouncer %s:%d", host, port);
	conn = admin_connect(host, port, user, password, deadline, err);
	if (conn == NULL)
		return -1;
	rr = admin_run(conn, "SHOW DATABASES", deadline, &res, where, err);
	PQfinish(conn);
	if (rr == RUN_TIMEOUT)
		return pgr_err_set(err, "%s: SHOW DATABASES did not complete within %ld ms", where, timeout_ms);
	if (rr != RUN_OK)
		return -1;
	if (res == NULL)
		return pgr_err_set(err, "%s: SHOW DATABASES returned no rows", where);
	cname = PQfnumber(res, "name");
	chost = PQfnumber(res, "host");
	cport = PQfnumber(res, "port");
	if (cname < 0 || chost < 0 || cport < 0) {
		pgr_err_set(err, "%s: SHOW DATABASES has no name/host/port columns", where);
		goto out;
	}
	for (int row = 0; row < PQntuples(res); row++) {
		char *end;
		long pv;

		if (strcmp(PQgetvalue(res, row, cname), dbname) != 0)
			continue;
		errno = 0;
		pv = strtol(PQgetvalue(res, row, cport), &end, 10);
		if (errno != 0 || *end != '\0' || pv <= 0 || pv > 65535) {
			pgr_err_set(err, "%s: SHOW DATABASES: port \"%s\" of %s is not a port", where,
				    PQgetvalue(res, row, cport), dbname);
			goto out;
		}
		snprintf(target_host, hostlen, "%s", PQgetvalue(res, row, chost));
		*target_port = (int)pv;
		rc = 0;
		goto out;
	}
	pgr_err_set(err, "%s: SHOW DATABASES has no database \"%s\"", where, dbname);
out:
	PQclear(res);
	return rc;
}
