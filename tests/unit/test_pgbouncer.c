/*
 * test_pgbouncer.c — what pgrefresh reads out of PgBouncer's SHOW DATABASES (pg/pgbouncer.h): the target
 * of one database, and whether every routed database leads to the new primary (the switchover's check
 * after a repoint). Rows as PgBouncer 1.18 sends them, one case a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pgbouncer.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* the admin console's own row, as PgBouncer lists it: no host */
#define ADMIN_ROW { "pgbouncer", "", "6432" }

static void test_databases_target(void **state)
{
	static const struct {
		const char *what;
		pgbouncer_db_row rows[4];
		int n;
		const char *dbname;
		size_t hostlen;
		int rc;
		const char *host;
		int port;
		const char *msg; /* part of the error */
	} cases[] = {
		{ "found", { ADMIN_ROW, { "postgres", "127.0.0.1", "5441" } }, 2, "postgres", 64, 0, "127.0.0.1", 5441, NULL },
		{ "first of two", { { "app", "10.0.0.2", "5432" }, { "app", "10.0.0.3", "5433" } }, 2, "app", 64, 0, "10.0.0.2", 5432, NULL },
		{ "absent", { ADMIN_ROW }, 1, "postgres", 64, -1, "", 0, "no database \"postgres\"" },
		{ "no rows", { { NULL, NULL, NULL } }, 0, "postgres", 64, -1, "", 0, "no database" },
		{ "admin has no host", { ADMIN_ROW }, 1, "pgbouncer", 64, -1, "", 0, "has no host" },
		{ "port not a number", { { "postgres", "h", "54x" } }, 1, "postgres", 64, -1, "", 0, "is not a port" },
		{ "port empty", { { "postgres", "h", "" } }, 1, "postgres", 64, -1, "", 0, "is not a port" },
		{ "port zero", { { "postgres", "h", "0" } }, 1, "postgres", 64, -1, "", 0, "is not a port" },
		{ "port too high", { { "postgres", "h", "65536" } }, 1, "postgres", 64, -1, "", 0, "is not a port" },
		{ "port negative", { { "postgres", "h", "-5" } }, 1, "postgres", 64, -1, "", 0, "is not a port" },
		{ "port null", { { "postgres", "h", NULL } }, 1, "postgres", 64, -1, "", 0, "is not a port" },
		{ "host too long", { { "postgres", "a-very-long-host-name", "1" } }, 1, "postgres", 8, -1, "", 0, "longer than 7" },
		{ "host null", { { "postgres", NULL, "1" } }, 1, "postgres", 64, -1, "", 0, "has no host" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char host[64];
		int port = -1;
		pgr_err err = { 0 };
		int rc;

		memset(host, 'x', sizeof(host));
		rc = pgbouncer_databases_target(cases[i].rows, cases[i].n, cases[i].dbname, host, cases[i].hostlen, &port, &err);
		if (rc != cases[i].rc)
			fail_msg("case %s: rc %d, want %d (%s)", cases[i].what, rc, cases[i].rc, err.msg);
		if (strcmp(host, cases[i].host) != 0 || port != cases[i].port)
			fail_msg("case %s: %s:%d, want %s:%d", cases[i].what, host, port, cases[i].host, cases[i].port);
		if (cases[i].msg != NULL && strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %s: error \"%s\" lacks \"%s\"", cases[i].what, err.msg, cases[i].msg);
	}
}

static void test_databases_check(void **state)
{
	static const struct {
		const char *what;
		pgbouncer_db_row rows[4];
		int n;
		int rc, routed;
		const char *msg;
	} cases[] = {
		{ "all at the new primary", { ADMIN_ROW, { "postgres", "127.0.0.1", "5441" }, { "app", "127.0.0.1", "5441" } }, 3, 0, 2, NULL },
		{ "only the admin console", { ADMIN_ROW }, 1, 0, 0, NULL },
		{ "none", { { NULL, NULL, NULL } }, 0, 0, 0, NULL },
		{ "one at the old primary", { { "postgres", "127.0.0.1", "5441" }, { "app", "127.0.0.1", "5440" } }, 2, -1, 1, "app still leads to 127.0.0.1:5440, not 127.0.0.1:5441" },
		{ "another host, same port", { { "postgres", "10.0.0.9", "5441" } }, 1, -1, 0, "still leads to 10.0.0.9:5441" },
		{ "a bad port", { { "postgres", "127.0.0.1", "x" } }, 1, -1, 0, "is not a port" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int routed = -1;
		pgr_err err = { 0 };
		int rc = pgbouncer_databases_check(cases[i].rows, cases[i].n, "127.0.0.1", 5441, &routed, &err);

		if (rc != cases[i].rc || routed != cases[i].routed)
			fail_msg("case %s: rc %d routed %d, want %d %d (%s)", cases[i].what, rc, routed, cases[i].rc,
				 cases[i].routed, err.msg);
		if (cases[i].msg != NULL && strstr(err.msg, cases[i].msg) == NULL)
			fail_msg("case %s: error \"%s\" lacks \"%s\"", cases[i].what, err.msg, cases[i].msg);
	}
}

/* A repoint rewrites the targets of [databases] only, keeping every other token and line. */
static void test_ini_retarget(void **state)
{
	static const struct {
		const char *what;
		const char *in;
		const char *host;
		int port;
		int rc;
		const char *out; /* or part of the error */
	} cases[] = {
		{ "rendered wildcard", "; written by pgrefresh\n[databases]\n* = host=127.0.0.1 port=5440\n\n[pgbouncer]\nlisten_port = 6432\n",
		  "127.0.0.1", 5441, 0, "; written by pgrefresh\n[databases]\n* = host=127.0.0.1 port=5441\n\n[pgbouncer]\nlisten_port = 6432\n" },
		{ "tokens kept, order kept", "[databases]\napp = dbname=app host=10.0.0.1 pool_size=20 port=5432 user='o''k'\n",
		  "10.0.0.2", 5433, 0, "[databases]\napp = dbname=app host=10.0.0.2 pool_size=20 port=5433 user='o''k'\n" },
		{ "port added", "[databases]\napp = host=a\nb = host=a port=1\n", "c", 7, 0, "[databases]\napp = host=c port=7\nb = host=c port=7\n" },
		{ "other sections untouched", "[pgbouncer]\nhost = x\n[databases]\na = host=h\n[users]\nu = pool_mode=session\n", "n", 1, 0,
		  "[pgbouncer]\nhost = x\n[databases]\na = host=n port=1\n[users]\nu = pool_mode=session\n" },
		{ "comments kept, no final newline", "[databases]\n; a = host=old\n#x\na = host=old port=2", "new", 3, 0, "[databases]\n; a = host=old\n#x\na = host=new port=3" },
		{ "quoted host", "[databases]\na = host='old h' port=2\n", "new", 3, 0, "[databases]\na = host=new port=3\n" },
		{ "no host", "[databases]\na = port=2\n", "h", 3, -1, "line 2: the entry has no host=" },
		{ "no entries", "[pgbouncer]\nlisten_port=1\n", "h", 3, -1, "no entry in [databases]" },
		{ "unterminated quote", "[databases]\na = host='h\n", "h", 3, -1, "unterminated quote" },
		{ "hostile host", "[databases]\na = host=h\n", "h dbname=evil", 3, -1, "would need quoted" },
		{ "newline host", "[databases]\na = host=h\n", "h\n[x]", 3, -1, "would need quoted" },
		{ "bad port", "[databases]\na = host=h\n", "h", 0, -1, "out of range" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *out = (char *)"untouched";
		pgr_err err = { 0 };
		int rc = pgbouncer_ini_retarget(cases[i].in, cases[i].host, cases[i].port, &out, &err);

		if (rc != cases[i].rc)
			fail_msg("case %s: rc %d (%s)", cases[i].what, rc, err.msg);
		if (rc == 0) {
			char h[64];
			int p;

			if (strcmp(out, cases[i].out) != 0)
				fail_msg("case %s: got\n%s\nwant\n%s", cases[i].what, out, cases[i].out);
			/* what it wrote reads back as the new target */
			assert_int_equal(pgbouncer_ini_target(out, h, sizeof(h), &p, &err), 0);
			assert_string_equal(h, cases[i].host);
			assert_int_equal(p, cases[i].port);
			free(out);
		} else {
			assert_null(out);
			if (strstr(err.msg, cases[i].out) == NULL)
				fail_msg("case %s: error \"%s\" lacks \"%s\"", cases[i].what, err.msg, cases[i].out);
		}
	}
}

static void test_not_paused_error(void **state)
{
	(void)state;
	assert_true(pgbouncer_not_paused_error("PgBouncer 127.0.0.1:6432: RESUME: SQLSTATE 08P01: pooler is not paused/suspended"));
	assert_false(pgbouncer_not_paused_error("PgBouncer 127.0.0.1:6432: could not connect: Connection refused"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_databases_target),
		cmocka_unit_test(test_databases_check),
		cmocka_unit_test(test_ini_retarget),
		cmocka_unit_test(test_not_paused_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
