/*
 * patroni.c — the I/O half of the Patroni client: one HTTP request per call through util/http.h,
 * the reply handed to the pure parsers of patroni_parse.c. Non-2xx replies become errors that carry
 * the status and the start of the body: "Patroni at http://h:p answered POST /restart with HTTP 503: ..."
 * (except the switchover's status, and /health's 503).
 */
#include "patroni/patroni.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/http.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/secret.h"

#define BODY_EXCERPT 200

/* Builds base + path into url; a trailing "/patroni" of the base is dropped. */
static int make_url(const char *api_url, const char *path, char *url, size_t urllen, pgr_err *err)
{
	char base[256];

	if (api_url == NULL || api_url[0] == '\0')
		return pgr_err_set(err, "Patroni: no REST API address given");
	if (patroni_api_base(api_url, base, sizeof(base)) != 0)
		return pgr_err_set(err, "Patroni: REST API address too long: %.80s...", api_url);
	if ((size_t)snprintf(url, urllen, "%s%s", base, path) >= urllen)
		return pgr_err_set(err, "Patroni: URL too long: %.80s...", api_url);
	return 0;
}

/* The start of a body, on one line, for an error message. */
static void body_excerpt(const http_reply *reply, char *out, size_t outlen)
{
	size_t n = 0;

	for (size_t i = 0; reply->body != NULL && i < reply->body_len && n + 1 < outlen && i < BODY_EXCERPT; i++) {
		char c = reply->body[i];

		out[n++] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, outlen, "(empty body)");
}

/* "Patroni at http://h:p answered POST /restart with HTTP 503: <start of the body>" */
static int status_error(const char *method, const char *api_url, const char *path, const http_reply *reply,
			pgr_err *err)
{
	char excerpt[BODY_EXCERPT + 1];
	char base[256];

	body_excerpt(reply, excerpt, sizeof(excerpt));
	if (patroni_api_base(api_url, base, sizeof(base)) != 0)
		snprintf(base, sizeof(base), "%.200s", api_url);
	return pgr_err_set(err, "Patroni at %s answered %s %s with HTTP %ld: %s", base, method, path, reply->status,
			   excerpt);
}

int patroni_credentials_split(const char *cred, char *user, size_t userlen, char *password, size_t passwordlen)
{
	const char *colon = strchr(cred, ':');
	size_t ulen;

	if (colon == NULL || colon == cred || colon[1] == '\0')
		return -1;
	ulen = (size_t)(colon - cred);
	if (ulen >= userlen || strlen(colon + 1) >= passwordlen)
		return -1;
	memcpy(user, cred, ulen);
	user[ulen] = '\0';
	memcpy(password, colon + 1, strlen(colon + 1) + 1);
	return 0;
}

/*
 * One HTTP request with pc's TLS and authentication. The secret is read now and wiped after; a 401 is an
 * error naming the secret (Patroni refused its credentials, or wants some and none were sent).
 */
static int send_request(const patroni_client *pc, const char *method, const char *url, const char *body,
			long timeout_ms, http_reply *reply, pgr_err *err)
{
	http_opts opts = { 0 };
	char cred[256], user[128], password[256];
	int rc;

	if (pc != NULL && pc->ca_file[0] != '\0')
		opts.ca_file = pc->ca_file;
	if (pc != NULL && pc->secret[0] != '\0') {
		if (secret_read(pc->secret_dir, pc->secret, cred, sizeof(cred), err) != 0)
			return pgr_err_prefix(err, "patroni_auth_secret");
		rc = patroni_credentials_split(cred, user, sizeof(user), password, sizeof(password));
		explicit_bzero(cred, sizeof(cred));
		if (rc != 0)
			return pgr_err_set(err, "patroni_auth_secret: secret %s is not \"user:password\"", pc->secret);
		opts.basic_user = user;
		opts.basic_password = password;
	}
	rc = http_request_opts(method, url, body, timeout_ms, &opts, reply, err);
	explicit_bzero(password, sizeof(password));
	if (rc != 0)
		return -1;
	if (reply->status == 401) {
		http_reply_free(reply);
		if (pc != NULL && pc->secret[0] != '\0')
			return pgr_err_set(err, "%s refused pgrefresh's credentials (HTTP 401): check secret %s "
					   "(patroni_auth_secret) against restapi.authentication in patroni.yml", url, pc->secret);
		return pgr_err_set(err, "%s wants credentials (HTTP 401): set patroni_auth_secret in pgrefresh.conf",
				   url);
	}
	return 0;
}

static bool is_2xx(long status)
{
	return status >= 200 && status < 300;
}

/* One request whose non-2xx reply is an error. On success the caller frees reply. */
static int request_ok(const patroni_client *pc, const char *method, const char *api_url, const char *path, const char *body, long timeout_ms,
		      http_reply *reply, pgr_err *err)
{
	char url[320];

	if (make_url(api_url, path, url, sizeof(url), err) != 0)
		return -1;
	if (send_request(pc, method, url, body, timeout_ms, reply, err) != 0)
		return pgr_err_prefix(err, "Patroni");
	if (!is_2xx(reply->status)) {
		status_error(method, api_url, path, reply, err);
		http_reply_free(reply);
		return -1;
	}
	return 0;
}

int patroni_get_cluster(const patroni_client *pc, const char *api_url, long timeout_ms, patroni_cluster *out, pgr_err *err)
{
	http_reply reply;
	int rc;

	memset(out, 0, sizeof(*out));
	if (request_ok(pc, "GET", api_url, "/cluster", NULL, timeout_ms, &reply, err) != 0)
		return -1;
	rc = patroni_cluster_parse(reply.body, out, err);
	http_reply_free(&reply);
	if (rc != 0)
		return pgr_err_prefix(err, "%s", api_url);
	return 0;
}

int patroni_get_node(const patroni_client *pc, const char *api_url, long timeout_ms, patroni_node *out, pgr_err *err)
{
	http_reply reply;
	int rc;

	memset(out, 0, sizeof(*out));
	/* 3.0.2 answers 200 even when PostgreSQL is stopped ("state": "stopped"); a 503 would carry the same document */
	{
		char url[320];

		if (make_url(api_url, "/patroni", url, sizeof(url), err) != 0)
			return -1;
		if (send_request(pc, "GET", url, NULL, timeout_ms, &reply, err) != 0)
			return pgr_err_prefix(err, "Patroni");
		if (!is_2xx(reply.status) && reply.status != 503) {
			status_error("GET", api_url, "/patroni", &reply, err);
			http_reply_free(&reply);
			return -1;
		}
	}
	rc = patroni_node_parse(reply.body, out, err);
	http_reply_free(&reply);
	if (rc != 0)
		return pgr_err_prefix(err, "%s", api_url);
	return 0;
}

int patroni_health(const patroni_client *pc, const char *api_url, long timeout_ms, bool *healthy, pgr_err *err)
{
	char url[320];
	http_reply reply;

	*healthy = false;
	if (make_url(api_url, "/health", url, sizeof(url), err) != 0)
		return -1;
	if (send_request(pc, "GET", url, NULL, timeout_ms, &reply, err) != 0)
		return pgr_err_prefix(err, "Patroni");
	if (reply.status == 200) {
		*healthy = true;
	} else if (reply.status != 503) {
		status_error("GET", api_url, "/health", &reply, err);
		http_reply_free(&reply);
		return -1;
	}
	http_reply_free(&reply);
	return 0;
}

int patroni_restart(const patroni_client *pc, const char *api_url, long timeout_ms, pgr_err *err)
{
	http_reply reply;

	/* an empty JSON object: restart now, whatever the role or pending_restart */
	if (request_ok(pc, "POST", api_url, "/restart", "{}", timeout_ms, &reply, err) != 0)
		return -1;
	http_reply_free(&reply);
	return 0;
}

int patroni_restart_spawn(const patroni_client *pc, const char *api_url, long timeout_ms, const char *unit, pid_t *pid, pgr_err *err)
{
	char ms[32], url[300], name[64];
	const char *ca = pc != NULL ? pc->ca_file : "", *dir = pc != NULL ? pc->secret_dir : "";
	const char *secret = pc != NULL ? pc->secret : "";
	/* the secret's name and directory only: the child reads the file */
	char *args[] = { "pgrefresh", PATRONI_RESTART_ARG, url, ms, name, (char *)ca, (char *)dir, (char *)secret, NULL };

	snprintf(url, sizeof(url), "%s", api_url);
	snprintf(ms, sizeof(ms), "%ld", timeout_ms);
	snprintf(name, sizeof(name), "%s", unit ? unit : "");
	if (proc_spawn_self(args, pid, err) != 0)
		return pgr_err_prefix(err, "Patroni restart at %s", api_url);
	return 0;
}

int patroni_restart_main(int argc, char **argv)
{
	pgr_err err = { 0 };
	patroni_client pc = { 0 };
	char *end;
	long ms;
	int rc;

	if (argc != 8 || strlen(argv[5]) >= sizeof(pc.ca_file) || strlen(argv[6]) >= sizeof(pc.secret_dir) ||
	    strlen(argv[7]) >= sizeof(pc.secret))
		return 2;
	memcpy(pc.ca_file, argv[5], strlen(argv[5]) + 1);
	memcpy(pc.secret_dir, argv[6], strlen(argv[6]) + 1);
	memcpy(pc.secret, argv[7], strlen(argv[7]) + 1);
	log_setup(LOG_LEVEL_INFO, argv[4], 1);
	ms = strtol(argv[3], &end, 10);
	if (*end != '\0' || ms <= 0) {
		log_error("Patroni restart: bad timeout \"%s\"", argv[3]);
		return 2;
	}
	if (http_global_init(&err) != 0) {
		log_error("%s", err.msg);
		return 1;
	}
	rc = patroni_restart(&pc, argv[2], ms, &err);
	if (rc != 0)
		log_error("%s", err.msg);
	http_global_cleanup();
	return rc == 0 ? 0 : 1;
}

int patroni_switchover(const patroni_client *pc, const char *api_url, const char *leader, const char *candidate, long timeout_ms,
		       int *http_status, char *reply_text, int reply_len, pgr_err *err)
{
	char url[320];
	http_reply reply;
	json_t *obj;
	char *body;
	int rc;

	*http_status = 0;
	if (reply_text != NULL && reply_len > 0)
		reply_text[0] = '\0';
	if (leader == NULL || leader[0] == '\0')
		return pgr_err_set(err, "Patroni switchover: no leader given");
	if (make_url(api_url, "/switchover", url, sizeof(url), err) != 0)
		return -1;
	obj = json_object();
	if (obj == NULL || json_object_set_new(obj, "leader", json_string(leader)) != 0 ||
	    (candidate != NULL && candidate[0] != '\0' &&
	     json_object_set_new(obj, "candidate", json_string(candidate)) != 0)) {
		json_decref(obj);
		return pgr_err_set(err, "Patroni switchover: could not build the request (out of memory or bad UTF-8)");
	}
	body = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (body == NULL)
		return pgr_err_set(err, "Patroni switchover: could not build the request");
	rc = send_request(pc, "POST", url, body, timeout_ms, &reply, err);
	free(body);
	if (rc != 0)
		return pgr_err_prefix(err, "Patroni switchover %s -> %s", leader, candidate ? candidate : "(any)");
	*http_status = (int)reply.status;
	if (reply_text != NULL && reply_len > 0) {
		char excerpt[BODY_EXCERPT + 1];

		body_excerpt(&reply, excerpt, sizeof(excerpt));
		snprintf(reply_text, (size_t)reply_len, "%s", excerpt);
	}
	http_reply_free(&reply);
	return 0;
}

int patroni_patch_config(const patroni_client *pc, const char *api_url, const char *json_body, long timeout_ms, pgr_err *err)
{
	http_reply reply;

	if (json_body == NULL)
		return pgr_err_set(err, "Patroni PATCH /config: no body given");
	if (request_ok(pc, "PATCH", api_url, "/config", json_body, timeout_ms, &reply, err) != 0)
		return -1;
	http_reply_free(&reply);
	return 0;
}

int patroni_get_loop_wait(const patroni_client *pc, const char *api_url, long timeout_ms, int *loop_wait, pgr_err *err)
{
	http_reply reply;
	int rc;

	*loop_wait = 0;
	if (request_ok(pc, "GET", api_url, "/config", NULL, timeout_ms, &reply, err) != 0)
		return -1;
	rc = patroni_config_loop_wait_parse(reply.body, loop_wait, err);
	http_reply_free(&reply);
	return rc;
}

int patroni_wake(const patroni_client *pc, const char *api_url, int loop_wait, long timeout_ms, pgr_err *err)
{
	char body[64];

	if (loop_wait <= 0)
		return pgr_err_set(err, "Patroni wake: no loop_wait given");
	snprintf(body, sizeof(body), "{\"loop_wait\":%d}", loop_wait);
	return patroni_patch_config(pc, api_url, body, timeout_ms, err);
}

int patroni_reload(const patroni_client *pc, const char *api_url, long timeout_ms, pgr_err *err)
{
	http_reply reply;

	/* Patroni re-reads its configuration file (tags included) */
	if (request_ok(pc, "POST", api_url, "/reload", "{}", timeout_ms, &reply, err) != 0)
		return -1;
	http_reply_free(&reply);
	return 0;
}
