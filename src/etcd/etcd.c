#include "etcd/etcd.h"

#include <ctype.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd/etcd_parse.h"
#include "util/exitcodes.h"
#include "util/http.h"
#include "util/log.h"
#include "util/proc.h"

#define ETCD_DEFAULT_TIMEOUT_MS 3000
#define ETCD_WATCH_POLL_MS 100
#define ETCD_GRPC_NOT_FOUND 5

int etcd_client_init(etcd_client *client, const char *endpoints, pgr_err *err)
{
	const char *p = endpoints;

	memset(client, 0, sizeof(*client));
	client->timeout_ms = ETCD_DEFAULT_TIMEOUT_MS;
	if (endpoints == NULL)
		return pgr_err_set(err, "no etcd endpoint given");
	while (*p != '\0') {
		const char *start, *end;
		size_t len;
		char *ep;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && isspace((unsigned char)end[-1]))
			end--;
		while (end > start && end[-1] == '/')
			end--;
		len = (size_t)(end - start);
		if (client->endpoint_count == (int)(sizeof(client->endpoints) / sizeof(client->endpoints[0])))
			return pgr_err_set(err, "too many etcd endpoints in \"%s\" (at most %zu)", endpoints,
					   sizeof(client->endpoints) / sizeof(client->endpoints[0]));
		if (len >= sizeof(client->endpoints[0]))
			return pgr_err_set(err, "etcd endpoint \"%.*s\" is too long", (int)len, start);
		if (!(len > 7 && strncmp(start, "http://", 7) == 0) && !(len > 8 && strncmp(start, "https://", 8) == 0))
			return pgr_err_set(err, "etcd endpoint \"%.*s\" is not an http:// or https:// URL", (int)len,
					   start);
		ep = client->endpoints[client->endpoint_count++];
		memcpy(ep, start, len);
		ep[len] = '\0';
	}
	if (client->endpoint_count == 0)
		return pgr_err_set(err, "no etcd endpoint in \"%s\"", endpoints);
	return 0;
}

/* The first bytes of a body, on one line, for an error message. */
static void body_start(const char *body, char *out, size_t outlen)
{
	size_t i = 0;

	for (; body != NULL && body[i] != '\0' && i + 1 < outlen && i < 200; i++)
		out[i] = iscntrl((unsigned char)body[i]) ? ' ' : body[i];
	out[i] = '\0';
}

/* Copies text into a fixed field; what names it in the error when too long. */
static int set_field(char *field, size_t size, const char *text, const char *what, pgr_err *err)
{
	size_t len = text != NULL ? strlen(text) : 0;

	if (len >= size)
		return pgr_err_set(err, "etcd %s is too long (at most %zu bytes)", what, size - 1);
	memcpy(field, text != NULL ? text : "", len);
	field[len] = '\0';
	return 0;
}

int etcd_client_set_tls(etcd_client *client, const char *ca_file, const char *cert_file, const char *key_file,
			pgr_err *err)
{
	bool has_cert = cert_file != NULL && cert_file[0] != '\0';
	bool has_key = key_file != NULL && key_file[0] != '\0';

	if (has_cert != has_key)
		return pgr_err_set(err, "etcd client certificate and key go together: %s given without %s",
				   has_cert ? "a certificate" : "a key", has_cert ? "a key" : "a certificate");
	if (set_field(client->ca_file, sizeof(client->ca_file), ca_file, "CA file path", err) != 0 ||
	    set_field(client->cert_file, sizeof(client->cert_file), cert_file, "certificate path", err) != 0 ||
	    set_field(client->key_file, sizeof(client->key_file), key_file, "key path", err) != 0)
		return -1;
	return 0;
}

int etcd_client_set_auth(etcd_client *client, const char *user, const char *password, pgr_err *err)
{
	if (user == NULL || user[0] == '\0')
		return pgr_err_set(err, "etcd user is empty");
	if (password == NULL || password[0] == '\0')
		return pgr_err_set(err, "etcd password of user %s is empty", user);
	if (set_field(client->user, sizeof(client->user), user, "user name", err) != 0)
		return -1;
	if (strlen(password) >= sizeof(client->password))
		return pgr_err_set(err, "etcd password of user %s is too long (at most %zu bytes)", user,
				   sizeof(client->password) - 1);
	memcpy(client->password, password, strlen(password) + 1);
	return 0;
}

/* The client's TLS options for util/http (no authentication header). */
static http_opts tls_opts(const etcd_client *client)
{
	http_opts opts = { 0 };

	opts.ca_file = client->ca_file[0] ? client->ca_file : NULL;
	opts.cert_file = client->cert_file[0] ? client->cert_file : NULL;
	opts.key_file = client->key_file[0] ? client->key_file : NULL;
	return opts;
}

/*
 * The process's etcd token: one, for the user, password and first endpoint it was taken for (a process talks to
 * one etcd cluster as one user). Shared by threads (a lease keeper), hence the lock.
 */
#define ETCD_TOKEN_MAX 512
static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
static char token_owner[sizeof(((etcd_client *)0)->user) + sizeof(((etcd_client *)0)->password) +
		       sizeof(((etcd_client *)0)->endpoints[0]) + 2];
static char token_value[ETCD_TOKEN_MAX];

static void token_owner_of(const etcd_client *client, char *buf, size_t len)
{
	/* the password too: a client with another password must not borrow this one's token */
	snprintf(buf, len, "%s\n%s@%s", client->user, client->password, client->endpoints[0]);
}

/* The token kept for client into out ("" when none). */
static void token_get(const etcd_client *client, char *out, size_t len)
{
	char owner[sizeof(token_owner)];

	token_owner_of(client, owner, sizeof(owner));
	pthread_mutex_lock(&token_lock);
	snprintf(out, len, "%s", strcmp(owner, token_owner) == 0 ? token_value : "");
	pthread_mutex_unlock(&token_lock);
}

/* Keeps token for client; "" forgets it (only if it is still the one given as stale). */
static void token_put(const etcd_client *client, const char *token, const char *stale)
{
	pthread_mutex_lock(&token_lock);
	if (token[0] != '\0') {
		token_owner_of(client, token_owner, sizeof(token_owner));
		snprintf(token_value, sizeof(token_value), "%s", token);
	} else if (stale != NULL && strcmp(token_value, stale) == 0) {
		token_owner[0] = '\0';
		token_value[0] = '\0';
	}
	pthread_mutex_unlock(&token_lock);
}

/* What to add to an error of etcd's JSON gateway refusing a client certificate that has a CommonName. */
static const char *cn_note(const etcd_client *client, const char *msg)
{
	static __thread char note[400];

	if (strstr(msg, "CommonName of client") == NULL)
		return "";
	snprintf(note, sizeof(note), " (etcd's JSON gateway refuses a client certificate with a CN: make %s without one)",
		 client->cert_file);
	return note;
}

/*
 * Exchanges the client's user and password for a token on endpoint i. Returns 0 with the token, 1 on a
 * transport failure (err says which: try the next endpoint), -1 when etcd answered with a refusal.
 */
static int authenticate(const etcd_client *client, int i, char *token, size_t tokenlen, pgr_err *err)
{
	http_opts opts = tls_opts(client);
	http_reply reply;
	char url[256];
	char *body = NULL;
	int rc;

	snprintf(url, sizeof(url), "%s/v3/auth/authenticate", client->endpoints[i]);
	if (etcd_build_auth(client->user, client->password, &body, err) != 0)
		return -1;
	rc = http_request_opts("POST", url, body, client->timeout_ms, &opts, &reply, err);
	free(body);
	if (rc != 0)
		return 1;
	if (reply.status == 200) {
		rc = etcd_parse_auth_token(reply.body, token, tokenlen, err);
	} else {
		char msg[512];
		int code;
		const char *text = msg;

		if (!etcd_parse_error(reply.body, &code, msg, sizeof(msg)))
			body_start(reply.body, msg, sizeof(msg));
		if (strncmp(text, "etcdserver: ", 12) == 0)
			text += 12;
		if (strstr(text, "authentication failed") != NULL)
			rc = pgr_err_set(err, "etcd refused pgrefresh's credentials (user %s): %s", client->user,
					 text);
		else
			rc = pgr_err_set(err, "etcd authenticate (user %s): HTTP %ld from %s: %s%s", client->user,
					 reply.status, client->endpoints[i], text[0] ? text : "(empty body)",
					 cn_note(client, text));
	}
	http_reply_free(&reply);
	return rc;
}

/* Whether reply is etcd saying the token sent is not (or no longer) valid. */
static bool token_refused(const http_reply *reply)
{
	char msg[256];
	int code;

	return etcd_parse_error(reply->body, &code, msg, sizeof(msg)) && strstr(msg, "invalid auth token") != NULL;
}

/*
 * Sends body to path on each endpoint in turn until one answers (a transport failure moves on to the
 * next). Returns 0 with an HTTP 200 reply (free with http_reply_free), else -1 with err naming subject
 * and the cause; *etcd_code (may be NULL) receives etcd's gRPC error code, -1 when there is none.
 * With a user, the request carries the process's token (taken first when there is none), and a token
 * etcd no longer takes is renewed once and the request sent again.
 */
static int call(const etcd_client *client, const char *method, const char *path, const char *body,
		const char *subject, http_reply *reply, int *etcd_code, pgr_err *err)
{
	char causes[PGR_ERR_MAX] = "";
	size_t used = 0;
	bool renewed = false;

	memset(reply, 0, sizeof(*reply));
	if (etcd_code)
		*etcd_code = -1;
	for (int i = 0; i < client->endpoint_count; i++) {
		char url[256];
		char token[ETCD_TOKEN_MAX] = "";
		char header[ETCD_TOKEN_MAX + 32];
		http_opts opts = tls_opts(client);
		pgr_err tried;
		int rc = 0;

		pgr_err_clear(&tried);
		if (client->user[0] != '\0') {
			token_get(client, token, sizeof(token));
			if (token[0] == '\0') {
				rc = authenticate(client, i, token, sizeof(token), &tried);
				if (rc < 0) {
					pgr_err_set(err, "etcd %s: %s", subject, tried.msg);
					return -1;
				}
				if (rc == 0)
					token_put(client, token, NULL);
			}
			snprintf(header, sizeof(header), "Authorization: %s", token);
			opts.auth_header = header;
		}
		snprintf(url, sizeof(url), "%s%s", client->endpoints[i], path);
		if (rc != 0 || http_request_opts(method, url, body, client->timeout_ms, &opts, reply, &tried) != 0) {
			int n = snprintf(causes + used, sizeof(causes) - used, "%s%s", used ? "; " : "", tried.msg);

			if (n > 0)
				used = (size_t)n < sizeof(causes) - used ? used + (size_t)n : sizeof(causes) - 1;
			continue;
		}
		if (reply->status == 200)
			return 0;
		if (client->user[0] != '\0' && !renewed && token_refused(reply)) {
			/* expired (etcd's simple tokens live 5 minutes unused) or etcd restarted: take another */
			http_reply_free(reply);
			token_put(client, "", token);
			renewed = true;
			i--;
			continue;
		}
		{
			char msg[512];
			int code;

			if (etcd_parse_error(reply->body, &code, msg, sizeof(msg))) {
				if (etcd_code)
					*etcd_code = code;
				pgr_err_set(err, "etcd %s: HTTP %ld from %s: %s (code %d)", subject, reply->status,
					    client->endpoints[i], msg, code);
			} else {
				body_start(reply->body, msg, sizeof(msg));
				pgr_err_set(err, "etcd %s: HTTP %ld from %s: %s%s", subject, reply->status,
					    client->endpoints[i], msg[0] ? msg : "(empty body)", cn_note(client, msg));
			}
		}
		http_reply_free(reply);
		return -1;
	}
	return pgr_err_set(err, "etcd %s: " ETCD_UNREACHABLE_TEXT ": %s", subject, causes);
}

bool etcd_err_unreachable(const pgr_err *err)
{
	return err != NULL && strstr(err->msg, ": " ETCD_UNREACHABLE_TEXT ": ") != NULL;
}

etcd_failure etcd_err_classify(const pgr_err *err)
{
	if (err == NULL || err->msg[0] == '\0')
		return ETCD_FAIL_OTHER;
	if (http_err_tls(err))
		return ETCD_FAIL_TLS; /* whatever the other endpoints said: reached, and the TLS is wrong */
	if (strstr(err->msg, "etcd refused pgrefresh's credentials") != NULL ||
	    strstr(err->msg, "permission denied") != NULL)
		return ETCD_FAIL_CREDENTIALS;
	if (etcd_err_unreachable(err))
		return ETCD_FAIL_UNREACHABLE;
	return ETCD_FAIL_OTHER;
}

int etcd_err_explain(pgr_err *err, const char *cluster, const char *conf_dir, const char *password_secret)
{
	switch (etcd_err_classify(err)) {
	case ETCD_FAIL_TLS:
		pgr_err_prefix(err, "TLS with etcd of cluster %s failed", cluster);
		pgr_err_hint(err, "check etcd_ca, etcd_cert and etcd_key in %s/pgrefresh.conf against etcd's certificates "
			     "(the file named above), then `pgrefresh status --dir %s`", conf_dir, conf_dir);
		return PGR_EXIT_ERROR;
	case ETCD_FAIL_CREDENTIALS:
		pgr_err_prefix(err, "etcd of cluster %s refused pgrefresh", cluster);
		if (password_secret != NULL && password_secret[0] != '\0')
			pgr_err_hint(err, "check etcd_user in %s/pgrefresh.conf, its password in %s/secrets.d/%s (etcd_password_secret) "
				     "and its role in etcd", conf_dir, conf_dir, password_secret);
		else
			pgr_err_hint(err, "check etcd_user and etcd_password_secret in %s/pgrefresh.conf, and the user's role in etcd",
				     conf_dir);
		return PGR_EXIT_ERROR;
	case ETCD_FAIL_UNREACHABLE:
	case ETCD_FAIL_OTHER:
		break;
	}
	pgr_err_prefix(err, "etcd of cluster %s unreachable", cluster);
	pgr_err_hint(err, "start the cluster with `pgrefresh cluster start --dir %s`", conf_dir);
	return PGR_EXIT_UNREACHABLE;
}

/* A range of key (or prefix) at revision (0: now) into out. */
static int range_kvs(const etcd_client *client, const char *key, bool prefix, int64_t revision, const char *subject,
		     etcd_kvs *out, pgr_err *err)
{
	http_reply reply;
	char *body = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (etcd_build_range(key, prefix, revision, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	rc = call(client, "POST", "/v3/kv/range", body, subject, &reply, NULL, err);
	free(body);
	if (rc != 0)
		return -1;
	rc = etcd_parse_range(reply.body, out, err);
	http_reply_free(&reply);
	if (rc != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	return 0;
}

/* Moves the first kv of kvs into out (zeroed when there is none) and frees the rest. */
static void take_first(etcd_kvs *kvs, etcd_kv *out, bool *found)
{
	memset(out, 0, sizeof(*out));
	if (found)
		*found = kvs->count > 0;
	if (kvs->count > 0) {
		*out = kvs->items[0];
		memset(&kvs->items[0], 0, sizeof(kvs->items[0]));
	}
	etcd_kvs_free(kvs);
}

int etcd_get(const etcd_client *client, const char *key, etcd_kv *out, bool *found, pgr_err *err)
{
	char subject[256];
	etcd_kvs kvs;

	memset(out, 0, sizeof(*out));
	*found = false;
	snprintf(subject, sizeof(subject), "get %s", key);
	if (range_kvs(client, key, false, 0, subject, &kvs, err) != 0)
		return -1;
	take_first(&kvs, out, found);
	return 0;
}

int etcd_get_prefix(const etcd_client *client, const char *prefix, etcd_kvs *out, pgr_err *err)
{
	char subject[256];

	snprintf(subject, sizeof(subject), "get prefix %s", prefix);
	return range_kvs(client, prefix, true, 0, subject, out, err);
}

/* POSTs a built body (consumed) and hands back the 200 reply. */
static int post(const etcd_client *client, const char *path, char *body, const char *subject, http_reply *reply,
		int *etcd_code, pgr_err *err)
{
	int rc = call(client, "POST", path, body, subject, reply, etcd_code, err);

	free(body);
	return rc;
}

int etcd_put(const etcd_client *client, const char *key, const char *value, int64_t lease, pgr_err *err)
{
	char subject[256];
	http_reply reply;
	char *body;
	int64_t revision;
	int rc;

	snprintf(subject, sizeof(subject), "put %s", key);
	if (etcd_build_put(key, value, lease, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	if (post(client, "/v3/kv/put", body, subject, &reply, NULL, err) != 0)
		return -1;
	rc = etcd_parse_header(reply.body, &revision, err);
	http_reply_free(&reply);
	return rc == 0 ? 0 : pgr_err_prefix(err, "etcd %s", subject);
}

int etcd_delete(const etcd_client *client, const char *key, bool prefix, pgr_err *err)
{
	char subject[256];
	http_reply reply;
	char *body;
	int64_t deleted;
	int rc;

	snprintf(subject, sizeof(subject), "delete %s%s", prefix ? "prefix " : "", key);
	if (etcd_build_delete(key, prefix, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	if (post(client, "/v3/kv/deleterange", body, subject, &reply, NULL, err) != 0)
		return -1;
	rc = etcd_parse_deleterange(reply.body, &deleted, err);
	http_reply_free(&reply);
	return rc == 0 ? 0 : pgr_err_prefix(err, "etcd %s", subject);
}

/* Sends a txn body (consumed): *succeeded and the kvs of its first response_range. */
static int txn(const etcd_client *client, char *body, const char *subject, bool *succeeded, etcd_kvs *range,
	       pgr_err *err)
{
	http_reply reply;
	int rc;

	*succeeded = false;
	memset(range, 0, sizeof(*range));
	if (post(client, "/v3/kv/txn", body, subject, &reply, NULL, err) != 0)
		return -1;
	rc = etcd_parse_txn(reply.body, succeeded, range, err);
	http_reply_free(&reply);
	return rc == 0 ? 0 : pgr_err_prefix(err, "etcd %s", subject);
}

int etcd_put_if(const etcd_client *client, const char *key, const char *value, int64_t expected_mod_revision,
		int64_t lease, bool *swapped, etcd_kv *current, pgr_err *err)
{
	char subject[256];
	char *body;
	etcd_kvs range;

	*swapped = false;
	if (current)
		memset(current, 0, sizeof(*current));
	snprintf(subject, sizeof(subject), "put %s if mod_revision is %" PRId64, key, expected_mod_revision);
	if (etcd_build_txn_put_if(key, value, expected_mod_revision, lease, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	if (txn(client, body, subject, swapped, &range, err) != 0)
		return -1;
	if (current)
		take_first(&range, current, NULL);
	else
		etcd_kvs_free(&range);
	return 0;
}

int etcd_delete_if(const etcd_client *client, const char *key, int64_t expected_mod_revision, bool *deleted,
		   pgr_err *err)
{
	char subject[256];
	char *body;
	etcd_kvs range;

	*deleted = false;
	snprintf(subject, sizeof(subject), "delete %s if mod_revision is %" PRId64, key, expected_mod_revision);
	if (etcd_build_txn_delete_if(key, expected_mod_revision, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	if (txn(client, body, subject, deleted, &range, err) != 0)
		return -1;
	etcd_kvs_free(&range);
	return 0;
}

int etcd_range(const etcd_client *client, const etcd_range_req *req, etcd_kvs *out, pgr_err *err)
{
	char subject[320];
	http_reply reply;
	char *body = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(subject, sizeof(subject), "range %s%s..%s", req->after ? "after " : "", req->key ? req->key : "",
		 req->range_end ? req->range_end : "");
	if (etcd_build_range_req(req, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	if (post(client, "/v3/kv/range", body, subject, &reply, NULL, err) != 0)
		return -1;
	rc = etcd_parse_range(reply.body, out, err);
	http_reply_free(&reply);
	return rc == 0 ? 0 : pgr_err_prefix(err, "etcd %s", subject);
}

int etcd_txn(const etcd_client *client, const etcd_cmp *cmps, int ncmp, const etcd_op *success, int nsuccess,
	     const etcd_op *failure, int nfailure, bool *succeeded, etcd_kvs *range, pgr_err *err)
{
	char subject[320];
	char *body = NULL;

	*succeeded = false;
	memset(range, 0, sizeof(*range));
	snprintf(subject, sizeof(subject), "txn on %s (%d compare(s), %d operation(s))",
		 nsuccess > 0 ? success[0].key : ncmp > 0 ? cmps[0].key : "nothing", ncmp, nsuccess);
	if (etcd_build_txn(cmps, ncmp, success, nsuccess, failure, nfailure, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	return txn(client, body, subject, succeeded, range, err);
}

int etcd_lease_grant(const etcd_client *client, int ttl_seconds, int64_t *lease_id, pgr_err *err)
{
	char subject[64];
	http_reply reply;
	char *body;
	int64_t ttl;
	int rc;

	*lease_id = 0;
	snprintf(subject, sizeof(subject), "lease grant (ttl %d s)", ttl_seconds);
	if (ttl_seconds <= 0)
		return pgr_err_set(err, "etcd %s: the ttl must be positive", subject);
	if (etcd_build_lease_grant(ttl_seconds, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	if (post(client, "/v3/lease/grant", body, subject, &reply, NULL, err) != 0)
		return -1;
	rc = etcd_parse_lease_grant(reply.body, lease_id, &ttl, err);
	http_reply_free(&reply);
	return rc == 0 ? 0 : pgr_err_prefix(err, "etcd %s", subject);
}

/* A lease request whose reply carries the TTL left: keepalive or timetolive. */
static int lease_ttl_request(const etcd_client *client, const char *path, const char *op, int64_t lease_id,
			     int (*parse)(const char *, int64_t *, pgr_err *), int64_t *ttl_left, pgr_err *err)
{
	char subject[64];
	http_reply reply;
	char *body;
	int rc;

	*ttl_left = 0;
	snprintf(subject, sizeof(subject), "lease %s %" PRId64, op, lease_id);
	if (etcd_build_lease_id(lease_id, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	if (post(client, path, body, subject, &reply, NULL, err) != 0)
		return -1;
	rc = parse(reply.body, ttl_left, err);
	http_reply_free(&reply);
	return rc == 0 ? 0 : pgr_err_prefix(err, "etcd %s", subject);
}

int etcd_lease_keepalive(const etcd_client *client, int64_t lease_id, int64_t *ttl_left, pgr_err *err)
{
	return lease_ttl_request(client, "/v3/lease/keepalive", "keepalive", lease_id, etcd_parse_lease_keepalive,
				 ttl_left, err);
}

int etcd_lease_ttl(const etcd_client *client, int64_t lease_id, int64_t *ttl_left, pgr_err *err)
{
	return lease_ttl_request(client, "/v3/lease/timetolive", "timetolive", lease_id, etcd_parse_lease_timetolive,
				 ttl_left, err);
}

static void *lease_keeper_main(void *arg)
{
	etcd_lease_keeper *keeper = arg;
	long interval_ms = keeper->ttl_seconds * 1000L / 3;

	pthread_mutex_lock(&keeper->lock);
	while (!keeper->stop) {
		struct timespec until;
		int64_t ttl_left;
		pgr_err err;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += interval_ms / 1000;
		until.tv_nsec += (interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&keeper->wake, &keeper->lock, &until);
		if (keeper->stop)
			break;
		pthread_mutex_unlock(&keeper->lock);
		if (etcd_lease_keepalive(&keeper->client, keeper->lease, &ttl_left, &err) != 0)
			log_warn("lease keep-alive failed: %s", err.msg);
		else if (ttl_left == 0)
			log_warn("lease %" PRId64 " expired", keeper->lease);
		pthread_mutex_lock(&keeper->lock);
	}
	pthread_mutex_unlock(&keeper->lock);
	return NULL;
}

int etcd_lease_keeper_start(etcd_lease_keeper *keeper, const etcd_client *client, int ttl_seconds, pgr_err *err)
{
	memset(keeper, 0, sizeof(*keeper));
	keeper->client = *client;
	keeper->ttl_seconds = ttl_seconds < 3 ? 3 : ttl_seconds;
	if (etcd_lease_grant(client, keeper->ttl_seconds, &keeper->lease, err) != 0)
		return -1;
	pthread_mutex_init(&keeper->lock, NULL);
	pthread_cond_init(&keeper->wake, NULL);
	if (pthread_create(&keeper->thread, NULL, lease_keeper_main, keeper) != 0) {
		pgr_err ignored;

		if (etcd_lease_revoke(client, keeper->lease, &ignored) != 0)
			log_warn("%s", ignored.msg);
		pthread_cond_destroy(&keeper->wake);
		pthread_mutex_destroy(&keeper->lock);
		return pgr_err_set(err, "could not start the thread that keeps lease %" PRId64 " alive", keeper->lease);
	}
	return 0;
}

void etcd_lease_keeper_stop(etcd_lease_keeper *keeper)
{
	pgr_err err;

	pthread_mutex_lock(&keeper->lock);
	keeper->stop = true;
	pthread_cond_signal(&keeper->wake);
	pthread_mutex_unlock(&keeper->lock);
	pthread_join(keeper->thread, NULL);
	pthread_cond_destroy(&keeper->wake);
	pthread_mutex_destroy(&keeper->lock);
	if (etcd_lease_revoke(&keeper->client, keeper->lease, &err) != 0)
		log_warn("%s", err.msg);
}

int etcd_lease_revoke(const etcd_client *client, int64_t lease_id, pgr_err *err)
{
	char subject[64];
	http_reply reply;
	char *body;
	int64_t revision;
	int code;
	int rc;

	snprintf(subject, sizeof(subject), "lease revoke %" PRId64, lease_id);
	if (etcd_build_lease_id(lease_id, &body, err) != 0)
		return pgr_err_prefix(err, "etcd %s", subject);
	if (post(client, "/v3/lease/revoke", body, subject, &reply, &code, err) != 0) {
		if (code == ETCD_GRPC_NOT_FOUND) {
			/* already expired or revoked: what we wanted */
			pgr_err_clear(err);
			return 0;
		}
		return -1;
	}
	rc = etcd_parse_header(reply.body, &revision, err);
	http_reply_free(&reply);
	return rc == 0 ? 0 : pgr_err_prefix(err, "etcd %s", subject);
}

/*
 * Polling watch: the keys as they were at start_revision - 1 (a historical range) are compared with the
 * keys now, every ETCD_WATCH_POLL_MS, until something differs or the time is up.
 */
int etcd_watch(const etcd_client *client, const char *key, bool prefix, int64_t start_revision, long timeout_ms,
	       etcd_kvs *events, bool *changed, pgr_err *err)
{
	char subject[256];
	long long deadline = proc_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	etcd_kvs base = { 0 };
	bool have_base = false;
	int64_t since = start_revision;

	memset(events, 0, sizeof(*events));
	*changed = false;
	snprintf(subject, sizeof(subject), "watch %s%s from revision %" PRId64, prefix ? "prefix " : "", key,
		 start_revision);
	for (;;) {
		etcd_kvs now;
		long long left;

		if (range_kvs(client, key, prefix, 0, subject, &now, err) != 0)
			goto fail;
		if (!have_base) {
			if (since <= 0) {
				/* from now on: this snapshot is the base */
				since = now.revision + 1;
				base = now;
				memset(&now, 0, sizeof(now));
				have_base = true;
			} else if (since == 1) {
				have_base = true; /* from the very beginning: nothing existed before */
			} else if (now.revision == since - 1) {
				base = now;
				memset(&now, 0, sizeof(now));
				have_base = true;
			} else if (now.revision > since - 1) {
				if (range_kvs(client, key, prefix, since - 1, subject, &base, err) != 0) {
					etcd_kvs_free(&now);
					goto fail;
				}
				have_base = true;
			}
			/* else the store has not reached start_revision yet: nothing can have changed */
		}
		if (have_base && now.revision > 0) {
			if (etcd_kvs_diff(&base, &now, since, events, err) != 0) {
				etcd_kvs_free(&now);
				pgr_err_prefix(err, "etcd %s", subject);
				goto fail;
			}
			if (events->count > 0) {
				*changed = true;
				etcd_kvs_free(&now);
				etcd_kvs_free(&base);
				return 0;
			}
			etcd_kvs_free(events);
		}
		etcd_kvs_free(&now);
		left = deadline - proc_now_ms();
		if (left <= 0)
			break;
		proc_sleep_ms(left < ETCD_WATCH_POLL_MS ? (long)left : ETCD_WATCH_POLL_MS);
	}
	etcd_kvs_free(&base);
	return 0;
fail:
	etcd_kvs_free(&base);
	etcd_kvs_free(events);
	*changed = false;
	return -1;
}

int etcd_health(const etcd_client *client, pgr_err *err)
{
	http_reply reply;
	bool healthy;
	char reason[256];
	int rc;

	if (call(client, "GET", "/health", NULL, "health", &reply, NULL, err) != 0)
		return -1;
	rc = etcd_parse_health(reply.body, &healthy, reason, sizeof(reason), err);
	http_reply_free(&reply);
	if (rc != 0)
		return pgr_err_prefix(err, "etcd health");
	if (!healthy)
		return pgr_err_set(err, "etcd health: not healthy: %s", reason);
	return 0;
}
