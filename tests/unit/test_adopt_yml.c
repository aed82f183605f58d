/*
 * test_adopt_yml.c — reading a Patroni config pgrefresh did not write (Debian's, from
 * pg_createconfig_patroni's template), and the two edits adopt and the agent make to it: bin_dir, tags.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt/adopt_yml.h"
#include "fixture.h"

/* the shape /etc/patroni/config.yml.in gives, values as pg_createconfig_patroni 15 main fills them */
#define DEBIAN                                                                                               \
	"scope: \"15-main\"\n"                                                                               \
	"namespace: \"/postgresql-common/\"\n"                                                               \
	"name: db1\n"                                                                                        \
	"\n"                                                                                                 \
	"etcd3:\n"                                                                                           \
	"  hosts: 127.0.0.1:2379\n"                                                                          \
	"\n"                                                                                                 \
	"restapi:\n"                                                                                         \
	"  listen: 10.0.0.5:8008\n"                                                                          \
	"  connect_address: 10.0.0.5:8008\n"                                                                 \
	"#  certfile: /etc/ssl/certs/ssl-cert-snakeoil.pem\n"                                                \
	"\n"                                                                                                 \
	"bootstrap:\n"                                                                                       \
	"  dcs:\n"                                                                                           \
	"    ttl: 30\n"                                                                                      \
	"postgresql:\n"                                                                                      \
	"  # Default Debian/Ubuntu directory layout — café\n"                                                \
	"  listen: \"*:5432\"\n"                                                                             \
	"  connect_address: 10.0.0.5:5432\n"                                                                 \
	"  data_dir: /var/lib/postgresql/15/main\n"                                                          \
	"  bin_dir: /usr/lib/postgresql/15/bin\n"                                                            \
	"  config_dir: /etc/postgresql/15/main\n"                                                            \
	"  authentication:\n"                                                                                \
	"    replication:\n"                                                                                 \
	"      username: \"replicator\"\n"                                                                   \
	"      password: \"rep-pass\"\n"                                                                     \
	"    superuser:\n"                                                                                   \
	"      username: \"postgres\"\n"                                                                     \
	"      password:\n"                                                                                  \
	"\n"                                                                                                 \
	"  parameters:\n"                                                                                    \
	"    unix_socket_directories: '/var/run/postgresql/'\n"

static void test_read_debian(void **state)
{
	adopt_patroni_conf c;
	pgr_err err;

	(void)state;
	pgr_err_clear(&err);
	assert_int_equal(adopt_yml_read(DEBIAN, "15-main.yml", &c, &err), 0);
	assert_string_equal(c.scope, "15-main");
	assert_string_equal(c.name, "db1");
	assert_string_equal(c.api_connect, "10.0.0.5:8008");
	assert_string_equal(c.etcd_hosts, "127.0.0.1:2379");
	assert_string_equal(c.etcd_protocol, "http");
	assert_string_equal(c.pg_connect, "10.0.0.5:5432");
	assert_string_equal(c.data_dir, "/var/lib/postgresql/15/main");
	assert_string_equal(c.bin_dir, "/usr/lib/postgresql/15/bin");
	assert_string_equal(c.superuser, "postgres");
	assert_string_equal(c.superuser_password, "");
	assert_false(c.api_tls);
}

static void test_read_variants(void **state)
{
	static const struct {
		const char *yml;
		const char *etcd_hosts, *api_user, *su_pw; /* NULL: refused, with this in the error: */
		const char *error;
	} cases[] = {
		{ "scope: pg\nname: a\nrestapi: {connect_address: 'h:1', authentication: {username: u, password: p}}\n"
		  "etcd3: {hosts: [a:1, b:2], username: pgr, password: s}\n"
		  "postgresql: {data_dir: /d, bin_dir: /b, authentication: {superuser: {username: su, password: x}}}\n",
		  "a:1,b:2", "u", "x", NULL },
		{ "scope: pg\nname: a\nrestapi: {connect_address: 'h:1'}\netcd: {host: 'e:2379'}\n"
		  "postgresql: {data_dir: /d, bin_dir: /b}\n",
		  "e:2379", "", "", NULL },
		{ "scope: pg\nname: a\nrestapi: {connect_address: 'h:1'}\n"
		  "postgresql: {data_dir: /d, bin_dir: /b}\n", NULL, NULL, NULL, "no etcd3" },
		{ "scope: pg\nname: a\nrestapi: {connect_address: 'h:1'}\netcd3: {hosts: 'e:1'}\n"
		  "postgresql: {data_dir: /d}\n", NULL, NULL, NULL, "no postgresql.bin_dir" },
		{ "name: a\nrestapi: {connect_address: 'h:1'}\netcd3: {hosts: 'e:1'}\n"
		  "postgresql: {data_dir: /d, bin_dir: /b}\n", NULL, NULL, NULL, "no scope" },
		{ "scope: [a, b]\n", NULL, NULL, NULL, "scope is not a single value" },
		{ "scope: pg\n  bad: : indent\n", NULL, NULL, NULL, "not YAML" },
		{ "- a list\n", NULL, NULL, NULL, "no top-level mapping" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		adopt_patroni_conf c;
		pgr_err err;
		int rc;

		pgr_err_clear(&err);
		rc = adopt_yml_read(cases[i].yml, "f.yml", &c, &err);
		if (cases[i].error == NULL) {
			assert_int_equal(rc, 0);
			assert_string_equal(c.etcd_hosts, cases[i].etcd_hosts);
			assert_string_equal(c.api_user, cases[i].api_user);
			assert_string_equal(c.superuser_password, cases[i].su_pw);
		} else {
			assert_int_not_equal(rc, 0);
			if (strstr(err.msg, cases[i].error) == NULL)
				fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].error);
		}
	}
}

static void test_set_bin_dir(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "postgresql:\n  bin_dir: /usr/lib/postgresql/15/bin\n  data_dir: /d\n",
		  "postgresql:\n  bin_dir: \"/x/units/db1/bin\"\n  data_dir: /d\n" },
		{ "# é\npostgresql:\n  # café\n  bin_dir: '/usr/lib/postgresql/15/bin'  # Debian's\n",
		  "# é\npostgresql:\n  # café\n  bin_dir: \"/x/units/db1/bin\"  # Debian's\n" },
		{ "postgresql: {data_dir: /d, bin_dir: /b}\n", "postgresql: {data_dir: /d, bin_dir: \"/x/units/db1/bin\"}\n" },
		{ "bin_dir: /top\npostgresql:\n  bin_dir: \"/b\"\n", "bin_dir: /top\npostgresql:\n  bin_dir: \"/x/units/db1/bin\"\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		pgr_err err;

		pgr_err_clear(&err);
		assert_int_equal(adopt_yml_set_bin_dir(cases[i].in, "/x/units/db1/bin", &out, &err), 0);
		assert_string_equal(out, cases[i].out);
		free(out);
	}
	{
		char *out = NULL;
		pgr_err err;

		pgr_err_clear(&err);
		assert_int_not_equal(adopt_yml_set_bin_dir("postgresql: {data_dir: /d}\n", "/b", &out, &err), 0);
		assert_null(out);
		assert_int_not_equal(adopt_yml_set_bin_dir("postgresql:\n  bin_dir: /b\n", "/b\nx", &out, &err), 0);
	}
	{
		/* the whole Debian file: only the bin_dir line changes */
		char *out = NULL;
		pgr_err err;
		adopt_patroni_conf c;
		const char *old = "  bin_dir: /usr/lib/postgresql/15/bin\n";

		pgr_err_clear(&err);
		assert_int_equal(adopt_yml_set_bin_dir(DEBIAN, "/etc/pgrefresh/15-main/units/db1/bin", &out, &err), 0);
		assert_int_equal(strlen(out), strlen(DEBIAN) - strlen(old) + strlen("  bin_dir: \"/etc/pgrefresh/15-main/units/db1/bin\"\n"));
		assert_memory_equal(out, DEBIAN, (size_t)(strstr(DEBIAN, old) - DEBIAN));
		assert_int_equal(adopt_yml_read(out, "out", &c, &err), 0);
		assert_string_equal(c.bin_dir, "/etc/pgrefresh/15-main/units/db1/bin");
		assert_string_equal(c.data_dir, "/var/lib/postgresql/15/main");
		free(out);
	}
}

static void test_set_tags(void **state)
{
	static const struct {
		const char *in, *replicatefrom;
		bool nosync;
		const char *out;
	} cases[] = {
		{ "a: 1\n", "db2", true, "a: 1\ntags: {replicatefrom: \"db2\", nosync: true}\n" },
		{ "a: 1", "", false, "a: 1\ntags: {}\n" },
		{ "tags: {}\nb: 2\n", "", true, "tags: {nosync: true}\nb: 2\n" },
		{ "tags: {nofailover: false, nosync: true}\n", "", false, "tags: {nofailover: false}\n" },
		{ "tags:\n  nofailover: false\n  replicatefrom: db3\nb: 2\n", "db2", false,
		  "tags: {nofailover: false, replicatefrom: \"db2\"}\nb: 2\n" },
		{ "x: 0\ntags:\n  clonefrom: true\n", "", true, "x: 0\ntags: {clonefrom: true, nosync: true}\n" },
		{ "tags:\nb: 2\n", "db1", false, "tags: {replicatefrom: \"db1\"}\nb: 2\n" },
		/* a block key or value holding a flow indicator stays one scalar (found by fuzz_adopt_yml) */
		{ "tags:\n  nofailover: false\n  rep,x: pg-1\n  nosync: true\n", "pg-1", true,
		  "tags: {nofailover: false, \"rep,x\": pg-1, replicatefrom: \"pg-1\", nosync: true}\n" },
		{ "tags:\n  zone: [a\n", "", false, NULL },
		{ "tags:\n  zone: {a: 1}\n", "", false, NULL }, /* the message named a freed key (fuzz_adopt_yml) */
		{ "? tags\n\nb: 2\n", "", true, NULL }, /* was spliced after "b:" (fuzz_adopt_yml) */
		{ "tags:\n  ? {a: 1}\n  b: 2\n", "", true, NULL }, /* was dropped (fuzz_adopt_yml) */
		{ "tags:\n !n\nb: 2\n", "", true, NULL }, /* "!n" was left after the new tags (fuzz_adopt_yml) */
		{ "tags:\n  zone: a]{b},c\n  'q,1': \"v,2\"\n", "", false, "tags: {zone: \"a]{b},c\", 'q,1': \"v,2\"}\n" },
		{ "tags:\n  e:\n  n: :1h\n  m&b: eu-west 1\n", "", false, "tags: {e: null, n: \":1h\", \"m&b\": eu-west 1}\n" },
		{ "tags:\r\n  a: 1\r\nb: 2\r\n", "", false, "tags: {a: 1}\r\nb: 2\r\n" },
		{ "tags:\r  a: 1\rb: 2\r", "", false, "tags: {a: 1}\rb: 2\r" }, /* was "}b: 2" (fuzz_adopt_yml) */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		pgr_err err;

		pgr_err_clear(&err);
		if (cases[i].out == NULL) { /* refused */
			assert_int_not_equal(adopt_yml_set_tags(cases[i].in, cases[i].replicatefrom, cases[i].nosync, &out, &err), 0);
			assert_true(err.msg[0] != '\0');
			continue;
		}
		if (adopt_yml_set_tags(cases[i].in, cases[i].replicatefrom, cases[i].nosync, &out, &err) != 0)
			fail_msg("case %zu: %s", i, err.msg);
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("case %zu: got\n%s\nexpected\n%s", i, out, cases[i].out);
		free(out);
	}
}

/*
 * Inputs found by fuzzing (tests/fuzz/fuzz_adopt_yml.c), kept in tests/fixtures/fuzz/adopt_yml/: the file
 * read (up to its first NUL, as the harness gives it), its tags set, and what adopt reads is the same.
 */
static void test_fuzz_fixtures(void **state)
{
	static const struct {
		const char *name;
		bool set; /* the tags can be set (else: refused, with a message) */
	} cases[] = {
		{ "tags-flow-indicator", true },
		{ "tags-message-after-free", false },
		{ "tags-plain-in-flow", true },
		{ "tags-explicit-key", false },
		{ "tags-cr-break", false }, /* a mapping as a tag's name: refused */
		{ "tags-yaml-tag", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = fixture_load("tests/fixtures/fuzz/adopt_yml", cases[i].name), *out = NULL;
		adopt_patroni_conf a, b;
		bool read;
		pgr_err err;

		pgr_err_clear(&err);
		read = adopt_yml_read(text, "f.yml", &a, &err) == 0;
		pgr_err_clear(&err);
		if (!cases[i].set) {
			if (adopt_yml_set_tags(text, "pg-1", true, &out, &err) == 0)
				fail_msg("%s: tags set", cases[i].name);
			assert_true(err.msg[0] != '\0');
			free(text);
			continue;
		}
		if (adopt_yml_set_tags(text, "pg-1", true, &out, &err) != 0)
			fail_msg("%s: %s", cases[i].name, err.msg);
		if (read) {
			if (adopt_yml_read(out, "f.yml", &b, &err) != 0)
				fail_msg("%s: with its tags set: %s\n%s", cases[i].name, err.msg, out);
			assert_string_equal(a.scope, b.scope);
			assert_string_equal(a.bin_dir, b.bin_dir);
			assert_string_equal(a.etcd_hosts, b.etcd_hosts);
		}
		free(out);
		free(text);
	}
}

static void test_split_hostport(void **state)
{
	static const struct {
		const char *in, *host;
		int port, rc;
	} cases[] = {
		{ "127.0.0.1:8008", "127.0.0.1", 8008, 0 },
		{ "db1.example:5432", "db1.example", 5432, 0 },
		{ "host", "", 0, -1 },
		{ ":80", "", 0, -1 },
		{ "h:0", "", 0, -1 },
		{ "h:x", "", 0, -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64] = "";
		int port = 0;

		assert_int_equal(adopt_split_hostport(cases[i].in, host, sizeof(host), &port), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		}
	}
}

/* The TLS and passwords of a Patroni config, in each place Patroni takes them, into pgrefresh's keys. */
#define HEAD "scope: pg\nname: a\npostgresql: {data_dir: /d, bin_dir: /b}\n"
static void test_security(void **state)
{
	static const struct {
		const char *yml;
		/* expected: etcd_ca, etcd_cert, etcd_key, etcd_user, etcd secret, patroni_ca, api secret; or error */
		const char *ca, *cert, *key, *user, *esecret, *pca, *asecret, *error;
	} cases[] = {
		/* plain: nothing */
		{ HEAD "restapi: {connect_address: 'h:1'}\netcd3: {hosts: 'e:1'}\n", "", "", "", "", "", "", "", NULL },
		/* etcd3 over https with a client certificate and a password; REST over https with authentication */
		{ HEAD "restapi: {connect_address: 'h:1', certfile: /p/api.crt, keyfile: /p/api.key, cafile: /p/ca.crt,\n"
		       "  authentication: {username: pat, password: 'a:b'}}\n"
		       "etcd3: {hosts: 'e:1', protocol: https, cacert: /p/eca.crt, cert: /p/c.crt, key: /p/c.key,\n"
		       "  username: patroni, password: sec}\n",
		  "/p/eca.crt", "/p/c.crt", "/p/c.key", "patroni", "etcd_patroni", "/p/ca.crt", "patroni_api", NULL },
		/* etcd (v2 section), https with a CA only; ctl.cacert wins over restapi.cafile */
		{ HEAD "restapi: {connect_address: 'h:1', certfile: /p/api.pem, cafile: /p/client-ca.crt}\n"
		       "ctl: {cacert: /p/ctl-ca.crt, certfile: /p/ctl.crt, keyfile: /p/ctl.key}\n"
		       "etcd: {host: 'e:1', protocol: https, cacert: /p/eca.crt}\n",
		  "/p/eca.crt", "", "", "", "", "/p/ctl-ca.crt", "", NULL },
		/* a certfile of null: plain http, and cacert of a plain-http etcd is not used */
		{ HEAD "restapi: {connect_address: 'h:1', certfile: null}\netcd3: {hosts: 'e:1', cacert: /p/x}\n", "", "",
		  "", "", "", "", "", NULL },
		/* etcd password over http: pgrefresh sends it as Patroni does */
		{ HEAD "restapi: {connect_address: 'h:1'}\netcd3: {hosts: 'e:1', username: u, password: p}\n", "", "", "",
		  "u", "etcd_patroni", "", "", NULL },
		/* refusals, each naming the key */
		{ HEAD "restapi: {connect_address: 'h:1', certfile: /p/api.pem}\netcd3: {hosts: 'e:1'}\n", NULL, NULL,
		  NULL, NULL, NULL, NULL, NULL, "no CA is named" },
		{ HEAD "restapi: {connect_address: 'h:1', certfile: /p/a, cafile: /p/ca, verify_client: required}\n"
		       "etcd3: {hosts: 'e:1'}\n",
		  NULL, NULL, NULL, NULL, NULL, NULL, NULL, "verify_client is required" },
		{ HEAD "restapi: {connect_address: 'h:1', certfile: /p/a, cafile: /p/ca, verify_client: optional}\n"
		       "etcd3: {hosts: 'e:1'}\n",
		  NULL, NULL, NULL, NULL, NULL, NULL, NULL, "verify_client is optional" },
		{ HEAD "restapi: {connect_address: 'h:1', authentication: {username: u, password: p}}\n"
		       "etcd3: {hosts: 'e:1'}\n",
		  NULL, NULL, NULL, NULL, NULL, NULL, NULL, "restapi.authentication over plain http" },
		{ HEAD "restapi: {connect_address: 'h:1', certfile: /a, cafile: /c, authentication: {username: u}}\n"
		       "etcd3: {hosts: 'e:1'}\n",
		  NULL, NULL, NULL, NULL, NULL, NULL, NULL, "has a username but no password" },
		{ HEAD "restapi: {connect_address: 'h:1'}\netcd3: {hosts: 'e:1', username: u}\n", NULL, NULL, NULL, NULL,
		  NULL, NULL, NULL, "etcd username is set without etcd password" },
		{ HEAD "restapi: {connect_address: 'h:1'}\netcd3: {hosts: 'e:1', protocol: https, cert: /c}\n", NULL,
		  NULL, NULL, NULL, NULL, NULL, NULL, "etcd cert is set without etcd key" },
		{ HEAD "restapi: {connect_address: 'h:1'}\netcd3: {hosts: 'e:1', protocol: ftp}\n", NULL, NULL, NULL,
		  NULL, NULL, NULL, NULL, "etcd protocol \"ftp\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		adopt_patroni_conf c;
		conf_security sec;
		pgr_err err;
		int rc;

		pgr_err_clear(&err);
		if (adopt_yml_read(cases[i].yml, "f.yml", &c, &err) != 0)
			fail_msg("case %zu: %s", i, err.msg);
		rc = adopt_yml_security(&c, &sec, &err);
		if (cases[i].error != NULL) {
			assert_int_not_equal(rc, 0);
			if (strstr(err.msg, cases[i].error) == NULL)
				fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].error);
			/* the error never holds a password */
			assert_null(strstr(err.msg, "password: p"));
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu: %s", i, err.msg);
		assert_string_equal(sec.etcd_ca, cases[i].ca);
		assert_string_equal(sec.etcd_cert, cases[i].cert);
		assert_string_equal(sec.etcd_key, cases[i].key);
		assert_string_equal(sec.etcd_user, cases[i].user);
		assert_string_equal(sec.etcd_password_secret, cases[i].esecret);
		assert_string_equal(sec.patroni_ca, cases[i].pca);
		assert_string_equal(sec.patroni_auth_secret, cases[i].asecret);
	}
}

/* What the parser reads of each TLS/auth place, as written. */
static void test_read_tls_fields(void **state)
{
	adopt_patroni_conf c;
	pgr_err err;

	(void)state;
	pgr_err_clear(&err);
	assert_int_equal(adopt_yml_read(HEAD "restapi:\n  connect_address: h:1\n  certfile: /p/api.crt\n"
					      "  keyfile: /p/api.key\n  cafile: /p/ca.crt\n  verify_client: optional\n"
					      "  authentication:\n    username: pat\n    password: \"s:e c\"\n"
					      "ctl:\n  cacert: /p/ctl.crt\n  certfile: /p/c.crt\n  keyfile: /p/c.key\n"
					      "etcd3:\n  hosts: [e:1]\n  protocol: https\n  cacert: /p/e.crt\n"
					      "  cert: /p/ec.crt\n  key: /p/ec.key\n  username: u\n  password: 'pw'\n",
					 "f.yml", &c, &err),
			 0);
	assert_true(c.api_tls);
	assert_string_equal(c.api_cafile, "/p/ca.crt");
	assert_string_equal(c.api_verify_client, "optional");
	assert_string_equal(c.api_user, "pat");
	assert_string_equal(c.api_password, "s:e c");
	assert_string_equal(c.ctl_cacert, "/p/ctl.crt");
	assert_string_equal(c.ctl_certfile, "/p/c.crt");
	assert_string_equal(c.ctl_keyfile, "/p/c.key");
	assert_string_equal(c.etcd_protocol, "https");
	assert_string_equal(c.etcd_cacert, "/p/e.crt");
	assert_string_equal(c.etcd_cert, "/p/ec.crt");
	assert_string_equal(c.etcd_key, "/p/ec.key");
	assert_string_equal(c.etcd_user, "u");
	assert_string_equal(c.etcd_password, "pw");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_debian),   cmocka_unit_test(test_read_variants),
		cmocka_unit_test(test_set_bin_dir),   cmocka_unit_test(test_set_tags),
		cmocka_unit_test(test_split_hostport), cmocka_unit_test(test_fuzz_fixtures),
		cmocka_unit_test(test_security),      cmocka_unit_test(test_read_tls_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
