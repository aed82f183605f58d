/*
 * test_patroni.c — the Patroni client on replies captured from a real Patroni 3.0.2 cluster
 * (tests/fixtures/patroni/, see the README there) and on hand-made malformed ones; the I/O half
 * against a one-shot HTTP server forked per case that answers a canned reply.
 *
 * Run from the repository root, or set PGR_FIXTURES to the fixtures directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "patroni/patroni.h"
#include "util/fileutil.h"
#include "util/http.h"
#include "fixture.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static char *fixture(const char *name)
{
	const char *dir = getenv("PGR_FIXTURES");

	return fixture_load(dir ? dir : "tests/fixtures/patroni", name);
}

/* ---- GET /cluster ---- */

struct cluster_case {
	const char *file;
	int rc;
	int members;
	const char *leader;   /* NULL: none */
	const char *sync;     /* NULL: none */
	bool paused;
	const char *err_part; /* rc -1: a part of the message */
};

static const struct cluster_case cluster_cases[] = {
	{ "cluster_3members.json", 0, 3, "pg-0", "pg-2", false, NULL },
	{ "cluster_pending_restart.json", 0, 3, "pg-0", "pg-2", false, NULL },
	{ "cluster_member_restarting.json", 0, 3, "pg-0", "pg-2", false, NULL },
	{ "cluster_after_switchover.json", 0, 3, "pg-2", NULL, false, NULL },
	{ "cluster_paused_member_stopped.json", 0, 3, "pg-1", "pg-2", true, NULL },
	{ "cluster_empty_members.json", 0, 0, NULL, NULL, false, NULL },
	{ "bad_truncated.json", -1, 0, NULL, NULL, false, "not valid JSON" },
	{ "bad_empty.json", -1, 0, NULL, NULL, false, "not valid JSON" },
	{ "bad_html.json", -1, 0, NULL, NULL, false, "not valid JSON" },
	{ "bad_not_object.json", -1, 0, NULL, NULL, false, "not a JSON object" },
	{ "bad_cluster_members_object.json", -1, 0, NULL, NULL, false, "\"members\" is not an array" },
	{ "bad_cluster_port_string.json", -1, 0, NULL, NULL, false, "members[0]: field \"port\" is not an integer" },
	{ "bad_cluster_lag_array.json", -1, 0, NULL, NULL, false, "field \"lag\"" },
	{ "bad_cluster_member_no_name.json", -1, 0, NULL, NULL, false, "members[0] has no \"name\"" },
	{ "patroni_leader.json", -1, 0, NULL, NULL, false, "no \"members\"" },
};

static void test_cluster_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cluster_cases); i++) {
		const struct cluster_case *c = &cluster_cases[i];
		char *json = fixture(c->file);
		patroni_cluster *cl = calloc(1, sizeof(*cl));
		pgr_err err = { 0 };
		const patroni_member *m;
		int rc = patroni_cluster_parse(json, cl, &err);

		print_message("cluster %s: rc %d %s\n", c->file, rc, err.msg);
		assert_int_equal(rc, c->rc);
		if (rc == 0) {
			assert_int_equal(cl->member_count, c->members);
			assert_int_equal(cl->paused, c->paused);
			m = patroni_cluster_leader(cl);
			if (c->leader == NULL)
				assert_null(m);
			else
				assert_string_equal(m->name, c->leader);
			m = patroni_cluster_sync_standby(cl);
			if (c->sync == NULL)
				assert_null(m);
			else
				assert_string_equal(m->name, c->sync);
		} else {
			assert_non_null(strstr(err.msg, c->err_part));
		}
		free(cl);
		free(json);
	}
}

/* One member's fields, as the captured reply gives them. */
struct member_case {
	const char *file;
	const char *name;
	patroni_role role;
	const char *state;
	int port;
	int timeline; /* 0: not reported */
	int64_t lag;  /* -1: "unknown" or absent (the leader has no lag) */
	bool pending_restart;
	bool nosync;
	const char *api_url;
};

static const struct member_case member_cases[] = {
	{ "cluster_3members.json", "pg-0", PATRONI_ROLE_LEADER, "running", 35440, 1, -1, false, false, "http://127.0.0.1:38010/patroni" },
	{ "cluster_3members.json", "pg-1", PATRONI_ROLE_REPLICA, "running", 35441, 1, 0, false, false, "http://127.0.0.1:38011/patroni" },
	{ "cluster_3members.json", "pg-2", PATRONI_ROLE_SYNC_STANDBY, "running", 35442, 1, 0, false, false, "http://127.0.0.1:38012/patroni" },
	{ "cluster_pending_restart.json", "pg-0", PATRONI_ROLE_LEADER, "running", 35440, 1, -1, true, false, "http://127.0.0.1:38010/patroni" },
	{ "cluster_member_restarting.json", "pg-1", PATRONI_ROLE_REPLICA, "running", 35441, 0, -1, false, true, "http://127.0.0.1:38011/patroni" },
	{ "cluster_after_switchover.json", "pg-0", PATRONI_ROLE_REPLICA, "stopping", 35440, 0, -1, true, false, "http://127.0.0.1:38010/patroni" },
	{ "cluster_after_switchover.json", "pg-2", PATRONI_ROLE_LEADER, "running", 35442, 1, -1, true, false, "http://127.0.0.1:38012/patroni" },
	{ "cluster_paused_member_stopped.json", "pg-0", PATRONI_ROLE_REPLICA, "stopped", 35440, 0, -1, false, false, "http://127.0.0.1:38010/patroni" },
	{ "cluster_paused_member_stopped.json", "pg-2", PATRONI_ROLE_SYNC_STANDBY, "running", 35442, 3, 0, false, false, "http://127.0.0.1:38012/patroni" },
};

static void test_cluster_members(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(member_cases); i++) {
		const struct member_case *c = &member_cases[i];
		char *json = fixture(c->file);
		patroni_cluster *cl = calloc(1, sizeof(*cl));
		pgr_err err = { 0 };
		const patroni_member *m;

		print_message("member %s %s\n", c->file, c->name);
		assert_int_equal(patroni_cluster_parse(json, cl, &err), 0);
		m = patroni_cluster_member(cl, c->name);
		assert_non_null(m);
		assert_int_equal(m->role, c->role);
		assert_string_equal(m->state, c->state);
		assert_string_equal(m->host, "127.0.0.1");
		assert_int_equal(m->port, c->port);
		assert_int_equal(m->timeline, c->timeline);
		assert_int_equal(m->lag_bytes, c->lag);
		assert_int_equal(m->pending_restart, c->pending_restart);
		assert_int_equal(m->tags_nosync, c->nosync);
		assert_string_equal(m->api_url, c->api_url);
		assert_string_equal(m->tags_replicatefrom, "");
		assert_null(patroni_cluster_member(cl, "pg-9"));
		free(cl);
		free(json);
	}
}

static void test_cluster_tags(void **state)
{
	patroni_cluster cl;
	pgr_err err = { 0 };

	(void)state;
	/* tags come from the user's YAML: odd types are ignored, not errors */
	assert_int_equal(patroni_cluster_parse("{\"members\":[{\"name\":\"a\",\"role\":\"replica\",\"lag\":\"unknown\","
					       "\"tags\":{\"replicatefrom\":\"b\",\"nosync\":true,\"nofailover\":true}},"
					       "{\"name\":\"b\",\"tags\":{\"replicatefrom\":7,\"nosync\":\"yes\",\"nofailover\":\"yes\"}}]}",
					       &cl, &err),
			 0);
	assert_string_equal(cl.members[0].tags_replicatefrom, "b");
	assert_true(cl.members[0].tags_nosync);
	assert_true(cl.members[0].tags_nofailover);
	assert_int_equal(cl.members[0].lag_bytes, -1);
	assert_string_equal(cl.members[1].tags_replicatefrom, "");
	assert_false(cl.members[1].tags_nosync);
	assert_false(cl.members[1].tags_nofailover);
	assert_int_equal(cl.members[1].role, PATRONI_ROLE_UNKNOWN);
	assert_int_equal(patroni_cluster_parse("{\"members\":[{\"name\":\"a\",\"tags\":[]}]}", &cl, &err), -1);
	assert_non_null(strstr(err.msg, "\"tags\" is not an object"));
	assert_int_equal(patroni_cluster_parse(NULL, &cl, &err), -1);
}

/* /patroni reports the tags in effect now (after POST /reload), /cluster only after the member's next loop */
static void test_node_tags(void **state)
{
	patroni_node *n = calloc(1, sizeof(*n));
	pgr_err err = { 0 };

	(void)state;
	assert_non_null(n);
	assert_int_equal(patroni_node_parse("{\"state\":\"running\",\"role\":\"replica\",\"tags\":{\"nosync\":true,"
					    "\"replicatefrom\":\"pg-1\",\"nofailover\":true}}",
					    n, &err),
			 0);
	assert_true(n->tags_nosync);
	assert_true(n->tags_nofailover);
	assert_string_equal(n->tags_replicatefrom, "pg-1");
	assert_int_equal(patroni_node_parse("{\"state\":\"running\",\"role\":\"replica\"}", n, &err), 0);
	assert_false(n->tags_nosync);
	assert_false(n->tags_nofailover);
	assert_string_equal(n->tags_replicatefrom, "");
	assert_int_equal(patroni_node_parse("{\"state\":\"running\",\"tags\":\"nosync\"}", n, &err), -1);
	assert_non_null(strstr(err.msg, "\"tags\" is not an object"));
	free(n);
}

/* ---- GET /patroni (and /health, the same document) ---- */

struct node_case {
	const char *file;
	int rc;
	const char *state;
	const char *role;
	bool is_primary;
	bool is_sync;
	int server_version;
	int timeline;
	int64_t location, received, replayed;
	int repl_count;
	bool pending_restart;
	bool paused;
	const char *err_part;
};

static const struct node_case node_cases[] = {
	{ "patroni_leader.json", 0, "running", "master", true, false, 150018, 1, 67109000, 0, 0, 2, false, false, NULL },
	{ "health_leader.json", 0, "running", "master", true, false, 150018, 1, 67109000, 0, 0, 2, false, false, NULL },
	{ "patroni_leader_pending_restart.json", 0, "running", "master", true, false, 150018, 1, 67109000, 0, 0, 2, true, false, NULL },
	{ "patroni_leader_paused.json", 0, "running", "master", true, false, 150018, 3, 67110384, 0, 0, 1, true, true, NULL },
	{ "patroni_sync_standby.json", 0, "running", "replica", false, true, 150018, 1, 0, 67109000, 67109000, 0, false, false, NULL },
	{ "patroni_replica.json", 0, "running", "replica", false, false, 150018, 1, 0, 67109000, 67109000, 0, false, false, NULL },
	{ "health_503_restarting.json", 0, "restarting", "replica", false, false, 0, 0, 0, 0, 0, 0, false, false, NULL },
	{ "health_503_stopped.json", 0, "stopped", "replica", false, false, 0, 0, 0, 0, 0, 0, false, true, NULL },
	{ "patroni_paused_stopped.json", 0, "stopped", "replica", false, false, 0, 0, 0, 0, 0, 0, false, true, NULL },
	{ "bad_truncated.json", -1, NULL, NULL, false, false, 0, 0, 0, 0, 0, 0, false, false, "not valid JSON" },
	{ "bad_html.json", -1, NULL, NULL, false, false, 0, 0, 0, 0, 0, 0, false, false, "not valid JSON" },
	{ "bad_not_object.json", -1, NULL, NULL, false, false, 0, 0, 0, 0, 0, 0, false, false, "not a JSON object" },
	{ "bad_node_version_string.json", -1, NULL, NULL, false, false, 0, 0, 0, 0, 0, 0, false, false, "\"server_version\" is not an integer" },
	{ "bad_node_replication_object.json", -1, NULL, NULL, false, false, 0, 0, 0, 0, 0, 0, false, false, "\"replication\" is not an array" },
	{ "bad_node_xlog_string.json", -1, NULL, NULL, false, false, 0, 0, 0, 0, 0, 0, false, false, "xlog: field \"received_location\"" },
};

static void test_node_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(node_cases); i++) {
		const struct node_case *c = &node_cases[i];
		char *json = fixture(c->file);
		patroni_node *n = calloc(1, sizeof(*n));
		pgr_err err = { 0 };
		int rc = patroni_node_parse(json, n, &err);

		print_message("node %s: rc %d %s\n", c->file, rc, err.msg);
		assert_int_equal(rc, c->rc);
		if (rc == 0) {
			assert_string_equal(n->state, c->state);
			assert_string_equal(n->role, c->role);
			assert_int_equal(n->is_primary, c->is_primary);
			assert_int_equal(n->is_sync_standby, c->is_sync);
			assert_int_equal(n->server_version, c->server_version);
			assert_int_equal(n->timeline, c->timeline);
			assert_int_equal(n->xlog_location, c->location);
			assert_int_equal(n->xlog_received, c->received);
			assert_int_equal(n->xlog_replayed, c->replayed);
			assert_int_equal(n->replication_count, c->repl_count);
			assert_int_equal(n->pending_restart, c->pending_restart);
			assert_int_equal(n->paused, c->paused);
			assert_string_equal(n->patroni_version, "3.0.2");
			assert_string_equal(n->system_identifier, "7712152768577324614");
		} else {
			assert_non_null(strstr(err.msg, c->err_part));
		}
		free(n);
		free(json);
	}
}

struct repl_case {
	const char *file;
	int index;
	const char *application_name, *state, *sync_state;
};

static const struct repl_case repl_cases[] = {
	{ "patroni_leader.json", 0, "pg-2", "streaming", "sync" },
	{ "patroni_leader.json", 1, "pg-1", "streaming", "async" },
	{ "patroni_leader_paused.json", 0, "pg-2", "streaming", "sync" }, /* pg-0 stopped: gone from the list */
};

static void test_node_replication(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(repl_cases); i++) {
		const struct repl_case *c = &repl_cases[i];
		char *json = fixture(c->file);
		patroni_node *n = calloc(1, sizeof(*n));
		pgr_err err = { 0 };
		const patroni_replication *r;

		assert_int_equal(patroni_node_parse(json, n, &err), 0);
		r = &n->replication[c->index];
		assert_string_equal(r->application_name, c->application_name);
		assert_string_equal(r->state, c->state);
		assert_string_equal(r->sync_state, c->sync_state);
		assert_string_equal(r->client_addr, "127.0.0.1");
		assert_string_equal(n->postmaster_start_time[0] ? "set" : "", "set");
		free(n);
		free(json);
	}
}

/* ---- helpers ---- */

static void test_roles(void **state)
{
	static const struct {
		const char *in;
		patroni_role role;
		const char *display;
	} cases[] = {
		{ "leader", PATRONI_ROLE_LEADER, "primary" },
		{ "master", PATRONI_ROLE_LEADER, "primary" },
		{ "primary", PATRONI_ROLE_LEADER, "primary" },
		{ "sync_standby", PATRONI_ROLE_SYNC_STANDBY, "sync-standby" },
		{ "replica", PATRONI_ROLE_REPLICA, "replica" },
		{ "standby_leader", PATRONI_ROLE_UNKNOWN, "unknown" },
		{ "", PATRONI_ROLE_UNKNOWN, "unknown" },
		{ NULL, PATRONI_ROLE_UNKNOWN, "unknown" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		assert_int_equal(patroni_role_from_string(cases[i].in), cases[i].role);
		assert_string_equal(patroni_role_display(cases[i].role), cases[i].display);
	}
	assert_null(patroni_cluster_leader(NULL));
	assert_null(patroni_cluster_member(NULL, "x"));
}

static void test_api_base(void **state)
{
	static const struct {
		const char *in;
		size_t outlen;
		int rc;
		const char *out;
	} cases[] = {
		{ "http://127.0.0.1:8010/patroni", 64, 0, "http://127.0.0.1:8010" },
		{ "http://127.0.0.1:8010/patroni/", 64, 0, "http://127.0.0.1:8010" },
		{ "http://127.0.0.1:8010", 64, 0, "http://127.0.0.1:8010" },
		{ "http://127.0.0.1:8010/", 64, 0, "http://127.0.0.1:8010" },
		{ "http://patroni:8010", 64, 0, "http://patroni:8010" },
		{ "/patroni", 64, 0, "" },
		{ "http://127.0.0.1:8010/patroni", 21, -1, NULL },
		{ "http://127.0.0.1:8010/patroni", 22, 0, "http://127.0.0.1:8010" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char out[64];

		assert_int_equal(patroni_api_base(cases[i].in, out, cases[i].outlen), cases[i].rc);
		if (cases[i].rc == 0)
			assert_string_equal(out, cases[i].out);
	}
}

/* ---- I/O against a one-shot HTTP server ---- */

struct fake_server {
	pid_t pid;
	int port;
	int head_fd; /* read end: the request line the server saw */
};

/* Forks a server that accepts one connection, answers status + body, and reports the request line. */
static void fake_start(struct fake_server *fs, int status, const char *body)
{
	struct sockaddr_in addr = { 0 };
	socklen_t alen = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int pipefd[2];

	assert_true(lfd >= 0);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&addr, &alen), 0);
	assert_int_equal(pipe(pipefd), 0);
	fs->port = ntohs(addr.sin_port);
	fs->pid = fork();
	assert_true(fs->pid >= 0);
	if (fs->pid == 0) {
		char req[8192];
		size_t used = 0;
		char head[256];
		int cfd = accept(lfd, NULL, NULL);

		if (cfd < 0)
			_exit(1);
		/* read the head and, if any, the body (Content-Length) */
		for (;;) {
			ssize_t n = read(cfd, req + used, sizeof(req) - 1 - used);
			char *end, *cl;

			if (n <= 0)
				break;
			used += (size_t)n;
			req[used] = '\0';
			end = strstr(req, "\r\n\r\n");
			if (end == NULL)
				continue;
			cl = strcasestr(req, "Content-Length:");
			if (cl == NULL || (size_t)(end + 4 - req) + strtoul(cl + 15, NULL, 10) <= used)
				break;
		}
		{
			char *eol = strstr(req, "\r\n");
			char *payload = strstr(req, "\r\n\r\n");
			int hl = eol ? (int)(eol - req) : 0;

			snprintf(head, sizeof(head), "%.*s|%s", hl, req, payload ? payload + 4 : "");
		}
		if (write(pipefd[1], head, strlen(head)) < 0)
			_exit(1);
		dprintf(cfd, "HTTP/1.0 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s", status,
			strlen(body), body);
		close(cfd);
		_exit(0);
	}
	close(lfd);
	close(pipefd[1]);
	fs->head_fd = pipefd[0];
}

/* Waits for the server, returns what it saw: "METHOD /path HTTP/1.1|body". */
static void fake_finish(struct fake_server *fs, char *seen, size_t seenlen)
{
	ssize_t n = read(fs->head_fd, seen, seenlen - 1);

	seen[n > 0 ? n : 0] = '\0';
	close(fs->head_fd);
	waitpid(fs->pid, NULL, 0);
}

static void url_of(const struct fake_server *fs, char *url, size_t len, bool with_patroni)
{
	snprintf(url, len, "http://127.0.0.1:%d%s", fs->port, with_patroni ? "/patroni" : "");
}

static void test_io_get_cluster(void **state)
{
	struct fake_server fs;
	char url[64], seen[512];
	char *json = fixture("cluster_3members.json");
	patroni_cluster *cl = calloc(1, sizeof(*cl));
	pgr_err err = { 0 };

	(void)state;
	fake_start(&fs, 200, json);
	url_of(&fs, url, sizeof(url), true); /* api_url as /cluster gives it */
	assert_int_equal(patroni_get_cluster(NULL, url, 5000, cl, &err), 0);
	fake_finish(&fs, seen, sizeof(seen));
	assert_string_equal(seen, "GET /cluster HTTP/1.1|");
	assert_int_equal(cl->member_count, 3);
	free(cl);
	free(json);
}

static void test_io_get_node(void **state)
{
	struct fake_server fs;
	char url[64], seen[512];
	char *json = fixture("patroni_sync_standby.json");
	patroni_node *n = calloc(1, sizeof(*n));
	pgr_err err = { 0 };

	(void)state;
	fake_start(&fs, 200, json);
	url_of(&fs, url, sizeof(url), false);
	assert_int_equal(patroni_get_node(NULL, url, 5000, n, &err), 0);
	fake_finish(&fs, seen, sizeof(seen));
	assert_string_equal(seen, "GET /patroni HTTP/1.1|");
	assert_true(n->is_sync_standby);
	free(n);
	free(json);
}

/* Non-2xx is an error carrying the status and the start of the body. */
static void test_io_errors(void **state)
{
	struct fake_server fs;
	char url[64], seen[512];
	patroni_cluster *cl = calloc(1, sizeof(*cl));
	pgr_err err = { 0 };

	(void)state;
	fake_start(&fs, 500, "internal\nerror");
	url_of(&fs, url, sizeof(url), false);
	assert_int_equal(patroni_get_cluster(NULL, url, 5000, cl, &err), -1);
	fake_finish(&fs, seen, sizeof(seen));
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "HTTP 500: internal error"));

	fake_start(&fs, 200, "{\"members\": [");
	url_of(&fs, url, sizeof(url), false);
	assert_int_equal(patroni_get_cluster(NULL, url, 5000, cl, &err), -1);
	fake_finish(&fs, seen, sizeof(seen));
	assert_non_null(strstr(err.msg, "not valid JSON"));

	/* a restart refused: 503 and Patroni's plain-text reason */
	{
		char *body = fixture("restart_503_paused_stopped.json");

		fake_start(&fs, 503, body);
		url_of(&fs, url, sizeof(url), false);
		assert_int_equal(patroni_restart(NULL, url, 5000, &err), -1);
		fake_finish(&fs, seen, sizeof(seen));
		assert_string_equal(seen, "POST /restart HTTP/1.1|{}");
		assert_non_null(strstr(err.msg, "HTTP 503: restart conditions are not satisfied"));
		assert_non_null(strstr(err.msg, "answered POST /restart with HTTP 503: "));
		assert_non_null(strstr(err.msg, "Patroni at http://127.0.0.1:"));
		free(body);
	}

	/* HTTP 401: the error names the secret sent, or says none was */
	{
		static const struct {
			const char *secret_text; /* NULL: no secret */
			const char *error;
		} cases[] = {
			{ "patroni:wrong-pw\n", "refused pgrefresh's credentials (HTTP 401): check secret api" },
			{ NULL, "wants credentials (HTTP 401): set patroni_auth_secret" },
		};
		char dir[] = "/tmp/pgr-patroni-401-XXXXXX";
		char path[128];

		assert_non_null(mkdtemp(dir));
		snprintf(path, sizeof(path), "%s/secrets.d", dir);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/secrets.d/api", dir);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			patroni_client pc = { 0 };
			FILE *f;

			if (cases[i].secret_text != NULL) {
				f = fopen(path, "w");
				assert_non_null(f);
				fputs(cases[i].secret_text, f);
				assert_int_equal(fclose(f), 0);
				assert_int_equal(chmod(path, 0600), 0);
				snprintf(pc.secret, sizeof(pc.secret), "api");
				snprintf(pc.secret_dir, sizeof(pc.secret_dir), "%s", dir);
			}
			fake_start(&fs, 401, "no auth header received");
			url_of(&fs, url, sizeof(url), false);
			assert_int_equal(patroni_reload(&pc, url, 5000, &err), -1);
			fake_finish(&fs, seen, sizeof(seen));
			assert_string_equal(seen, "POST /reload HTTP/1.1|{}");
			assert_non_null(strstr(err.msg, cases[i].error));
			assert_null(strstr(err.msg, "wrong-pw"));
		}
		assert_int_equal(unlink(path), 0);
		snprintf(path, sizeof(path), "%s/secrets.d", dir);
		assert_int_equal(rmdir(path), 0);
		assert_int_equal(rmdir(dir), 0);
	}

	/* nobody listens: a transport error */
	fake_start(&fs, 200, "");
	url_of(&fs, url, sizeof(url), false);
	kill(fs.pid, SIGKILL);
	fake_finish(&fs, seen, sizeof(seen));
	assert_int_equal(patroni_get_cluster(NULL, url, 2000, cl, &err), -1);
	assert_non_null(strstr(err.msg, "Patroni"));
	free(cl);
}

static void test_io_restart_ok(void **state)
{
	struct fake_server fs;
	char url[64], seen[512];
	char *body = fixture("restart_200.json");
	pgr_err err = { 0 };

	(void)state;
	fake_start(&fs, 200, body);
	url_of(&fs, url, sizeof(url), false);
	assert_int_equal(patroni_restart(NULL, url, 5000, &err), 0);
	fake_finish(&fs, seen, sizeof(seen));
	assert_string_equal(seen, "POST /restart HTTP/1.1|{}");
	free(body);
}

static void test_io_health(void **state)
{
	static const struct {
		int status;
		const char *file;
		int rc;
		bool healthy;
	} cases[] = {
		{ 200, "health_leader.json", 0, true },
		{ 503, "health_503_stopped.json", 0, false },
		{ 503, "health_503_restarting.json", 0, false },
		{ 404, "bad_html.json", -1, false },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct fake_server fs;
		char url[64], seen[512];
		char *body = fixture(cases[i].file);
		bool healthy = !cases[i].healthy;
		pgr_err err = { 0 };

		fake_start(&fs, cases[i].status, body);
		url_of(&fs, url, sizeof(url), false);
		assert_int_equal(patroni_health(NULL, url, 5000, &healthy, &err), cases[i].rc);
		fake_finish(&fs, seen, sizeof(seen));
		assert_string_equal(seen, "GET /health HTTP/1.1|");
		assert_int_equal(healthy, cases[i].healthy);
		if (cases[i].rc != 0)
			assert_non_null(strstr(err.msg, "HTTP 404"));
		free(body);
	}
}

static void test_io_switchover(void **state)
{
	static const struct {
		int status;
		const char *file;
		const char *candidate;
		const char *sent;
	} cases[] = {
		{ 200, "switchover_200.json", "pg-2", "POST /switchover HTTP/1.1|{\"leader\":\"pg-0\",\"candidate\":\"pg-2\"}" },
		{ 412, "switchover_412_no_sync.json", NULL, "POST /switchover HTTP/1.1|{\"leader\":\"pg-0\"}" },
		{ 412, "switchover_412_not_sync.json", "pg-1", "POST /switchover HTTP/1.1|{\"leader\":\"pg-0\",\"candidate\":\"pg-1\"}" },
		{ 412, "switchover_412_wrong_leader.json", "a\"b", "POST /switchover HTTP/1.1|{\"leader\":\"pg-0\",\"candidate\":\"a\\\"b\"}" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct fake_server fs;
		char url[64], seen[512], reply[128];
		char *body = fixture(cases[i].file);
		int status = 0;
		pgr_err err = { 0 };

		fake_start(&fs, cases[i].status, body);
		url_of(&fs, url, sizeof(url), false);
		assert_int_equal(patroni_switchover(NULL, url, "pg-0", cases[i].candidate, 5000, &status, reply,
						    (int)sizeof(reply), &err),
				 0);
		fake_finish(&fs, seen, sizeof(seen));
		assert_string_equal(seen, cases[i].sent);
		assert_int_equal(status, cases[i].status);
		assert_string_equal(reply, body);
		free(body);
	}
}

static void test_io_patch_config(void **state)
{
	struct fake_server fs;
	char url[64], seen[512];
	char *body = fixture("patch_config_200.json");
	pgr_err err = { 0 };

	(void)state;
	fake_start(&fs, 200, body);
	url_of(&fs, url, sizeof(url), false);
	assert_int_equal(patroni_patch_config(NULL, url, "{\"pause\":true}", 5000, &err), 0);
	fake_finish(&fs, seen, sizeof(seen));
	assert_string_equal(seen, "PATCH /config HTTP/1.1|{\"pause\":true}");
	free(body);
}

static void test_config_loop_wait(void **state)
{
	static const struct {
		const char *file;
		int rc, loop_wait;
		const char *err;
	} cases[] = {
		{ "config.json", 0, 2, NULL },
		{ "config_no_loop_wait.json", -1, 0, "no loop_wait" },
		{ "bad_config_loop_wait_string.json", -1, 0, "no loop_wait" },
		{ "bad_truncated.json", -1, 0, "Patroni /config" },
		{ "bad_not_object.json", -1, 0, "Patroni /config" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *body = fixture(cases[i].file);
		pgr_err err = { 0 };
		int loop_wait = -1;

		if (patroni_config_loop_wait_parse(body, &loop_wait, &err) != cases[i].rc)
			fail_msg("%s: rc, err %s", cases[i].file, err.msg);
		assert_int_equal(loop_wait, cases[i].loop_wait);
		if (cases[i].err != NULL && strstr(err.msg, cases[i].err) == NULL)
			fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].file, err.msg, cases[i].err);
		free(body);
	}
}

/* the wake is a PATCH /config that sets loop_wait to the value given: nothing else */
static void test_io_wake(void **state)
{
	struct fake_server fs;
	char url[64], seen[512];
	char *body = fixture("patch_config_200.json");
	pgr_err err = { 0 };

	(void)state;
	fake_start(&fs, 200, body);
	url_of(&fs, url, sizeof(url), false);
	assert_int_equal(patroni_wake(NULL, url, 2, 5000, &err), 0);
	fake_finish(&fs, seen, sizeof(seen));
	assert_string_equal(seen, "PATCH /config HTTP/1.1|{\"loop_wait\":2}");
	assert_int_equal(patroni_wake(NULL, url, 0, 5000, &err), -1);
	free(body);
}

static int group_setup(void **state)
{
	pgr_err err = { 0 };

	(void)state;
	return http_global_init(&err);
}

static int group_teardown(void **state)
{
	(void)state;
	http_global_cleanup();
	return 0;
}

/*
 * Found by fuzzing (tests/fuzz/fuzz_patroni.c; inputs in tests/fixtures/fuzz/patroni/): a string longer than
 * its field was cut silently, so a member's name or API URL could name another one. Now refused, naming
 * the field; a value that just fits is kept whole.
 */
static void test_parse_fuzz_found(void **state)
{
	static const struct {
		const char *file;
		bool node;
		const char *err_part;
	} cases[] = {
		{ "cluster_state_too_long.json", false, "members[0]: field \"state\" is longer than 63 bytes" },
		{ "cluster_api_url_too_long.json", false, "members[0]: field \"api_url\" is longer than 159 bytes" },
		{ "node_role_too_long.json", true, "Patroni /patroni: field \"role\" is longer than 31 bytes" },
	};
	static patroni_cluster c;
	static patroni_node n;
	char json[256], name[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char path[128];
		char *text;
		pgr_err err = { 0 };
		int rc;

		snprintf(path, sizeof(path), "../fuzz/patroni/%s", cases[i].file);
		text = fixture(path);
		rc = cases[i].node ? patroni_node_parse(text, &n, &err) : patroni_cluster_parse(text, &c, &err);
		free(text);
		if (rc == 0 || strstr(err.msg, cases[i].err_part) == NULL)
			fail_msg("%s: rc %d \"%s\", expected \"%s\"", cases[i].file, rc, err.msg, cases[i].err_part);
	}
	/* a name of 63 bytes fits, 64 do not */
	memset(name, 'n', sizeof(name));
	name[63] = '\0';
	snprintf(json, sizeof(json), "{\"members\":[{\"name\":\"%s\"}]}", name);
	assert_int_equal(patroni_cluster_parse(json, &c, NULL), 0);
	assert_string_equal(c.members[0].name, name);
	snprintf(json, sizeof(json), "{\"members\":[{\"name\":\"%sn\"}]}", name);
	assert_int_equal(patroni_cluster_parse(json, &c, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_loop_wait), cmocka_unit_test(test_io_wake),
		cmocka_unit_test(test_cluster_parse),	 cmocka_unit_test(test_cluster_members),
		cmocka_unit_test(test_cluster_tags),	 cmocka_unit_test(test_node_tags),
		cmocka_unit_test(test_node_parse),
		cmocka_unit_test(test_node_replication), cmocka_unit_test(test_roles),
		cmocka_unit_test(test_api_base),	 cmocka_unit_test(test_io_get_cluster),
		cmocka_unit_test(test_io_get_node),	 cmocka_unit_test(test_io_errors),
		cmocka_unit_test(test_io_restart_ok),	 cmocka_unit_test(test_io_health),
		cmocka_unit_test(test_io_switchover),	 cmocka_unit_test(test_io_patch_config),
		cmocka_unit_test(test_parse_fuzz_found),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
