#include "etcd/etcd_parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- base64 */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	size_t outlen = 4 * ((len + 2) / 3);
	char *out = malloc(outlen + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t chunk = (uint32_t)in[i] << 16;
		size_t left = len - i;

		if (left > 1)
			chunk |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			chunk |= in[i + 2];
		out[o++] = b64_alphabet[(chunk >> 18) & 63];
		out[o++] = b64_alphabet[(chunk >> 12) & 63];
		out[o++] = left > 1 ? b64_alphabet[(chunk >> 6) & 63] : '=';
		out[o++] = left > 2 ? b64_alphabet[chunk & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int etcd_b64_decode(const char *text, char **out, size_t *out_len, pgr_err *err)
{
	size_t len = strlen(text);
	char *buf;
	size_t o = 0;

	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (len % 4 != 0)
		return pgr_err_set(err, "invalid base64 \"%.40s\": length %zu is not a multiple of 4", text, len);
	buf = malloc(len / 4 * 3 + 1);
	if (buf == NULL)
		return pgr_err_set(err, "out of memory decoding base64");
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)text[i + k];

			if (c == '=' && i + 4 == len && k >= 2 && (k == 3 || text[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = b64_value(c);
			if (v[k] < 0 || pad > 0) {
				free(buf);
				return pgr_err_set(err, "invalid base64 \"%.40s\": bad character at offset %zu", text,
						   i + (size_t)k);
			}
		}
		uint32_t chunk = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		buf[o++] = (char)((chunk >> 16) & 0xff);
		if (pad < 2)
			buf[o++] = (char)((chunk >> 8) & 0xff);
		if (pad < 1)
			buf[o++] = (char)(chunk & 0xff);
	}
	buf[o] = '\0';
	*out = buf;
	if (out_len)
		*out_len = o;
	return 0;
}

/* Decodes a key or value that must be a C string (no NUL inside). */
static int b64_decode_cstring(const char *text, const char *field, char **out, pgr_err *err)
{
	size_t len;

	if (etcd_b64_decode(text, out, &len, err) != 0)
		return pgr_err_prefix(err, "field \"%s\"", field);
	if (strlen(*out) != len) {
		free(*out);
		*out = NULL;
		return pgr_err_set(err, "field \"%s\" holds a NUL byte, which pgrefresh does not store", field);
	}
	return 0;
}

/* ---------------------------------------------------------------- request bodies */

int etcd_prefix_range_end(const char *prefix, char **range_end, size_t *len, pgr_err *err)
{
	size_t n = strlen(prefix);
	char *end = malloc(n > 0 ? n : 1);

	*range_end = NULL;
	*len = 0;
	if (end == NULL)
		return pgr_err_set(err, "out of memory");
	memcpy(end, prefix, n);
	while (n > 0) {
		unsigned char last = (unsigned char)end[n - 1];

		if (last < 0xff) {
			end[n - 1] = (char)(last + 1);
			*range_end = end;
			*len = n;
			return 0;
		}
		n--;
	}
	/* no byte can be incremented: every key from prefix on */
	end[0] = '\0';
	*range_end = end;
	*len = 1;
	return 0;
}

/* Dumps root (consumed) into *body; root NULL means a build step ran out of memory. */
static int dump(json_t *root, char **body, pgr_err *err)
{
	*body = NULL;
	if (root == NULL)
		return pgr_err_set(err, "out of memory building an etcd request");
	*body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (*body == NULL)
		return pgr_err_set(err, "out of memory building an etcd request");
	return 0;
}

static void i64_str(int64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRId64, v);
}

/* {"key":b64} plus "range_end" when prefix; NULL when out of memory. */
static json_t *key_object(const char *key, bool prefix)
{
	json_t *obj = json_object();
	char *k = etcd_b64_encode(key, strlen(key));
	int rc = obj && k ? json_object_set_new(obj, "key", json_string(k)) : -1;

	free(k);
	if (rc == 0 && prefix) {
		char *end = NULL;
		size_t endlen = 0;
		char *e = NULL;

		if (etcd_prefix_range_end(key, &end, &endlen, NULL) == 0)
			e = etcd_b64_encode(end, endlen);
		rc = e ? json_object_set_new(obj, "range_end", json_string(e)) : -1;
		free(e);
		free(end);
	}
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *range_object(const char *key, bool prefix, int64_t revision)
{
	json_t *obj = key_object(key, prefix);
	char rev[32];

	if (obj == NULL)
		return NULL;
	if (prefix && (json_object_set_new(obj, "sort_order", json_string("ASCEND")) != 0 ||
		       json_object_set_new(obj, "sort_target", json_string("KEY")) != 0))
		goto fail;
	if (revision > 0) {
		i64_str(revision, rev, sizeof(rev));
		if (json_object_set_new(obj, "revision", json_string(rev)) != 0)
			goto fail;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

static json_t *put_object(const char *key, const char *value, int64_t lease)
{
	json_t *obj = key_object(key, false);
	char *v = etcd_b64_encode(value, strlen(value));
	char id[32];
	int rc = obj && v ? json_object_set_new(obj, "value", json_string(v)) : -1;

	free(v);
	if (rc == 0 && lease != 0) {
		i64_str(lease, id, sizeof(id));
		rc = json_object_set_new(obj, "lease", json_string(id));
	}
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

int etcd_build_range(const char *key, bool prefix, int64_t revision, char **body, pgr_err *err)
{
	return dump(range_object(key, prefix, revision), body, err);
}

int etcd_build_put(const char *key, const char *value, int64_t lease, char **body, pgr_err *err)
{
	return dump(put_object(key, value, lease), body, err);
}

int etcd_build_delete(const char *key, bool prefix, char **body, pgr_err *err)
{
	return dump(key_object(key, prefix), body, err);
}

/*
 * {"compare":[{key, target, result EQUAL, <field>:"N"}], "success":[{op:..}(, {request_range})],
 *  "failure":[{request_range}]}: op_body is consumed; read_after adds a read of the key after op.
 */
static json_t *txn_object(const char *key, const char *target, const char *field, int64_t expected, const char *op,
			  json_t *op_body, bool read_after)
{
	char *k = etcd_b64_encode(key, strlen(key));
	char rev[32];
	json_t *root = NULL, *success = NULL;

	i64_str(expected, rev, sizeof(rev));
	if (k == NULL || op_body == NULL)
		goto fail;
	success = json_pack("[{s:o}]", op, op_body);
	op_body = NULL; /* stolen by json_pack, even on failure */
	if (success == NULL)
		goto fail;
	if (read_after) {
		json_t *read = range_object(key, false, 0);

		if (read == NULL || json_array_append_new(success, json_pack("{s:o}", "request_range", read)) != 0)
			goto fail;
	}
	root = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:o, s:[{s:o*}]}", "compare", "key", k, "target", target, "result",
			 "EQUAL", field, rev, "success", success, "failure", "request_range",
			 range_object(key, false, 0));
	success = NULL;
	if (root != NULL &&
	    !json_is_object(json_object_get(json_array_get(json_object_get(root, "failure"), 0), "request_range"))) {
		json_decref(root);
		root = NULL;
	}
	free(k);
	return root;
fail:
	free(k);
	json_decref(op_body);
	json_decref(success);
	return NULL;
}

int etcd_build_txn_put_if(const char *key, const char *value, int64_t expected_mod_revision, int64_t lease,
			  char **body, pgr_err *err)
{
	json_t *put = put_object(key, value, lease);

	if (expected_mod_revision == 0)
		return dump(txn_object(key, "CREATE", "create_revision", 0, "request_put", put, true), body, err);
	return dump(txn_object(key, "MOD", "mod_revision", expected_mod_revision, "request_put", put, true), body,
		    err);
}

int etcd_build_txn_delete_if(const char *key, int64_t expected_mod_revision, char **body, pgr_err *err)
{
	return dump(txn_object(key, "MOD", "mod_revision", expected_mod_revision, "request_delete_range",
			       key_object(key, false), false),
		    body, err);
}

/* "key" (b64 of key, with its terminating NUL when after: the first key after it) and the rest of a range */
static json_t *range_req_object(const etcd_range_req *req)
{
	json_t *obj = json_object();
	char *k = req->key ? etcd_b64_encode(req->key, strlen(req->key) + (req->after ? 1 : 0)) : NULL;
	char num[32];
	int rc = obj && k ? json_object_set_new(obj, "key", json_string(k)) : -1;

	free(k);
	if (rc == 0 && req->range_end != NULL) {
		char *e = etcd_b64_encode(req->range_end, strlen(req->range_end));

		rc = e ? json_object_set_new(obj, "range_end", json_string(e)) : -1;
		free(e);
		if (rc == 0)
			rc = json_object_set_new(obj, "sort_order", json_string(req->descend ? "DESCEND" : "ASCEND"));
		if (rc == 0)
			rc = json_object_set_new(obj, "sort_target", json_string("KEY"));
	}
	if (rc == 0 && req->limit > 0) {
		i64_str(req->limit, num, sizeof(num));
		rc = json_object_set_new(obj, "limit", json_string(num));
	}
	if (rc == 0 && req->revision > 0) {
		i64_str(req->revision, num, sizeof(num));
		rc = json_object_set_new(obj, "revision", json_string(num));
	}
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

int etcd_build_range_req(const etcd_range_req *req, char **body, pgr_err *err)
{
	if (req->key == NULL) {
		*body = NULL;
		return pgr_err_set(err, "an etcd range needs a key");
	}
	return dump(range_req_object(req), body, err);
}

/* [{"request_put"|"request_delete_range"|"request_range": {...}}, ...]; NULL when out of memory */
static json_t *txn_ops(const etcd_op *ops, int n)
{
	json_t *arr = json_array();

	for (int i = 0; arr != NULL && i < n; i++) {
		json_t *op = NULL;
		const char *name = NULL;

		switch (ops[i].type) {
		case ETCD_OP_PUT:
			op = put_object(ops[i].key, ops[i].value ? ops[i].value : "", ops[i].lease);
			name = "request_put";
			break;
		case ETCD_OP_DELETE:
			op = key_object(ops[i].key, false);
			name = "request_delete_range";
			break;
		case ETCD_OP_GET:
			op = range_object(ops[i].key, false, 0);
			name = "request_range";
			break;
		}
		if (op == NULL || json_array_append_new(arr, json_pack("{s:o}", name, op)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

int etcd_build_txn(const etcd_cmp *cmps, int ncmp, const etcd_op *success, int nsuccess, const etcd_op *failure,
		   int nfailure, char **body, pgr_err *err)
{
	json_t *compare = json_array(), *ok, *ko;

	for (int i = 0; compare != NULL && i < ncmp; i++) {
		char *k = etcd_b64_encode(cmps[i].key, strlen(cmps[i].key));
		char rev[32];
		static const char *const targets[] = { [ETCD_CMP_CREATE] = "CREATE", [ETCD_CMP_MOD] = "MOD",
						       [ETCD_CMP_LEASE] = "LEASE" };
		static const char *const fields[] = { [ETCD_CMP_CREATE] = "create_revision",
						      [ETCD_CMP_MOD] = "mod_revision", [ETCD_CMP_LEASE] = "lease" };

		i64_str(cmps[i].revision, rev, sizeof(rev));
		if (k == NULL || json_array_append_new(compare, json_pack("{s:s, s:s, s:s, s:s}", "key", k, "target",
									  targets[cmps[i].target], "result", "EQUAL",
									  fields[cmps[i].target], rev)) != 0) {
			json_decref(compare);
			compare = NULL;
		}
		free(k);
	}
	ok = txn_ops(success, nsuccess);
	ko = txn_ops(failure, nfailure);
	if (compare == NULL || ok == NULL || ko == NULL) {
		json_decref(compare);
		json_decref(ok);
		json_decref(ko);
		return dump(NULL, body, err);
	}
	return dump(json_pack("{s:o, s:o, s:o}", "compare", compare, "success", ok, "failure", ko), body, err);
}

int etcd_build_lease_grant(int ttl_seconds, char **body, pgr_err *err)
{
	char ttl[32];

	i64_str(ttl_seconds, ttl, sizeof(ttl));
	return dump(json_pack("{s:s}", "TTL", ttl), body, err);
}

int etcd_build_auth(const char *user, const char *password, char **body, pgr_err *err)
{
	return dump(json_pack("{s:s, s:s}", "name", user, "password", password), body, err);
}

int etcd_build_lease_id(int64_t lease_id, char **body, pgr_err *err)
{
	char id[32];

	i64_str(lease_id, id, sizeof(id));
	return dump(json_pack("{s:s}", "ID", id), body, err);
}

int etcd_build_watch(const char *key, bool prefix, int64_t start_revision, char **body, pgr_err *err)
{
	json_t *req = key_object(key, prefix);
	char rev[32];

	if (req != NULL && start_revision > 0) {
		i64_str(start_revision, rev, sizeof(rev));
		if (json_object_set_new(req, "start_revision", json_string(rev)) != 0) {
			json_decref(req);
			req = NULL;
		}
	}
	if (req == NULL)
		return dump(NULL, body, err);
	return dump(json_pack("{s:o}", "create_request", req), body, err);
}

/* ---------------------------------------------------------------- replies */

void etcd_kv_free(etcd_kv *kv)
{
	if (kv == NULL)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_free(etcd_kvs *kvs)
{
	if (kvs == NULL)
		return;
	for (int i = 0; i < kvs->count; i++)
		etcd_kv_free(&kvs->items[i]);
	free(kvs->items);
	memset(kvs, 0, sizeof(*kvs));
}

int etcd_kv_copy(const etcd_kv *src, etcd_kv *dst, pgr_err *err)
{
	*dst = *src;
	dst->key = src->key ? strdup(src->key) : NULL;
	dst->value = src->value ? strdup(src->value) : NULL;
	if ((src->key && dst->key == NULL) || (src->value && dst->value == NULL)) {
		etcd_kv_free(dst);
		return pgr_err_set(err, "out of memory");
	}
	return 0;
}

static void error_text(json_t *root, int *code, char *msg, size_t msglen)
{
	json_t *e = json_object_get(root, "error");
	json_t *m = json_object_get(root, "message");
	json_t *c = json_object_get(root, "code");

	/* streams carry {"error":{"grpc_code":N,"http_code":N,"message":"..."}} */
	if (json_is_object(e)) {
		m = json_object_get(e, "message");
		c = json_object_get(e, "grpc_code");
	}
	*code = json_is_integer(c) ? (int)json_integer_value(c) : -1;
	if (json_is_string(m) && json_string_length(m) > 0)
		snprintf(msg, msglen, "%s", json_string_value(m));
	else if (json_is_string(e))
		snprintf(msg, msglen, "%s", json_string_value(e));
	else
		snprintf(msg, msglen, "unknown error");
}

static bool is_error_object(json_t *root)
{
	json_t *e = json_object_get(root, "error");

	return (json_is_string(e) && json_string_length(e) > 0) || json_is_object(e);
}

bool etcd_parse_error(const char *body, int *code, char *msg, size_t msglen)
{
	json_t *root = json_loads(body, 0, NULL);
	bool is_error = json_is_object(root) && is_error_object(root);

	*code = -1;
	if (msglen > 0)
		msg[0] = '\0';
	if (is_error)
		error_text(root, code, msg, msglen);
	json_decref(root);
	return is_error;
}

/* Fails with the etcd error carried by root; what names the reply. */
static int set_etcd_error(json_t *root, const char *what, pgr_err *err)
{
	char msg[512];
	int code;

	error_text(root, &code, msg, sizeof(msg));
	return pgr_err_set(err, "%s: etcd error (code %d): %s", what, code, msg);
}

/* Parses body as one JSON object that is not an error reply. Caller decrefs. */
static json_t *load_object(const char *body, const char *what, pgr_err *err)
{
	json_error_t jerr;
	json_t *root;

	if (body == NULL) {
		pgr_err_set(err, "%s: empty reply", what);
		return NULL;
	}
	root = json_loads(body, 0, &jerr);
	if (root == NULL) {
		pgr_err_set(err, "%s: malformed JSON at line %d column %d: %s", what, jerr.line, jerr.column,
			    jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		pgr_err_set(err, "%s: expected a JSON object, got \"%.60s\"", what, body);
		json_decref(root);
		return NULL;
	}
	if (is_error_object(root)) {
		set_etcd_error(root, what, err);
		json_decref(root);
		return NULL;
	}
	return root;
}

/* An int64 field: a JSON string of digits (or a JSON integer); absent or null means 0. */
static int get_i64(json_t *obj, const char *field, int64_t *out, const char *what, pgr_err *err)
{
	json_t *v = json_object_get(obj, field);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end = NULL;
		long long n;

		errno = 0;
		n = strtoll(s, &end, 10);
		if (s[0] != '\0' && !isspace((unsigned char)s[0]) && end != NULL && *end == '\0' && errno == 0) {
			*out = (int64_t)n;
			return 0;
		}
		return pgr_err_set(err, "%s: field \"%s\" is not an integer: \"%.40s\"", what, field, s);
	}
	return pgr_err_set(err, "%s: field \"%s\" is not an integer (JSON type %d)", what, field, (int)json_typeof(v));
}

/* An optional object field: absent or null gives NULL with no error. */
static int get_object(json_t *obj, const char *field, json_t **out, const char *what, pgr_err *err)
{
	json_t *v = json_object_get(obj, field);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return pgr_err_set(err, "%s: field \"%s\" is not an object", what, field);
	*out = v;
	return 0;
}

static int get_array(json_t *obj, const char *field, json_t **out, const char *what, pgr_err *err)
{
	json_t *v = json_object_get(obj, field);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return pgr_err_set(err, "%s: field \"%s\" is not an array", what, field);
	*out = v;
	return 0;
}

static int header_revision(json_t *root, int64_t *revision, const char *what, pgr_err *err)
{
	json_t *header;

	*revision = 0;
	if (get_object(root, "header", &header, what, err) != 0)
		return -1;
	if (header == NULL)
		return pgr_err_set(err, "%s: no \"header\" in the reply", what);
	return get_i64(header, "revision", revision, what, err);
}

/* One kv object. An absent value is "" unless absent_value_null (a DELETE event): then NULL. */
static int kv_from_json(json_t *j, bool absent_value_null, etcd_kv *kv, const char *what, pgr_err *err)
{
	json_t *key, *value;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(j))
		return pgr_err_set(err, "%s: a kv is not an object", what);
	key = json_object_get(j, "key");
	value = json_object_get(j, "value");
	if (!json_is_string(key))
		return pgr_err_set(err, "%s: a kv has no string \"key\"", what);
	if (value != NULL && !json_is_null(value) && !json_is_string(value))
		return pgr_err_set(err, "%s: the \"value\" of a kv is not a string", what);
	if (b64_decode_cstring(json_string_value(key), "key", &kv->key, err) != 0)
		return pgr_err_prefix(err, "%s", what);
	if (json_is_string(value)) {
		if (b64_decode_cstring(json_string_value(value), "value", &kv->value, err) != 0) {
			pgr_err_prefix(err, "%s: key %s", what, kv->key);
			goto fail;
		}
	} else if (!absent_value_null) {
		kv->value = strdup("");
		if (kv->value == NULL) {
			pgr_err_set(err, "out of memory");
			goto fail;
		}
	}
	if (get_i64(j, "create_revision", &kv->create_revision, what, err) != 0 ||
	    get_i64(j, "mod_revision", &kv->mod_revision, what, err) != 0 ||
	    get_i64(j, "version", &kv->version, what, err) != 0 || get_i64(j, "lease", &kv->lease, what, err) != 0)
		goto fail;
	return 0;
fail:
	etcd_kv_free(kv);
	return -1;
}

/* Appends room for n more items to kvs. */
static int kvs_grow(etcd_kvs *kvs, size_t n, pgr_err *err)
{
	etcd_kv *items;

	if (n == 0)
		return 0;
	if ((size_t)kvs->count + n > (size_t)INT32_MAX)
		return pgr_err_set(err, "too many keys");
	items = realloc(kvs->items, ((size_t)kvs->count + n) * sizeof(*items));
	if (items == NULL)
		return pgr_err_set(err, "out of memory");
	memset(items + kvs->count, 0, n * sizeof(*items));
	kvs->items = items;
	return 0;
}

/* The kvs array of a range reply (or response_range) into out, which must be empty. */
static int kvs_from_range(json_t *range, etcd_kvs *out, const char *what, pgr_err *err)
{
	json_t *kvs;
	size_t i;
	json_t *item;

	if (get_array(range, "kvs", &kvs, what, err) != 0)
		return -1;
	if (kvs == NULL)
		return 0;
	if (kvs_grow(out, json_array_size(kvs), err) != 0)
		return -1;
	json_array_foreach(kvs, i, item)
	{
		if (kv_from_json(item, false, &out->items[out->count], what, err) != 0)
			return -1;
		out->count++;
	}
	return 0;
}

int etcd_parse_header(const char *body, int64_t *revision, pgr_err *err)
{
	json_t *root = load_object(body, "etcd reply", err);
	int rc;

	*revision = 0;
	if (root == NULL)
		return -1;
	rc = header_revision(root, revision, "etcd reply", err);
	json_decref(root);
	return rc;
}

int etcd_parse_range(const char *body, etcd_kvs *out, pgr_err *err)
{
	const char *what = "etcd range reply";
	json_t *root = load_object(body, what, err);

	memset(out, 0, sizeof(*out));
	if (root == NULL)
		return -1;
	if (header_revision(root, &out->revision, what, err) != 0 || kvs_from_range(root, out, what, err) != 0) {
		json_decref(root);
		etcd_kvs_free(out);
		return -1;
	}
	json_decref(root);
	return 0;
}

int etcd_parse_deleterange(const char *body, int64_t *deleted, pgr_err *err)
{
	const char *what = "etcd deleterange reply";
	json_t *root = load_object(body, what, err);
	int64_t revision;
	int rc;

	*deleted = 0;
	if (root == NULL)
		return -1;
	rc = header_revision(root, &revision, what, err);
	if (rc == 0)
		rc = get_i64(root, "deleted", deleted, what, err);
	json_decref(root);
	return rc;
}

int etcd_parse_txn(const char *body, bool *succeeded, etcd_kvs *range, pgr_err *err)
{
	const char *what = "etcd txn reply";
	json_t *root = load_object(body, what, err);
	json_t *ok, *responses, *item;
	int64_t revision = 0;
	size_t i;

	*succeeded = false;
	if (range)
		memset(range, 0, sizeof(*range));
	if (root == NULL)
		return -1;
	ok = json_object_get(root, "succeeded");
	if (ok != NULL && !json_is_boolean(ok)) {
		pgr_err_set(err, "%s: field \"succeeded\" is not a boolean", what);
		goto fail;
	}
	*succeeded = json_is_true(ok);
	if (header_revision(root, &revision, what, err) != 0 ||
	    get_array(root, "responses", &responses, what, err) != 0)
		goto fail;
	if (range)
		range->revision = revision;
	json_array_foreach(responses, i, item)
	{
		json_t *rr;

		if (!json_is_object(item)) {
			pgr_err_set(err, "%s: a response is not an object", what);
			goto fail;
		}
		if (get_object(item, "response_range", &rr, what, err) != 0)
			goto fail;
		if (rr != NULL && range != NULL) {
			if (kvs_from_range(rr, range, what, err) != 0)
				goto fail;
			break;
		}
	}
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	if (range)
		etcd_kvs_free(range);
	*succeeded = false;
	return -1;
}

int etcd_parse_lease_grant(const char *body, int64_t *lease_id, int64_t *ttl, pgr_err *err)
{
	const char *what = "etcd lease grant reply";
	json_t *root = load_object(body, what, err); /* a grant's own "error" field is caught there too */
	int rc;

	*lease_id = 0;
	*ttl = 0;
	if (root == NULL)
		return -1;
	rc = get_i64(root, "ID", lease_id, what, err);
	if (rc == 0)
		rc = get_i64(root, "TTL", ttl, what, err);
	if (rc == 0 && *lease_id == 0)
		rc = pgr_err_set(err, "%s: no lease \"ID\" in the reply", what);
	json_decref(root);
	return rc;
}

int etcd_parse_auth_token(const char *body, char *token, size_t tokenlen, pgr_err *err)
{
	const char *what = "etcd authenticate reply";
	json_t *root = load_object(body, what, err);
	json_t *value;
	const char *text;
	int rc = 0;

	if (tokenlen > 0)
		token[0] = '\0';
	if (root == NULL)
		return -1;
	value = json_object_get(root, "token");
	text = json_string_value(value);
	if (value == NULL)
		rc = pgr_err_set(err, "%s: no \"token\" in the reply", what);
	else if (text == NULL)
		rc = pgr_err_set(err, "%s: \"token\" is not a string", what);
	else if (text[0] == '\0')
		rc = pgr_err_set(err, "%s: \"token\" is empty", what);
	else if (strlen(text) >= tokenlen)
		rc = pgr_err_set(err, "%s: \"token\" longer than %zu bytes", what, tokenlen - 1);
	else {
		for (const char *c = text; *c != '\0'; c++)
			if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
				rc = pgr_err_set(err, "%s: \"token\" holds a byte that cannot go in a header", what);
		if (rc == 0)
			memcpy(token, text, strlen(text) + 1);
	}
	json_decref(root);
	return rc;
}

int etcd_parse_lease_keepalive(const char *body, int64_t *ttl_left, pgr_err *err)
{
	const char *what = "etcd lease keepalive reply";
	json_t *root = load_object(body, what, err);
	json_t *result;
	int rc;

	*ttl_left = 0;
	if (root == NULL)
		return -1;
	rc = get_object(root, "result", &result, what, err);
	if (rc == 0 && result == NULL)
		rc = pgr_err_set(err, "%s: no \"result\" in the reply", what);
	if (rc == 0)
		rc = get_i64(result, "TTL", ttl_left, what, err);
	if (rc == 0 && *ttl_left < 0)
		*ttl_left = 0;
	json_decref(root);
	return rc;
}

int etcd_parse_lease_timetolive(const char *body, int64_t *ttl_left, pgr_err *err)
{
	const char *what = "etcd lease timetolive reply";
	json_t *root = load_object(body, what, err);
	int rc;

	*ttl_left = 0;
	if (root == NULL)
		return -1;
	/*
	 * a reply without TTL must not read as "expired", unless it is a reply about the lease (its "ID"): proto3
	 * leaves a zero out, and a lease past its TTL that etcd has not revoked yet has TTL 0
	 */
	if (json_object_get(root, "TTL") != NULL)
		rc = get_i64(root, "TTL", ttl_left, what, err);
	else if (json_object_get(root, "ID") != NULL)
		rc = 0;
	else
		rc = pgr_err_set(err, "%s: no \"TTL\" in the reply", what);
	if (rc == 0 && *ttl_left < 0)
		*ttl_left = 0;
	json_decref(root);
	return rc;
}

int etcd_parse_health(const char *body, bool *healthy, char *reason, size_t reasonlen, pgr_err *err)
{
	const char *what = "etcd health reply";
	json_t *root = load_object(body, what, err);
	json_t *h, *r;

	*healthy = false;
	if (reasonlen > 0)
		reason[0] = '\0';
	if (root == NULL)
		return -1;
	h = json_object_get(root, "health");
	r = json_object_get(root, "reason");
	if (!json_is_string(h)) {
		json_decref(root);
		return pgr_err_set(err, "%s: no string \"health\" in \"%.60s\"", what, body);
	}
	*healthy = strcmp(json_string_value(h), "true") == 0;
	if (reasonlen > 0)
		snprintf(reason, reasonlen, "%s",
			 json_is_string(r) && json_string_length(r) > 0 ? json_string_value(r) : json_string_value(h));
	json_decref(root);
	return 0;
}

/* One {"result":...} of a watch stream, appended to events. */
static int watch_result(json_t *root, etcd_kvs *events, bool *created, const char *what, pgr_err *err)
{
	json_t *result, *list, *item;
	int64_t revision = 0, compact = 0;
	size_t i;

	if (!json_is_object(root))
		return pgr_err_set(err, "%s: a stream item is not an object", what);
	if (is_error_object(root))
		return set_etcd_error(root, what, err);
	if (get_object(root, "result", &result, what, err) != 0)
		return -1;
	if (result == NULL)
		return pgr_err_set(err, "%s: a stream item has no \"result\"", what);
	if (header_revision(result, &revision, what, err) != 0 ||
	    get_i64(result, "compact_revision", &compact, what, err) != 0)
		return -1;
	if (compact > 0)
		return pgr_err_set(err, "%s: the start revision was compacted (compact_revision %" PRId64 ")", what,
				   compact);
	if (json_is_true(json_object_get(result, "canceled"))) {
		json_t *reason = json_object_get(result, "cancel_reason");

		return pgr_err_set(err, "%s: the watch was canceled: %s", what,
				   json_is_string(reason) ? json_string_value(reason) : "no reason given");
	}
	if (json_is_true(json_object_get(result, "created")))
		*created = true;
	if (revision > events->revision)
		events->revision = revision;
	if (get_array(result, "events", &list, what, err) != 0)
		return -1;
	if (list == NULL)
		return 0;
	if (kvs_grow(events, json_array_size(list), err) != 0)
		return -1;
	json_array_foreach(list, i, item)
	{
		json_t *type, *kv;
		bool is_delete;

		if (!json_is_object(item))
			return pgr_err_set(err, "%s: an event is not an object", what);
		type = json_object_get(item, "type");
		if (type != NULL && !json_is_string(type))
			return pgr_err_set(err, "%s: an event \"type\" is not a string", what);
		is_delete = type != NULL && strcmp(json_string_value(type), "DELETE") == 0;
		if (type != NULL && !is_delete && strcmp(json_string_value(type), "PUT") != 0)
			return pgr_err_set(err, "%s: unknown event type \"%.20s\"", what, json_string_value(type));
		if (get_object(item, "kv", &kv, what, err) != 0)
			return -1;
		if (kv == NULL)
			return pgr_err_set(err, "%s: an event has no \"kv\"", what);
		if (kv_from_json(kv, is_delete, &events->items[events->count], what, err) != 0)
			return -1;
		if (is_delete) {
			/* a DELETE carries no value: value NULL marks it */
			free(events->items[events->count].value);
			events->items[events->count].value = NULL;
		}
		events->count++;
	}
	return 0;
}

int etcd_parse_watch_stream(const char *body, bool truncated_ok, etcd_kvs *events, bool *created, pgr_err *err)
{
	const char *what = "etcd watch reply";
	size_t len = body ? strlen(body) : 0;
	size_t pos = 0;

	memset(events, 0, sizeof(*events));
	*created = false;
	for (;;) {
		json_error_t jerr;
		json_t *root;
		int rc;

		while (pos < len && isspace((unsigned char)body[pos]))
			pos++;
		if (pos >= len)
			return 0;
		root = json_loadb(body + pos, len - pos, JSON_DISABLE_EOF_CHECK, &jerr);
		if (root == NULL) {
			if (truncated_ok && json_error_code(&jerr) == json_error_premature_end_of_input)
				return 0;
			etcd_kvs_free(events);
			*created = false;
			return pgr_err_set(err, "%s: malformed JSON at byte %zu: %s", what,
					   pos + (size_t)(jerr.position > 0 ? jerr.position : 0), jerr.text);
		}
		rc = watch_result(root, events, created, what, err);
		json_decref(root);
		if (rc != 0) {
			etcd_kvs_free(events);
			*created = false;
			return -1;
		}
		pos += (size_t)jerr.position;
	}
}

int etcd_kvs_diff(const etcd_kvs *before, const etcd_kvs *now, int64_t since_revision, etcd_kvs *changes,
		  pgr_err *err)
{
	int nb = before ? before->count : 0;
	int b = 0;

	memset(changes, 0, sizeof(*changes));
	changes->revision = now->revision;
	if (kvs_grow(changes, (size_t)nb + (size_t)now->count, err) != 0)
		return -1;
	for (int n = 0; n < now->count; n++) {
		if (now->items[n].mod_revision < since_revision)
			continue;
		if (etcd_kv_copy(&now->items[n], &changes->items[changes->count], err) != 0)
			goto fail;
		changes->count++;
	}
	/* deleted: in before, not in now (both sorted by key: one merge walk) */
	for (int n = 0; b < nb; b++) {
		const char *key = before->items[b].key;
		int cmp = 1;

		while (n < now->count && (cmp = strcmp(now->items[n].key, key)) < 0)
			n++;
		if (n < now->count && cmp == 0)
			continue;
		changes->items[changes->count].key = strdup(key);
		if (changes->items[changes->count].key == NULL) {
			pgr_err_set(err, "out of memory");
			goto fail;
		}
		changes->count++;
	}
	return 0;
fail:
	etcd_kvs_free(changes);
	return -1;
}
