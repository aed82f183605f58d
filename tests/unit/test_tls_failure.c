/*
 * test_tls_failure.c — a TLS failure is not "unreachable" (util/http.h http_failure_of, etcd/etcd.h
 * etcd_err_classify and etcd_err_explain): libcurl's codes as the transport or TLS, etcd's errors as
 * unreachable / TLS / credentials, each with its own message, hint and exit code.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "etcd/etcd.h"
#include "util/exitcodes.h"
#include "util/http.h"

static void test_http_failure_of(void **state)
{
	static const struct {
		int code;
		bool https, tls_configured;
		http_failure want;
	} cases[] = {
		{ CURLE_COULDNT_CONNECT, true, true, HTTP_FAIL_TRANSPORT },     /* nobody listens: start it */
		{ CURLE_COULDNT_CONNECT, false, false, HTTP_FAIL_TRANSPORT },
		{ CURLE_OPERATION_TIMEDOUT, true, true, HTTP_FAIL_TRANSPORT },  /* stopped, or far away */
		{ CURLE_COULDNT_RESOLVE_HOST, true, true, HTTP_FAIL_TRANSPORT },
		{ CURLE_PEER_FAILED_VERIFICATION, true, true, HTTP_FAIL_TLS },  /* signed by another CA */
		{ CURLE_PEER_FAILED_VERIFICATION, true, false, HTTP_FAIL_TLS }, /* the system's CAs do not know it */
		{ CURLE_SSL_CACERT_BADFILE, true, true, HTTP_FAIL_TLS },        /* etcd_ca unreadable */
		{ CURLE_SSL_CERTPROBLEM, true, true, HTTP_FAIL_TLS },           /* our certificate or key unusable */
		{ CURLE_SSL_CONNECT_ERROR, true, false, HTTP_FAIL_TLS },        /* the handshake itself */
		/* a server refusing our client certificate resets the connection */
		{ CURLE_RECV_ERROR, true, true, HTTP_FAIL_TLS },
		{ CURLE_SEND_ERROR, true, true, HTTP_FAIL_TLS },
		{ CURLE_GOT_NOTHING, true, true, HTTP_FAIL_TLS },
		/* the same without TLS configured, or over http: a connection lost, not TLS */
		{ CURLE_RECV_ERROR, true, false, HTTP_FAIL_TRANSPORT },
		{ CURLE_RECV_ERROR, false, true, HTTP_FAIL_TRANSPORT },
		{ CURLE_GOT_NOTHING, false, false, HTTP_FAIL_TRANSPORT },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		http_failure got = http_failure_of(cases[i].code, cases[i].https, cases[i].tls_configured);

		if (got != cases[i].want)
			print_error("case %zu (curl %d): got %d, want %d\n", i, cases[i].code, (int)got, (int)cases[i].want);
		assert_int_equal(got, cases[i].want);
	}
}

/* the errors as etcd.c and http.c write them (seen in test_etcd_tls_live.c against a real etcd) */
#define RANGE "etcd range /pgrefresh/pg/: no endpoint answered: POST https://127.0.0.1:2379/v3/kv/range: "

static void test_etcd_err_classify(void **state)
{
	static const struct {
		const char *msg;
		etcd_failure want;
		int exit_code;
		const char *prefix, *hint;
	} cases[] = {
		{ RANGE "Failed to connect to 127.0.0.1 port 2379 after 0 ms: Couldn't connect to server", ETCD_FAIL_UNREACHABLE,
		  PGR_EXIT_UNREACHABLE, "etcd of cluster pg unreachable: ", "`pgrefresh cluster start --dir /c`" },
		{ RANGE "TLS failure: server certificate not trusted by CA file /c/other-ca.crt: SSL certificate problem",
		  ETCD_FAIL_TLS, PGR_EXIT_ERROR, "TLS with etcd of cluster pg failed: ", "etcd_ca, etcd_cert and etcd_key in /c/pgrefresh.conf" },
		{ RANGE "TLS failure: CA file /c/no-such-ca.crt unreadable: error setting certificate file", ETCD_FAIL_TLS,
		  PGR_EXIT_ERROR, "TLS with etcd of cluster pg failed: ", "etcd_ca, etcd_cert and etcd_key" },
		{ RANGE "TLS failure: handshake failed (client certificate /c/stranger.crt rejected?): OpenSSL SSL_read: "
			"tlsv13 alert certificate required (curl 56)",
		  ETCD_FAIL_TLS, PGR_EXIT_ERROR, "TLS with etcd of cluster pg failed: ", "etcd_cert" },
		/* one endpoint down, one refusing our certificate: the certificate is what to fix */
		{ RANGE "Couldn't connect to server; POST https://127.0.0.2:2379/v3/kv/range: TLS failure: server certificate "
			"not trusted by CA file /c/ca.crt: x",
		  ETCD_FAIL_TLS, PGR_EXIT_ERROR, "TLS with etcd of cluster pg failed: ", "pgrefresh.conf" },
		{ "etcd range /pgrefresh/pg/: etcd refused pgrefresh's credentials (user pgrefresh): authentication failed, "
		  "invalid user ID or password",
		  ETCD_FAIL_CREDENTIALS, PGR_EXIT_ERROR, "etcd of cluster pg refused pgrefresh: ", "/c/secrets.d/etcd-password" },
		{ "etcd put /other/x: HTTP 403 from https://127.0.0.1:2379: etcdserver: permission denied (code 7)",
		  ETCD_FAIL_CREDENTIALS, PGR_EXIT_ERROR, "etcd of cluster pg refused pgrefresh: ", "etcd_user" },
		/* not a TLS failure whose cause quotes a certificate: only http.c's marker says TLS */
		{ "etcd range /pgrefresh/pg/: HTTP 500 from http://127.0.0.1:2379: etcdserver: request timed out (code 14)",
		  ETCD_FAIL_OTHER, PGR_EXIT_UNREACHABLE, "etcd of cluster pg unreachable: ", "cluster start" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pgr_err err;
		int code;

		pgr_err_clear(&err);
		snprintf(err.msg, sizeof(err.msg), "%s", cases[i].msg);
		if (etcd_err_classify(&err) != cases[i].want)
			print_error("case %zu: classified %d, want %d: %s\n", i, (int)etcd_err_classify(&err),
				    (int)cases[i].want, cases[i].msg);
		assert_int_equal(etcd_err_classify(&err), cases[i].want);
		code = etcd_err_explain(&err, "pg", "/c", "etcd-password");
		assert_int_equal(code, cases[i].exit_code);
		if (strncmp(err.msg, cases[i].prefix, strlen(cases[i].prefix)) != 0)
			fail_msg("case %zu: message \"%s\" does not start with \"%s\"", i, err.msg, cases[i].prefix);
		assert_non_null(strstr(err.msg, cases[i].msg)); /* the cause is kept whole */
		if (strstr(err.hint, cases[i].hint) == NULL)
			fail_msg("case %zu: hint \"%s\" lacks \"%s\"", i, err.hint, cases[i].hint);
		if (cases[i].want == ETCD_FAIL_TLS || cases[i].want == ETCD_FAIL_CREDENTIALS)
			assert_null(strstr(err.hint, "cluster start")); /* nothing to start: it runs */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_failure_of),
		cmocka_unit_test(test_etcd_err_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
