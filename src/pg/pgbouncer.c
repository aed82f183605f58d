/*
 * pgbouncer.c — pgbouncer.ini written and read back (pure), and the admin console through libpq with
 * a deadline on everything through pg/pgsql.h's pg_run (connect, the command, a cancel waited for at
 * most CANCEL_WAIT_MS when the deadline passes).
 */
#include "pg/pgbouncer.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
 * PgBouncer connection strings ("host=H port=P dbname=D", values maybe in single quotes, '' or \' for a
 * quote), one key=value token at a time: key and val (unquoted), and where the token starts and ends in
 * the text. 1 a token, 0 none left, -1 malformed.
 */
#define CONNSTR_VALUE_MAX 256

struct connstr_token {
	char key[64];
	char val[CONNSTR_VALUE_MAX];
	const char *start, *end;
};

static int connstr_next(const char **pp, struct connstr_token *t, int lineno, pgr_err *err)
{
	const char *p = *pp;
	size_t k = 0, v = 0;
	bool too_long = false;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	t->start = p;
	while (*p && *p != '=' && !isspace((unsigned char)*p) && k + 1 < sizeof(t->key))
		t->key[k++] = *p++;
	t->key[k] = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '=')
		return pgr_err_set(err, "pgbouncer.ini line %d: \"%s\" has no value", lineno, t->key);
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
			if (v + 1 < sizeof(t->val))
				t->val[v++] = *p;
			else
				too_long = true;
			p++;
		}
		p++;
	} else {
		while (*p && !isspace((unsigned char)*p)) {
			if (v + 1 < sizeof(t->val))
				t->val[v++] = *p;
			else
				too_long = true;
			p++;
		}
	}
	t->val[v] = '\0';
	t->end = p;
	*pp = p;
	if (too_long)
		return pgr_err_set(err, "pgbouncer.ini line %d: the value of %s is longer than %d bytes", lineno, t->key,
				   CONNSTR_VALUE_MAX - 1);
	return 1;
}

/* Reads host= and port= out of a connection string; host/port stay untouched when absent. */
static int connstr_target(const char *s, char host[CONNSTR_VALUE_MAX], char port[CONNSTR_VALUE_MAX], int lineno,
			  pgr_err *err)
{
	struct connstr_token t;
	int rc;

	while ((rc = connstr_next(&s, &t, lineno, err)) == 1) {
		if (strcmp(t.key, "host") == 0)
			snprintf(host, CONNSTR_VALUE_MAX, "%s", t.val);
		else if (strcmp(t.key, "port") == 0)
			snprintf(port, CONNSTR_VALUE_MAX, "%s", t.val);
	}
	return rc;
}

int pgbouncer_ini_retarget(const char *ini_text, const char *host, int port, char **out, pgr_err *err)
{
	struct textbuf tb = { NULL, 0, 0, false };
	bool in_databases = false;
	int lineno = 0, entries = 0;
	const char *p = ini_text;

	*out = NULL;
	if (ini_text == NULL)
		return pgr_err_set(err, "pgbouncer.ini: no text");
	if (!plain_token(host, "._-:/"))
		return pgr_err_set(err, "pgbouncer.ini: target host \"%s\" is empty or has characters PgBouncer would need quoted",
				   host);
	if (port <= 0 || port > 65535)
		return pgr_err_set(err, "pgbouncer.ini: target port %d is out of range", port);
	/* each line grows by at most the new host and port: room for every line doing so */
	tb.len = strlen(ini_text) + 1;
	for (const char *c = ini_text; *c; c++)
		if (*c == '\n')
			tb.len += strlen(host) + 32;
	tb.len += strlen(host) + 32;
	tb.buf = malloc(tb.len);
	if (tb.buf == NULL)
		return pgr_err_set(err, "out of memory");
	tb.buf[0] = '\0';
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		char line[1024];
		char *s, *eq;

		lineno++;
		if (n >= sizeof(line)) {
			free(tb.buf);
			return pgr_err_set(err, "pgbouncer.ini line %d: longer than %zu bytes", lineno, sizeof(line) - 1);
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = eol ? eol + 1 : p + n;
		s = trim(line);
		if (*s == '[') {
			char *close = strchr(s, ']');
			char name[64];

			snprintf(name, sizeof(name), "%.*s", close ? (int)(close - s - 1) : 0, s + 1);
			in_databases = close != NULL && strcasecmp(trim(name), "databases") == 0;
		}
		eq = strchr(s, '=');
		if (!in_databases || *s == '\0' || *s == ';' || *s == '#' || *s == '[' || eq == NULL) {
			tb_printf(&tb, "%.*s%s", (int)n, p - n - (eol ? 1 : 0), eol ? "\n" : "");
			continue;
		}
		{
			/* name = host=... port=... rest: the other tokens kept as they were written */
			const char *c = eq + 1;
			struct connstr_token t;
			bool had_host = false, had_port = false;
			int rc;

			*eq = '\0';
			tb_printf(&tb, "%s =", trim(s));
			while ((rc = connstr_next(&c, &t, lineno, err)) == 1) {
				if (strcmp(t.key, "host") == 0) {
					tb_printf(&tb, " host=%s", host);
					had_host = true;
				} else if (strcmp(t.key, "port") == 0) {
					tb_printf(&tb, " port=%d", port);
					had_port = true;
				} else {
					tb_printf(&tb, " %.*s", (int)(t.end - t.start), t.start);
				}
			}
			if (rc < 0) {
				free(tb.buf);
				return -1;
			}
			if (!had_host) {
				free(tb.buf);
				return pgr_err_set(err, "pgbouncer.ini line %d: the entry has no host=", lineno);
			}
			if (!had_port)
				tb_printf(&tb, " port=%d", port);
			tb_printf(&tb, "%s", eol ? "\n" : "");
			entries++;
		}
	}
	if (tb.overflow) {
		free(tb.buf);
		return pgr_err_set(err, "pgbouncer.ini: out of room while rewriting");
	}
	if (entries == 0) {
		free(tb.buf);
		return pgr_err_set(err, "pgbouncer.ini: no entry in [databases]");
	}
	*out = tb.buf;
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

/* ---- what SHOW DATABASES says (pure) ---- */

int pgbouncer_databases_target(const pgbouncer_db_row *rows, int n, const char *dbname, char *host, size_t hostlen,
			       int *port, pgr_err *err)
{
	if (hostlen > 0)
		host[0] = '\0';
	*port = 0;
	for (int i = 0; i < n; i++) {
		char *end;
		long pv;

		if (rows[i].name == NULL || strcmp(rows[i].name, dbname) != 0)
			continue;
		if (rows[i].host == NULL || rows[i].host[0] == '\0')
			return pgr_err_set(err, "SHOW DATABASES: %s has no host", dbname);
		errno = 0;
		pv = rows[i].port != NULL ? strtol(rows[i].port, &end, 10) : 0;
		if (rows[i].port == NULL || errno != 0 || end == rows[i].port || *end != '\0' || pv <= 0 || pv > 65535)
			return pgr_err_set(err, "SHOW DATABASES: port \"%s\" of %s is not a port",
					   rows[i].port ? rows[i].port : "", dbname);
		if (strlen(rows[i].host) >= hostlen)
			return pgr_err_set(err, "SHOW DATABASES: the host of %s is longer than %zu bytes", dbname,
					   hostlen > 0 ? hostlen - 1 : 0);
		snprintf(host, hostlen, "%s", rows[i].host);
		*port = (int)pv;
		return 0;
	}
	return pgr_err_set(err, "SHOW DATABASES has no database \"%s\"", dbname);
}

int pgbouncer_databases_check(const pgbouncer_db_row *rows, int n, const char *host, int port, int *routed,
			      pgr_err *err)
{
	*routed = 0;
	for (int i = 0; i < n; i++) {
		char h[256];
		int p;
		pgr_err one;

		/* the admin console ("pgbouncer") is no server: it has no host */
		if (rows[i].name == NULL || rows[i].host == NULL || rows[i].host[0] == '\0')
			continue;
		if (pgbouncer_databases_target(&rows[i], 1, rows[i].name, h, sizeof(h), &p, &one) != 0)
			return pgr_err_set(err, "%s", one.msg);
		if (strcmp(h, host) != 0 || p != port)
			return pgr_err_set(err, "SHOW DATABASES: %s still leads to %s:%d, not %s:%d", rows[i].name, h, p, host,
					   port);
		(*routed)++;
	}
	return 0;
}

/* ---- the admin console: pg/pgsql.h's bounded conversation, on the database "pgbouncer" ---- */

#define CANCEL_WAIT_MS 1000L /* how long a timed-out command's cancel is waited for */

static pg_run_result admin_run(const char *host, int port, const char *user, const char *password, const char *command,
			       long timeout_ms, PGresult **last, pgr_err *err)
{
	char conninfo[1024];
	pg_run_opts opts = { .label = "PgBouncer",
			     .connect_to = "the admin console",
			     .timeout_ms = timeout_ms,
			     .cancel_wait_ms = CANCEL_WAIT_MS };

	pg_conninfo(conninfo, sizeof(conninfo), host, port, user, password, "pgbouncer", 0);
	if (conninfo[0] == '\0') {
		pgr_err_set(err, "PgBouncer %s:%d: connection parameters too long", host, port);
		return PG_RUN_FAILED;
	}
	return pg_run(conninfo, command, &opts, last, err);
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
	pg_run_result rr = admin_run(host, port, user, password, command, timeout_ms, NULL, err);

	if (rr == PG_RUN_OK)
		return 0;
	if (rr == PG_RUN_FAILED)
		return -1;
	*timed_out = true;

	/*
	 * Timed out, and cancelled (the cancel waited for, bounded). PgBouncer aborts a pending PAUSE when
	 * its admin client cancels (admin_handle_cancel); RESUME anyway in case the cancel got lost, and take
	 * "not paused" as done.
	 */
	if (is_pause(command)) {
		pgr_err undo = { 0 };

		if (pgbouncer_admin_command(host, port, user, password, "RESUME", 2000, &undo) != 0 &&
		    !pgbouncer_not_paused_error(undo.msg))
			return pgr_err_set(err,
					   "PgBouncer %s:%d: PAUSE did not complete within %ld ms (a transaction still runs?), "
					   "and the RESUME that should undo it failed: %s",
					   host, port, timeout_ms, undo.msg);
		return pgr_err_set(err,
				   "PgBouncer %s:%d: PAUSE did not complete within %ld ms (a transaction still runs?); "
				   "cancelled, PgBouncer is resumed",
				   host, port, timeout_ms);
	}
	return pgr_err_set(err, "PgBouncer %s:%d: %s did not complete within %ld ms; cancelled", host, port, command,
			   timeout_ms);
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

int pgbouncer_show_databases(const char *host, int port, const char *user, const char *password, long timeout_ms,
			     pgbouncer_databases *dbs, pgr_err *err)
{
	PGresult *res = NULL;
	pg_run_result rr;
	int cname, chost, cport;

	memset(dbs, 0, sizeof(*dbs));
	rr = admin_run(host, port, user, password, "SHOW DATABASES", timeout_ms, &res, err);
	if (rr != PG_RUN_OK)
		return -1;
	if (res == NULL)
		return pgr_err_set(err, "PgBouncer %s:%d: SHOW DATABASES returned no rows", host, port);
	cname = PQfnumber(res, "name");
	chost = PQfnumber(res, "host");
	cport = PQfnumber(res, "port");
	if (cname < 0 || chost < 0 || cport < 0) {
		PQclear(res);
		return pgr_err_set(err, "PgBouncer %s:%d: SHOW DATABASES has no name/host/port columns", host, port);
	}
	for (int row = 0; row < PQntuples(res) && dbs->count < PGBOUNCER_MAX_SHOWN; row++) {
		pgbouncer_db_text *d = &dbs->text[dbs->count];

		snprintf(d->name, sizeof(d->name), "%s", PQgetvalue(res, row, cname));
		snprintf(d->host, sizeof(d->host), "%s", PQgetvalue(res, row, chost));
		snprintf(d->port, sizeof(d->port), "%s", PQgetvalue(res, row, cport));
		dbs->rows[dbs->count] = (pgbouncer_db_row){ d->name, d->host, d->port };
		dbs->count++;
	}
	PQclear(res);
	return 0;
}

int pgbouncer_show_databases_target(const char *host, int port, const char *user, const char *password,
				    const char *dbname, long timeout_ms, char *target_host, size_t hostlen,
				    int *target_port, pgr_err *err)
{
	pgbouncer_databases *dbs = malloc(sizeof(*dbs));
	int rc;

	if (hostlen > 0)
		target_host[0] = '\0';
	*target_port = 0;
	if (dbs == NULL)
		return pgr_err_set(err, "PgBouncer %s:%d: out of memory", host, port);
	rc = pgbouncer_show_databases(host, port, user, password, timeout_ms, dbs, err);
	if (rc == 0 && pgbouncer_databases_target(dbs->rows, dbs->count, dbname, target_host, hostlen, target_port,
						  err) != 0)
		rc = pgr_err_prefix(err, "PgBouncer %s:%d", host, port);
	free(dbs);
	return rc;
}
