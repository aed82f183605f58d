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
 * With --watch HOST:PORT[,HOST:PORT...] (every unit's PostgreSQL, not PgBouncer) a thread per unit
 * asks every 5 ms `pg_is_in_recovery()` and `synchronous_standby_names`: a unit that accepts writes
 * while no synchronous standby is required (the setting empty) acknowledges commits that live on
 * that one node only. The acknowledged commits answered while some unit was in that state (as last
 * sampled) are counted: single_node_acks, with the time spent so (no_sync_required_ms); and the moments
 * two units accepted writes at once, as last sampled: two_writable, two_writable_ms.
 *
 * Usage: loadclient --out DIR [--clients 4] [--rate TPS (0: as fast as possible; default 200)]
 *                   [--stop-file PATH] [--duration S] [--id-base N] [--connect-timeout S]
 *
 * Writes, in DIR:
 *   acks.tsv   one line per acknowledged commit, in commit order:
 *              id  client  mono_ns (CLOCK_MONOTONIC at the answer)  wall_ns (CLOCK_REALTIME)  latency_us
 *   ids.txt    the acknowledged ids, one a line, sorted
 *   errors.log every error: mono_ns wall_ns client kind message
 *   sync.tsv   with --watch: one line per change of a unit's state: mono_ns unit state
 *              (state: -1 unknown/unreachable, 0 standby, 1 primary with a sync standby required,
 *              2 primary with none required)
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

#define WATCH_MAX 16
#define WATCH_EVERY_MS 5

/* one unit's state as sampled: see the header */
typedef struct {
	int64_t mono_ns;
	int state;
} sync_sample;

typedef struct {
	int index;
	char host[128];
	char port[16];
	pthread_t thread;
	sync_sample *samples; /* changes only */
	size_t n, cap;
} watch_state;

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

static void push_sample(watch_state *w, int64_t mono_ns, int state)
{
	if (w->n > 0 && w->samples[w->n - 1].state == state)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		sync_sample *grown = realloc(w->samples, cap * sizeof(sync_sample));

		if (grown == NULL) {
			fprintf(stderr, "loadclient: out of memory\n");
			exit(1);
		}
		w->samples = grown;
		w->cap = cap;
	}
	w->samples[w->n].mono_ns = mono_ns;
	w->samples[w->n].state = state;
	w->n++;
}

static void *watch_main(void *arg)
{
	watch_state *w = arg;
	PGconn *conn = NULL;
	const char *keys[] = { "host", "port", "connect_timeout", "application_name", NULL };
	const char *values[] = { w->host, w->port, "1", "loadclient-watch", NULL };

	while (!atomic_load(&stopping)) {
		PGresult *res;
		int state = -1;

		if (conn == NULL) {
			conn = PQconnectdbParams(keys, values, 1);
			if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
				PQfinish(conn);
				conn = NULL;
				push_sample(w, now_ns(CLOCK_MONOTONIC), -1);
				sleep_ns((int64_t)RECONNECT_MS * 1000000);
				continue;
			}
		}
		res = PQexec(conn, "SELECT pg_is_in_recovery(), current_setting('synchronous_standby_names')");
		if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
			if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
				state = 0;
			else
				state = PQgetvalue(res, 0, 1)[0] == '\0' ? 2 : 1;
		}
		push_sample(w, now_ns(CLOCK_MONOTONIC), state);
		PQclear(res);
		if (state < 0 && PQstatus(conn) != CONNECTION_OK) {
			PQfinish(conn);
			conn = NULL;
		}
		sleep_ns((int64_t)WATCH_EVERY_MS * 1000000);
	}
	PQfinish(conn);
	return NULL;
}

/*
 * Moments two units accepted writes at once, as last sampled (every WATCH_EVERY_MS): for each pair of
 * units, the overlaps of their intervals in state 1 or 2 within [from, to]; how many, and how long in all.
 */
static void two_writable(watch_state *watches, int nwatch, int64_t from, int64_t to, size_t *count, int64_t *ns)
{
	*count = 0;
	*ns = 0;
	for (int i = 0; i < nwatch; i++)
		for (int j = i + 1; j < nwatch; j++)
			for (size_t a = 0; a < watches[i].n; a++) {
				int64_t a0, a1;

				if (watches[i].samples[a].state < 1)
					continue;
				a0 = watches[i].samples[a].mono_ns;
				a1 = a + 1 < watches[i].n ? watches[i].samples[a + 1].mono_ns : to;
				for (size_t b = 0; b < watches[j].n; b++) {
					int64_t b0 = watches[j].samples[b].mono_ns, lo, hi;
					int64_t b1 = b + 1 < watches[j].n ? watches[j].samples[b + 1].mono_ns : to;

					if (watches[j].samples[b].state < 1)
						continue;
					lo = a0 > b0 ? a0 : b0;
					lo = lo > from ? lo : from;
					hi = a1 < b1 ? a1 : b1;
					hi = hi < to ? hi : to;
					if (hi > lo) {
						(*count)++;
						*ns += hi - lo;
					}
				}
			}
}

/*
 * Acks answered while some unit was (as last sampled) a primary with no synchronous standby
 * required, and how long that lasted within [from, to]. acks sorted by time.
 */
static void single_node(const ack *acks, size_t nacks, watch_state *watches, int nwatch, int64_t from, int64_t to,
			size_t *count, int64_t *unsafe_ns)
{
	size_t at[WATCH_MAX] = { 0 };
	int state[WATCH_MAX];
	size_t a = 0;
	int64_t t = from;

	*count = 0;
	*unsafe_ns = 0;
	for (int i = 0; i < nwatch; i++)
		state[i] = -1;
	/* walk the union of sample times and ack times in order */
	for (;;) {
		int64_t next = to;
		bool unsafe = false;
		int who = -1;

		for (int i = 0; i < nwatch; i++)
			if (at[i] < watches[i].n && watches[i].samples[at[i]].mono_ns < next) {
				next = watches[i].samples[at[i]].mono_ns;
				who = i;
			}
		for (int i = 0; i < nwatch; i++)
			unsafe = unsafe || state[i] == 2;
		while (a < nacks && acks[a].mono_ns < next) {
			if (unsafe && acks[a].mono_ns >= from)
				(*count)++;
			a++;
		}
		if (unsafe && next > t)
			*unsafe_ns += next - (t > from ? t : from);
		t = next;
		if (who < 0)
			break;
		state[who] = watches[who].samples[at[who]].state;
		at[who]++;
	}
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
			"                  [--id-base N] [--connect-timeout S] [--watch HOST:PORT,...]\n");
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
	static watch_state watches[WATCH_MAX];
	int nwatch = 0;
	size_t single_acks = 0;
	int64_t unsafe_ns = 0;
	size_t two_count = 0; /* two_writable() */
	int64_t two_ns = 0;
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
		else if (strcmp(a, "--watch") == 0) {
			char *list = argv[++i], *save = NULL;

			for (char *one = strtok_r(list, ",", &save); one != NULL; one = strtok_r(NULL, ",", &save)) {
				char *colon = strrchr(one, ':');

				if (colon == NULL || nwatch == WATCH_MAX)
					usage();
				*colon = '\0';
				watches[nwatch].index = nwatch;
				snprintf(watches[nwatch].host, sizeof(watches[nwatch].host), "%s", one);
				snprintf(watches[nwatch].port, sizeof(watches[nwatch].port), "%s", colon + 1);
				nwatch++;
			}
		}
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
	for (int i = 0; i < nwatch; i++)
		if (pthread_create(&watches[i].thread, NULL, watch_main, &watches[i]) != 0) {
			fprintf(stderr, "loadclient: cannot start a thread\n");
			return 1;
		}
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
	for (int i = 0; i < nwatch; i++)
		pthread_join(watches[i].thread, NULL);

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

	if (nwatch > 0) {
		single_node(all, total, watches, nwatch, start_mono, end_mono, &single_acks, &unsafe_ns);
		two_writable(watches, nwatch, start_mono, end_mono, &two_count, &two_ns);
		f = open_out("sync.tsv");
		for (int i = 0; i < nwatch; i++) {
			for (size_t k = 0; k < watches[i].n; k++)
				fprintf(f, "%lld\t%s:%s\t%d\n", (long long)watches[i].samples[k].mono_ns, watches[i].host,
					watches[i].port, watches[i].samples[k].state);
			free(watches[i].samples);
		}
		fclose(f);
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
		if (nwatch > 0)
			fprintf(f, "\"watched_units\": %d, \"single_node_acks\": %zu, \"no_sync_required_ms\": %.1f, ",
				nwatch, single_acks, (double)unsafe_ns / 1e6);
		if (nwatch > 0)
			fprintf(f, "\"two_writable\": %zu, \"two_writable_ms\": %.1f, ", two_count, (double)two_ns / 1e6);
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
