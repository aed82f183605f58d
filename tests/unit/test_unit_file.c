/*
 * test_unit_file.c — DIR/unit (cluster/unit_file.h): the unit an agent started with --dir alone runs,
 * parsed from the file's text (one case a line), and read from a directory; and the agent's log when
 * stderr is systemd's journal (util/log.h): a priority prefix, no time stamp of its own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/unit_file.h"
#include "util/log.h"

struct parse_case {
	const char *text;
	const char *unit;  /* expected name, NULL: refused */
	const char *error; /* a part of the message when refused */
};

static const struct parse_case parse_cases[] = {
	{ "pg/0\n", "pg/0", NULL },
	{ "pg/0", "pg/0", NULL },
	{ "  pg/2 \t\r\n", "pg/2", NULL },
	{ "# written by pgrefresh adopt\n\n15-main/node-1\n# end\n\n", "15-main/node-1", NULL },
	{ "pg_a.b-c/7\n", "pg_a.b-c/7", NULL },
	{ "", NULL, "no unit name" },
	{ "\n  \n# only a comment\n", NULL, "no unit name" },
	{ "pg/0\npg/1\n", NULL, "u:2: a second unit name" },
	{ "pg 0\n", NULL, "u:1: \"pg 0\" is not a unit name" },
	{ "pg/0;rm\n", NULL, "is not a unit name" },
	{ "\n\npg/\x01\n", NULL, "u:3:" },
	{ "pg/0123456789abcdef0123456789abcdef\n", NULL, "longer than 31 characters" },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		char unit[32];
		pgr_err err;
		int rc;

		pgr_err_clear(&err);
		rc = unit_file_parse(c->text, "u", unit, sizeof(unit), &err);
		if (c->unit != NULL) {
			if (rc != 0)
				fail_msg("case %zu: refused: %s", i, err.msg);
			assert_string_equal(unit, c->unit);
		} else {
			if (rc == 0)
				fail_msg("case %zu: accepted \"%s\"", i, unit);
			if (strstr(err.msg, c->error) == NULL)
				fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, c->error);
		}
	}
}

static void test_read_from_dir(void **state)
{
	char dir[] = "/tmp/pgr-unit-file-XXXXXX";
	char path[256], unit[32];
	pgr_err err;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	pgr_err_clear(&err);
	/* no file: the message names --unit and the file, the hint the two ways */
	assert_int_equal(unit_file_read(dir, unit, sizeof(unit), &err), -1);
	assert_non_null(strstr(err.msg, "--unit UNIT"));
	assert_non_null(strstr(err.msg, "/unit"));
	assert_non_null(strstr(err.hint, "pgrefresh agent --dir"));

	snprintf(path, sizeof(path), "%s/unit", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("# this host\npg/1\n", f);
	fclose(f);
	pgr_err_clear(&err);
	assert_int_equal(unit_file_read(dir, unit, sizeof(unit), &err), 0);
	assert_string_equal(unit, "pg/1");

	f = fopen(path, "w");
	assert_non_null(f);
	fwrite("pg/1\0pg/2\n", 1, 10, f);
	fclose(f);
	pgr_err_clear(&err);
	assert_int_equal(unit_file_read(dir, unit, sizeof(unit), &err), -1);
	assert_non_null(strstr(err.msg, "NUL"));

	unlink(path);
	rmdir(dir);
}

/* One log line written with stderr on a file, JOURNAL_STREAM naming that file or not. */
static void log_line_to_file(const char *journal_stream_of, int use_own, char *line, size_t len)
{
	char path[] = "/tmp/pgr-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;
	char stream[64];
	FILE *f;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	assert_int_equal(fstat(fd, &st), 0);
	if (journal_stream_of == NULL)
		unsetenv("JOURNAL_STREAM");
	else if (use_own) {
		snprintf(stream, sizeof(stream), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		setenv("JOURNAL_STREAM", stream, 1);
	} else {
		setenv("JOURNAL_STREAM", journal_stream_of, 1);
	}
	log_setup(LOG_LEVEL_INFO, "pg/0", 1);
	log_at(LOG_LEVEL_WARN, "lease %d lost", 7);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	unsetenv("JOURNAL_STREAM");
	log_setup(LOG_LEVEL_INFO, "", 0);
	f = fopen(path, "r");
	assert_non_null(f);
	line[0] = '\0';
	assert_non_null(fgets(line, (int)len, f));
	fclose(f);
	unlink(path);
}

static void test_log_journal(void **state)
{
	char line[256];

	(void)state;
	/* stderr is the journal: "<4>" (warning), no time stamp */
	log_line_to_file("", 1, line, sizeof(line));
	assert_string_equal(line, "<4>pg/0 WARNING: lease 7 lost\n");
	/* no JOURNAL_STREAM, or one naming another file, or malformed: a time stamp, no prefix */
	log_line_to_file(NULL, 0, line, sizeof(line));
	assert_true(line[0] == '2' && line[4] == '-' && strstr(line, " pg/0 WARNING: lease 7 lost\n") != NULL);
	log_line_to_file("1:1", 0, line, sizeof(line));
	assert_true(line[0] == '2' && strstr(line, "<") == NULL);
	log_line_to_file("garbage", 0, line, sizeof(line));
	assert_true(line[0] == '2' && strstr(line, "<") == NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_read_from_dir),
		cmocka_unit_test(test_log_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
