/*
 * loadclient — a small libpq write load that survives errors, for bench/refresh-under-load.
 *
 * N client threads each run single-row INSERT transactions (autocommit)
 *     INSERT INTO ledger(id, client, at) VALUES ($unique_id, $client, clock_timestamp())
 * through the server the libpq environment names (PGHOST, PGPORT, PGUSER, PGPASSFILE, PGDATABASE: as
 * `eval "$(pgrefresh cluster env --dir D)"` sets them, i.e. through PgBouncer), at a target total rate
 * or as fast as possible. Unlike pgbench, an error does not end a client: it is counted (the first
 * message is kept), the client reconnects when its connection is gone (one attempt every 10 ms) and
 * goes on with a new id. A transaction is acknowledged only when the server answered its INSERT with
 * success; a failed one may or may not have committed, and its id is never counted as acknowledged.
 *
 * It runs until the stop file exists, SIGTERM/SIGINT, or --duration seconds.
 *
 * Usage: loadclient --out DIR [--clients 4] [--rate TPS (0: as fast as possible; default 200)]
 *                   [--stop-file PATH] [--duration S] [--id-base N] [--connect-timeout S]
 *
 * Writes, in DIR:
 *   acks.tsv   one line per acknowledged commit, in commit order:
 *              id  client  mono_ns (CLOCK_MONOTONIC at the answer)  wall_ns (CLOCK_REALTIME)  latency_us
 *   ids.txt    the acknowledged ids, one a line, sorted
 *   errors.log every error: mono_ns wall_ns client kind message
 *   result.json the summary, also printed on stdout:
 *     acknowledged, failed (transactions answered with an error or lost with their connection),
 *     connect_errors (failed connection attempts), first_error, latency_ms {p50, p99, max} of the
 *     acknowledged ones (from sending the INSERT to its answer), longest_zero_commit_window_ms (the
 *     longest time without any acknowledged commit of any client, edges included: from the start of the
 *     load to the first commit, and from the last commit to the end of the load) with where it lies
 *     (zero_window_start_s / _end_s relative to the start, and its wall clock start/end in ms), the
 *     run's start/end wall time (ms) and duration.
 *
 * Build: cc -std=c11 -Wall -Wextra -Werror -O2 $(pkg-config --cflags libpq) bench/loadclient.c \
 *           -o build/bench/loadclient $(pkg-config --libs libpq) -lpthread
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256
#define RECONNECT_MS 10

typedef struct {
	int64_t id;
	int64_t mono_ns;
	int64_t wall_ns;
	int64_t latency_ns;
	int client;
} ack;

typedef struct {
	int index;
	pthread_t thread;
	ack *acks;
	size_t nacks, cap;
	long failed;
	long connect_errors;
} client_state;

static atomic_bool stopping;
static volatile sig_atomic_t got_signal;

static int nclients = 4;
static double rate = 200.0;
static const char *out_dir;
static const char *stop_file;
static double duration_s;
static int64_t id_base;
static int connect_timeout_s = 2;

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *err_log;
static char first_error[512];
static int64_t first_error_wall_ns;

static int64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts;

	if (ns <= 0)
		return;
	ts.tv_sec = ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !atomic_load(&stopping))
		;
}

static void record_error(int client, const char *kind, const char *msg)
{
	char clean[400];
	size_t n = 0;

	/* one line: newlines and tabs become spaces, trailing blanks dropped */
	for (const char *p = msg ? msg : "(no message)"; *p && n < sizeof(clean) - 1; p++)
		clean[n++] = (*p == '\n' || *p == '\t' || *p == '\r') ? ' ' : *p;
	while (n > 0 && clean[n - 1] == ' ')
		n--;
	clean[n] = '\0';
	pthread_mutex_lock(&err_lock);
	if (first_error[0] == '\0') {
		snprintf(first_error, sizeof(first_error), "%s: %s", kind, clean);
		first_error_wall_ns = now_ns(CLOCK_REALTIME);
	}
	if (err_log != NULL)
		fprintf(err_log, "%lld\t%lld\t%d\t%s\t%s\n", (long long)now_ns(CLOCK_MONOTONIC),
			(long long)now_ns(CLOCK_REALTIME), client, kind, clean);
	pthread_mutex_unlock(&err_lock);
}

static PGconn *connect_until_ok(client_state *c)
{
	char conninfo[64];

	snprintf(conninfo, sizeof(conninfo), "connect_timeout=%d application_name=loadclient", connect_timeout_s);
	while (!atomic_load(&stopping)) {
		PGconn *conn = PQconnectdb(conninfo);

		if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
			return conn;
		c->connect_errors++;
		record_error(c->index, "connect", conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		sleep_ns((int64_t)RECONNECT_MS * 1000000);
	}
	return NULL;
}

static void push_ack(client_state *c, const ack *a)
{
	if (c->nacks == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		ack *grown = realloc(c->acks, cap * sizeof(ack));

		if (grown == NULL) {
			fprintf(stderr, "loadclient: out of memory\n");
			exit(1);
		}
		c->acks = grown;
		c->cap = cap;
	}
	c->acks[c->nacks++] = *a;
}

static void *client_main(void *arg)
{
	client_state *c = arg;
	PGconn *conn = NULL;
	int64_t seq = 0;
	int64_t interval_ns = rate > 0 ? (int64_t)(1e9 * nclients / rate) : 0;
	/* spread the clients over one interval so that their transactions do not come in bursts */
	int64_t next = now_ns(CLOCK_MONOTONIC) + (interval_ns * c->index) / nclients;
	char client_txt[16];

	snprintf(client_txt, sizeof(client_txt), "%d", c->index);
	while (!atomic_load(&stopping)) {
		char id_txt[32];
		const char *params[2] = { id_txt, client_txt };
		int64_t id, t0, t1;
		PGresult *res;

		if (conn == NULL && (conn = connect_until_ok(c)) == NULL)
			break;
		if (interval_ns > 0) {
			int64_t now = now_ns(CLOCK_MONOTONIC);

			if (next > now) {
				sleep_ns(next - now);
				if (atomic_load(&stopping))
					break;
			}
			/* behind schedule after a stall: go on at the rate, no burst to catch up */
			next = (next + interval_ns > now) ? next + interval_ns : now;
		}
		id = id_base + (int64_t)c->index * 1000000000LL + ++seq;
		snprintf(id_txt, sizeof(id_txt), "%lld", (long long)id);
		t0 = now_ns(CLOCK_MONOTONIC);
		res = PQexecParams(conn, "INSERT INTO ledger(id, client, at) VALUES ($1, $2, clock_timestamp())", 2, NULL,
				   params, NULL, NULL, 0);
		t1 = now_ns(CLOCK_MONOTONIC);
		if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {
			ack a = { .id = id, .mono_ns = t1, .wall_ns = now_ns(CLOCK_REALTIME), .latency_ns = t1 - t0,
				  .client = c->index };

			push_ack(c, &a);
		} else {
			c->failed++;
			record_error(c->index, "insert",
				     res != NULL && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
										 : PQerrorMessage(conn));
			if (PQstatus(conn) != CONNECTION_OK) {
				PQfinish(conn);
				conn = NULL;
			} else {
				sleep_ns((int64_t)RECONNECT_MS * 1000000); /* e.g. read-only: do not spin */
			}
		}
		PQclear(res);
	}
	PQfinish(conn);
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_ack_time(const void *a, const void *b)
{
	const ack *x = a, *y = b;

	return (x->mono_ns > y->mono_ns) - (x->mono_ns < y->mono_ns);
}

static double pct_ms(const int64_t *sorted, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0;
	/* nearest rank */
	k = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)sorted[k - 1] / 1e6;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void usage(void)
{
	fprintf(stderr, "usage: loadclient --out DIR [--clients N] [--rate TPS|0] [--stop-file PATH] [--duration S]\n"
			"                  [--id-base N] [--connect-timeout S]\n");
	exit(2);
}

static FILE *open_out(const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "loadclient: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return f;
}

int main(int argc, char **argv)
{
	static client_state clients[MAX_CLIENTS];
	struct sigaction sa;
	int64_t start_mono, start_wall, end_mono, end_wall;
	ack *all;
	int64_t *lat;
	size_t total = 0;
	long failed = 0, connect_errors = 0;
	int64_t gap = 0, gap_from, gap_to;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (i + 1 >= argc)
			usage();
		if (strcmp(a, "--clients") == 0)
			nclients = atoi(argv[++i]);
		else if (strcmp(a, "--rate") == 0)
			rate = atof(argv[++i]);
		else if (strcmp(a, "--out") == 0)
			out_dir = argv[++i];
		else if (strcmp(a, "--stop-file") == 0)
			stop_file = argv[++i];
		else if (strcmp(a, "--duration") == 0)
			duration_s = atof(argv[++i]);
		else if (strcmp(a, "--id-base") == 0)
			id_base = atoll(argv[++i]);
		else if (strcmp(a, "--connect-timeout") == 0)
			connect_timeout_s = atoi(argv[++i]);
		else
			usage();
	}
	if (out_dir == NULL || nclients < 1 || nclients > MAX_CLIENTS || rate < 0)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	err_log = open_out("errors.log");
	setvbuf(err_log, NULL, _IOLBF, 0);

	start_mono = now_ns(CLOCK_MONOTONIC);
	start_wall = now_ns(CLOCK_REALTIME);
	for (int i = 0; i < nclients; i++) {
		clients[i].index = i;
		if (pthread_create(&clients[i].thread, NULL, client_main, &clients[i]) != 0) {
			fprintf(stderr, "loadclient: cannot start a thread\n");
			return 1;
		}
	}
	/* the main thread watches for the end: stop file, signal, duration */
	for (;;) {
		struct stat st;

		if (got_signal)
			break;
		if (stop_file != NULL && stat(stop_file, &st) == 0)
			break;
		if (duration_s > 0 && now_ns(CLOCK_MONOTONIC) - start_mono >= (int64_t)(duration_s * 1e9))
			break;
		sleep_ns(10 * 1000000);
	}
	end_mono = now_ns(CLOCK_MONOTONIC);
	end_wall = now_ns(CLOCK_REALTIME);
	atomic_store(&stopping, true);
	for (int i = 0; i < nclients; i++)
		pthread_join(clients[i].thread, NULL);

	for (int i = 0; i < nclients; i++) {
		total += clients[i].nacks;
		failed += clients[i].failed;
		connect_errors += clients[i].connect_errors;
	}
	all = malloc((total ? total : 1) * sizeof(ack));
	lat = malloc((total ? total : 1) * sizeof(int64_t));
	if (all == NULL || lat == NULL) {
		fprintf(stderr, "loadclient: out of memory\n");
		return 1;
	}
	total = 0;
	for (int i = 0; i < nclients; i++) {
		memcpy(all + total, clients[i].acks, clients[i].nacks * sizeof(ack));
		total += clients[i].nacks;
		free(clients[i].acks);
	}
	qsort(all, total, sizeof(ack), cmp_ack_time);

	/* the longest window without a commit, the run's edges included (a commit that a client got after
	 * the end was decided still counts: the end edge is then the last commit) */
	{
		int64_t prev = start_mono;

		gap_from = start_mono;
		gap_to = total ? all[0].mono_ns : end_mono;
		gap = gap_to - gap_from;
		for (size_t i = 0; i < total; i++) {
			if (all[i].mono_ns - prev > gap) {
				gap = all[i].mono_ns - prev;
				gap_from = prev;
				gap_to = all[i].mono_ns;
			}
			prev = all[i].mono_ns;
		}
		if (end_mono - prev > gap) {
			gap = end_mono - prev;
			gap_from = prev;
			gap_to = end_mono;
		}
	}

	f = open_out("acks.tsv");
	for (size_t i = 0; i < total; i++) {
		fprintf(f, "%lld\t%d\t%lld\t%lld\t%lld\n", (long long)all[i].id, all[i].client, (long long)all[i].mono_ns,
			(long long)all[i].wall_ns, (long long)(all[i].latency_ns / 1000));
		lat[i] = all[i].id;
	}
	fclose(f);
	qsort(lat, total, sizeof(int64_t), cmp_i64);
	f = open_out("ids.txt");
	for (size_t i = 0; i < total; i++)
		fprintf(f, "%lld\n", (long long)lat[i]);
	fclose(f);
	for (size_t i = 0; i < total; i++)
		lat[i] = all[i].latency_ns;
	qsort(lat, total, sizeof(int64_t), cmp_i64);

	for (int pass = 0; pass < 2; pass++) {
		double secs = (double)(end_mono - start_mono) / 1e9;

		f = pass == 0 ? open_out("result.json") : stdout;
		fprintf(f, "{\"clients\": %d, \"rate\": %.1f, \"duration_s\": %.3f, \"acknowledged\": %zu, \"tps\": %.1f, ",
			nclients, rate, secs, total, secs > 0 ? (double)total / secs : 0.0);
		fprintf(f, "\"failed\": %ld, \"connect_errors\": %ld, \"first_error\": ", failed, connect_errors);
		if (first_error[0])
			json_string(f, first_error);
		else
			fputs("null", f);
		fprintf(f, ", \"first_error_wall_ms\": %lld, ", (long long)(first_error_wall_ns / 1000000));
		fprintf(f, "\"latency_ms\": {\"p50\": %.2f, \"p99\": %.2f, \"max\": %.2f}, ", pct_ms(lat, total, 50),
			pct_ms(lat, total, 99), total ? (double)lat[total - 1] / 1e6 : 0.0);
		fprintf(f, "\"longest_zero_commit_window_ms\": %.1f, \"zero_window_start_s\": %.3f, "
			   "\"zero_window_end_s\": %.3f, \"zero_window_start_wall_ms\": %lld, \"zero_window_end_wall_ms\": %lld, ",
			(double)gap / 1e6, (double)(gap_from - start_mono) / 1e9, (double)(gap_to - start_mono) / 1e9,
			(long long)((start_wall + (gap_from - start_mono)) / 1000000),
			(long long)((start_wall + (gap_to - start_mono)) / 1000000));
		fprintf(f, "\"start_wall_ms\": %lld, \"end_wall_ms\": %lld}\n", (long long)(start_wall / 1000000),
			(long long)(end_wall / 1000000));
		if (pass == 0)
			fclose(f);
	}
	fclose(err_log);
	free(all);
	free(lat);
	return 0;
}
