/*
 * test_adopt_tags.c — an adopted unit's agent sets its Patroni tags in the user's own config (the file
 * CONFDIR/units/<member>/adopted names), keeping the rest of it and its mode; a unit that is not adopted
 * is left to the local cluster's patroni.yml.
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

#include "adopt/adopt.h"
#include "util/fileutil.h"

static void test_write_tags(void **state)
{
	char dir[] = "/tmp/pgr-test-adopt-XXXXXX", path[512], yml[512], adopted_file[512], *text = NULL;
	cluster_conf conf;
	conf_unit *unit;
	patroni_tags tags = { .replicatefrom = "node2", .nosync = true };
	bool adopted = true;
	pgr_err err;
	size_t len;
	struct stat st;
	const char *config = "scope: \"15-main\"\n# the user's comment\npostgresql:\n  bin_dir: /b\ntags:\n  nofailover: false\n";

	(void)state;
	pgr_err_clear(&err);
	assert_non_null(mkdtemp(dir));
	memset(&conf, 0, sizeof(conf));
	snprintf(conf.dir, sizeof(conf.dir), "%s", dir);
	snprintf(conf.name, sizeof(conf.name), "15_main");
	unit = &conf.units[0];
	snprintf(unit->name, sizeof(unit->name), "15_main/0");
	snprintf(unit->member, sizeof(unit->member), "node0");
	conf.unit_count = 1;

	/* not adopted: nothing done */
	assert_int_equal(adopt_unit_write_tags(&conf, unit, &tags, &adopted, &err), 0);
	assert_false(adopted);

	snprintf(yml, sizeof(yml), "%s/15-main.yml", dir);
	assert_int_equal(file_write_durable(yml, config, strlen(config), 0640, &err), 0);
	snprintf(path, sizeof(path), "%s/units/node0", dir);
	assert_int_equal(dir_make_all(path, 0755, &err), 0);
	snprintf(adopted_file, sizeof(adopted_file), "%s/units/node0/adopted", dir);
	snprintf(path, sizeof(path), "config = %s\nbackup = %s.pgrefresh-orig\nbin_dir = /b\nversion = 15.18\n", yml, yml);
	assert_int_equal(file_write_durable(adopted_file, path, strlen(path), 0644, &err), 0);

	assert_int_equal(adopt_unit_write_tags(&conf, unit, &tags, &adopted, &err), 0);
	assert_true(adopted);
	assert_int_equal(file_read_all(yml, &text, &len, &err), 0);
	assert_string_equal(text, "scope: \"15-main\"\n# the user's comment\npostgresql:\n  bin_dir: /b\n"
				  "tags: {nofailover: false, replicatefrom: \"node2\", nosync: true}\n");
	free(text);
	assert_int_equal(stat(yml, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);

	/* cleared again: only the user's tag stays */
	memset(&tags, 0, sizeof(tags));
	assert_int_equal(adopt_unit_write_tags(&conf, unit, &tags, &adopted, &err), 0);
	assert_int_equal(file_read_all(yml, &text, &len, &err), 0);
	assert_non_null(strstr(text, "tags: {nofailover: false}\n"));
	free(text);

	/* the config gone: an error naming it */
	unlink(yml);
	assert_int_not_equal(adopt_unit_write_tags(&conf, unit, &tags, &adopted, &err), 0);
	assert_non_null(strstr(err.msg, "15-main.yml"));
	assert_int_equal(dir_remove_all(dir, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_write_tags) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
