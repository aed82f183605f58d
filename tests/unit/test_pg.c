/*
 * test_pg.c — the pure parts of src/pg/: libpq connection strings, pgbouncer.ini written and its
 * target read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pg/pgbouncer.h"
#include "pg/pgsql.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_conninfo(void **state)
{
	static const struct {
		const char *host;
		int port;
		const char *user, *password, *dbname;
		int timeout;
		size_t buflen;
		const char *want;
	} cases[] = {
		{ "127.0.0.1", 5432, "postgres", "secret", "postgres", 3, 256,
		  "host='127.0.0.1' port='5432' user='postgres' password='secret' dbname='postgres' connect_timeout='3'" },
		{ "/tmp/sock dir", 0, "u", NULL, NULL, 0, 256, "host='/tmp/sock dir' user='u'" },
		{ "h", 1, "u", "it's a \\ pass", "db", 0, 256, "host='h' port='1' user='u' password='it\\'s a \\\\ pass' dbname='db'" },
		{ "h", 1, "u", "p w=x", "", -1, 256, "host='h' port='1' user='u' password='p w=x'" },
		{ NULL, 0, NULL, NULL, NULL, 0, 256, "" },
		{ "", 5432, "", "", "", 0, 256, "port='5432'" },
		/* too small: empty, never cut */
		{ "127.0.0.1", 5432, "postgres", "secret", "postgres", 3, 40, "" },
		{ "h", 0, NULL, NULL, NULL, 0, 9, "host='h'" },
		{ "h", 0, NULL, NULL, NULL, 0, 8, "" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char buf[256];

		memset(buf, 'x', sizeof(buf));
		pg_conninfo(buf, cases[i].buflen, cases[i].host, cases[i].port, cases[i].user, cases[i].password,
			    cases[i].dbname, cases[i].timeout);
		print_message("conninfo %zu: %s\n", i, buf);
		assert_string_equal(buf, cases[i].want);
	}
}

static pgbouncer_ini base_ini(void)
{
	pgbouncer_ini ini;

	memset(&ini, 0, sizeof(ini));
	snprintf(ini.listen_addr, sizeof(ini.listen_addr), "127.0.0.1");
	ini.listen_port = 6432;
	snprintf(ini.auth_file, sizeof(ini.auth_file), "/tmp/pgb/userlist.txt");
	snprintf(ini.pidfile, sizeof(ini.pidfile), "/tmp/pgb/pgbouncer.pid");
	snprintf(ini.admin_user, sizeof(ini.admin_user), "postgres");
	snprintf(ini.target_host, sizeof(ini.target_host), "127.0.0.1");
	ini.target_port = 5440;
	return ini;
}

static void test_ini_render_exact(void **state)
{
	pgbouncer_ini ini = base_ini();
	char buf[4096];
	pgr_err err = { 0 };

	(void)state;
	snprintf(ini.logfile, sizeof(ini.logfile), "/tmp/pgb/pgbouncer.log");
	assert_int_equal(pgbouncer_ini_render(&ini, buf, sizeof(buf), &err), 0);
	assert_string_equal(buf, "; written by pgrefresh: edits are overwritten at the next repoint\n"
				 "[databases]\n"
				 "* = host=127.0.0.1 port=5440\n"
				 "\n[pgbouncer]\n"
				 "listen_addr = 127.0.0.1\n"
				 "listen_port = 6432\n"
				 "unix_socket_dir = \n"
				 "auth_type = scram-sha-256\n"
				 "auth_file = /tmp/pgb/userlist.txt\n"
				 "logfile = /tmp/pgb/pgbouncer.log\n"
				 "pidfile = /tmp/pgb/pgbouncer.pid\n"
				 "admin_users = postgres\n"
				 "pool_mode = transaction\n"
				 "server_login_retry = 1\n"
				 "server_connect_timeout = 3\n"
				 "query_wait_timeout = 60\n"
				 "ignore_startup_parameters = extra_float_digits\n");
}

/* Each mutation of the base ini: does it render, and which part must the text (or the error) hold. */
static void set_dbs(pgbouncer_ini *ini)
{
	snprintf(ini->dbnames[0], sizeof(ini->dbnames[0]), "postgres");
	snprintf(ini->dbnames[1], sizeof(ini->dbnames[1]), "app_db");
	ini->dbname_count = 2;
}
static void set_socket(pgbouncer_ini *ini)
{
	snprintf(ini->unix_socket_dir, sizeof(ini->unix_socket_dir), "/tmp/pgb");
	snprintf(ini->target_host, sizeof(ini->target_host), "/tmp/pg-0");
}
static void bad_host(pgbouncer_ini *ini)
{
	snprintf(ini->target_host, sizeof(ini->target_host), "a b");
}
static void empty_host(pgbouncer_ini *ini)
{
	ini->target_host[0] = '\0';
}
static void bad_port(pgbouncer_ini *ini)
{
	ini->target_port = 70000;
}
static void bad_listen_port(pgbouncer_ini *ini)
{
	ini->listen_port = 0;
}
static void bad_db(pgbouncer_ini *ini)
{
	snprintf(ini->dbnames[0], sizeof(ini->dbnames[0]), "x = host=evil");
	ini->dbname_count = 1;
}
static void too_many_dbs(pgbouncer_ini *ini)
{
	ini->dbname_count = PGBOUNCER_MAX_DBS + 1;
}
static void newline_path(pgbouncer_ini *ini)
{
	snprintf(ini->auth_file, sizeof(ini->auth_file), "/tmp/x\nadmin_users = mallory");
}
static void bad_admin(pgbouncer_ini *ini)
{
	snprintf(ini->admin_user, sizeof(ini->admin_user), "a,b");
}
static void no_auth_file(pgbouncer_ini *ini)
{
	ini->auth_file[0] = '\0';
}

static void test_ini_render_cases(void **state)
{
	static const struct {
		void (*mutate)(pgbouncer_ini *);
		int rc;
		const char *part;
	} cases[] = {
		{ set_dbs, 0, "postgres = host=127.0.0.1 port=5440 dbname=postgres\napp_db = host=127.0.0.1 port=5440 dbname=app_db\n" },
		{ set_socket, 0, "* = host=/tmp/pg-0 port=5440\n" },
		{ set_socket, 0, "unix_socket_dir = /tmp/pgb\n" },
		{ bad_host, -1, "target host \"a b\"" },
		{ empty_host, -1, "target host \"\"" },
		{ bad_port, -1, "target port 70000" },
		{ bad_listen_port, -1, "listen_port 0" },
		{ bad_db, -1, "database name" },
		{ too_many_dbs, -1, "at most" },
		{ newline_path, -1, "auth_file" },
		{ bad_admin, -1, "admin user" },
		{ no_auth_file, -1, "auth_file is empty" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		pgbouncer_ini ini = base_ini();
		char buf[4096];
		pgr_err err = { 0 };
		int rc;

		cases[i].mutate(&ini);
		rc = pgbouncer_ini_render(&ini, buf, sizeof(buf), &err);
		print_message("render %zu: rc %d %s\n", i, rc, err.msg);
		assert_int_equal(rc, cases[i].rc);
		assert_non_null(strstr(rc == 0 ? buf : err.msg, cases[i].part));
		if (rc != 0)
			assert_string_equal(buf, "");
	}
}

static void test_ini_render_small_buffer(void **state)
{
	pgbouncer_ini ini = base_ini();
	char buf[100];
	pgr_err err = { 0 };

	(void)state;
	assert_int_equal(pgbouncer_ini_render(&ini, buf, sizeof(buf), &err), -1);
	assert_string_equal(buf, "");
	assert_non_null(strstr(err.msg, "does not fit"));
}

/* Render, read back: the target survives for every shape. */
static void test_ini_roundtrip(void **state)
{
	static const struct {
		const char *host;
		int port;
		int dbs;
	} cases[] = {
		{ "127.0.0.1", 5440, 0 }, { "127.0.0.1", 15441, 3 }, { "/tmp/pgr.Ab_1/pg-2", 5432, 1 }, { "db-host.example", 1, 16 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		pgbouncer_ini ini = base_ini();
		char buf[8192], host[256];
		int port = -1;
		pgr_err err = { 0 };

		snprintf(ini.target_host, sizeof(ini.target_host), "%s", cases[i].host);
		ini.target_port = cases[i].port;
		for (int d = 0; d < cases[i].dbs; d++)
			snprintf(ini.dbnames[d], sizeof(ini.dbnames[d]), "db%d", d);
		ini.dbname_count = cases[i].dbs;
		assert_int_equal(pgbouncer_ini_render(&ini, buf, sizeof(buf), &err), 0);
		assert_int_equal(pgbouncer_ini_target(buf, host, sizeof(host), &port, &err), 0);
		assert_string_equal(host, cases[i].host);
		assert_int_equal(port, cases[i].port);
	}
}

/* Files written by hand (the substrate's example, quoting, comments) and broken ones. */
static void test_ini_target_cases(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *host;
		int port;
		const char *err_part;
	} cases[] = {
		{ "[databases]\npostgres = host=127.0.0.1 port=5440 dbname=postgres\n[pgbouncer]\nlisten_port = 6432\n", 0, "127.0.0.1", 5440, NULL },
		{ "; comment\n[pgbouncer]\nlisten_addr = 1.2.3.4\n\n  [ Databases ]  \n# c\n  *=host=h1   port = 7\n", 0, "h1", 7, NULL },
		{ "[databases]\nx = dbname=x host='/tmp/a b' port='5441'\n", 0, "/tmp/a b", 5441, NULL },
		{ "[databases]\nx = host='it''s' port=5\n", 0, "it's", 5, NULL },
		{ "[databases]\nx = host=h\n", 0, "h", 5432, NULL },
		{ "[databases]\r\nx = host=h port=6\r\n", 0, "h", 6, NULL },
		{ "[databases]\na = host=h port=6\nb = host=h port=7\n", -1, NULL, 0, "entries disagree" },
		{ "[databases]\na = host=h port=6\nb = host=g port=6\n", -1, NULL, 0, "entries disagree" },
		{ "[databases]\na = port=6\n", -1, NULL, 0, "no host=" },
		{ "[databases]\na = host=h port=x6\n", -1, NULL, 0, "not a port number" },
		{ "[databases]\na = host=h port=0\n", -1, NULL, 0, "not a port number" },
		{ "[databases]\na = host='h port=6\n", -1, NULL, 0, "unterminated quote" },
		{ "[databases]\na = host\n", -1, NULL, 0, "has no value" },
		{ "[databases]\njust words\n", -1, NULL, 0, "without '='" },
		{ "[databases\na = host=h\n", -1, NULL, 0, "without ']'" },
		{ "[pgbouncer]\nlisten_port = 6432\n", -1, NULL, 0, "no entry in [databases]" },
		{ "", -1, NULL, 0, "no entry" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char host[64];
		int port = -1;
		pgr_err err = { 0 };
		int rc = pgbouncer_ini_target(cases[i].text, host, sizeof(host), &port, &err);

		print_message("target %zu: rc %d %s\n", i, rc, err.msg);
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		} else {
			assert_non_null(strstr(err.msg, cases[i].err_part));
		}
	}
	{
		char tiny[4];
		int port;
		pgr_err err = { 0 };

		assert_int_equal(pgbouncer_ini_target("[databases]\na = host=long port=1\n", tiny, sizeof(tiny), &port, &err), -1);
		assert_int_equal(pgbouncer_ini_target(NULL, tiny, sizeof(tiny), &port, &err), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conninfo),	  cmocka_unit_test(test_ini_render_exact),
		cmocka_unit_test(test_ini_render_cases),  cmocka_unit_test(test_ini_render_small_buffer),
		cmocka_unit_test(test_ini_roundtrip),	  cmocka_unit_test(test_ini_target_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
