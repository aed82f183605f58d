/*
 * live_etcd.h — the harness the live etcd tests share (included by test_etcd_live.c and
 * test_state_live.c, one binary each): a real etcd (/usr/bin/etcd) started on free 127.0.0.1 ports in a
 * temp directory (LIVE_ETCD_DIR_TEMPLATE, defined by the includer), stopped by its pid in the group
 * teardown, its log printed when a test failed. Static functions: one copy per test binary.
 */
#ifndef PGR_TESTS_LIVE_ETCD_H
#define PGR_TESTS_LIVE_ETCD_H

#define ETCD_BIN "/usr/bin/etcd"

/* The etcd of this run, and how many tests started and finished (a failed test never finishes). */
struct live {
	char dir[256];
	char log[320];
	pid_t pid;
	int ports[4]; /* client, peer, metrics, one nobody listens on */
	char live_url[64];
	char dead_url[64];
	etcd_client client;
	int started, finished;
};

/* n distinct free ports: bound to port 0 together, then released. */
static int free_ports(int *ports, int n)
{
	int fds[8];
	int rc = 0;

	for (int i = 0; i < n; i++) {
		struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
		socklen_t len = sizeof(addr);

		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
		    getsockname(fds[i], (struct sockaddr *)&addr, &len) != 0) {
			rc = -1;
			ports[i] = 0;
			continue;
		}
		ports[i] = ntohs(addr.sin_port);
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void print_log(const struct live *lv)
{
	FILE *f = fopen(lv->log, "r");
	char line[1024];
	long size;

	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	/* the end of it is what matters */
	fseek(f, size > 16384 ? size - 16384 : 0, SEEK_SET);
	fprintf(stderr, "---- etcd log (%s) ----\n", lv->log);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fprintf(stderr, "---- end of etcd log ----\n");
	fclose(f);
}

static int group_teardown(void **state)
{
	struct live *lv = *state;
	pgr_err err = { 0 };
	int rc = 0;

	if (lv == NULL)
		return 0;
	if (lv->started != lv->finished || lv->pid <= 0)
		print_log(lv);
	if (lv->pid > 0 && proc_stop_pid(lv->pid, SIGTERM, 5000, &err) != 0) {
		fprintf(stderr, "stopping etcd: %s\n", err.msg);
		rc = -1;
	}
	if (lv->dir[0] != '\0')
		nftw(lv->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	http_global_cleanup();
	free(lv);
	return rc;
}

/*
 * What every group setup does first: the harness (*state, freed by group_teardown), libcurl, a
 * temporary directory, four free ports, the log's path.
 */
static int live_prepare(void **state, struct live **out)
{
	struct live *lv = calloc(1, sizeof(*lv));
	pgr_err err = { 0 };

	*out = lv;
	*state = lv;
	if (lv == NULL)
		return -1;
	if (http_global_init(&err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	snprintf(lv->dir, sizeof(lv->dir), LIVE_ETCD_DIR_TEMPLATE);
	if (mkdtemp(lv->dir) == NULL) {
		perror("mkdtemp");
		lv->dir[0] = '\0';
		return -1;
	}
	if (free_ports(lv->ports, 4) != 0) {
		fprintf(stderr, "could not find free ports\n");
		return -1;
	}
	snprintf(lv->log, sizeof(lv->log), "%s/etcd.log", lv->dir);
	return 0;
}

#ifndef LIVE_ETCD_OWN_SETUP /* an includer that starts etcd its own way (TLS) defines it */
static int group_setup(void **state)
{
	struct live *lv;
	char data[300], pidfile[300], name_arg[16] = "e0";
	char client_url[64], peer_url[64], metrics_url[64], cluster[128];
	pgr_err err = { 0 };
	long long deadline;

	if (live_prepare(state, &lv) != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data", lv->dir);
	snprintf(pidfile, sizeof(pidfile), "%s/etcd.pid", lv->dir);
	snprintf(client_url, sizeof(client_url), "http://127.0.0.1:%d", lv->ports[0]);
	snprintf(peer_url, sizeof(peer_url), "http://127.0.0.1:%d", lv->ports[1]);
	snprintf(metrics_url, sizeof(metrics_url), "http://127.0.0.1:%d", lv->ports[2]);
	snprintf(cluster, sizeof(cluster), "e0=%s", peer_url);
	snprintf(lv->live_url, sizeof(lv->live_url), "%s", client_url);
	snprintf(lv->dead_url, sizeof(lv->dead_url), "http://127.0.0.1:%d", lv->ports[3]);
	{
		char *argv[] = { ETCD_BIN,
				 "--name",
				 name_arg,
				 "--data-dir",
				 data,
				 "--logger=zap",
				 "--listen-client-urls",
				 client_url,
				 "--advertise-client-urls",
				 client_url,
				 "--listen-peer-urls",
				 peer_url,
				 "--initial-advertise-peer-urls",
				 peer_url,
				 "--initial-cluster",
				 cluster,
				 "--initial-cluster-state",
				 "new",
				 "--listen-metrics-urls",
				 metrics_url,
				 NULL };

		if (proc_spawn_daemon(argv, NULL, NULL, lv->log, pidfile, &lv->pid, &err) != 0) {
			fprintf(stderr, "starting etcd: %s\n", err.msg);
			lv->pid = 0;
			return -1;
		}
	}
	if (etcd_client_init(&lv->client, lv->live_url, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	deadline = proc_now_ms() + 30000;
	for (;;) {
		pgr_err health = { 0 };

		if (etcd_health(&lv->client, &health) == 0)
			return 0;
		(void)waitpid(lv->pid, NULL, WNOHANG);
		if (proc_start_time(lv->pid) == 0) {
			fprintf(stderr, "etcd (pid %d) exited during startup\n", (int)lv->pid);
			lv->pid = 0;
			print_log(lv);
			return -1;
		}
		if (proc_now_ms() > deadline) {
			fprintf(stderr, "etcd not healthy after 30 s: %s\n", health.msg);
			return -1;
		}
		proc_sleep_ms(100);
	}
}

#endif

#define BEGIN(lv) ((lv)->started++)
#define END(lv) ((lv)->finished++)

/* Asserts a call succeeded, showing its error otherwise. */
#define OK(call)                                                                                             \
	do {                                                                                                 \
		pgr_err_clear(&err);                                                                         \
		if ((call) != 0)                                                                             \
			fail_msg("%s failed: %s", #call, err.msg);                                           \
	} while (0)

static void assert_contains(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", text, needle);
}

#endif
