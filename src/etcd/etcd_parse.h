/*
 * etcd_parse.h — the pure half of the etcd client: base64, the JSON bodies of requests to etcd's v3 JSON
 * gateway, and the parsing of its replies into etcd_kv / etcd_kvs. No I/O, so that every function is
 * unit-tested on replies captured from a real etcd 3.4 (tests/fixtures/etcd/).
 *
 * What the gateway sends, and what these functions expect:
 *   - keys and values are base64 strings; a value that is empty is absent ("value" missing);
 *   - int64 fields are JSON strings ("mod_revision":"12") and are absent when zero;
 *   - an error is {"error":"...","code":N,"message":"..."} (streams: "error" is an object);
 *   - lease keepalive and watch replies are wrapped in {"result":{...}}; watch replies are a stream of
 *     such objects, one per line; a PUT event has no "type", a DELETE event has "type":"DELETE".
 * Keys and values are C strings on our side: a decoded key or value holding a NUL byte is refused.
 *
 * Every function returns 0 or -1 with a one-line pgr_err. Bodies built here are heap strings that the
 * caller frees with free(); parsed etcd_kv / etcd_kvs are freed with etcd_kv_free / etcd_kvs_free.
 */
#ifndef PGR_ETCD_ETCD_PARSE_H
#define PGR_ETCD_ETCD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

/* Base64 (RFC 4648, with padding). encode returns a heap string (NULL only when out of memory). */
char *etcd_b64_encode(const void *data, size_t len);
/* Decodes text into a heap buffer *out of *out_len bytes, NUL-terminated (out_len may be NULL). */
int etcd_b64_decode(const char *text, char **out, size_t *out_len, pgr_err *err) __attribute__((warn_unused_result));

/*
 * The range_end that selects every key starting with prefix: prefix with its last byte incremented
 * (trailing 0xff bytes dropped); "\0" (all keys) when there is none. Heap buffer of *len bytes.
 */
int etcd_prefix_range_end(const char *prefix, char **range_end, size_t *len, pgr_err *err)
	__attribute__((warn_unused_result));

/* Request bodies (heap JSON strings, free with free()). revision 0 means "now"; lease 0 means none. */
int etcd_build_range(const char *key, bool prefix, int64_t revision, char **body, pgr_err *err)
	__attribute__((warn_unused_result));
int etcd_build_put(const char *key, const char *value, int64_t lease, char **body, pgr_err *err)
	__attribute__((warn_unused_result));
int etcd_build_delete(const char *key, bool prefix, char **body, pgr_err *err) __attribute__((warn_unused_result));
/*
 * Compare-and-swap txns. put_if compares mod_revision == expected (or, for expected 0, create_revision == 0:
 * the key must not exist), puts on success and reads the key on failure. delete_if compares mod_revision.
 */
int etcd_build_txn_put_if(const char *key, const char *value, int64_t expected_mod_revision, int64_t lease,
			  char **body, pgr_err *err) __attribute__((warn_unused_result));
int etcd_build_txn_delete_if(const char *key, int64_t expected_mod_revision, char **body, pgr_err *err)
	__attribute__((warn_unused_result));
/* The bodies of etcd_range and etcd_txn (etcd.h). */
int etcd_build_range_req(const etcd_range_req *req, char **body, pgr_err *err) __attribute__((warn_unused_result));
int etcd_build_txn(const etcd_cmp *cmps, int ncmp, const etcd_op *success, int nsuccess, const etcd_op *failure,
		   int nfailure, char **body, pgr_err *err) __attribute__((warn_unused_result));
int etcd_build_lease_grant(int ttl_seconds, char **body, pgr_err *err) __attribute__((warn_unused_result));
/* {"ID":"N"}: the body of lease keepalive and lease revoke. */
int etcd_build_lease_id(int64_t lease_id, char **body, pgr_err *err) __attribute__((warn_unused_result));
/* {"create_request":{...}} for /v3/watch (for a streaming client; etcd_watch itself polls). */
int etcd_build_watch(const char *key, bool prefix, int64_t start_revision, char **body, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * True when body is an etcd error reply; then *code is its gRPC code (-1 if none) and msg its message
 * (or the error text). False for anything else, including bodies that are not JSON.
 */
/* The body of /v3/auth/authenticate: {"name":user,"password":password}. */
int etcd_build_auth(const char *user, const char *password, char **body, pgr_err *err)
	__attribute__((warn_unused_result));
/* The token of an /v3/auth/authenticate reply ({"header":{...},"token":"..."}) into token. */
int etcd_parse_auth_token(const char *body, char *token, size_t tokenlen, pgr_err *err)
	__attribute__((warn_unused_result));
bool etcd_parse_error(const char *body, int *code, char *msg, size_t msglen);

/* Any reply that carries a header (put, deleterange, lease revoke): header.revision. */
int etcd_parse_header(const char *body, int64_t *revision, pgr_err *err) __attribute__((warn_unused_result));
/* A range reply: the kvs (count 0 when none) and header.revision. */
int etcd_parse_range(const char *body, etcd_kvs *out, pgr_err *err) __attribute__((warn_unused_result));
/* A deleterange reply: how many keys were deleted. */
int etcd_parse_deleterange(const char *body, int64_t *deleted, pgr_err *err) __attribute__((warn_unused_result));
/*
 * A txn reply: *succeeded, and in *range the kvs of the first response_range, if any (count 0 otherwise:
 * that is how a failed compare on an absent key reads). range may be NULL.
 */
int etcd_parse_txn(const char *body, bool *succeeded, etcd_kvs *range, pgr_err *err)
	__attribute__((warn_unused_result));
int etcd_parse_lease_grant(const char *body, int64_t *lease_id, int64_t *ttl, pgr_err *err)
	__attribute__((warn_unused_result));
/* A keepalive reply: the TTL left, 0 when the lease has expired (or never existed). */
int etcd_parse_lease_keepalive(const char *body, int64_t *ttl_left, pgr_err *err)
	__attribute__((warn_unused_result));
/* A timetolive reply: the TTL left, 0 when the lease has expired (or never existed). */
int etcd_parse_lease_timetolive(const char *body, int64_t *ttl_left, pgr_err *err)
	__attribute__((warn_unused_result));
/* {"health":"true"}: *healthy; reason receives the "reason" field or the health value otherwise. */
int etcd_parse_health(const char *body, bool *healthy, char *reason, size_t reasonlen, pgr_err *err)
	__attribute__((warn_unused_result));
/*
 * A watch stream (as many {"result":...} objects as arrived): events appended in order (a DELETE has
 * value NULL), *created whether the creation reply came, events->revision the last header.revision.
 * A last object cut short is ignored when truncated_ok (the stream was cut by a timeout), else an error.
 */
int etcd_parse_watch_stream(const char *body, bool truncated_ok, etcd_kvs *events, bool *created, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * What changed between two snapshots of a range: every key of now with mod_revision >= since_revision
 * (created or modified), then every key of before that is absent from now (deleted: value NULL,
 * mod_revision 0). Both inputs must be sorted by key (as etcd returns them). changes->revision is
 * now->revision. before may be NULL (nothing existed).
 */
int etcd_kvs_diff(const etcd_kvs *before, const etcd_kvs *now, int64_t since_revision, etcd_kvs *changes,
		  pgr_err *err) __attribute__((warn_unused_result));

/* Deep copy of a kv (value NULL stays NULL). */
int etcd_kv_copy(const etcd_kv *src, etcd_kv *dst, pgr_err *err) __attribute__((warn_unused_result));

#endif
