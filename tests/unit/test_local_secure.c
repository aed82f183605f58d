/*
 * test_local_secure.c — what `cluster create --secure` writes and derives (cluster/local_secure.h), in a
 * temporary directory: the CA and certificates (verified, for the host's address), the secrets (0600, 32
 * hex digits, Patroni's "patroni:..."), pgrefresh.conf's security keys and https etcd URL, etcd's TLS
 * options, the secure parts of patroni.yml and PgBouncer's admin user; a plain cluster gets none of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/conf_security.h"
#include "cluster/local_secure.h"
#include "cluster/pki.h"
#include "util/secret.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void conf_make(cluster_conf *conf, const char *dir)
{
	memset(conf, 0, sizeof(*conf));
	snprintf(conf->dir, sizeof(conf->dir), "%s", dir);
	snprintf(conf->name, sizeof(conf->name), "pg");
	snprintf(conf->etcd, sizeof(conf->etcd), "http://127.0.0.1:2391");
	conf->local = true;
	conf->pgbouncer_count = 2;
	snprintf(conf->pgbouncers[0].admin_user, sizeof(conf->pgbouncers[0].admin_user), "postgres");
}

static void test_plain_cluster(void **state)
{
	cluster_conf conf;
	local_secure_etcd_args args;
	local_secure_patroni yml;
	char users[256] = "x";
	pgr_err err = { 0 };

	(void)state;
	conf_make(&conf, "/nonexistent");
	assert_false(local_secure_on(&conf));
	assert_string_equal(local_secure_scheme(&conf), "http");
	local_secure_etcd_args_for(&conf, &args);
	assert_int_equal(args.count, 0);
	assert_int_equal(local_secure_patroni_yml(&conf, &yml, &err), 0);
	assert_string_equal(yml.restapi, "");
	assert_string_equal(yml.etcd3, "");
	assert_string_equal(yml.ctl, "");
	assert_int_equal(local_secure_pgbouncer_users(&conf, users, sizeof(users), &err), 0);
	assert_string_equal(users, "");
	assert_int_equal(local_secure_etcd_auth(&conf, &err), 0);
}

static void test_secure_cluster(void **state)
{
	static const char *const keys[] = { "pki/ca.key", "pki/server.key", "pki/pgrefresh.key", "pki/patroni.key" };
	static const char *const secrets[] = { "etcd_root", "etcd_patroni", "etcd_pgrefresh", "pgbouncer_admin" };
	char dir[64] = "/tmp/pgr-test-secure-XXXXXX", path[PATH_MAX + 64], ca[PATH_MAX + 16], value[128];
	char users[512], expect[PATH_MAX + 128];
	cluster_conf conf;
	local_secure_etcd_args args;
	local_secure_patroni yml;
	struct stat st;
	pgr_err err = { 0 };

	(void)state;
	assert_non_null(mkdtemp(dir));
	conf_make(&conf, dir);
	if (local_secure_prepare(&conf, "198.18.0.11", &err) != 0)
		fail_msg("prepare: %s", err.msg);
	assert_true(local_secure_on(&conf));
	assert_string_equal(conf.etcd, "https://198.18.0.11:2391");
	assert_string_equal(local_secure_scheme(&conf), "https");
	assert_int_equal(conf_security_check(&conf.security, "test", &err), 0);
	assert_string_equal(conf.security.etcd_user, "pgrefresh");
	assert_string_equal(conf.security.etcd_password_secret, "etcd_pgrefresh");
	assert_string_equal(conf.security.patroni_auth_secret, "patroni_api");
	snprintf(ca, sizeof(ca), "%s/pki/ca.crt", dir);
	assert_string_equal(conf.security.etcd_ca, ca);
	assert_string_equal(conf.security.patroni_ca, ca);
	if (pki_cert_verify(ca, conf.security.etcd_cert, NULL, &err) != 0)
		fail_msg("pgrefresh's certificate: %s", err.msg);
	snprintf(path, sizeof(path), "%s/pki/server.crt", dir);
	if (pki_cert_verify(ca, path, "198.18.0.11", &err) != 0)
		fail_msg("the server certificate: %s", err.msg);
	for (size_t i = 0; i < COUNT(keys); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, keys[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
	}
	for (size_t i = 0; i < COUNT(secrets); i++) {
		if (secret_read(dir, secrets[i], value, sizeof(value), &err) != 0)
			fail_msg("secret %s: %s", secrets[i], err.msg);
		assert_int_equal(strlen(value), 32);
		assert_int_equal(strspn(value, "0123456789abcdef"), 32);
	}
	assert_int_equal(secret_read(dir, "patroni_api", value, sizeof(value), &err), 0);
	assert_int_equal(strncmp(value, "patroni:", 8), 0);
	assert_int_equal(strlen(value), 8 + 32);
	/* every pooler's admin console is pgbouncer_admin's, by its secret */
	for (int i = 0; i < conf.pgbouncer_count; i++) {
		assert_string_equal(conf.pgbouncers[i].admin_user, "pgbouncer_admin");
		assert_string_equal(conf.pgbouncers[i].secret, "pgbouncer_admin");
	}

	local_secure_etcd_args_for(&conf, &args);
	assert_int_equal(args.count, 8);
	snprintf(expect, sizeof(expect), "--trusted-ca-file=%s", ca);
	assert_string_equal(args.arg[2], expect);
	snprintf(expect, sizeof(expect), "--peer-cert-file=%s/pki/server.crt", dir);
	assert_string_equal(args.arg[3], expect);
	assert_string_equal(args.arg[6], "--client-cert-auth");
	assert_string_equal(args.arg[7], "--peer-client-cert-auth");

	assert_int_equal(local_secure_patroni_yml(&conf, &yml, &err), 0);
	assert_int_equal(secret_read(dir, "patroni_api", value, sizeof(value), &err), 0);
	snprintf(expect, sizeof(expect), "authentication: {username: patroni, password: \"%s\"}", value + 8);
	assert_non_null(strstr(yml.restapi, expect));
	snprintf(expect, sizeof(expect), ", certfile: \"%s/pki/server.crt\", keyfile: \"%s/pki/server.key\"", dir, dir);
	assert_non_null(strstr(yml.restapi, expect));
	assert_int_equal(secret_read(dir, "etcd_patroni", value, sizeof(value), &err), 0);
	snprintf(expect, sizeof(expect), ", username: \"patroni\", password: \"%s\"", value);
	assert_non_null(strstr(yml.etcd3, expect));
	snprintf(expect, sizeof(expect), "cert: \"%s/pki/patroni.crt\", key: \"%s/pki/patroni.key\"", dir, dir);
	assert_non_null(strstr(yml.etcd3, expect));
	assert_non_null(strstr(yml.etcd3, ", protocol: https, "));
	snprintf(expect, sizeof(expect), "ctl: {cacert: \"%s\"}\n", ca);
	assert_string_equal(yml.ctl, expect);

	assert_int_equal(local_secure_pgbouncer_users(&conf, users, sizeof(users), &err), 0);
	assert_int_equal(strncmp(users, "\"pgbouncer_admin\" \"SCRAM-SHA-256$4096:", 38), 0);
	assert_int_equal(secret_read(dir, "pgbouncer_admin", value, sizeof(value), &err), 0);
	assert_null(strstr(users, value)); /* the secret, never the password */
	assert_int_equal(users[strlen(users) - 1], '\n');
	/* a secret others may read is refused, naming it */
	snprintf(path, sizeof(path), "%s/secrets.d/etcd_patroni", dir);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(local_secure_patroni_yml(&conf, &yml, &err), -1);
	assert_non_null(strstr(err.msg, "secret etcd_patroni"));
	assert_int_equal(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

/* Across hosts: the CA's key and etcd's root password stay in the CLI's directory; each host gets the CA's
 * certificate, its own certificates (its address in the server's SAN, not another host's), the secrets its
 * processes share with the others and its own etcd passwords (its users patroni-hN, pgrefresh-hN), 0600;
 * its conf points at its own files and user, every etcd endpoint https. */
static void test_hosts(void **state)
{
	static const char *const absent_top[] = { "pki/server.crt", "pki/patroni.crt", "secrets.d/etcd_patroni" };
	static const char *const absent_host[] = { "pki/ca.key", "secrets.d/etcd_root" };
	static const char *const host_secrets[] = { "patroni_api", "pgbouncer_admin" };
	static const char *const own_secrets[] = { "etcd_patroni", "etcd_pgrefresh" };
	local_secure_patroni yml;
	char dir[64] = "/tmp/pgr-test-hosts-XXXXXX", path[PATH_MAX + 64], ca[PATH_MAX + 16], hca[PATH_MAX + 32];
	char a[128], b[128];
	cluster_conf *top = test_calloc(1, sizeof(*top)), *hc = test_calloc(1, sizeof(*hc));
	local_secure_etcd_args args;
	struct stat st;
	pgr_err err = { 0 };

	(void)state;
	assert_non_null(mkdtemp(dir));
	conf_make(top, dir);
	snprintf(top->etcd, sizeof(top->etcd), "http://198.18.0.18:2379,http://198.18.0.19:2379");
	/* a plain cluster of hosts (--insecure): nothing made, nothing pointed */
	*hc = *top;
	snprintf(hc->dir, sizeof(hc->dir), "%s/hosts/h1", dir);
	assert_int_equal(local_secure_host_conf(top, 1, hc, &err), 0);
	assert_false(local_secure_on(hc));
	assert_int_equal(local_secure_host_files(top, hc, "198.18.0.19", &err), 0);
	assert_int_equal(stat(hc->dir, &st), -1);

	if (local_secure_prepare_hosts(top, &err) != 0)
		fail_msg("prepare_hosts: %s", err.msg);
	assert_true(local_secure_on(top));
	assert_string_equal(top->etcd, "https://198.18.0.18:2379,https://198.18.0.19:2379");
	snprintf(ca, sizeof(ca), "%s/pki/ca.crt", dir);
	if (pki_cert_verify(ca, top->security.etcd_cert, NULL, &err) != 0)
		fail_msg("the CLI's certificate: %s", err.msg);
	for (size_t i = 0; i < COUNT(absent_top); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, absent_top[i]);
		assert_int_equal(stat(path, &st), -1);
	}

	*hc = *top;
	snprintf(hc->dir, sizeof(hc->dir), "%s/hosts/h1", dir);
	snprintf(hc->etcd, sizeof(hc->etcd), "http://198.18.0.19:2379,http://198.18.0.18:2379");
	assert_int_equal(local_secure_host_conf(top, 1, hc, &err), 0);
	assert_string_equal(hc->etcd, "https://198.18.0.19:2379,https://198.18.0.18:2379");
	assert_string_equal(hc->security.etcd_user, "pgrefresh-h1");
	assert_string_equal(hc->security.etcd_password_secret, "etcd_pgrefresh");
	snprintf(hca, sizeof(hca), "%s/pki/ca.crt", hc->dir);
	assert_string_equal(hc->security.etcd_ca, hca);
	assert_string_equal(hc->security.patroni_ca, hca);
	snprintf(path, sizeof(path), "%s/pki/pgrefresh.key", hc->dir);
	assert_string_equal(hc->security.etcd_key, path);
	if (local_secure_host_files(top, hc, "198.18.0.19", &err) != 0)
		fail_msg("host_files: %s", err.msg);
	snprintf(path, sizeof(path), "%s/pki/server.crt", hc->dir);
	if (pki_cert_verify(hca, path, "198.18.0.19", &err) != 0)
		fail_msg("the host's server certificate: %s", err.msg);
	assert_int_equal(pki_cert_verify(ca, path, "198.18.0.18", &err), -1); /* another host's address */
	for (size_t i = 0; i < COUNT(absent_host); i++) {
		snprintf(path, sizeof(path), "%s/%s", hc->dir, absent_host[i]);
		assert_int_equal(stat(path, &st), -1);
	}
	for (size_t i = 0; i < COUNT(host_secrets); i++) {
		snprintf(path, sizeof(path), "%s/secrets.d/%s", hc->dir, host_secrets[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(secret_read(dir, host_secrets[i], a, sizeof(a), &err), 0);
		assert_int_equal(secret_read(hc->dir, host_secrets[i], b, sizeof(b), &err), 0);
		assert_string_equal(a, b);
	}
	for (size_t i = 0; i < COUNT(own_secrets); i++) { /* its own: made for it, no other has them */
		char h2[PATH_MAX + 16];

		snprintf(path, sizeof(path), "%s/secrets.d/%s", hc->dir, own_secrets[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(secret_read(hc->dir, own_secrets[i], b, sizeof(b), &err), 0);
		assert_int_equal(strlen(b), 32);
		if (secret_read(dir, own_secrets[i], a, sizeof(a), &err) == 0)
			assert_string_not_equal(a, b);
		/* a second host's */
		snprintf(h2, sizeof(h2), "%s/hosts/h2", dir);
		if (i == 0) {
			cluster_conf *other = test_calloc(1, sizeof(*other));

			*other = *top;
			snprintf(other->dir, sizeof(other->dir), "%s", h2);
			assert_int_equal(local_secure_host_conf(top, 2, other, &err), 0);
			assert_string_equal(other->security.etcd_user, "pgrefresh-h2");
			if (local_secure_host_files(top, other, "198.18.0.20", &err) != 0)
				fail_msg("host_files h2: %s", err.msg);
			test_free(other);
		}
		assert_int_equal(secret_read(h2, own_secrets[i], a, sizeof(a), &err), 0);
		assert_string_not_equal(a, b);
	}
	/* its Patroni authenticates to etcd as its own user */
	if (local_secure_patroni_yml(hc, &yml, &err) != 0)
		fail_msg("patroni_yml: %s", err.msg);
	assert_non_null(strstr(yml.etcd3, "username: \"patroni-h1\", password: "));
	local_secure_etcd_args_for(hc, &args);
	snprintf(path, sizeof(path), "--cert-file=%s/pki/server.crt", hc->dir);
	assert_string_equal(args.arg[0], path);
	assert_int_equal(nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
	test_free(hc);
	test_free(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_cluster),
		cmocka_unit_test(test_secure_cluster),
		cmocka_unit_test(test_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
