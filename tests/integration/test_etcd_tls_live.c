/*
 * test_etcd_tls_live.c — the etcd client over TLS with a client certificate and etcd authentication,
 * against a real etcd (/usr/bin/etcd) on free 127.0.0.1 ports. The setup makes a CA, etcd's certificate
 * (127.0.0.1 in its SAN), pgrefresh's client certificate and, from a second CA, a stranger's, with the
 * openssl CLI in a temp directory (client certificates without a CN: etcd 3.4's JSON gateway answers 400
 * to a client certificate with one); starts etcd with --client-cert-auth and a 2 s token TTL; and, with
 * etcdctl, makes root and a user pgrefresh whose role reads and writes /pgrefresh/ only, then enables
 * authentication. The group teardown (live_etcd.h) stops etcd by its pid and removes the directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd/etcd.h"
#include "util/exitcodes.h"
#include "util/http.h"
#include "util/proc.h"

#define LIVE_ETCD_DIR_TEMPLATE "/tmp/pgr-etcd-tls-XXXXXX"
#define LIVE_ETCD_OWN_SETUP
#include "live_etcd.h"
#include "live_tls.h"

#define ETCDCTL_BIN "/usr/bin/etcdctl"
#define PGR_PASSWORD "pgr-secret-1"

/*
 * etcdctl over TLS with pgrefresh's client certificate, as root when as_root (after authentication is on),
 * with args (NULL-terminated); out (may be NULL) receives what it printed.
 */
static int etcdctl(const struct live *lv, bool as_root, const char *const *args, char *out, size_t outlen)
{
	char ep[80], cacert[320], cert[320], key[320], buf[4096];
	char *argv[24];
	int n = 0, status = -1;
	pgr_err err = { 0 };

	snprintf(ep, sizeof(ep), "--endpoints=%s", lv->live_url);
	snprintf(cacert, sizeof(cacert), "--cacert=%s/ca.crt", lv->dir);
	snprintf(cert, sizeof(cert), "--cert=%s/client.crt", lv->dir);
	snprintf(key, sizeof(key), "--key=%s/client.key", lv->dir);
	argv[n++] = ETCDCTL_BIN;
	argv[n++] = ep;
	argv[n++] = cacert;
	argv[n++] = cert;
	argv[n++] = key;
	if (as_root)
		argv[n++] = "--user=root:root-pw";
	for (int i = 0; args[i] != NULL && n < 23; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	if (out == NULL) {
		out = buf;
		outlen = sizeof(buf);
	}
	if (proc_run(argv, NULL, 30000, out, outlen, &status, &err) != 0 || status != 0) {
		fprintf(stderr, "etcdctl %s failed (status %d): %s %s\n", args[0], status, err.msg, out);
		return -1;
	}
	return 0;
}

/* Starts etcd over TLS with client-certificate authentication; waits until it answers. */
static int start_etcd(struct live *lv)
{
	char data[300], pidfile[300], cert[320], key[320], ca[320];
	char client_url[64], peer_url[64], metrics_url[64], cluster[128];
	pgr_err err = { 0 };
	long long deadline;

	snprintf(data, sizeof(data), "%s/data", lv->dir);
	snprintf(pidfile, sizeof(pidfile), "%s/etcd.pid", lv->dir);
	in_dir(lv, "server.crt", cert, sizeof(cert));
	in_dir(lv, "server.key", key, sizeof(key));
	in_dir(lv, "ca.crt", ca, sizeof(ca));
	snprintf(client_url, sizeof(client_url), "https://127.0.0.1:%d", lv->ports[0]);
	snprintf(peer_url, sizeof(peer_url), "http://127.0.0.1:%d", lv->ports[1]);
	snprintf(metrics_url, sizeof(metrics_url), "http://127.0.0.1:%d", lv->ports[2]);
	snprintf(cluster, sizeof(cluster), "e0=%s", peer_url);
	snprintf(lv->live_url, sizeof(lv->live_url), "%s", client_url);
	{
		char *argv[] = { ETCD_BIN, "--name", "e0", "--data-dir", data, "--logger=zap",
				 "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
				 "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
				 "--initial-cluster", cluster, "--initial-cluster-state", "new",
				 "--listen-metrics-urls", metrics_url, "--cert-file", cert, "--key-file", key,
				 "--trusted-ca-file", ca, "--client-cert-auth", "--auth-token-ttl", "2", NULL };

		if (proc_spawn_daemon(argv, NULL, NULL, lv->log, pidfile, &lv->pid, &err) != 0) {
			fprintf(stderr, "starting etcd: %s\n", err.msg);
			lv->pid = 0;
			return -1;
		}
	}
	deadline = proc_now_ms() + 30000;
	for (;;) {
		const char *args[] = { "endpoint", "health", NULL };
		char out[1024];

		if (etcdctl(lv, false, args, out, sizeof(out)) == 0)
			return 0;
		(void)waitpid(lv->pid, NULL, WNOHANG);
		if (proc_start_time(lv->pid) == 0 || proc_now_ms() > deadline) {
			fprintf(stderr, "etcd (pid %d) did not come up\n", (int)lv->pid);
			print_log(lv);
			return -1;
		}
		proc_sleep_ms(200);
	}
}

/* root, and pgrefresh whose role reads and writes /pgrefresh/ only; then authentication on. */
static int enable_auth(struct live *lv)
{
	static const char *const steps[][8] = {
		{ "user", "add", "root:root-pw", "--interactive=false", NULL },
		{ "role", "add", "pgrefresh", NULL },
		{ "role", "grant-permission", "pgrefresh", "--prefix=true", "readwrite", "/pgrefresh/", NULL },
		{ "user", "add", "pgrefresh:" PGR_PASSWORD, "--interactive=false", NULL },
		{ "user", "grant-role", "pgrefresh", "pgrefresh", NULL },
		{ "auth", "enable", NULL },
	};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (etcdctl(lv, false, steps[i], NULL, 0) != 0)
			return -1;
	return 0;
}

static int group_setup(void **state)
{
	struct live *lv;
	char ca[320], cert[320], key[320];
	pgr_err err = { 0 };

	if (live_prepare(state, &lv) != 0)
		return -1;
	if (make_ca(lv, "ca") != 0 || make_ca(lv, "other-ca") != 0 ||
	    make_cert(lv, "ca", "server", "/CN=etcd", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n") != 0 ||
	    make_cert(lv, "ca", "client", "/O=pgrefresh", "extendedKeyUsage=clientAuth\n") != 0 ||
	    make_cert(lv, "other-ca", "stranger", "/O=pgrefresh", "extendedKeyUsage=clientAuth\n") != 0)
		return -1;
	if (start_etcd(lv) != 0 || enable_auth(lv) != 0)
		return -1;
	in_dir(lv, "ca.crt", ca, sizeof(ca));
	in_dir(lv, "client.crt", cert, sizeof(cert));
	in_dir(lv, "client.key", key, sizeof(key));
	if (etcd_client_init(&lv->client, lv->live_url, &err) != 0 ||
	    etcd_client_set_tls(&lv->client, ca, cert, key, &err) != 0 ||
	    etcd_client_set_auth(&lv->client, "pgrefresh", PGR_PASSWORD, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

/* Whether root sees key (a write that must not have happened). */
static bool root_sees(struct live *lv, const char *key)
{
	const char *args[] = { "get", key, "--print-value-only", NULL };
	char out[1024] = "";

	if (etcdctl(lv, true, args, out, sizeof(out)) != 0)
		fail_msg("etcdctl get %s as root failed", key);
	return out[0] != '\0';
}

/* 1. put, get, txn and a lease through TLS, a client certificate and a token */
static void test_tls_auth_works(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	pgr_err err;
	etcd_kv kv, cur;
	bool found, swapped;
	int64_t lease, ttl;

	BEGIN(lv);
	OK(etcd_put(c, "/pgrefresh/t/a", "one", 0, &err));
	OK(etcd_get(c, "/pgrefresh/t/a", &kv, &found, &err));
	assert_true(found);
	assert_string_equal(kv.value, "one");
	OK(etcd_put_if(c, "/pgrefresh/t/a", "two", kv.mod_revision, 0, &swapped, &cur, &err));
	assert_true(swapped);
	assert_string_equal(cur.value, "two");
	etcd_kv_free(&cur);
	OK(etcd_put_if(c, "/pgrefresh/t/a", "three", kv.mod_revision, 0, &swapped, &cur, &err));
	assert_false(swapped);
	assert_string_equal(cur.value, "two");
	etcd_kv_free(&cur);
	etcd_kv_free(&kv);
	OK(etcd_lease_grant(c, 30, &lease, &err));
	OK(etcd_put(c, "/pgrefresh/t/leased", "x", lease, &err));
	OK(etcd_lease_keepalive(c, lease, &ttl, &err));
	assert_true(ttl > 0);
	OK(etcd_lease_revoke(c, lease, &err));
	OK(etcd_get(c, "/pgrefresh/t/leased", &kv, &found, &err));
	assert_false(found);
	assert_true(root_sees(lv, "/pgrefresh/t/a"));
	END(lv);
}

/* 2. a token etcd no longer takes (its TTL is 2 s here) is renewed once and the request goes through */
static void test_token_renewed(void **state)
{
	struct live *lv = *state;
	pgr_err err;
	etcd_kv kv;
	bool found;

	BEGIN(lv);
	OK(etcd_put(&lv->client, "/pgrefresh/t/renew", "before", 0, &err));
	proc_sleep_ms(3500);
	OK(etcd_put(&lv->client, "/pgrefresh/t/renew", "after", 0, &err));
	OK(etcd_get(&lv->client, "/pgrefresh/t/renew", &kv, &found, &err));
	assert_true(found);
	assert_string_equal(kv.value, "after");
	etcd_kv_free(&kv);
	END(lv);
}

/*
 * A put of key through c that must fail with want in its error, not show the password, and write nothing;
 * classed as cls, and told to the user as such (etcd_err_explain: message, hint, exit code).
 */
static void refused_put(struct live *lv, const etcd_client *c, const char *key, const char *want, etcd_failure cls)
{
	pgr_err err = { 0 };
	int code;

	if (etcd_put(c, key, "must-not-land", 0, &err) == 0)
		fail_msg("put %s succeeded, expected \"%s\"", key, want);
	assert_contains(err.msg, want);
	assert_null(strstr(err.msg, PGR_PASSWORD));
	assert_false(root_sees(lv, key));
	assert_int_equal(etcd_err_classify(&err), cls);
	code = etcd_err_explain(&err, "t", "/c", "etcd-password");
	switch (cls) {
	case ETCD_FAIL_TLS:
		assert_int_equal(code, PGR_EXIT_ERROR);
		assert_contains(err.msg, "TLS with etcd of cluster t failed: ");
		assert_contains(err.hint, "etcd_ca, etcd_cert and etcd_key in /c/pgrefresh.conf");
		break;
	case ETCD_FAIL_CREDENTIALS:
		assert_int_equal(code, PGR_EXIT_ERROR);
		assert_contains(err.msg, "etcd of cluster t refused pgrefresh: ");
		assert_contains(err.hint, "/c/secrets.d/etcd-password");
		break;
	case ETCD_FAIL_UNREACHABLE:
	case ETCD_FAIL_OTHER:
		assert_int_equal(code, PGR_EXIT_UNREACHABLE);
		assert_contains(err.hint, "pgrefresh cluster start");
		break;
	}
	assert_null(strstr(err.msg, PGR_PASSWORD));
}

/* 3. each wrong or missing credential: a clear error naming it, nothing written */
static void test_bad_credentials(void **state)
{
	struct live *lv = *state;
	etcd_client c;
	char path[320], cert[320], key[320];
	pgr_err err;

	BEGIN(lv);
	c = lv->client;
	OK(etcd_client_set_auth(&c, "pgrefresh", "wrong-password", &err));
	refused_put(lv, &c, "/pgrefresh/t/bad-password",
		    "etcd refused pgrefresh's credentials (user pgrefresh): authentication failed", ETCD_FAIL_CREDENTIALS);

	c = lv->client;
	in_dir(lv, "no-such-ca.crt", path, sizeof(path));
	OK(etcd_client_set_tls(&c, path, c.cert_file, c.key_file, &err));
	refused_put(lv, &c, "/pgrefresh/t/missing-ca", "no-such-ca.crt unreadable", ETCD_FAIL_TLS);

	c = lv->client;
	in_dir(lv, "other-ca.crt", path, sizeof(path));
	OK(etcd_client_set_tls(&c, path, c.cert_file, c.key_file, &err));
	refused_put(lv, &c, "/pgrefresh/t/wrong-ca", "not trusted by CA file", ETCD_FAIL_TLS);

	c = lv->client;
	in_dir(lv, "stranger.crt", cert, sizeof(cert));
	in_dir(lv, "stranger.key", key, sizeof(key));
	OK(etcd_client_set_tls(&c, c.ca_file, cert, key, &err));
	refused_put(lv, &c, "/pgrefresh/t/stranger", "stranger.crt rejected", ETCD_FAIL_TLS);

	c = lv->client;
	OK(etcd_client_set_tls(&c, c.ca_file, NULL, NULL, &err));
	refused_put(lv, &c, "/pgrefresh/t/no-cert", "TLS failure: handshake failed", ETCD_FAIL_TLS);

	/* the same TLS settings towards a port nobody listens on: unreachable, not a TLS failure */
	c = lv->client;
	snprintf(c.endpoints[0], sizeof(c.endpoints[0]), "https://127.0.0.1:1");
	c.endpoint_count = 1;
	refused_put(lv, &c, "/pgrefresh/t/nobody", ETCD_UNREACHABLE_TEXT, ETCD_FAIL_UNREACHABLE);
	END(lv);
}

/* 4. a key outside /pgrefresh/ is refused, and the error names it */
static void test_outside_prefix(void **state)
{
	struct live *lv = *state;
	pgr_err err = { 0 };
	etcd_kv kv;
	bool found;

	BEGIN(lv);
	refused_put(lv, &lv->client, "/service/pg/leader", "etcd put /service/pg/leader: ", ETCD_FAIL_CREDENTIALS);
	refused_put(lv, &lv->client, "/service/pg/leader", "permission denied", ETCD_FAIL_CREDENTIALS);
	if (etcd_get(&lv->client, "/other/key", &kv, &found, &err) == 0)
		fail_msg("get /other/key succeeded");
	assert_contains(err.msg, "/other/key");
	assert_contains(err.msg, "permission denied");
	END(lv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_auth_works),
		cmocka_unit_test(test_token_renewed),
		cmocka_unit_test(test_bad_credentials),
		cmocka_unit_test(test_outside_prefix),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
