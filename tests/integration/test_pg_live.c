/*
 * test_pg_live.c — src/pg/ against real servers on 127.0.0.1: two PostgreSQL 15 servers (the second a
 * copy of the first, so that PgBouncer can be repointed) and one PgBouncer in front, all in a temp
 * directory, on free ports, as the postgres user when we are root.
 *
 *   1. pg_query_text / pg_ping / pg_exec, directly and through PgBouncer; an error carries its SQLSTATE
 *   2. PAUSE, then a query through PgBouncer waits; RESUME, and it completes
 *   3. PAUSE while a transaction stays open: times out, is cancelled and undone by RESUME
 *   4. RELOAD after repointing the ini at the second server: queries land there
 *   5. deadlines: a statement past its timeout is cancelled on the server and the call returns at its
 *      deadline; a server that accepts the connection and never answers cannot hold the caller
 *
 * The group teardown stops every process by pid, prints the logs when a test failed, and removes the
 * directory (kept when PGR_KEEP_TMP is set). If the test dies, a death callback still kills them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#include "pg/pgbouncer.h"
#include "pg/pgsql.h"
#include "util/fileutil.h"
#include "util/proc.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"
#define PGBOUNCER_BIN "/usr/sbin/pgbouncer"
#define PASSWORD "secret"

struct live {
	char dir[256];
	proc_user user;
	int pg_port[2];
	pid_t pg_pid[2];
	int pgb_port;
	pid_t pgb_pid;
	char ini_path[300];
	pgbouncer_ini ini;
	bool failed; /* a test set it on entry and cleared it at its end: still set = it failed */
};

/* Only for the death callback: the pids to kill if the test process dies before its teardown. */
static volatile pid_t emergency_pids[3];

static void emergency_stop(void)
{
	for (int i = 0; i < 3; i++) {
		if (emergency_pids[i] > 0)
			kill(emergency_pids[i], SIGKILL);
		emergency_pids[i] = 0;
	}
}

static void on_fatal_signal(int sig)
{
	emergency_stop();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int free_port(void)
{
	struct sockaddr_in addr = { 0 };
	socklen_t alen = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = -1;

	if (fd < 0)
		return -1;
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &alen) == 0)
		port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

static void print_file(const char *path)
{
	char *data = NULL;
	size_t len;
	pgr_err err = { 0 };

	fprintf(stderr, "----- %s -----\n", path);
	if (file_read_all(path, &data, &len, &err) != 0) {
		fprintf(stderr, "(%s)\n", err.msg);
		return;
	}
	fprintf(stderr, "%s\n", data);
	free(data);
}

/* "host=127.0.0.1 port=P user=postgres password=secret dbname=postgres connect_timeout=5" */
static void tcp_conninfo(char *buf, size_t len, int port)
{
	pg_conninfo(buf, len, "127.0.0.1", port, "postgres", PASSWORD, "postgres", 5);
}

static int start_postgres(struct live *lv, int i, pgr_err *err)
{
	char data[300], log[300], portstr[16], conninfo[512];
	char *argv[] = { PG_BIN "/postgres", "-D", data, "-p", portstr, "-k", lv->dir, "-c", "listen_addresses=127.0.0.1",
			 "-c", "fsync=off", "-c", "max_connections=30", "-c", "shared_buffers=16MB", NULL };
	long long deadline;

	snprintf(data, sizeof(data), "%s/pg%d", lv->dir, i);
	snprintf(log, sizeof(log), "%s/pg%d.log", lv->dir, i);
	snprintf(portstr, sizeof(portstr), "%d", lv->pg_port[i]);
	if (proc_spawn_daemon(argv, NULL, &lv->user, log, NULL, &lv->pg_pid[i], err) != 0)
		return -1;
	emergency_pids[i] = lv->pg_pid[i];
	/* ready when it answers on its Unix socket (trust) */
	pg_conninfo(conninfo, sizeof(conninfo), lv->dir, lv->pg_port[i], "postgres", NULL, "postgres", 2);
	deadline = proc_now_ms() + 30000;
	for (;;) {
		if (pg_ping(conninfo, err) == 0)
			return 0;
		if (proc_start_time(lv->pg_pid[i]) == 0)
			return pgr_err_prefix(err, "postgres %d exited", i);
		if (proc_now_ms() > deadline)
			return pgr_err_prefix(err, "postgres %d not ready within 30 s", i);
		proc_sleep_ms(100);
	}
}

static int write_ini(struct live *lv, int target_port, pgr_err *err)
{
	char text[4096];

	lv->ini.target_port = target_port;
	if (pgbouncer_ini_render(&lv->ini, text, sizeof(text), err) != 0)
		return -1;
	return file_write_durable(lv->ini_path, text, strlen(text), 0644, err);
}

static void teardown_processes(struct live *lv)
{
	pgr_err err = { 0 };

	if (lv->pgb_pid > 0 && proc_stop_pid(lv->pgb_pid, SIGTERM, 5000, &err) != 0)
		fprintf(stderr, "pgbouncer: %s\n", err.msg);
	lv->pgb_pid = 0;
	emergency_pids[2] = 0;
	for (int i = 0; i < 2; i++) {
		/* SIGINT: fast shutdown */
		if (lv->pg_pid[i] > 0 && proc_stop_pid(lv->pg_pid[i], SIGINT, 15000, &err) != 0)
			fprintf(stderr, "postgres %d: %s\n", i, err.msg);
		lv->pg_pid[i] = 0;
		emergency_pids[i] = 0;
	}
}

static int group_teardown(void **state)
{
	struct live *lv = *state;
	pgr_err err = { 0 };

	if (lv == NULL)
		return 0;
	teardown_processes(lv);
	if (lv->failed) {
		char path[400];
		const char *logs[] = { "pg0.log", "pg1.log", "pgbouncer.log", "pgbouncer.ini" };

		for (size_t i = 0; i < sizeof(logs) / sizeof(logs[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", lv->dir, logs[i]);
			print_file(path);
		}
	}
	if (lv->dir[0] && getenv("PGR_KEEP_TMP") == NULL && dir_remove_all(lv->dir, &err) != 0)
		fprintf(stderr, "%s\n", err.msg);
	else if (lv->dir[0] && getenv("PGR_KEEP_TMP"))
		fprintf(stderr, "kept %s\n", lv->dir);
	free(lv);
	*state = NULL;
	return 0;
}

static int setup_fail(void **state, const char *what, pgr_err *err)
{
	struct live *lv = *state;

	fprintf(stderr, "setup: %s: %s\n", what, err->msg);
	lv->failed = true;
	return group_teardown(state) == 0 ? -1 : -1;
}

static int group_setup(void **state)
{
	struct live *lv = calloc(1, sizeof(*lv));
	pgr_err err = { 0 };
	char path[400], out[4096], conninfo[512];
	int status;

	if (lv == NULL)
		return -1;
	*state = lv;
	if (proc_user_for_servers(&lv->user, &err) != 0)
		return setup_fail(state, "user", &err);
	snprintf(lv->dir, sizeof(lv->dir), "/tmp/pgr-pglive.XXXXXX");
	if (mkdtemp(lv->dir) == NULL) {
		lv->dir[0] = '\0';
		pgr_err_set(&err, "mkdtemp failed");
		return setup_fail(state, "temp dir", &err);
	}
	/* the postgres user must enter it; it owns it when we are root */
	if (chmod(lv->dir, 0755) != 0 ||
	    (lv->user.switch_user && path_chown_all(lv->dir, lv->user.uid, lv->user.gid, &err) != 0)) {
		pgr_err_set(&err, "could not hand %s to %s", lv->dir, lv->user.name);
		return setup_fail(state, "temp dir", &err);
	}
	lv->pg_port[0] = free_port();
	lv->pg_port[1] = free_port();
	lv->pgb_port = free_port();
	if (lv->pg_port[0] < 0 || lv->pg_port[1] < 0 || lv->pgb_port < 0 || lv->pg_port[0] == lv->pg_port[1] ||
	    lv->pgb_port == lv->pg_port[0] || lv->pgb_port == lv->pg_port[1]) {
		pgr_err_set(&err, "no distinct free ports");
		return setup_fail(state, "ports", &err);
	}

	/* 1. one initdb, copied: two servers */
	snprintf(path, sizeof(path), "%s/pg0", lv->dir);
	{
		char *argv[] = { PG_BIN "/initdb", "-D", path, "-U", "postgres", "--auth-local=trust",
				 "--auth-host=scram-sha-256", "-N", "-E", "UTF8", "--locale=C", NULL };

		if (proc_run(argv, &lv->user, 120000, out, sizeof(out), &status, &err) != 0)
			return setup_fail(state, "initdb", &err);
		if (status != 0) {
			pgr_err_set(&err, "exit %d: %s", status, out);
			return setup_fail(state, "initdb", &err);
		}
	}
	{
		char copy[400];
		char *argv[] = { "/bin/cp", "-a", path, copy, NULL };

		snprintf(copy, sizeof(copy), "%s/pg1", lv->dir);
		if (proc_run(argv, &lv->user, 60000, out, sizeof(out), &status, &err) != 0 || status != 0) {
			if (err.msg[0] == '\0')
				pgr_err_set(&err, "exit %d: %s", status, out);
			return setup_fail(state, "copy of the data directory", &err);
		}
	}
	for (int i = 0; i < 2; i++) {
		if (start_postgres(lv, i, &err) != 0)
			return setup_fail(state, "postgres", &err);
		/* the password PgBouncer's userlist holds */
		pg_conninfo(conninfo, sizeof(conninfo), lv->dir, lv->pg_port[i], "postgres", NULL, "postgres", 5);
		if (pg_exec(conninfo, "ALTER ROLE postgres PASSWORD '" PASSWORD "'", &err) != 0)
			return setup_fail(state, "password", &err);
	}

	/* 2. PgBouncer in front of server 0 */
	snprintf(path, sizeof(path), "%s/userlist.txt", lv->dir);
	if (file_write_durable(path, "\"postgres\" \"" PASSWORD "\"\n", strlen("\"postgres\" \"" PASSWORD "\"\n"), 0644,
			       &err) != 0)
		return setup_fail(state, "userlist", &err);
	snprintf(lv->ini.listen_addr, sizeof(lv->ini.listen_addr), "127.0.0.1");
	lv->ini.listen_port = lv->pgb_port;
	snprintf(lv->ini.auth_file, sizeof(lv->ini.auth_file), "%s", path);
	snprintf(lv->ini.pidfile, sizeof(lv->ini.pidfile), "%s/pgbouncer.pid", lv->dir);
	snprintf(lv->ini.admin_user, sizeof(lv->ini.admin_user), "postgres");
	snprintf(lv->ini.target_host, sizeof(lv->ini.target_host), "127.0.0.1");
	snprintf(lv->ini.dbnames[0], sizeof(lv->ini.dbnames[0]), "postgres");
	lv->ini.dbname_count = 1;
	snprintf(lv->ini_path, sizeof(lv->ini_path), "%s/pgbouncer.ini", lv->dir);
	if (write_ini(lv, lv->pg_port[0], &err) != 0)
		return setup_fail(state, "pgbouncer.ini", &err);
	{
		char log[400];
		char *argv[] = { PGBOUNCER_BIN, lv->ini_path, NULL };
		long long deadline = proc_now_ms() + 15000;

		snprintf(log, sizeof(log), "%s/pgbouncer.log", lv->dir);
		if (proc_spawn_daemon(argv, NULL, &lv->user, log, NULL, &lv->pgb_pid, &err) != 0)
			return setup_fail(state, "pgbouncer", &err);
		emergency_pids[2] = lv->pgb_pid;
		while (pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "SHOW VERSION", 2000,
					       &err) != 0) {
			if (proc_start_time(lv->pgb_pid) == 0 || proc_now_ms() > deadline)
				return setup_fail(state, "pgbouncer not ready", &err);
			proc_sleep_ms(100);
		}
	}
	return 0;
}

/* ---- 1. queries and errors ---- */

static void test_query_text(void **state)
{
	struct live *lv = *state;
	char conninfo[512], out[64], want[16];
	pgr_err err = { 0 };

	lv->failed = true;
	tcp_conninfo(conninfo, sizeof(conninfo), lv->pg_port[0]);
	snprintf(want, sizeof(want), "%d", lv->pg_port[0]);
	assert_int_equal(pg_query_text(conninfo, "SELECT current_setting('port')", out, sizeof(out), &err), 0);
	assert_string_equal(out, want);
	assert_int_equal(pg_query_text(conninfo, "SELECT 1 WHERE false", out, sizeof(out), &err), 0);
	assert_string_equal(out, "");
	assert_int_equal(pg_query_text(conninfo, "SELECT NULL", out, sizeof(out), &err), 0);
	assert_string_equal(out, "");
	assert_int_equal(pg_query_text(conninfo, "SELECT 'abcdef'", out, 4, &err), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(pg_ping(conninfo, &err), 0);
	assert_int_equal(pg_exec(conninfo, "CREATE TABLE t (x int); INSERT INTO t VALUES (7)", &err), 0);
	assert_int_equal(pg_query_text(conninfo, "SELECT x FROM t", out, sizeof(out), &err), 0);
	assert_string_equal(out, "7");

	/* through PgBouncer (transaction pooling) */
	tcp_conninfo(conninfo, sizeof(conninfo), lv->pgb_port);
	assert_int_equal(pg_query_text(conninfo, "SHOW port", out, sizeof(out), &err), 0);
	assert_string_equal(out, want);
	assert_int_equal(pg_ping(conninfo, &err), 0);
	lv->failed = false;
}

static void test_errors(void **state)
{
	struct live *lv = *state;
	char conninfo[512], out[64];
	pgr_err err = { 0 };

	lv->failed = true;
	tcp_conninfo(conninfo, sizeof(conninfo), lv->pg_port[0]);
	assert_int_equal(pg_exec(conninfo, "SELECT * FROM no_such_table", &err), -1);
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "SQLSTATE 42P01"));
	assert_non_null(strstr(err.msg, "relation \"no_such_table\" does not exist"));
	assert_null(strchr(err.msg, '\n'));

	assert_int_equal(pg_query_text(conninfo, "SELECT 1/0", out, sizeof(out), &err), -1);
	assert_non_null(strstr(err.msg, "SQLSTATE 22012"));

	/* a failing statement in the middle stops the rest */
	assert_int_equal(pg_exec(conninfo, "INSERT INTO t VALUES (8); SELECT 1/0; INSERT INTO t VALUES (9)", &err), -1);
	assert_int_equal(pg_query_text(conninfo, "SELECT count(*) FROM t WHERE x = 9", out, sizeof(out), &err), 0);
	assert_string_equal(out, "0");

	pg_conninfo(conninfo, sizeof(conninfo), "127.0.0.1", lv->pg_port[0], "postgres", "wrong", "postgres", 5);
	assert_int_equal(pg_ping(conninfo, &err), -1);
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "could not connect"));
	assert_non_null(strstr(err.msg, "password authentication failed"));

	/* nobody listens: the port of PgBouncer's admin... no, a fresh free one */
	pg_conninfo(conninfo, sizeof(conninfo), "127.0.0.1", free_port(), "postgres", PASSWORD, "postgres", 2);
	assert_int_equal(pg_ping(conninfo, &err), -1);
	assert_non_null(strstr(err.msg, "could not connect"));

	assert_int_equal(pg_ping("", &err), -1);

	/* an unknown admin command carries PgBouncer's message */
	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "FROB", 5000, &err), -1);
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "SQLSTATE"));
	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", "wrong", "RESUME", 5000, &err),
			 -1);
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "could not connect to the admin console"));
	lv->failed = false;
}

/* ---- 2. PAUSE holds queries, RESUME lets them through ---- */

static PGconn *client_via_pgbouncer(struct live *lv)
{
	char conninfo[512];
	PGconn *c;
	PGresult *res;

	tcp_conninfo(conninfo, sizeof(conninfo), lv->pgb_port);
	c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, "SELECT 1");
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	return c;
}

/* Waits up to ms for the result of a sent query; its first value, or NULL if it did not come. */
static bool await_result(PGconn *c, long ms, char *out, size_t outlen)
{
	long long deadline = proc_now_ms() + ms;

	for (;;) {
		struct pollfd pfd = { PQsocket(c), POLLIN, 0 };
		long long left = deadline - proc_now_ms();

		assert_int_equal(PQconsumeInput(c), 1);
		if (!PQisBusy(c)) {
			PGresult *res = PQgetResult(c);

			assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
			snprintf(out, outlen, "%s", PQgetvalue(res, 0, 0));
			PQclear(res);
			assert_null(PQgetResult(c));
			return true;
		}
		if (left <= 0)
			return false;
		(void)poll(&pfd, 1, (int)left);
	}
}

static void test_pause_resume(void **state)
{
	struct live *lv = *state;
	pgr_err err = { 0 };
	PGconn *c = client_via_pgbouncer(lv);
	char out[32];
	long long t0;

	lv->failed = true;
	t0 = proc_now_ms();
	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "PAUSE", 5000, &err), 0);
	print_message("PAUSE took %lld ms\n", proc_now_ms() - t0);

	assert_int_equal(PQsendQuery(c, "SELECT 42"), 1);
	assert_false(await_result(c, 700, out, sizeof(out))); /* held by the pause */

	t0 = proc_now_ms();
	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "RESUME", 5000, &err), 0);
	assert_true(await_result(c, 5000, out, sizeof(out)));
	print_message("the held query completed %lld ms after RESUME\n", proc_now_ms() - t0);
	assert_string_equal(out, "42");
	PQfinish(c);
	lv->failed = false;
}

/* ---- 3. a PAUSE that cannot complete is bounded, and undone ---- */

static void test_pause_timeout(void **state)
{
	struct live *lv = *state;
	pgr_err err = { 0 };
	PGconn *c = client_via_pgbouncer(lv);
	PGresult *res;
	char conninfo[512], out[32];
	long long t0;

	lv->failed = true;
	res = PQexec(c, "BEGIN");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);

	t0 = proc_now_ms();
	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "PAUSE", 800, &err), -1);
	print_message("after %lld ms: %s\n", proc_now_ms() - t0, err.msg);
	assert_true(proc_now_ms() - t0 < 4000);
	assert_non_null(strstr(err.msg, "did not complete within 800 ms"));
	assert_non_null(strstr(err.msg, "resumed"));

	/* not left paused: the open transaction goes on, and a new client gets through */
	res = PQexec(c, "COMMIT");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	tcp_conninfo(conninfo, sizeof(conninfo), lv->pgb_port);
	assert_int_equal(pg_query_text(conninfo, "SELECT 'through'", out, sizeof(out), &err), 0);
	assert_string_equal(out, "through");

	/* RESUME of a pooler that is not paused is PgBouncer's error, passed on */
	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "RESUME", 5000, &err), -1);
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "not paused"));
	PQfinish(c);
	lv->failed = false;
}

/* ---- 4. repoint: write the ini, RELOAD, queries land on the other server ---- */

static void test_reload_repoint(void **state)
{
	struct live *lv = *state;
	pgr_err err = { 0 };
	char conninfo[512], out[32], want[16], host[256];
	char *text = NULL;
	size_t len;
	int port;

	lv->failed = true;
	assert_int_equal(pgbouncer_show_databases_target("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "postgres",
							 5000, host, sizeof(host), &port, &err),
			 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, lv->pg_port[0]);

	assert_int_equal(write_ini(lv, lv->pg_port[1], &err), 0);
	assert_int_equal(file_read_all(lv->ini_path, &text, &len, &err), 0);
	assert_int_equal(pgbouncer_ini_target(text, host, sizeof(host), &port, &err), 0);
	free(text);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, lv->pg_port[1]);

	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "PAUSE", 5000, &err), 0);
	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "RELOAD", 5000, &err), 0);
	assert_int_equal(pgbouncer_admin_command("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "RESUME", 5000, &err), 0);

	assert_int_equal(pgbouncer_show_databases_target("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "postgres",
							 5000, host, sizeof(host), &port, &err),
			 0);
	assert_int_equal(port, lv->pg_port[1]);
	assert_int_equal(pgbouncer_show_databases_target("127.0.0.1", lv->pgb_port, "postgres", PASSWORD, "nope", 5000,
							 host, sizeof(host), &port, &err),
			 -1);
	assert_non_null(strstr(err.msg, "no database \"nope\""));

	tcp_conninfo(conninfo, sizeof(conninfo), lv->pgb_port);
	snprintf(want, sizeof(want), "%d", lv->pg_port[1]);
	assert_int_equal(pg_query_text(conninfo, "SHOW port", out, sizeof(out), &err), 0);
	assert_string_equal(out, want);
	lv->failed = false;
}

/* ---- 5. deadlines ---- */

/* A TCP socket that listens and never accepts: the kernel completes the handshake, nobody answers. */
static int silent_listener(int *port)
{
	struct sockaddr_in addr = { 0 };
	socklen_t alen = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	*port = -1;
	if (fd < 0)
		return -1;
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(addr.sin_port);
	return fd;
}

static void test_deadlines(void **state)
{
	struct live *lv = *state;
	char conninfo[512], out[64], at[64];
	pgr_err err = { 0 };
	long long t0, took;
	int fd, port;
	bool gone = false;

	lv->failed = true;
	tcp_conninfo(conninfo, sizeof(conninfo), lv->pg_port[0]);
	snprintf(at, sizeof(at), "127.0.0.1:%d", lv->pg_port[0]);

	/* a statement longer than its timeout: back at the deadline, and the server cancelled it */
	t0 = proc_now_ms();
	assert_int_equal(pg_query_text_timeout(conninfo, "SELECT pg_sleep(30)", 500, out, sizeof(out), &err), -1);
	took = proc_now_ms() - t0;
	print_message("%s (%lld ms)\n", err.msg, took);
	assert_true(took >= 500 && took < 1500);
	assert_non_null(strstr(err.msg, "timed out after"));
	assert_non_null(strstr(err.msg, at));
	for (int i = 0; i < 50 && !gone; i++) {
		assert_int_equal(pg_query_text(conninfo,
					       "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'",
					       out, sizeof(out), &err),
				 0);
		gone = strcmp(out, "0") == 0;
		if (!gone)
			proc_sleep_ms(100);
	}
	assert_true(gone);
	assert_int_equal(pg_exec_timeout(conninfo, "SELECT pg_sleep(30)", 300, &err), -1);
	assert_non_null(strstr(err.msg, "timed out after"));
	/* within the timeout, the same call answers */
	assert_int_equal(pg_query_text_timeout(conninfo, "SELECT 41 + 1", 2000, out, sizeof(out), &err), 0);
	assert_string_equal(out, "42");

	/* a server that never answers (connection accepted by the kernel, no startup reply) */
	fd = silent_listener(&port);
	assert_true(fd >= 0);
	tcp_conninfo(conninfo, sizeof(conninfo), port);
	snprintf(at, sizeof(at), "127.0.0.1:%d", port);
	t0 = proc_now_ms();
	assert_int_equal(pg_ping_timeout(conninfo, 600, &err), -1);
	took = proc_now_ms() - t0;
	print_message("%s (%lld ms)\n", err.msg, took);
	assert_true(took >= 600 && took < 1600);
	assert_non_null(strstr(err.msg, "could not connect: timed out after"));
	assert_non_null(strstr(err.msg, at));
	/* the default deadline applies, and a shorter connect_timeout in the conninfo before it */
	pg_conninfo(conninfo, sizeof(conninfo), "127.0.0.1", port, "postgres", PASSWORD, "postgres", 2);
	t0 = proc_now_ms();
	assert_int_equal(pg_ping(conninfo, &err), -1);
	took = proc_now_ms() - t0;
	print_message("%s (%lld ms)\n", err.msg, took);
	assert_true(took >= 2000 && took < 3000);
	assert_non_null(strstr(err.msg, "timed out after"));
	close(fd);
	lv->failed = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_text),    cmocka_unit_test(test_errors),
		cmocka_unit_test(test_pause_resume),  cmocka_unit_test(test_pause_timeout),
		cmocka_unit_test(test_reload_repoint), cmocka_unit_test(test_deadlines),
	};

#ifdef __SANITIZE_ADDRESS__
	__sanitizer_set_death_callback(emergency_stop);
#endif
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGABRT, on_fatal_signal);
	atexit(emergency_stop);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
