/*
 * test_etcd_auth.c — the pure parts of pgrefresh's etcd security: the /v3/auth/authenticate request and
 * the token of its reply (tests/fixtures/etcd/auth_*, malformed_auth_*), the etcd client's TLS and auth
 * settings, and pgrefresh.conf's security keys (cluster/conf_security.h): hostile values, keys that go
 * together, formatting back, secrets of secrets.d (missing, group/world-readable, empty), and a missing
 * TLS file named before any request.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/conf.h"
#include "cluster/conf_security.h"
#include "etcd/etcd.h"
#include "etcd/etcd_parse.h"
#include "util/secret.h"

#define FIXTURES "tests/fixtures/etcd/"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char *fixture(const char *name)
{
	char path[256];
	FILE *f;
	long len;
	char *buf;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open fixture %s (run from the project root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	assert_true(len >= 0);
	rewind(f);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static void assert_err_contains(const pgr_err *err, const char *needle)
{
	if (needle != NULL && strstr(err->msg, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err->msg, needle);
}

static void test_auth_token(void **state)
{
	static const struct {
		const char *file;
		size_t room;
		const char *token; /* NULL: refused */
		const char *error;
	} cases[] = {
		{ "auth_authenticate.json", 512, "PrMrWfKMsJTMlePz.17", NULL },
		{ "auth_authenticate.json", 10, NULL, "longer than 9 bytes" },
		{ "error_auth_failed.json", 512, NULL, "authentication failed" },
		{ "malformed_auth_no_token.json", 512, NULL, "no \"token\"" },
		{ "malformed_auth_token_crlf.json", 512, NULL, "cannot go in a header" },
		{ "malformed_auth_token_number.json", 512, NULL, "not a string" },
		{ "not_json.txt", 512, NULL, "etcd authenticate reply" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *body = fixture(cases[i].file);
		char token[512] = "unchanged";
		pgr_err err = { 0 };
		int rc = etcd_parse_auth_token(body, token, cases[i].room, &err);

		if (cases[i].token != NULL) {
			if (rc != 0)
				fail_msg("%s: %s", cases[i].file, err.msg);
			assert_string_equal(token, cases[i].token);
		} else {
			if (rc == 0)
				fail_msg("%s: accepted, token \"%s\"", cases[i].file, token);
			assert_string_equal(token, "");
			assert_err_contains(&err, cases[i].error);
		}
		free(body);
	}
}

static void test_build_auth(void **state)
{
	char *body = NULL;
	pgr_err err = { 0 };

	(void)state;
	assert_int_equal(etcd_build_auth("pgrefresh", "p\"w\\d\n", &body, &err), 0);
	assert_string_equal(body, "{\"name\":\"pgrefresh\",\"password\":\"p\\\"w\\\\d\\n\"}");
	free(body);
}

static void test_client_settings(void **state)
{
	etcd_client c;
	pgr_err err = { 0 };
	char long_path[400];

	(void)state;
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(etcd_client_init(&c, "https://127.0.0.1:2379", &err), 0);
	assert_int_equal(etcd_client_set_tls(&c, "/ca.crt", "/c.crt", "/c.key", &err), 0);
	assert_string_equal(c.ca_file, "/ca.crt");
	assert_int_not_equal(etcd_client_set_tls(&c, "/ca.crt", "/c.crt", NULL, &err), 0);
	assert_err_contains(&err, "go together");
	assert_int_not_equal(etcd_client_set_tls(&c, long_path, NULL, NULL, &err), 0);
	assert_err_contains(&err, "too long");
	assert_int_equal(etcd_client_set_auth(&c, "pgrefresh", "secret", &err), 0);
	assert_string_equal(c.user, "pgrefresh");
	assert_int_not_equal(etcd_client_set_auth(&c, "pgrefresh", "", &err), 0);
	assert_err_contains(&err, "password of user pgrefresh is empty");
	assert_int_not_equal(etcd_client_set_auth(&c, "", "x", &err), 0);
	assert_int_not_equal(etcd_client_set_auth(&c, "u", long_path, &err), 0);
	assert_err_contains(&err, "too long");
	assert_null(strstr(err.msg, "aaaa"));
}

#define CONF_HEAD "[cluster]\nname = pg\netcd = https://127.0.0.1:2379\ncatalog = /c\n"

static void test_conf_security_keys(void **state)
{
	static const struct {
		const char *extra;
		const char *error; /* NULL: accepted */
	} cases[] = {
		{ "", NULL },
		{ "etcd_ca = /etc/pgr/ca.crt\netcd_cert = /etc/pgr/c.crt\netcd_key = /etc/pgr/c.key\n"
		  "etcd_user = pgrefresh\netcd_password_secret = etcd-pgrefresh\n",
		  NULL },
		{ "patroni_ca = /etc/pgr/ca.crt\n", NULL },
		{ "patroni_ca = /etc/pgr/ca.crt\npatroni_auth_secret = patroni.api\n", NULL },
		{ "patroni_auth_secret = patroni.api\n", "patroni_auth_secret needs patroni_ca" },
		{ "etcd_ca = ca.crt\n", ":5: etcd_ca must be an absolute path" },
		{ "etcd_ca = \n", ":5: etcd_ca must be an absolute path" },
		{ "etcd_cert = /c.crt\n", "etcd_cert and etcd_key go together (etcd_cert given alone)" },
		{ "etcd_key = /c.key\n", "etcd_cert and etcd_key go together (etcd_key given alone)" },
		{ "etcd_user = pgrefresh\n", "etcd_user and etcd_password_secret go together" },
		{ "etcd_password_secret = s\n", "(etcd_password_secret given alone)" },
		{ "etcd_user = root;rm -rf\netcd_password_secret = s\n", ":5: etcd_user \"root;rm -rf\" is not a user name" },
		{ "etcd_user = pg\netcd_password_secret = ../../etc/shadow\n", ":6: etcd_password_secret must name a file" },
		{ "etcd_user = pg\netcd_password_secret = .hidden\n", "must name a file of secrets.d" },
		{ "patroni_auth_secret = a/b\n", ":5: patroni_auth_secret must name a file" },
		{ "patroni_ca = /a\x01b\n", ":5: patroni_ca must be an absolute path" },
		{ "etcd_user = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", "longer than 63 bytes" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char text[1024];
		cluster_conf conf, back;
		pgr_err err = { 0 };
		char buf[8192];

		snprintf(text, sizeof(text), CONF_HEAD "%s", cases[i].extra);
		if (cases[i].error == NULL) {
			if (conf_parse(text, "t.conf", &conf, &err) != 0)
				fail_msg("case %zu: %s", i, err.msg);
			assert_int_equal(conf_format(&conf, buf, sizeof(buf), &err), 0);
			assert_int_equal(conf_parse(buf, "back", &back, &err), 0);
			assert_memory_equal(&conf.security, &back.security, sizeof(conf.security));
			if (cases[i].extra[0] == '\0')
				assert_null(strstr(buf, "etcd_ca"));
			else /* formatted in the order the cases give them */
				assert_non_null(strstr(buf, cases[i].extra));
		} else {
			if (conf_parse(text, "t.conf", &conf, &err) == 0)
				fail_msg("case %zu accepted: %s", i, cases[i].extra);
			assert_err_contains(&err, cases[i].error);
		}
	}
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void write_secret(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/secrets.d/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_secrets(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		mode_t mode;
		const char *value; /* NULL: refused */
		const char *error;
	} cases[] = {
		{ "good", "s3cret\n", 0600, "s3cret", NULL },
		{ "owner-only-read", "s3cret", 0400, "s3cret", NULL },
		{ "crlf", "pw\r\nsecond line\n", 0600, "pw", NULL },
		{ "group", "s3cret\n", 0640, NULL, "may be read by group or others (mode 0640): chmod 600 it" },
		{ "world", "s3cret\n", 0604, NULL, "(mode 0604)" },
		{ "empty", "\n", 0600, NULL, "is empty" },
		{ "missing", NULL, 0, NULL, "cannot open" },
		{ "../escape", NULL, 0, NULL, "is not a file name of secrets.d" },
	};
	char dir[] = "/tmp/pgr-secrets-XXXXXX";
	char sub[64];

	static const struct {
		const char *name;
		bool ok;
	} names[] = {
		{ "etcd_patroni", true }, { "pg-1.pw", true }, { "", false },	{ ".hidden", false },
		{ "a/b", false },	  { "..", false },     { "a b", false }, { "tab\t", false },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(names); i++)
		if (secret_name_ok(names[i].name) != names[i].ok)
			fail_msg("secret_name_ok(\"%s\") is not %d", names[i].name, names[i].ok);
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/secrets.d", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	for (size_t i = 0; i < COUNT(cases); i++) {
		char out[128] = "unchanged";
		pgr_err err = { 0 };

		if (cases[i].text != NULL)
			write_secret(dir, cases[i].name, cases[i].text, cases[i].mode);
		if (cases[i].value != NULL) {
			if (secret_read(dir, cases[i].name, out, sizeof(out), &err) != 0)
				fail_msg("%s: %s", cases[i].name, err.msg);
			assert_string_equal(out, cases[i].value);
		} else {
			assert_int_not_equal(secret_read(dir, cases[i].name, out, sizeof(out), &err), 0);
			assert_err_contains(&err, cases[i].error);
			assert_null(strstr(err.msg, "s3cret"));
			assert_string_equal(out, "");
		}
	}
	{
		/* the client from a conf: a missing CA file named first; a refused secret named by its key */
		cluster_conf conf;
		etcd_client c;
		pgr_err err = { 0 };

		assert_int_equal(conf_parse(CONF_HEAD "etcd_ca = /nonexistent/ca.crt\n", "t", &conf, &err), 0);
		snprintf(conf.dir, sizeof(conf.dir), "%s", dir);
		assert_int_not_equal(conf_etcd_client(&conf, &c, &err), 0);
		assert_err_contains(&err, "etcd_ca /nonexistent/ca.crt unreadable");
		assert_int_equal(conf_parse(CONF_HEAD "etcd_user = pgrefresh\netcd_password_secret = group\n", "t", &conf,
					    &err),
				 0);
		snprintf(conf.dir, sizeof(conf.dir), "%s", dir);
		assert_int_not_equal(conf_etcd_client(&conf, &c, &err), 0);
		assert_err_contains(&err, "etcd_password_secret: secret group:");
		assert_int_equal(conf_parse(CONF_HEAD "etcd_user = pgrefresh\netcd_password_secret = good\n", "t", &conf,
					    &err),
				 0);
		snprintf(conf.dir, sizeof(conf.dir), "%s", dir);
		assert_int_equal(conf_etcd_client(&conf, &c, &err), 0);
		assert_string_equal(c.user, "pgrefresh");
		assert_string_equal(c.password, "s3cret");
		assert_string_equal(c.ca_file, "");
	}
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The Patroni client's options from a conf: https and the CA, the secret's name and directory (never its content). */
static void test_patroni_client(void **state)
{
	static const struct {
		const char *extra;
		const char *url, *ca, *secret, *dir;
	} cases[] = {
		{ "", "http://127.0.0.1:8010", "", "", "" },
		{ "patroni_ca = /srv/tls/ca.crt\n", "https://127.0.0.1:8010", "/srv/tls/ca.crt", "", "" },
		{ "patroni_ca = /srv/tls/ca.crt\npatroni_auth_secret = patroni.api\n", "https://127.0.0.1:8010",
		  "/srv/tls/ca.crt", "patroni.api", "/srv/pg" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char text[1024], url[256];
		cluster_conf conf;
		patroni_client pc;
		pgr_err err = { 0 };

		snprintf(text, sizeof(text), CONF_HEAD "%s[unit pg-0]\nhost = 127.0.0.1\npg_port = 5432\n"
			 "api_port = 8010\n", cases[i].extra);
		if (conf_parse(text, "t.conf", &conf, &err) != 0)
			fail_msg("case %zu: %s", i, err.msg);
		snprintf(conf.dir, sizeof(conf.dir), "/srv/pg");
		conf_patroni_client(&conf, &pc);
		conf_unit_api_url(&conf, &conf.units[0], url, sizeof(url));
		assert_string_equal(url, cases[i].url);
		assert_string_equal(pc.ca_file, cases[i].ca);
		assert_string_equal(pc.secret, cases[i].secret);
		assert_string_equal(pc.secret_dir, cases[i].dir);
	}
}

static void test_patroni_credentials(void **state)
{
	static const struct {
		const char *cred;
		int rc;
		const char *user, *password;
	} cases[] = {
		{ "patroni:s3cret", 0, "patroni", "s3cret" },
		{ "u:p:with:colons", 0, "u", "p:with:colons" },
		{ "nocolon", -1, "", "" },
		{ ":pw", -1, "", "" },
		{ "user:", -1, "", "" },
		{ "", -1, "", "" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char user[64] = "", password[64] = "";

		assert_int_equal(patroni_credentials_split(cases[i].cred, user, sizeof(user), password, sizeof(password)),
				 cases[i].rc);
		if (cases[i].rc == 0) {
			assert_string_equal(user, cases[i].user);
			assert_string_equal(password, cases[i].password);
		}
	}
	{
		char user[4], password[64];

		assert_int_equal(patroni_credentials_split("toolong:pw", user, sizeof(user), password, sizeof(password)), -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auth_token),	  cmocka_unit_test(test_build_auth),
		cmocka_unit_test(test_client_settings),	  cmocka_unit_test(test_conf_security_keys),
		cmocka_unit_test(test_secrets),		  cmocka_unit_test(test_patroni_client),
		cmocka_unit_test(test_patroni_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
