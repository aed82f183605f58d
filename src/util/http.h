/*
 * http.h — the one module that talks libcurl: a bounded HTTP request/response over loopback or LAN.
 * Used by the etcd client (JSON gateway) and the Patroni client (REST API).
 */
#ifndef PGR_UTIL_HTTP_H
#define PGR_UTIL_HTTP_H

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

#endif
