/*
 * test_backup_check.c — the backup checks of refresh/backup_check.h: pgBackRest's `info --output=json`
 * parsed from real outputs (tests/fixtures/pgbackrest, made by its capture script: no backup, full, diff
 * and incr backups, a backup running, a damaged stanza, several stanzas, a stanza that does not exist),
 * the row of pg_stat_archiver, and both verdicts (wal-archiving, backup), one case a line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fixture.h"
#include "refresh/backup_check.h"

#define FIXTURES "tests/fixtures/pgbackrest"

/* ---- pgBackRest's info ---- */

static const struct {
	const char *file;
	const char *stanza;   /* asked for; NULL: the only one listed */
	int rc;               /* backup_info_parse's */
	int status_code;
	bool running;
	int full_count;
	const char *last_full_suffix; /* the label's end: F full, D diff, I incr */
	const char *last_type;
	const char *stanzas;
} info_cases[] = {
	{ "info-full.json", "pg", 0, 0, false, 1, "F", "full", "pg" },
	{ "info-full.json", NULL, 0, 0, false, 1, "F", "full", "pg" },
	{ "info-full-diff-incr.json", "pg", 0, 0, false, 1, "F", "incr", "pg" },
	{ "info-two-full-incr.json", "pg", 0, 0, false, 2, "F", "full", "pg" },
	{ "info-no-backup.json", "pg", 0, 2, false, 0, "", "", "pg" },
	{ "info-backup-running.json", "pg", 0, 0, true, 2, "F", "full", "pg" },
	{ "info-missing-stanza.json", "nosuch", 0, 1, false, 0, "", "", "nosuch" },
	{ "info-missing-stanza.json", "pg", 1, 0, false, 0, "", "", "nosuch" },
	{ "info-error.json", "other", 0, 3, false, 0, "", "", "other" },
	{ "info-several-stanzas.json", "pg", 0, 0, false, 3, "F", "full", "other, pg" },
	{ "info-several-stanzas.json", "other", 0, 0, false, 1, "F", "full", "other, pg" },
	{ "info-several-stanzas.json", NULL, 1, 0, false, 0, "", "", "other, pg" }, /* which one? none taken */
	{ "info-several-stanzas.json", "main", 1, 0, false, 0, "", "", "other, pg" },
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_info_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(info_cases) / sizeof(info_cases[0]); i++) {
		char *json = fixture_load(FIXTURES, info_cases[i].file);
		backup_info info;
		pgr_err err = { 0 };
		int rc = backup_info_parse(json, info_cases[i].stanza, &info, &err);

		if (rc != info_cases[i].rc)
			fail_msg("%s [%s]: rc %d, expected %d (%s)", info_cases[i].file, info_cases[i].stanza, rc,
				 info_cases[i].rc, err.msg);
		assert_string_equal(info.stanzas, info_cases[i].stanzas);
		if (rc == 0) {
			if (info.status_code != info_cases[i].status_code || info.backup_running != info_cases[i].running ||
			    info.full_count != info_cases[i].full_count || strcmp(info.last_type, info_cases[i].last_type) != 0 ||
			    !ends_with(info.last_full_label, info_cases[i].last_full_suffix))
				fail_msg("%s [%s]: code %d running %d full %d last %s (%s) full label %s", info_cases[i].file,
					 info_cases[i].stanza, info.status_code, info.backup_running, info.full_count,
					 info.last_label, info.last_type, info.last_full_label);
			assert_true(info.status_message[0] != '\0');
			/* a full backup ends before any backup made after it */
			if (info.full_count > 0) {
				assert_true(info.last_full_stop > 1600000000);
				assert_true(info.last_stop >= info.last_full_stop);
			} else {
				assert_int_equal(info.last_full_stop, 0);
				assert_string_equal(info.last_full_label, "");
			}
		}
		free(json);
	}
}

/* The newest full backup is the one with the latest end, whatever the order of the list. */
static void test_info_newest_full(void **state)
{
	char *json = fixture_load(FIXTURES, "info-two-full-incr.json");
	backup_info info;
	pgr_err err;
	int64_t stops[8];
	char labels[8][64];
	int n = 0;

	(void)state;
	assert_int_equal(backup_info_parse(json, "pg", &info, &err), 0);
	/* every full backup of the file, read with jansson here, independently of the parser */
	{
		json_error_t jerr;
		json_t *root = json_loads(json, 0, &jerr), *b;
		size_t i;

		assert_non_null(root);
		json_array_foreach(json_object_get(json_array_get(root, 0), "backup"), i, b)
		{
			if (strcmp(json_string_value(json_object_get(b, "type")), "full") != 0 || n >= 8)
				continue;
			stops[n] = json_integer_value(json_object_get(json_object_get(b, "timestamp"), "stop"));
			snprintf(labels[n], sizeof(labels[n]), "%s", json_string_value(json_object_get(b, "label")));
			n++;
		}
		json_decref(root);
	}
	assert_int_equal(n, 2);
	assert_int_equal(info.full_count, 2);
	assert_int_equal(info.last_full_stop, stops[0] > stops[1] ? stops[0] : stops[1]);
	assert_string_equal(info.last_full_label, stops[0] > stops[1] ? labels[0] : labels[1]);
	free(json);
}

static const struct {
	const char *json;
	int rc;
	const char *msg_has;
} bad_info_cases[] = {
	{ "", -1, "not JSON" },
	{ "not json", -1, "not JSON" },
	{ "{}", -1, "list of stanzas" },
	{ "[{\"status\":{\"code\":0}}]", -1, "no name" },
	{ "[{\"name\":\"pg\"}]", -1, "no status code" },
	{ "[{\"name\":\"pg\",\"status\":{\"code\":\"0\"}}]", -1, "no status code" },
	{ "[]", 1, NULL },
	{ "[{\"name\":\"pg\",\"status\":{\"code\":0,\"message\":\"ok\"},\"backup\":[{\"type\":\"full\"}]}]", 0, NULL },
	/* a backup pgBackRest found damaged is no backup */
	{ "[{\"name\":\"pg\",\"status\":{\"code\":0,\"message\":\"ok\"},\"backup\":[{\"type\":\"full\",\"error\":true,"
	  "\"label\":\"X\",\"timestamp\":{\"stop\":1700000000}}]}]",
	  0, NULL },
};

static void test_info_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_info_cases) / sizeof(bad_info_cases[0]); i++) {
		backup_info info;
		pgr_err err = { 0 };
		int rc = backup_info_parse(bad_info_cases[i].json, "pg", &info, &err);

		if (rc != bad_info_cases[i].rc)
			fail_msg("case %zu: rc %d, expected %d (%s)", i, rc, bad_info_cases[i].rc, err.msg);
		if (bad_info_cases[i].msg_has != NULL && strstr(err.msg, bad_info_cases[i].msg_has) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.msg, bad_info_cases[i].msg_has);
		if (rc == 0)
			assert_int_equal(info.last_full_stop, 0); /* neither a full backup without an end, nor a damaged one */
	}
}

/* ---- pg_stat_archiver ---- */

static const struct {
	const char *row;
	int rc;
	const char *mode;
	int64_t archived, last_archived_time, failed, last_failed_time, now;
	const char *wal;
} row_cases[] = {
	{ "on|12|00000001000000000000000C|1700000000|0||0|1700000100", 0, "on", 12, 1700000000, 0, 0, 1700000100,
	  "00000001000000000000000C" },
	{ "off|0||0|0||0|1700000100", 0, "off", 0, 0, 0, 0, 1700000100, "" },
	{ "always|3|000000010000000000000003|1700000000|7|000000010000000000000004|1700000050|1700000100", 0, "always", 3,
	  1700000000, 7, 1700000050, 1700000100, "000000010000000000000003" },
	{ "on|1|2|3", -1, NULL, 0, 0, 0, 0, 0, NULL },
	{ "on|1|2|3|4|5|6|7|8", -1, NULL, 0, 0, 0, 0, 0, NULL },
	{ "", -1, NULL, 0, 0, 0, 0, 0, NULL },
};

static void test_archiver_row(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(row_cases) / sizeof(row_cases[0]); i++) {
		archiver_sample s;
		pgr_err err = { 0 };
		int rc = backup_archiver_parse(row_cases[i].row, &s, &err);

		if (rc != row_cases[i].rc)
			fail_msg("row \"%s\": rc %d (%s)", row_cases[i].row, rc, err.msg);
		if (rc != 0) {
			assert_non_null(strstr(err.msg, "pg_stat_archiver"));
			continue;
		}
		assert_string_equal(s.archive_mode, row_cases[i].mode);
		assert_int_equal(s.archived_count, row_cases[i].archived);
		assert_int_equal(s.last_archived_time, row_cases[i].last_archived_time);
		assert_int_equal(s.failed_count, row_cases[i].failed);
		assert_int_equal(s.last_failed_time, row_cases[i].last_failed_time);
		assert_int_equal(s.now, row_cases[i].now);
		assert_string_equal(s.last_archived_wal, row_cases[i].wal);
	}
}

/* ---- the verdicts ---- */

#define NOW 1700100000

static const struct {
	const char *first;  /* NULL: one sample */
	const char *second;
	int require_hours;
	check_verdict verdict;
	const char *detail_has;
} archiver_cases[] = {
	{ NULL, "off|0||0|0||0|1700100000", 0, CHECK_PASS, "archive_mode is off" },
	{ NULL, "off|0||0|0||0|1700100000", 24, CHECK_FAIL, "require-backup-within-hours=24" },
	{ NULL, "on|0||0|0||0|1700100000", 0, CHECK_PASS, "no segment archived yet" },
	{ NULL, "on|0||0|0||0|1700100000", 24, CHECK_PASS, "no segment archived yet" },
	{ NULL, "on|12|00000001000000000000000C|1700099880|0||0|1700100000", 0, CHECK_PASS, "the last (00000001000000000000000C) 2 min ago" },
	{ NULL, "always|12|00000001000000000000000C|1700099880|0||0|1700100000", 24, CHECK_PASS, "12 segment(s) archived" },
	/* an old failure, archived since: fine */
	{ NULL, "on|12|00000001000000000000000C|1700099880|2|00000001000000000000000A|1700090000|1700100000", 0, CHECK_PASS,
	  "2 failure(s), none since" },
	/* the last failure is newer than the last success */
	{ NULL, "on|12|00000001000000000000000C|1700090000|2|00000001000000000000000D|1700099880|1700100000", 0, CHECK_FAIL,
	  "the last on 00000001000000000000000D 2 min ago, the last success 2 h 46 min ago" },
	{ NULL, "on|0||0|5|000000010000000000000001|1700099990|1700100000", 0, CHECK_FAIL, "no segment archived yet" },
	/* failures growing between the samples, though an earlier success came after an earlier failure */
	{ "on|12|00000001000000000000000C|1700099990|2|00000001000000000000000D|1700099000|1700099998",
	  "on|12|00000001000000000000000C|1700099990|3|00000001000000000000000D|1700099999|1700100000", 0, CHECK_FAIL,
	  "one more while checked" },
	{ "on|12|00000001000000000000000C|1700099990|2|00000001000000000000000D|1700099000|1700099998",
	  "on|13|00000001000000000000000D|1700099999|4|00000001000000000000000D|1700099995|1700100000", 0, CHECK_FAIL,
	  "more while checked" },
	{ "on|12|00000001000000000000000C|1700099990|2|00000001000000000000000B|1700099000|1700099998",
	  "on|13|00000001000000000000000D|1700099999|2|00000001000000000000000B|1700099000|1700100000", 0, CHECK_PASS,
	  "13 segment(s) archived, the last (00000001000000000000000D) 1 s ago" },
};

static void test_archiver_verdicts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(archiver_cases) / sizeof(archiver_cases[0]); i++) {
		archiver_sample a, b;
		check_report r;
		pgr_err err;

		memset(&r, 0, sizeof(r));
		assert_int_equal(backup_archiver_parse(archiver_cases[i].second, &b, &err), 0);
		if (archiver_cases[i].first != NULL)
			assert_int_equal(backup_archiver_parse(archiver_cases[i].first, &a, &err), 0);
		backup_judge_archiver(archiver_cases[i].first ? &a : NULL, &b, archiver_cases[i].require_hours, &r);
		assert_int_equal(r.count, 1);
		assert_string_equal(r.results[0].name, "wal-archiving");
		assert_int_equal(r.results[0].group, CHECK_BACKUP);
		if (r.results[0].verdict != archiver_cases[i].verdict || strstr(r.results[0].detail, archiver_cases[i].detail_has) == NULL)
			fail_msg("case %zu: verdict %d, detail \"%s\" (expected %d, \"%s\")", i, r.results[0].verdict,
				 r.results[0].detail, archiver_cases[i].verdict, archiver_cases[i].detail_has);
	}
}

#define TAKE "pgbackrest --stanza=pg backup --type=full"

static const struct {
	int64_t full_stop;     /* the last full backup's end; 0: none */
	int full_count;
	int status_code;
	bool running;
	bool have_info;        /* false: why_missing */
	int require_hours;
	check_verdict verdict;
	const char *detail_has;
	bool names_command;
} backup_cases[] = {
	{ NOW - 3600, 1, 0, false, true, 0, CHECK_PASS, "last full backup 20261129-221000F (stanza pg) is 1 h 0 min old (no limit set)", false },
	{ NOW - 3600, 1, 0, false, true, 24, CHECK_PASS, "is 1 h 0 min old (limit 24 h)", false },
	{ NOW - 24 * 3600, 1, 0, false, true, 24, CHECK_PASS, "is 1 d 0 h old (limit 24 h)", false },
	{ NOW - 24 * 3600 - 1, 2, 0, false, true, 24, CHECK_FAIL, "last full backup 20261129-221000F is 1 d 0 h old, over require-backup-within-hours=24: take one: `", true },
	{ NOW - 3 * 3600 - 120, 1, 0, false, true, 1, CHECK_FAIL, "is 3 h 2 min old, over require-backup-within-hours=1", true },
	{ NOW - 90 * 86400, 1, 0, false, true, 0, CHECK_PASS, "is 90 d 0 h old (no limit set)", false },
	{ 0, 0, 2, false, true, 0, CHECK_PASS, "has no full backup yet (no limit set)", false },
	{ 0, 0, 2, false, true, 24, CHECK_FAIL, "stanza pg has no full backup, require-backup-within-hours=24: take one: `", true },
	{ 0, 0, 0, false, true, 24, CHECK_FAIL, "stanza pg has no full backup, require-backup-within-hours=24: take one: `", true }, /* only diff/incr left */
	{ NOW - 60, 1, 0, true, true, 0, CHECK_FAIL, "backup of stanza pg is running", false },
	{ 0, 0, 1, false, true, 0, CHECK_PASS, "no backup to report: stanza pg: missing stanza path (information)", false },
	{ 0, 0, 1, false, true, 24, CHECK_FAIL, "no full backup (stanza pg: missing stanza path), require-backup-within-hours=24: take one: `", true },
	{ 0, 0, 3, false, true, 24, CHECK_FAIL, "(stanza pg: missing stanza data)", true },
	{ 0, 0, 0, false, false, 0, CHECK_PASS, "no backup to report: pgBackRest is not installed", false },
	{ 0, 0, 0, false, false, 12, CHECK_FAIL, "no full backup (pgBackRest is not installed), require-backup-within-hours=12", true },
};

static void test_backup_verdicts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(backup_cases) / sizeof(backup_cases[0]); i++) {
		backup_info info;
		check_report r;

		memset(&r, 0, sizeof(r));
		memset(&info, 0, sizeof(info));
		snprintf(info.stanza, sizeof(info.stanza), "pg");
		info.status_code = backup_cases[i].status_code;
		snprintf(info.status_message, sizeof(info.status_message), "%s",
			 info.status_code == 1 ? "missing stanza path" : info.status_code == 3 ? "missing stanza data" : "ok");
		info.backup_running = backup_cases[i].running;
		info.full_count = backup_cases[i].full_count;
		info.last_full_stop = backup_cases[i].full_stop;
		snprintf(info.last_full_label, sizeof(info.last_full_label), "%s", info.full_count ? "20261129-221000F" : "");
		backup_judge_backup(backup_cases[i].have_info ? &info : NULL, "pgBackRest is not installed",
				    backup_cases[i].require_hours, NOW, TAKE, &r);
		assert_int_equal(r.count, 1);
		assert_string_equal(r.results[0].name, "backup");
		assert_int_equal(r.results[0].group, CHECK_BACKUP);
		if (r.results[0].verdict != backup_cases[i].verdict || strstr(r.results[0].detail, backup_cases[i].detail_has) == NULL)
			fail_msg("case %zu: verdict %d, detail \"%s\" (expected %d, \"%s\")", i, r.results[0].verdict,
				 r.results[0].detail, backup_cases[i].verdict, backup_cases[i].detail_has);
		if ((strstr(r.results[0].detail, TAKE) != NULL) != backup_cases[i].names_command)
			fail_msg("case %zu: the command to take a backup %s in \"%s\"", i,
				 backup_cases[i].names_command ? "missing" : "unexpected", r.results[0].detail);
	}
}

static const struct {
	int64_t s;
	const char *text;
} age_cases[] = {
	{ -5, "0 s" }, { 0, "0 s" }, { 59, "59 s" }, { 60, "1 min" }, { 3599, "59 min" }, { 3600, "1 h 0 min" },
	{ 7322, "2 h 2 min" }, { 86399, "23 h 59 min" }, { 86400, "1 d 0 h" }, { 90061, "1 d 1 h" },
};

static void test_age_text(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(age_cases) / sizeof(age_cases[0]); i++) {
		char buf[32];

		backup_age_text(age_cases[i].s, buf, sizeof(buf));
		assert_string_equal(buf, age_cases[i].text);
	}
}

static void test_take_command(void **state)
{
	cluster_conf conf;
	char buf[PATH_MAX + 96];

	(void)state;
	memset(&conf, 0, sizeof(conf));
	snprintf(conf.name, sizeof(conf.name), "pg");
	backup_take_command(&conf, buf, sizeof(buf));
	assert_string_equal(buf, "pgbackrest --stanza=pg backup --type=full");
	snprintf(conf.pgbackrest_config, sizeof(conf.pgbackrest_config), "/tmp/c/pgbackrest/pgbackrest.conf");
	snprintf(conf.pgbackrest_stanza, sizeof(conf.pgbackrest_stanza), "main");
	backup_take_command(&conf, buf, sizeof(buf));
	assert_string_equal(buf, "pgbackrest --config=/tmp/c/pgbackrest/pgbackrest.conf --stanza=main backup --type=full");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_info_fixtures),   cmocka_unit_test(test_info_newest_full),
		cmocka_unit_test(test_info_bad),        cmocka_unit_test(test_archiver_row),
		cmocka_unit_test(test_archiver_verdicts), cmocka_unit_test(test_backup_verdicts),
		cmocka_unit_test(test_age_text),        cmocka_unit_test(test_take_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
