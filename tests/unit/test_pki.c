/*
 * test_pki.c — the cluster's CA (cluster/pki.h): two CAs made in a temporary directory, certificates
 * issued by them, and each verified with X509_verify_cert against its own CA and the other one, for its own
 * address and another; key files 0600, certificates 0644; a server certificate's SAN and usages, a client
 * certificate without a CN; bad arguments refused with a named reason.
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

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cluster/pki.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[64];

static void path_of(const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", tmpdir, leaf);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	char cert[128], key[128];
	pgr_err err = { 0 };

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pgr-test-pki-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	path_of("ca.crt", cert, sizeof(cert));
	path_of("ca.key", key, sizeof(key));
	if (pki_ca_create(cert, key, "pgrefresh CA", 30, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	path_of("other-ca.crt", cert, sizeof(cert));
	path_of("other-ca.key", key, sizeof(key));
	if (pki_ca_create(cert, key, "pgrefresh CA", 30, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static X509 *load_cert(const char *leaf)
{
	char path[128];
	FILE *f;
	X509 *cert;

	path_of(leaf, path, sizeof(path));
	f = fopen(path, "r");
	assert_non_null(f);
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(cert);
	return cert;
}

static mode_t mode_of(const char *leaf)
{
	char path[128];
	struct stat st;

	path_of(leaf, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* One certificate issued and verified: by which CA, for what, checked against which CA and address. */
static const struct issue_case {
	const char *name;       /* the files' leaf: NAME.crt, NAME.key */
	const char *issuer;     /* "ca" or "other-ca" */
	pki_usage usage;
	const char *address;    /* issued for */
	const char *verify_ca;  /* verified against */
	const char *verify_for; /* address checked, NULL for none */
	const char *error;      /* NULL: verifies; else a part of the error */
} ISSUE[] = {
	{ "srv4", "ca", PKI_SERVER, "127.0.0.1", "ca", "127.0.0.1", NULL },
	{ "srv-ns", "ca", PKI_SERVER, "198.18.0.11", "ca", "198.18.0.11", NULL },
	{ "srv6", "ca", PKI_SERVER, "::1", "ca", "::1", NULL },
	{ "srv-addr", "ca", PKI_SERVER, "198.18.0.11", "ca", "198.18.0.12", "is not for address 198.18.0.12" },
	{ "srv-other", "ca", PKI_SERVER, "127.0.0.1", "other-ca.crt", "127.0.0.1", "not trusted by CA file" },
	{ "cli", "ca", PKI_CLIENT, NULL, "ca", NULL, NULL },
	{ "cli-other", "other-ca", PKI_CLIENT, NULL, "ca", NULL, "not trusted by CA file" },
	{ "cli-noaddr", "ca", PKI_CLIENT, NULL, "ca", "127.0.0.1", "is not for address 127.0.0.1" },
};

static void test_issue_and_verify(void **state)
{
	(void)state;
	for (size_t i = 0; i < COUNT(ISSUE); i++) {
		const struct issue_case *c = &ISSUE[i];
		char ca_cert[128], ca_key[128], cert[128], key[128], verify_ca[128], leaf[64];
		pgr_err err = { 0 };
		int rc;

		snprintf(leaf, sizeof(leaf), "%s.crt", c->issuer);
		path_of(leaf, ca_cert, sizeof(ca_cert));
		snprintf(leaf, sizeof(leaf), "%s.key", c->issuer);
		path_of(leaf, ca_key, sizeof(ca_key));
		snprintf(leaf, sizeof(leaf), "%s.crt", c->name);
		path_of(leaf, cert, sizeof(cert));
		snprintf(leaf, sizeof(leaf), "%s.key", c->name);
		path_of(leaf, key, sizeof(key));
		snprintf(leaf, sizeof(leaf), "%s%s", c->verify_ca, strchr(c->verify_ca, '.') ? "" : ".crt");
		path_of(leaf, verify_ca, sizeof(verify_ca));
		if (pki_cert_issue(ca_cert, ca_key, c->usage, c->address, 30, cert, key, &err) != 0)
			fail_msg("case %s: issue: %s", c->name, err.msg);
		rc = pki_cert_verify(verify_ca, cert, c->verify_for, &err);
		if (c->error == NULL && rc != 0)
			fail_msg("case %s: verify: %s", c->name, err.msg);
		if (c->error != NULL && (rc == 0 || strstr(err.msg, c->error) == NULL))
			fail_msg("case %s: wanted an error with \"%s\", got rc %d \"%s\"", c->name, c->error, rc, err.msg);
	}
}

static void test_modes(void **state)
{
	static const struct {
		const char *leaf;
		mode_t mode;
	} modes[] = { { "ca.key", 0600 }, { "ca.crt", 0644 }, { "other-ca.key", 0600 } };

	(void)state;
	for (size_t i = 0; i < COUNT(modes); i++)
		assert_int_equal(mode_of(modes[i].leaf), modes[i].mode);
	/* an issued pair (test_issue_and_verify runs first) */
	assert_int_equal(mode_of("srv4.key"), 0600);
	assert_int_equal(mode_of("srv4.crt"), 0644);
	assert_int_equal(mode_of("cli.key"), 0600);
}

/* What a certificate carries: CN and SAN for a server, usages, no CN for a client, the key matching. */
static void test_contents(void **state)
{
	X509 *srv = load_cert("srv4.crt"), *cli = load_cert("cli.crt"), *ca = load_cert("ca.crt");
	char cn[64];
	char keypath[128];
	EVP_PKEY *key;
	FILE *f;

	(void)state;
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(srv), NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, "127.0.0.1");
	assert_int_equal(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	assert_true((X509_get_extended_key_usage(srv) & (XKU_SSL_SERVER | XKU_SSL_CLIENT)) ==
		    (XKU_SSL_SERVER | XKU_SSL_CLIENT));
	assert_int_equal(X509_check_ca(srv), 0);
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(cli), NID_commonName, cn, sizeof(cn)), -1);
	assert_true((X509_get_extended_key_usage(cli) & XKU_SSL_CLIENT) != 0);
	assert_true((X509_get_extended_key_usage(cli) & XKU_SSL_SERVER) == 0);
	assert_int_not_equal(X509_check_ca(ca), 0);
	path_of("srv4.key", keypath, sizeof(keypath));
	f = fopen(keypath, "r");
	assert_non_null(f);
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(key);
	assert_int_equal(X509_check_private_key(srv, key), 1);
	assert_int_equal(X509_check_private_key(cli, key), 0);
	EVP_PKEY_free(key);
	X509_free(srv);
	X509_free(cli);
	X509_free(ca);
}

static void test_refused(void **state)
{
	static const struct {
		const char *ca;
		pki_usage usage;
		const char *address;
		const char *error;
	} cases[] = {
		{ "ca", PKI_SERVER, NULL, "needs the host's IP address" },
		{ "ca", PKI_SERVER, "db.example", "needs the host's IP address" },
		{ "ca", PKI_SERVER, "127.0.0.1/32", "needs the host's IP address" },
		{ "missing-ca", PKI_CLIENT, NULL, "missing-ca.crt" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char ca_cert[128], ca_key[128], cert[128], key[128], leaf[64];
		pgr_err err = { 0 };

		snprintf(leaf, sizeof(leaf), "%s.crt", cases[i].ca);
		path_of(leaf, ca_cert, sizeof(ca_cert));
		snprintf(leaf, sizeof(leaf), "%s.key", cases[i].ca);
		path_of(leaf, ca_key, sizeof(ca_key));
		path_of("refused.crt", cert, sizeof(cert));
		path_of("refused.key", key, sizeof(key));
		assert_int_equal(pki_cert_issue(ca_cert, ca_key, cases[i].usage, cases[i].address, 30, cert, key, &err), -1);
		if (strstr(err.msg, cases[i].error) == NULL)
			fail_msg("case %zu: wanted \"%s\" in \"%s\"", i, cases[i].error, err.msg);
		assert_int_equal(access(cert, F_OK), -1);
	}
}

/* SCRAM secrets against values computed independently (Python's hashlib and hmac). */
static void test_scram(void **state)
{
	static const struct {
		const char *password;
		const char *salt;
		size_t salt_len;
		int iterations;
		const char *secret;
	} cases[] = {
		{ "pencil", "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 16, 4096,
		  "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:"
		  "dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE=" },
		{ "0123456789abcdef0123456789abcdef", "pgrefresh-salt!!", 16, 4096,
		  "SCRAM-SHA-256$4096:cGdyZWZyZXNoLXNhbHQhIQ==$hB6mJ/VGLle7iBIsta8wwVmpxQoSf3pATsPV189102c=:"
		  "6E5UlE8e4Qt6gc+h5XdpywtGKmPPIUMmAmORYETj5FM=" },
		{ "x", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 16, 1,
		  "SCRAM-SHA-256$1://///////////////////w==$pBCfaLPMFMj4w4eRTn729+i/4D2XauGYufVA2/Wibs0=:"
		  "j7O+Jv5fRNKFWwRcnX/pbNhqyC4WFIusrSxoA5udEHg=" },
	};
	char out[256], again[256];
	pgr_err err = { 0 };

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		if (pki_scram_secret(cases[i].password, (const unsigned char *)cases[i].salt, cases[i].salt_len,
				     cases[i].iterations, out, sizeof(out), &err) != 0)
			fail_msg("case %zu: %s", i, err.msg);
		assert_string_equal(out, cases[i].secret);
	}
	/* a random salt: two secrets of one password differ, in the same format */
	assert_int_equal(pki_scram_secret("pencil", NULL, 0, 4096, out, sizeof(out), &err), 0);
	assert_int_equal(pki_scram_secret("pencil", NULL, 0, 4096, again, sizeof(again), &err), 0);
	assert_string_not_equal(out, again);
	assert_int_equal(strncmp(out, "SCRAM-SHA-256$4096:", 19), 0);
	/* too small a buffer, no iteration */
	assert_int_equal(pki_scram_secret("pencil", NULL, 0, 4096, out, 40, &err), -1);
	assert_int_equal(pki_scram_secret("pencil", NULL, 0, 0, out, sizeof(out), &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issue_and_verify),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_contents),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_scram),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
