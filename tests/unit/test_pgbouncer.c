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
		cmocka_unit_test(test_not_paused_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
