/*
 * test_state_live.c — the state layer (state/lock.h, state/history.h) against a real etcd (/usr/bin/etcd, Debian etcd-server 3.4) started
 * on free 127.0.0.1 ports in a temp directory. The group teardown stops it by its pid and removes the
 * directory, and prints etcd's log when a test failed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcd/etcd.h"
#include "state/history.h"
#include "state/lock.h"
#include "util/http.h"
#include "util/proc.h"

#define LIVE_ETCD_DIR_TEMPLATE "/tmp/pgr-state-live-XXXXXX"
#include "live_etcd.h"

#define P "/pgrefresh/live/"

static state_lock lock_for(const char *op, const char *owner, int64_t lease)
{
	state_lock l;

	memset(&l, 0, sizeof(l));
	snprintf(l.operation, sizeof(l.operation), "%s", op);
	snprintf(l.owner, sizeof(l.owner), "%s", owner);
	l.since_ms = 1764428400000;
	l.lease = lease;
	return l;
}

/* 1. N processes take the lock at the same moment: exactly one wins, every other sees the winner */
static void test_lock_race(void **state)
{
	struct live *lv = *state;
	enum { N = 8 };
	pid_t kids[N];
	int pipes[N][2];
	int64_t leases[N];
	int winners = 0;
	pgr_err err;

	BEGIN(lv);
	for (int i = 0; i < N; i++)
		OK(etcd_lease_grant(&lv->client, 30, &leases[i], &err));
	for (int i = 0; i < N; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char owner[32], line[256];
			state_lock want, holder;
			bool taken = false;
			pgr_err cerr;

			snprintf(owner, sizeof(owner), "taker %d", i);
			want = lock_for("switchover", owner, leases[i]);
			proc_sleep_ms(200); /* all forked: go together */
			if (state_lock_take(&lv->client, P, &want, "refresh", &taken, &holder, &cerr) != 0)
				snprintf(line, sizeof(line), "E %s", cerr.msg);
			else
				snprintf(line, sizeof(line), "%c %s", taken ? 'W' : 'L', taken ? want.owner : holder.owner);
			if (write(pipes[i][1], line, strlen(line)) < 0)
				_exit(2);
			_exit(0);
		}
		close(pipes[i][1]);
	}
	{
		char results[N][256];
		char winner[64] = "";

		for (int i = 0; i < N; i++) {
			ssize_t n = read(pipes[i][0], results[i], sizeof(results[i]) - 1);

			results[i][n > 0 ? n : 0] = '\0';
			close(pipes[i][0]);
			waitpid(kids[i], NULL, 0);
			if (results[i][0] == 'E')
				fail_msg("taker %d: %s", i, results[i]);
			if (results[i][0] == 'W') {
				winners++;
				snprintf(winner, sizeof(winner), "%s", results[i] + 2);
			}
		}
		assert_int_equal(winners, 1);
		for (int i = 0; i < N; i++)
			if (results[i][0] == 'L')
				assert_string_equal(results[i] + 2, winner); /* each loser names the winner */
	}
	{
		bool found = false;
		state_lock now;

		OK(state_lock_read(&lv->client, P, &found, &now, &err));
		assert_true(found);
		assert_string_equal(now.operation, "switchover");
		for (int i = 0; i < N; i++)
			OK(etcd_lease_revoke(&lv->client, leases[i], &err));
		OK(state_lock_read(&lv->client, P, &found, &now, &err));
		assert_false(found); /* gone with its owner's lease */
	}
	END(lv);
}

/* 2. a holder whose lease expires (a process that died): the lock goes by itself */
static void test_lock_expires_with_lease(void **state)
{
	struct live *lv = *state;
	int64_t lease = 0, other = 0;
	state_lock want, holder, second;
	bool taken = false, found = true;
	long long t0;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_lease_grant(&lv->client, 2, &lease, &err));
	OK(etcd_lease_grant(&lv->client, 30, &other, &err));
	want = lock_for("add-unit", "dies", lease);
	OK(state_lock_take(&lv->client, P, &want, NULL, &taken, &holder, &err));
	assert_true(taken);
	assert_true(want.mod_revision > 0);
	second = lock_for("remove-unit", "waits", other);
	OK(state_lock_take(&lv->client, P, &second, NULL, &taken, &holder, &err));
	assert_false(taken);
	assert_string_equal(holder.owner, "dies");
	assert_int_equal(holder.lease, lease);
	t0 = proc_now_ms();
	while (found && proc_now_ms() - t0 < 10000) {
		proc_sleep_ms(200);
		OK(state_lock_read(&lv->client, P, &found, &holder, &err));
	}
	assert_false(found);
	OK(state_lock_take(&lv->client, P, &second, NULL, &taken, &holder, &err));
	assert_true(taken);
	/* release deletes exactly this lock; a second release is harmless */
	OK(state_lock_release(&lv->client, P, &second, &err));
	OK(state_lock_release(&lv->client, P, &second, &err));
	OK(state_lock_read(&lv->client, P, &found, &holder, &err));
	assert_false(found);
	OK(etcd_lease_revoke(&lv->client, other, &err));
	END(lv);
}

/* 3. no taker while the refresh exists (unless_leaf); a lock bound to no lease is removed */
static void test_lock_unless_and_stale(void **state)
{
	struct live *lv = *state;
	int64_t lease = 0;
	state_lock want, holder;
	bool taken = true;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_lease_grant(&lv->client, 30, &lease, &err));
	OK(etcd_put(&lv->client, P "refresh", "{}", 0, &err));
	want = lock_for("switchover", "me", lease);
	OK(state_lock_take(&lv->client, P, &want, "refresh", &taken, &holder, &err));
	assert_false(taken);
	assert_string_equal(holder.operation, ""); /* free, but a refresh is in progress */
	OK(etcd_delete(&lv->client, P "refresh", false, &err));
	OK(etcd_put(&lv->client, P "lock", "{\"operation\":\"refresh\",\"owner\":\"by hand\"}", 0, &err));
	OK(state_lock_take(&lv->client, P, &want, "refresh", &taken, &holder, &err));
	assert_true(taken);
	OK(state_lock_release(&lv->client, P, &want, &err));
	want.lease = 0;
	assert_int_equal(state_lock_take(&lv->client, P, &want, NULL, &taken, &holder, &err), -1);
	assert_contains(err.msg, "lease");
	OK(etcd_lease_revoke(&lv->client, lease, &err));
	END(lv);
}

/* 4. ids: peeked from history without a counter, then from the counter; a raced claim loses */
static void test_ids(void **state)
{
	struct live *lv = *state;
	state_id_claim claim, same;
	bool created = false, moved = false;
	static const char *const absent[] = { "lock" };
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	OK(state_id_peek(&lv->client, P, 0, &claim, &err));
	assert_int_equal(claim.id, 1);
	OK(etcd_put(&lv->client, P "history/00000064", "{}", 0, &err));
	OK(etcd_put(&lv->client, P "history/00000009", "{}", 0, &err));
	OK(etcd_put(&lv->client, P "history/junk", "{}", 0, &err));
	OK(state_id_peek(&lv->client, P, 0, &claim, &err));
	assert_int_equal(claim.id, 65);
	assert_int_equal(claim.counter_mod_revision, 0);
	OK(state_id_peek(&lv->client, P, 80, &claim, &err));
	assert_int_equal(claim.id, 81); /* floor: a refresh in progress with id 80 */
	OK(state_id_peek(&lv->client, P, 0, &claim, &err));
	same = claim;
	OK(state_id_create(&lv->client, P, &claim, "refresh", "{\"id\":65}", absent, 1, NULL, &created, &moved, &err));
	assert_true(created);
	/* the same claim again (a second CLI that peeked at the same time): refused, the counter moved */
	OK(state_id_create(&lv->client, P, &same, "other", "{}", absent, 1, NULL, &created, &moved, &err));
	assert_false(created);
	assert_true(moved);
	OK(state_id_peek(&lv->client, P, 0, &claim, &err));
	assert_int_equal(claim.id, 66);
	assert_true(claim.counter_mod_revision > 0);
	/* the refresh exists: refused, not because of the counter */
	OK(state_id_create(&lv->client, P, &claim, "refresh", "{}", absent, 1, NULL, &created, &moved, &err));
	assert_false(created);
	assert_false(moved);
	OK(etcd_delete(&lv->client, P "refresh", false, &err));
	/* the lock held: refused */
	OK(etcd_put(&lv->client, P "lock", "{}", 0, &err));
	OK(state_id_create(&lv->client, P, &claim, "refresh", "{}", absent, 1, NULL, &created, &moved, &err));
	assert_false(created);
	OK(etcd_delete(&lv->client, P "lock", false, &err));
	OK(etcd_put(&lv->client, P "refresh-id", "nonsense", 0, &err));
	assert_int_equal(state_id_peek(&lv->client, P, 0, &claim, &err), -1);
	assert_contains(err.msg, P "refresh-id");
	OK(etcd_delete(&lv->client, P, true, &err));
	END(lv);
}

/* 5. archive: created, never overwritten; the refresh key and the lock go in the same txn */
static void test_archive(void **state)
{
	struct live *lv = *state;
	static const char *const also[] = { "lock" };
	etcd_kv kv, existing;
	bool archived = false, found = false;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	OK(etcd_put(&lv->client, P "refresh", "{\"id\":3}", 0, &err));
	OK(etcd_put(&lv->client, P "lock", "{}", 0, &err));
	OK(etcd_get(&lv->client, P "refresh", &kv, &found, &err));
	/* the refresh moved on since it was read: nothing happens */
	OK(state_history_archive(&lv->client, P, 3, "{\"id\":3}", "refresh", kv.mod_revision - 1, also, 1, NULL, &archived,
				 &existing, &err));
	assert_false(archived);
	assert_null(existing.key);
	OK(state_history_archive(&lv->client, P, 3, "{\"id\":3}", "refresh", kv.mod_revision, also, 1, NULL, &archived,
				 &existing, &err));
	assert_true(archived);
	etcd_kv_free(&kv);
	OK(etcd_get(&lv->client, P "refresh", &kv, &found, &err));
	assert_false(found);
	OK(etcd_get(&lv->client, P "lock", &kv, &found, &err));
	assert_false(found);
	/* another refresh with the same id: history/3 is not overwritten */
	OK(etcd_put(&lv->client, P "refresh", "{\"id\":3,\"other\":1}", 0, &err));
	OK(etcd_get(&lv->client, P "refresh", &kv, &found, &err));
	OK(state_history_archive(&lv->client, P, 3, "{\"id\":3,\"other\":1}", "refresh", kv.mod_revision, NULL, 0, NULL,
				 &archived, &existing, &err));
	assert_false(archived);
	assert_string_equal(existing.value, "{\"id\":3}");
	etcd_kv_free(&existing);
	etcd_kv_free(&kv);
	OK(etcd_delete(&lv->client, P, true, &err));
	END(lv);
}

typedef struct seen {
	int64_t ids[200];
	int count;
} seen;

static int collect(int64_t id, const char *json, void *arg)
{
	seen *s = arg;

	(void)json;
	if (s->count < 200)
		s->ids[s->count++] = id;
	return 0;
}

static int stop_at_ten(int64_t id, const char *json, void *arg)
{
	(void)json;
	(void)arg;
	return id == 10 ? 7 : 0;
}

/* 6. history in pages: every entry once, in id order, across page boundaries; a listing is consistent */
static void test_history_pages(void **state)
{
	struct live *lv = *state;
	static const struct {
		int page, pages;
	} cases[] = { { 7, 11 }, { 10, 8 }, { 50, 2 }, { 70, 2 }, { 71, 2 }, { 72, 1 }, { 0, 2 } }; /* 71 keys: 70 ids and one that is not */
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	for (int id = 70; id >= 1; id--) {
		char key[128];

		state_history_key(P, id, key, sizeof(key));
		OK(etcd_put(&lv->client, key, "{}", 0, &err));
	}
	OK(etcd_put(&lv->client, P "history/not-an-id", "{}", 0, &err));
	OK(etcd_put(&lv->client, P "historyx", "{}", 0, &err));
	OK(etcd_put(&lv->client, P "refresh", "{}", 0, &err));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		seen s = { .count = 0 };
		int pages = 0;

		OK(state_history_foreach(&lv->client, P, cases[c].page, collect, &s, &pages, &err));
		assert_int_equal(s.count, 70);
		for (int i = 0; i < 70; i++)
			assert_int_equal(s.ids[i], i + 1);
		if (pages != cases[c].pages)
			fail_msg("page size %d: %d pages, expected %d", cases[c].page, pages, cases[c].pages);
	}
	assert_int_equal(state_history_foreach(&lv->client, P, 3, stop_at_ten, NULL, NULL, &err), 7);
	OK(etcd_delete(&lv->client, P, true, &err));
	END(lv);
}

/*
 * 7. what the coordinator's tick reads, with 1000 refreshes in history (records of 3 units, ~1.5 KB each):
 * the whole prefix (as store_read did) against the two ranges around history/ (as it does now). The
 * narrow read holds no history key; both timings are printed (figures, not asserted).
 */
static void test_narrow_read(void **state)
{
	struct live *lv = *state;
	char value[1600];
	long long t0, whole_ms, narrow_ms;
	int whole_keys = 0, narrow_keys = 0;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	for (int id = 1; id <= 1000; id++) {
		char key[128];

		state_history_key(P, id, key, sizeof(key));
		OK(etcd_put(&lv->client, key, value, 0, &err));
	}
	OK(etcd_put(&lv->client, P "config", "{}", 0, &err));
	OK(etcd_put(&lv->client, P "coordinator", "pg/0", 0, &err));
	OK(etcd_put(&lv->client, P "refresh", "{}", 0, &err));
	OK(etcd_put(&lv->client, P "units/pg-0", "{}", 0, &err));
	OK(etcd_put(&lv->client, P "units/pg-1", "{}", 0, &err));
	t0 = proc_now_ms();
	for (int i = 0; i < 20; i++) {
		etcd_kvs kvs;

		OK(etcd_get_prefix(&lv->client, P, &kvs, &err));
		whole_keys = kvs.count;
		etcd_kvs_free(&kvs);
	}
	whole_ms = proc_now_ms() - t0;
	t0 = proc_now_ms();
	for (int i = 0; i < 20; i++) {
		etcd_range_req a = { .key = P, .range_end = P "history/" };
		etcd_range_req b = { .key = P "history0", .range_end = "/pgrefresh/live0" };
		etcd_kvs x, y;

		OK(etcd_range(&lv->client, &a, &x, &err));
		b.revision = x.revision;
		OK(etcd_range(&lv->client, &b, &y, &err));
		narrow_keys = x.count + y.count;
		for (int k = 0; k < y.count; k++)
			assert_null(strstr(y.items[k].key, "history/"));
		for (int k = 0; k < x.count; k++)
			assert_null(strstr(x.items[k].key, "history/"));
		etcd_kvs_free(&x);
		etcd_kvs_free(&y);
	}
	narrow_ms = proc_now_ms() - t0;
	assert_int_equal(whole_keys, 1005);
	assert_int_equal(narrow_keys, 5);
	printf("# a tick's read with 1000 refreshes in history: whole prefix %.1f ms (%d keys), "
	       "two ranges around history/ %.1f ms (%d keys)\n",
	       whole_ms / 20.0, whole_keys, narrow_ms / 20.0, narrow_keys);
	OK(etcd_delete(&lv->client, P, true, &err));
	END(lv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_race),    cmocka_unit_test(test_lock_expires_with_lease),
		cmocka_unit_test(test_lock_unless_and_stale), cmocka_unit_test(test_ids),
		cmocka_unit_test(test_archive),	     cmocka_unit_test(test_history_pages),
		cmocka_unit_test(test_narrow_read),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
