/*
 * test_pooler.c — the pooler interface (pooler/pooler.h) where it is pure: the table of kinds, and a
 * pooler opened from the cluster's record (its config path, admin user, the password read from the
 * secret it names, and wiped on close). What goes over the wire is tested on a real PgBouncer
 * (tests/integration/test_pg_live.c, t_55, t_58).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pooler/pooler.h"

static void test_kinds(void **state)
{
	const pooler_ops *ops = pooler_ops_for("pgbouncer");

	(void)state;
	assert_non_null(ops);
	assert_string_equal(ops->kind, "pgbouncer");
	assert_non_null(ops->pause);
	assert_non_null(ops->resume);
	assert_non_null(ops->repoint);
	assert_non_null(ops->check_target);
	assert_ptr_equal(pooler_ops_for(""), ops); /* the default kind */
	assert_null(pooler_ops_for("odyssey"));
	assert_null(pooler_ops_for("PgBouncer"));
}

#define CONF_TEXT                                                                                          \
	"[cluster]\nname = pg\netcd = http://127.0.0.1:2379\ncatalog = /c\nsuperuser = admin\n"             \
	"[pooler edge]\nadmin = 198.18.0.2:6432\nadmin_user = pgb\nsecret = edge-pw\nhost = 198.18.0.12\n"  \
	"config = /etc/pgbouncer/pgbouncer.ini\n"                                                          \
	"[pooler local]\nadmin = 127.0.0.1:6433\n"

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_open(void **state)
{
	char dir[] = "/tmp/pgr-pooler-XXXXXX", path[256];
	cluster_conf conf;
	pooler p;
	pgr_err err;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(conf_parse(CONF_TEXT, "t.conf", &conf, &err), 0);
	snprintf(conf.dir, sizeof(conf.dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/secrets", dir);
	write_file(path, "superuser_password = su-pw\n", 0600);
	snprintf(path, sizeof(path), "%s/secrets.d", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/secrets.d/edge-pw", dir);
	write_file(path, "edge-secret\n", 0600);

	assert_int_equal(pooler_open(&conf, 0, &p, &err), 0);
	assert_string_equal(p.ops->kind, "pgbouncer");
	assert_string_equal(p.name, "edge");
	assert_string_equal(p.host, "198.18.0.2");
	assert_int_equal(p.port, 6432);
	assert_string_equal(p.config_host, "198.18.0.12");
	assert_string_equal(p.config, "/etc/pgbouncer/pgbouncer.ini");
	assert_string_equal(p.admin_user, "pgb");
	assert_string_equal(p.password, "edge-secret");
	pooler_close(&p);
	assert_string_equal(p.password, "");

	/* the defaults: the superuser and its password, the local cluster's file, the admin address's host */
	assert_int_equal(pooler_open(&conf, 1, &p, &err), 0);
	assert_string_equal(p.admin_user, "admin");
	assert_string_equal(p.password, "su-pw");
	assert_string_equal(p.config_host, "127.0.0.1");
	snprintf(path, sizeof(path), "%s/pgbouncer-1/pgbouncer.ini", dir);
	assert_string_equal(p.config, path);
	pooler_close(&p);

	/* no such pooler; a secret that cannot be read: an error naming the pooler, never the password */
	assert_int_equal(pooler_open(&conf, 2, &p, &err), -1);
	assert_non_null(strstr(err.msg, "no pooler number 2"));
	snprintf(path, sizeof(path), "%s/secrets.d/edge-pw", dir);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(pooler_open(&conf, 0, &p, &err), -1);
	assert_non_null(strstr(err.msg, "pooler edge: "));
	assert_non_null(strstr(err.msg, "by group or others"));
	assert_null(strstr(err.msg, "edge-secret"));
	assert_string_equal(p.password, "");

	unlink(path);
	snprintf(path, sizeof(path), "%s/secrets.d", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/secrets", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
