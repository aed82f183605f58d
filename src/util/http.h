/*
 * http.h — the one module that talks libcurl: a bounded HTTP request/response over loopback or LAN.
 * Used by the etcd client (JSON gateway) and the Patroni client (REST API).
 */
#ifndef PGR_UTIL_HTTP_H
#define PGR_UTIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define HTTP_BODY_MAX (16 * 1024 * 1024) /* a reply larger than this is an error */

/* A reply: the HTTP status and the body, NUL-terminated. body is heap memory: free with http_reply_free(). */
typedef struct http_reply {
	long status;
	char *body;
	size_t body_len;
} http_reply;

/* Process-wide libcurl setup; call once from main before any thread. */
int http_global_init(pgr_err *err) __attribute__((warn_unused_result));
void http_global_cleanup(void);

/*
 * method: "GET", "POST", "PUT", "DELETE"; body may be NULL (sent as JSON when not NULL).
 * timeout_ms bounds the whole request (connect timeout is min(timeout_ms, 2000)).
 * Returns 0 when an HTTP reply came (whatever its status), -1 on transport failure (err says which).
 */
int http_request(const char *method, const char *url, const char *body, long timeout_ms, http_reply *reply,
		 pgr_err *err) __attribute__((warn_unused_result));
void http_reply_free(http_reply *reply);

/*
 * TLS and authentication of a request. NULL members are unused: no ca_file means the system's CAs (the
 * peer is always verified); cert_file/key_file a client certificate; auth_header a whole header line
 * ("Authorization: TOKEN"); basic_user/basic_password HTTP basic authentication. Secrets pass through
 * here to libcurl only: they are never put in an error message.
 */
typedef struct http_opts {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	const char *auth_header;
	const char *basic_user;
	const char *basic_password;
} http_opts;

/*
 * What a failed transfer was: the peer not reached (down, refused, timed out), or reached but TLS failed
 * (an untrusted or unreadable certificate, a client certificate refused): a misconfiguration to fix, not a
 * process to start. A TLS failure's error holds HTTP_TLS_TEXT and names the file concerned.
 */
typedef enum http_failure {
	HTTP_FAIL_TRANSPORT = 0, /* not reached, or failed for another reason */
	HTTP_FAIL_TLS,           /* reached, TLS failed */
} http_failure;

#define HTTP_TLS_TEXT "TLS failure"

/*
 * Pure: the failure that libcurl's code curl_code (a CURLcode) is, for a request to an https URL or not, with
 * a CA or a client certificate configured or not (a server refusing the client certificate resets the
 * connection: the client sees only a send or receive failure).
 */
http_failure http_failure_of(int curl_code, bool https, bool tls_configured);
/* Whether err is a TLS failure of a request (its text holds HTTP_TLS_TEXT). */
bool http_err_tls(const pgr_err *err);

/* http_request with opts (NULL: none, as http_request). A TLS failure's error names the file concerned. */
int http_request_opts(const char *method, const char *url, const char *body, long timeout_ms, const http_opts *opts,
		      http_reply *reply, pgr_err *err) __attribute__((warn_unused_result));

#endif
