/*
 * fuzz_pgbouncer.c — PgBouncer's configuration as pgrefresh reads it back (pg/pgbouncer.h):
 * pgbouncer_ini_target on arbitrary pgbouncer.ini text, and pgbouncer_ini_render followed by
 * pgbouncer_ini_target on a configuration built from the input. Seeds: tests/fuzz/seeds/pgbouncer/
 * (the files of tests/unit/test_pg.c).
 *
 * PgBouncer's SHOW output is read inside pgbouncer_show_databases_target, straight from a libpq result
 * with PQfnumber/PQgetvalue: there is no pure parser of it to fuzz. What is pure is the ini reader
 * (the target that a repoint wrote, with the connection-string reader of [databases] entries).
 *
 * Properties besides memory safety: a failure has a message and leaves no host; a success gives a
 * non-empty host that fits the buffer and a port in 1..65535; what render writes reads back as the
 * host and port it was given.
 */
#include "fuzz.h"

#include "pg/pgbouncer.h"

static void fuzz_target(const char *s)
{
	static const size_t sizes[] = { 1, 4, 64, 256 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char host[256];
		int port = -1;
		pgr_err err = { 0 };

		memset(host, 'x', sizeof(host));
		if (pgbouncer_ini_target(s, host, sizes[i], &port, &err) == 0) {
			FUZZ_CHECK(memchr(host, '\0', sizes[i]) != NULL, "host not terminated in %zu bytes", sizes[i]);
			FUZZ_CHECK(host[0] != '\0', "an empty target host");
			FUZZ_CHECK(port >= 1 && port <= 65535, "target port %d", port);
		} else {
			FUZZ_CHECK(err.msg[0] != '\0', "ini_target failed without a message");
			FUZZ_CHECK(host[0] == '\0' && port == 0, "a failed read left \"%.8s\":%d", host, port);
		}
	}
}

/* Input = 2 bytes of port, then lines: the target host, then database names. */
static void fuzz_render(const uint8_t *data, size_t size)
{
	static char text[16384];
	pgbouncer_ini ini;
	char *s, *line, *save;
	char host[256];
	int port = -1;
	pgr_err err = { 0 };

	if (size < 2)
		return;
	memset(&ini, 0, sizeof(ini));
	snprintf(ini.listen_addr, sizeof(ini.listen_addr), "127.0.0.1");
	ini.listen_port = 6432;
	snprintf(ini.auth_file, sizeof(ini.auth_file), "/tmp/pgb/userlist.txt");
	snprintf(ini.admin_user, sizeof(ini.admin_user), "postgres");
	ini.target_port = data[0] << 8 | data[1];
	s = fuzz_cstring(data + 2, size - 2);
	save = s;
	line = strsep(&save, "\n");
	snprintf(ini.target_host, sizeof(ini.target_host), "%s", line);
	while ((line = strsep(&save, "\n")) != NULL && ini.dbname_count < PGBOUNCER_MAX_DBS)
		snprintf(ini.dbnames[ini.dbname_count++], sizeof(ini.dbnames[0]), "%s", line);
	free(s);
	if (pgbouncer_ini_render(&ini, text, sizeof(text), &err) != 0) {
		FUZZ_CHECK(err.msg[0] != '\0' && text[0] == '\0', "a refused render: \"%s\"", err.msg);
		return;
	}
	if (pgbouncer_ini_target(text, host, sizeof(host), &port, &err) != 0)
		FUZZ_CHECK(0, "what render wrote does not read back: %s\n%s", err.msg, text);
	FUZZ_CHECK(strcmp(host, ini.target_host) == 0 && port == ini.target_port,
		   "rendered %s:%d, read back %s:%d\n%s", ini.target_host, ini.target_port, host, port, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);

	fuzz_target(s);
	free(s);
	fuzz_render(data, size);
	return 0;
}
