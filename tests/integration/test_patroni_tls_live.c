/*
 * test_patroni_tls_live.c — pgrefresh's Patroni client over https with basic authentication, against ONE
 * real Patroni (/usr/bin/patroni, PostgreSQL 15 of the dist cache) and a throwaway etcd on free 127.0.0.1
 * ports. The setup makes a CA, Patroni's certificate (127.0.0.1 in its SAN) and a second CA that signed
 * nothing of Patroni's, with the openssl CLI; writes a patroni.yml whose restapi has certfile, keyfile and
 * authentication; starts Patroni (as postgres when we are root) and waits for it to lead. The client is
 * made from a pgrefresh.conf by conf_patroni_client, as pgrefresh makes it. The group teardown stops
 * Patroni (and so PostgreSQL) and etcd by their pids and removes the directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#include "cluster/conf.h"
#include "cluster/conf_security.h"
#include "etcd/etcd.h"
#include "patroni/patroni.h"
#include "util/fileutil.h"
#include "util/http.h"
#include "util/proc.h"

#define LIVE_ETCD_DIR_TEMPLATE "/tmp/pgr-patroni-tls-XXXXXX"
#include "live_etcd.h"
#include "live_tls.h"

#define PATRONI_BIN "/usr/bin/patroni"
#define PG_BIN "/var/cache/pgrefresh/dist/15.18/usr/lib/postgresql/15/bin"
#define API_USER "patroni-api"
#define API_PASSWORD "api-pw-7"

/* The run: the etcd harness's, plus Patroni's. */
struct run {
	struct live *lv;
	pid_t patroni;
	int api_port, pg_port;
	char log[320];
};

static void print_patroni_log(const struct run *r)
{
	FILE *f = fopen(r->log, "r");
	char line[1024];

	if (f == NULL)
		return;
	fprintf(stderr, "---- Patroni log (%s) ----\n", r->log);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fprintf(stderr, "---- end of Patroni log ----\n");
	fclose(f);
}

/* secrets.d/NAME of the run's directory with text, mode mode. */
static int write_secret(const struct live *lv, const char *name, const char *text, mode_t mode)
{
	char path[400];
	int fd;
	size_t n = strlen(text);

	snprintf(path, sizeof(path), "%s/secrets.d", lv->dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/secrets.d/%s", lv->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, text, n) != (ssize_t)n || fchmod(fd, mode) != 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* A conf of one unit (the run's Patroni) with the security lines extra; its dir the run's. */
static void make_conf(const struct run *r, const char *extra, cluster_conf *conf)
{
	char text[2048];
	pgr_err err = { 0 };

	snprintf(text, sizeof(text),
		 "[cluster]\nname = ptls\netcd = %s\ncatalog = /nonexistent\n%s"
		 "[unit ptls/0]\nhost = 127.0.0.1\npg_port = %d\napi_port = %d\n",
		 r->lv->live_url, extra, r->pg_port, r->api_port);
	if (conf_parse(text, "t.conf", conf, &err) != 0)
		fail_msg("conf: %s", err.msg);
	snprintf(conf->dir, sizeof(conf->dir), "%s", r->lv->dir);
}

static int start_patroni(struct run *r)
{
	struct live *lv = r->lv;
	char yml[400], pidfile[400], text[4096];
	proc_user user;
	pgr_err err = { 0 };
	int ports[2];

	if (free_ports(ports, 2) != 0)
		return -1;
	r->api_port = ports[0];
	r->pg_port = ports[1];
	if (make_ca(lv, "ca") != 0 || make_ca(lv, "other-ca") != 0 ||
	    make_cert(lv, "ca", "patroni", "/CN=patroni", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n") != 0)
		return -1;
	snprintf(text, sizeof(text),
		 "scope: ptls\n"
		 "namespace: /service/\n"
		 "name: ptls-0\n"
		 "log: {level: INFO}\n"
		 "restapi:\n"
		 "  listen: 127.0.0.1:%d\n"
		 "  connect_address: 127.0.0.1:%d\n"
		 "  certfile: %s/patroni.crt\n"
		 "  keyfile: %s/patroni.key\n"
		 "  authentication: {username: " API_USER ", password: " API_PASSWORD "}\n"
		 "etcd3: {hosts: '127.0.0.1:%d'}\n"
		 "bootstrap:\n"
		 "  dcs: {ttl: 10, loop_wait: 2, retry_timeout: 4}\n"
		 "  initdb: [{encoding: UTF8}, {locale: C}]\n"
		 "postgresql:\n"
		 "  listen: 127.0.0.1:%d\n"
		 "  connect_address: 127.0.0.1:%d\n"
		 "  data_dir: %s/pgdata\n"
		 "  bin_dir: " PG_BIN "\n"
		 "  pgpass: %s/pgpass\n"
		 "  authentication:\n"
		 "    superuser: {username: postgres, password: su-pw}\n"
		 "    replication: {username: replicator, password: repl-pw}\n"
		 "  parameters: {unix_socket_directories: '%s'}\n"
		 "  pg_hba: ['local all all trust', 'host all all 127.0.0.1/32 scram-sha-256']\n",
		 r->api_port, r->api_port, lv->dir, lv->dir, lv->ports[0], r->pg_port, r->pg_port, lv->dir, lv->dir,
		 lv->dir);
	snprintf(yml, sizeof(yml), "%s/patroni.yml", lv->dir);
	snprintf(pidfile, sizeof(pidfile), "%s/patroni.pid", lv->dir);
	snprintf(r->log, sizeof(r->log), "%s/patroni.log", lv->dir);
	if (write_text(yml, text) != 0)
		return -1;
	/* Patroni and PostgreSQL never run as root: the directory, certificates included, is theirs */
	if (proc_user_for_servers(&user, &err) != 0 ||
	    (user.switch_user && path_chown_all(lv->dir, user.uid, user.gid, &err) != 0)) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	{
		char *argv[] = { PATRONI_BIN, yml, NULL };

		if (proc_spawn_daemon_reaped(argv, NULL, &user, r->log, pidfile, &r->patroni, &err) != 0) {
			fprintf(stderr, "starting Patroni: %s\n", err.msg);
			r->patroni = 0;
			return -1;
		}
	}
	return 0;
}

/* Patroni leads, PostgreSQL running, as the right client sees it; 60 s at most (initdb under load). */
static int wait_leader(struct run *r)
{
	cluster_conf *conf = calloc(1, sizeof(*conf));
	patroni_cluster *cl = calloc(1, sizeof(*cl));
	long long deadline = proc_now_ms() + 90000;
	patroni_client pc;
	char url[200];
	pgr_err err = { 0 };
	int rc = -1;

	if (conf == NULL || cl == NULL)
		goto out;
	make_conf(r, "", conf);
	snprintf(conf->security.patroni_ca, sizeof(conf->security.patroni_ca), "%s/ca.crt", r->lv->dir);
	conf_patroni_client(conf, &pc);
	conf_unit_api_url(conf, &conf->units[0], url, sizeof(url));
	while (proc_now_ms() < deadline) {
		const patroni_member *lead;

		if (patroni_get_cluster(&pc, url, 2000, cl, &err) == 0 && (lead = patroni_cluster_leader(cl)) != NULL &&
		    strcmp(lead->state, "running") == 0) {
			rc = 0;
			goto out;
		}
		if (proc_start_time(r->patroni) == 0) {
			fprintf(stderr, "Patroni (pid %d) exited during startup\n", (int)r->patroni);
			break;
		}
		proc_sleep_ms(500);
	}
	fprintf(stderr, "Patroni did not lead: %s\n", err.msg);
	print_patroni_log(r);
out:
	free(conf);
	free(cl);
	return rc;
}

static int setup(void **state)
{
	struct run *r = calloc(1, sizeof(*r));
	void *lv_state = NULL;
	int rc;

	*state = r;
	if (r == NULL)
		return -1;
	rc = group_setup(&lv_state);
	r->lv = lv_state;
	if (rc != 0)
		return -1;
	if (start_patroni(r) != 0 || wait_leader(r) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct run *r = *state;
	pgr_err err = { 0 };
	void *lv_state;
	int rc = 0;

	if (r == NULL)
		return 0;
	if (r->lv != NULL && r->lv->started != r->lv->finished)
		print_patroni_log(r);
	/* Patroni stops PostgreSQL before it exits */
	if (r->patroni > 0 && proc_stop_pid(r->patroni, SIGTERM, 60000, &err) != 0) {
		fprintf(stderr, "stopping Patroni: %s\n", err.msg);
		rc = -1;
	}
	lv_state = r->lv;
	if (group_teardown(&lv_state) != 0)
		rc = -1;
	free(r);
	return rc;
}

/* The loop_wait of the dynamic configuration, as it is in etcd now (Patroni's GET /config may lag). */
static int loop_wait_now(const struct run *r)
{
	etcd_kv kv;
	bool found = false;
	pgr_err err = { 0 };
	int lw = -1;

	if (etcd_get(&r->lv->client, "/service/ptls/config", &kv, &found, &err) != 0 || !found || kv.value == NULL)
		fail_msg("etcd get /service/ptls/config: %s", found ? err.msg : "not found");
	if (patroni_config_loop_wait_parse(kv.value, &lw, &err) != 0)
		fail_msg("%s", err.msg);
	etcd_kv_free(&kv);
	return lw;
}

/* The right CA and the right credentials: GET /cluster, POST /reload and PATCH /config work. */
static void test_right(void **state)
{
	struct run *r = *state;
	cluster_conf *conf = calloc(1, sizeof(*conf));
	patroni_cluster *cl = calloc(1, sizeof(*cl));
	patroni_client pc;
	char extra[512], url[200];
	pgr_err err = { 0 };
	int lw;

	BEGIN(r->lv);
	assert_non_null(conf);
	assert_non_null(cl);
	assert_int_equal(write_secret(r->lv, "api", API_USER ":" API_PASSWORD "\n", 0600), 0);
	snprintf(extra, sizeof(extra), "patroni_ca = %s/ca.crt\npatroni_auth_secret = api\n", r->lv->dir);
	make_conf(r, extra, conf);
	conf_patroni_client(conf, &pc);
	conf_unit_api_url(conf, &conf->units[0], url, sizeof(url));
	assert_int_equal(strncmp(url, "https://", 8), 0);
	OK(patroni_get_cluster(&pc, url, 3000, cl, &err));
	assert_non_null(patroni_cluster_member(cl, "ptls-0"));
	/* /cluster names the member's REST API with https: the URL pgrefresh then uses for it */
	assert_int_equal(strncmp(cl->members[0].api_url, "https://127.0.0.1:", 18), 0);
	OK(patroni_reload(&pc, url, 5000, &err));
	lw = loop_wait_now(r);
	assert_int_equal(lw, 2);
	OK(patroni_wake(&pc, url, 3, 3000, &err)); /* PATCH /config: a change that shows */
	assert_int_equal(loop_wait_now(r), 3);
	OK(patroni_wake(&pc, url, 2, 3000, &err));
	assert_int_equal(loop_wait_now(r), 2);
	free(conf);
	free(cl);
	END(r->lv);
}

/* Each wrong setting fails with an error naming it, and PATCH /config changes nothing. */
static void test_wrong(void **state)
{
	struct run *r = *state;
	const char *dir = r->lv->dir;
	static const struct {
		const char *what;
		const char *scheme;      /* forced onto the URL: "" keeps what the conf gives */
		const char *ca;          /* under dir; "" none */
		const char *secret_text; /* NULL: no patroni_auth_secret */
		mode_t mode;
		const char *error;
		const char *error2; /* a second part of it; "" none */
	} cases[] = {
		{ "no CA, https", "https", "", NULL, 0600, "server certificate not trusted by CA file (the system's CAs)", "" },
		{ "no CA, http", "", "", NULL, 0600, "Patroni", "http://127.0.0.1:" },
		{ "wrong CA", "", "other-ca.crt", API_USER ":" API_PASSWORD, 0600, "server certificate not trusted by CA file",
		  "/other-ca.crt" },
		{ "missing CA file", "", "no-such-ca.crt", API_USER ":" API_PASSWORD, 0600, "CA file", "/no-such-ca.crt" },
		{ "wrong password", "", "ca.crt", API_USER ":not-the-password", 0600,
		  "refused pgrefresh's credentials (HTTP 401): check secret bad", "" },
		{ "wrong user", "", "ca.crt", "someone:" API_PASSWORD, 0600, "(HTTP 401): check secret bad", "" },
		{ "no credentials", "", "ca.crt", NULL, 0600, "wants credentials (HTTP 401): set patroni_auth_secret", "" },
		{ "secret readable by others", "", "ca.crt", API_USER ":" API_PASSWORD, 0644,
		  "patroni_auth_secret: secret bad:", "chmod 600 it" },
		{ "secret not user:password", "", "ca.crt", API_PASSWORD, 0600, "secret bad is not \"user:password\"", "" },
	};

	BEGIN(r->lv);
	assert_int_equal(loop_wait_now(r), 2);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cluster_conf *conf = calloc(1, sizeof(*conf));
		patroni_client pc;
		char extra[512] = "", url[200];
		pgr_err err = { 0 };

		assert_non_null(conf);
		if (cases[i].ca[0] != '\0')
			snprintf(extra, sizeof(extra), "patroni_ca = %s/%s\n", dir, cases[i].ca);
		if (cases[i].secret_text != NULL) {
			assert_int_equal(write_secret(r->lv, "bad", cases[i].secret_text, cases[i].mode), 0);
			strncat(extra, "patroni_auth_secret = bad\n", sizeof(extra) - strlen(extra) - 1);
		}
		make_conf(r, extra, conf);
		conf_patroni_client(conf, &pc);
		if (cases[i].scheme[0] != '\0')
			snprintf(url, sizeof(url), "%s://127.0.0.1:%d", cases[i].scheme, r->api_port);
		else
			conf_unit_api_url(conf, &conf->units[0], url, sizeof(url));
		if (patroni_wake(&pc, url, 5, 3000, &err) == 0)
			fail_msg("%s: PATCH /config accepted", cases[i].what);
		printf("%s: %s\n", cases[i].what, err.msg);
		assert_contains(err.msg, cases[i].error);
		assert_contains(err.msg, cases[i].error2);
		/* never the password in an error */
		assert_null(strstr(err.msg, API_PASSWORD));
		assert_null(strstr(err.msg, "not-the-password"));
		assert_int_equal(loop_wait_now(r), 2);
		free(conf);
	}
	END(r->lv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_right),
		cmocka_unit_test(test_wrong),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
