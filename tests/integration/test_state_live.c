/*
 * test_state_live.c — the state layer (state/lock.h, state/history.h, state/switchover_mark.h, state/store.h's
 * lease-conditioned writes) against a real etcd (/usr/bin/etcd, Debian etcd-server 3.4) started
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
#include "state/pg_intent.h"
#include "state/intent.h"
#include "state/store.h"
#include "state/switchover_mark.h"
#include "state/lease.h"
#include "state/unit_record.h"
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

static switchover_mark mark_for(int64_t lease, const char *from, const char *to)
{
	switchover_mark m;

	memset(&m, 0, sizeof(m));
	m.lease = lease;
	snprintf(m.from, sizeof(m.from), "%s", from);
	snprintf(m.to, sizeof(m.to), "%s", to);
	return m;
}

/* Waits until lease has expired (etcd says its TTL is 0), at most 10 s. */
static void wait_expired(struct live *lv, int64_t lease)
{
	int64_t ttl = 1;
	long long t0 = proc_now_ms();
	pgr_err err;

	while (ttl > 0 && proc_now_ms() - t0 < 10000) {
		proc_sleep_ms(200);
		OK(etcd_lease_ttl(&lv->client, lease, &ttl, &err));
	}
	assert_int_equal(ttl, 0);
}

/* Waits until lease has expired and etcd, revoking it, has removed the coordinator key it held. */
static void wait_coordinator_gone(struct live *lv, const state_scope *scope, int64_t lease)
{
	bool held = true;
	pgr_err err;

	wait_expired(lv, lease);
	for (long long t0 = proc_now_ms(); held && proc_now_ms() - t0 < 10000; proc_sleep_ms(100))
		OK(store_coordinator_held(&lv->client, scope, lease, &held, &err));
	assert_false(held);
}

/*
 * 8. the switchover mark: created only where there is none; its owner changes and removes it; a live
 * mark of another owner is never overwritten nor removed; a dead owner's mark is taken over, or removed
 * by anyone.
 */
static void test_switchover_mark_cas(void **state)
{
	struct live *lv = *state;
	int64_t a = 0, b = 0, rev = 0;
	switchover_mark ma, mb, holder, read;
	bool written = false, removed = false, found = false, held = true;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	OK(etcd_lease_grant(&lv->client, 2, &a, &err));
	OK(etcd_lease_grant(&lv->client, 30, &b, &err));
	ma = mark_for(a, "pg-0", "pg-1");
	mb = mark_for(b, "pg-0", "pg-2");
	/* no mark: not held (the poolers' followers go on) */
	OK(switchover_mark_held(&lv->client, P, &held, &err));
	assert_false(held);
	OK(switchover_mark_put(&lv->client, P, &ma, &written, &holder, &err));
	assert_true(written);
	OK(switchover_mark_held(&lv->client, P, &held, &err));
	assert_true(held);
	/* another live owner: refused, nothing written, told whose it is */
	OK(switchover_mark_put(&lv->client, P, &mb, &written, &holder, &err));
	assert_false(written);
	assert_int_equal(holder.lease, a);
	assert_string_equal(holder.to, "pg-1");
	OK(switchover_mark_read(&lv->client, P, &read, &found, &rev, &err));
	assert_true(found);
	assert_int_equal(read.lease, a);
	assert_string_equal(read.to, "pg-1");
	/* nor removed by it, nor by a clean-up that removes only dead owners' marks */
	OK(switchover_mark_remove(&lv->client, P, b, &removed, &err));
	assert_false(removed);
	OK(switchover_mark_remove(&lv->client, P, 0, &removed, &err));
	assert_false(removed);
	/* its owner changes it */
	ma.pgbouncer_paused = true;
	OK(switchover_mark_put(&lv->client, P, &ma, &written, &holder, &err));
	assert_true(written);
	OK(switchover_mark_read(&lv->client, P, &read, &found, &rev, &err));
	assert_true(read.pgbouncer_paused);
	/* its owner dies (lease expires): the mark stays, for whoever comes next, who may take it over */
	wait_expired(lv, a);
	OK(switchover_mark_read(&lv->client, P, &read, &found, &rev, &err));
	assert_true(found);
	assert_int_equal(read.lease, a);
	held = true;
	OK(switchover_mark_held(&lv->client, P, &held, &err));
	assert_false(held); /* a dead owner's mark holds nobody back */
	OK(switchover_mark_put(&lv->client, P, &mb, &written, &holder, &err));
	assert_true(written);
	OK(switchover_mark_read(&lv->client, P, &read, &found, &rev, &err));
	assert_int_equal(read.lease, b);
	/* the dead owner's process, come back, writes nothing over the live one */
	ma.pgbouncer_paused = false;
	OK(switchover_mark_put(&lv->client, P, &ma, &written, &holder, &err));
	assert_false(written);
	/* a mark without a lease is refused */
	{
		switchover_mark none = mark_for(0, "pg-0", "pg-1");

		assert_int_not_equal(switchover_mark_put(&lv->client, P, &none, &written, &holder, &err), 0);
		assert_false(written);
	}
	/* its owner removes it */
	OK(switchover_mark_remove(&lv->client, P, b, &removed, &err));
	assert_true(removed);
	OK(switchover_mark_read(&lv->client, P, &read, &found, &rev, &err));
	assert_false(found);
	/* a dead owner's mark is removed by a clean-up (owner 0) */
	OK(etcd_put(&lv->client, P "switchover", "{\"lease\":12345,\"from\":\"pg-0\",\"to\":\"pg-1\"}", 0, &err));
	OK(switchover_mark_remove(&lv->client, P, 0, &removed, &err));
	assert_true(removed);
	OK(etcd_lease_revoke(&lv->client, b, &err));
	END(lv);
}

/* state/lease.h: an agent's lease granted, renewed while it lives, seen alive by others, revoked: gone */
static void test_lease(void **state)
{
	struct live *lv = *state;
	int64_t lease = 0, short_lease = 0;
	bool alive = false;
	pgr_err err;

	BEGIN(lv);
	assert_int_not_equal(state_lease_grant(&lv->client, 0, &lease, &err), 0);
	assert_int_equal(lease, 0);
	OK(state_lease_grant(&lv->client, 30, &lease, &err));
	assert_true(lease != 0);
	OK(state_lease_renew(&lv->client, lease, &alive, &err));
	assert_true(alive);
	OK(state_lease_alive(&lv->client, lease, &alive, &err));
	assert_true(alive);
	OK(state_lease_revoke(&lv->client, lease, &err));
	OK(state_lease_alive(&lv->client, lease, &alive, &err));
	assert_false(alive);
	alive = true;
	OK(state_lease_renew(&lv->client, lease, &alive, &err));
	assert_false(alive); /* the owner learns its keys are gone */
	OK(state_lease_revoke(&lv->client, lease, &err)); /* twice: done */
	OK(state_lease_alive(&lv->client, 0, &alive, &err));
	assert_false(alive);
	/* not renewed: expires by itself */
	OK(state_lease_grant(&lv->client, 2, &short_lease, &err));
	wait_expired(lv, short_lease);
	OK(state_lease_alive(&lv->client, short_lease, &alive, &err));
	assert_false(alive);
	END(lv);
}

/* N processes write their mark at the same moment: exactly one is written, every other is refused */
static void test_switchover_mark_race(void **state)
{
	struct live *lv = *state;
	enum { N = 6 };
	pid_t kids[N];
	int64_t leases[N];
	int winners = 0, losers = 0;
	switchover_mark read;
	bool found = false;
	int64_t rev = 0;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	for (int i = 0; i < N; i++)
		OK(etcd_lease_grant(&lv->client, 30, &leases[i], &err));
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char to[16];
			switchover_mark m, holder;
			bool written = false;
			pgr_err cerr;

			snprintf(to, sizeof(to), "pg-%d", i + 1);
			m = mark_for(leases[i], "pg-0", to);
			proc_sleep_ms(200);
			if (switchover_mark_put(&lv->client, P, &m, &written, &holder, &cerr) != 0)
				_exit(2);
			_exit(written ? 0 : 1);
		}
	}
	for (int i = 0; i < N; i++) {
		int status = 0;

		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) <= 1);
		winners += WEXITSTATUS(status) == 0;
		losers += WEXITSTATUS(status) == 1;
	}
	assert_int_equal(winners, 1);
	assert_int_equal(losers, N - 1);
	OK(switchover_mark_read(&lv->client, P, &read, &found, &rev, &err));
	assert_true(found);
	for (int i = 0; i < N; i++)
		OK(etcd_lease_revoke(&lv->client, leases[i], &err));
	OK(etcd_delete(&lv->client, P, true, &err));
	END(lv);
}

/*
 * 9. two coordinators' writes of the refresh record: each conditioned on its lease holding the coordinator
 * key. The one whose lease expired writes nothing (record, settings, archive), though it still has the
 * record's current revision; the live one writes.
 */
static void test_refresh_writes_need_the_lease(void **state)
{
	struct live *lv = *state;
	state_scope scope;
	int64_t old = 0, next = 0, rev = 0;
	refresh_record rec, read;
	refresh_settings set;
	bool mine = false, swapped = false, found = false, parsed = false;
	etcd_kv kv;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	state_scope_init(&scope, "live");
	assert_string_equal(scope.prefix, P);
	OK(etcd_lease_grant(&lv->client, 2, &old, &err));
	OK(etcd_lease_grant(&lv->client, 30, &next, &err));
	OK(store_claim_coordinator(&lv->client, &scope, "pg/0", old, &mine, &err));
	assert_true(mine);
	OK(store_claim_coordinator(&lv->client, &scope, "pg/1", next, &mine, &err));
	assert_false(mine);
	/* the coordinator records a new refresh */
	memset(&rec, 0, sizeof(rec));
	rec.state = RS_CHECKING;
	rec.current = -1;
	snprintf(rec.from, sizeof(rec.from), "15.18");
	snprintf(rec.to, sizeof(rec.to), "15.20");
	snprintf(rec.original, sizeof(rec.original), "15.18");
	OK(store_put_refresh(&lv->client, &scope, old, &rec, 0, &swapped, &err));
	assert_true(swapped);
	OK(store_read_refresh(&lv->client, &scope, &found, &rev, &read, &parsed, &err));
	assert_true(found && parsed);
	/* an agent that is not the coordinator writes nothing, at the right revision too */
	rec.state = RS_FAILED;
	OK(store_put_refresh(&lv->client, &scope, next, &rec, rev, &swapped, &err));
	assert_false(swapped);
	/*
	 * the coordinator's lease expires (a loop stuck past its bound) and etcd revokes it, removing the
	 * coordinator key: its writes write nothing
	 */
	wait_coordinator_gone(lv, &scope, old);
	OK(store_put_refresh(&lv->client, &scope, old, &rec, rev, &swapped, &err));
	assert_false(swapped);
	settings_defaults(&set);
	OK(store_put_settings(&lv->client, &scope, old, &set, 0, &swapped, &err));
	assert_false(swapped);
	read.state = RS_DONE;
	OK(store_archive_refresh(&lv->client, &scope, old, &read, rev, &err));
	{
		bool hfound = true;

		OK(etcd_get(&lv->client, P "config", &kv, &hfound, &err));
		assert_false(hfound);
		etcd_kv_free(&kv);
		OK(etcd_get(&lv->client, P "history/00000001", &kv, &hfound, &err));
		assert_false(hfound);
		etcd_kv_free(&kv);
	}
	OK(store_read_refresh(&lv->client, &scope, &found, &rev, &read, &parsed, &err));
	assert_true(found && parsed);
	assert_int_equal(read.state, RS_CHECKING);
	/* the next coordinator takes the key, and its writes land */
	OK(store_claim_coordinator(&lv->client, &scope, "pg/1", next, &mine, &err));
	assert_true(mine);
	OK(store_put_refresh(&lv->client, &scope, next, &rec, rev, &swapped, &err));
	assert_true(swapped);
	OK(store_read_refresh(&lv->client, &scope, &found, &rev, &read, &parsed, &err));
	assert_int_equal(read.state, RS_FAILED);
	OK(store_put_settings(&lv->client, &scope, next, &set, 0, &swapped, &err));
	assert_true(swapped);
	OK(etcd_lease_revoke(&lv->client, next, &err));
	OK(etcd_delete(&lv->client, P, true, &err));
	END(lv);
}

/*
 * The fast switchover's progress (state/pg_intent.h): written only while its writer's lease binds the owner
 * key. A second claimer is refused while the owner lives; once the owner's lease expired, its writes write
 * nothing and the next one claims and writes; a released claim keeps the progress, a removal takes both.
 */
static void test_fast_progress_needs_the_owner_lease(void **state)
{
	struct live *lv = *state;
	int64_t old = 0, next = 0, holder = 0;
	fast_progress p, read;
	bool mine = false, written = false, found = false, done = false;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	OK(etcd_lease_grant(&lv->client, 2, &old, &err));
	OK(etcd_lease_grant(&lv->client, 30, &next, &err));
	memset(&p, 0, sizeof(p));
	snprintf(p.from, sizeof(p.from), "pg-0");
	snprintf(p.to, sizeof(p.to), "pg-1");
	snprintf(p.step, sizeof(p.step), "stop-old");
	snprintf(p.token, sizeof(p.token), "fast:1");
	/* no claim: nothing written */
	p.lease = old;
	OK(fast_progress_put(&lv->client, P, &p, &written, &err));
	assert_false(written);
	OK(fast_progress_read(&lv->client, P, &read, &found, &err));
	assert_false(found);
	/* the owner claims and writes; another is refused, naming it, and its writes write nothing */
	OK(fast_progress_claim(&lv->client, P, old, &mine, &holder, &err));
	assert_true(mine);
	OK(fast_progress_claim(&lv->client, P, old, &mine, &holder, &err)); /* again: still its own */
	assert_true(mine);
	OK(fast_progress_put(&lv->client, P, &p, &written, &err));
	assert_true(written);
	OK(fast_progress_claim(&lv->client, P, next, &mine, &holder, &err));
	assert_false(mine);
	assert_true(holder == old);
	p.lease = next;
	snprintf(p.step, sizeof(p.step), "promote");
	OK(fast_progress_put(&lv->client, P, &p, &written, &err));
	assert_false(written);
	OK(fast_progress_end(&lv->client, P, next, FAST_PROGRESS_REMOVE, &done, &err));
	assert_false(done);
	/* the owner's lease expires and etcd, revoking it, removes the owner key: its writes write nothing, the
	 * progress stays for the next one */
	wait_expired(lv, old);
	{
		bool ofound = true;

		for (long long t0 = proc_now_ms(); ofound && proc_now_ms() - t0 < 10000; proc_sleep_ms(100)) {
			etcd_kv kv;

			OK(etcd_get(&lv->client, P FAST_OWNER_LEAF, &kv, &ofound, &err));
			etcd_kv_free(&kv);
		}
		assert_false(ofound);
	}
	p.lease = old;
	OK(fast_progress_put(&lv->client, P, &p, &written, &err));
	assert_false(written);
	OK(fast_progress_read(&lv->client, P, &read, &found, &err));
	assert_true(found);
	assert_string_equal(read.step, "stop-old");
	assert_true(read.lease == old);
	assert_int_not_equal(fast_progress_claim(&lv->client, P, old, &mine, &holder, &err), 0); /* a dead lease */
	assert_false(mine);
	/* the next one claims and writes; it releases the claim (the progress kept), claims again, removes both */
	OK(fast_progress_claim(&lv->client, P, next, &mine, &holder, &err));
	assert_true(mine);
	p.lease = next;
	OK(fast_progress_put(&lv->client, P, &p, &written, &err));
	assert_true(written);
	OK(fast_progress_end(&lv->client, P, next, FAST_PROGRESS_RELEASE, &done, &err));
	assert_true(done);
	OK(fast_progress_put(&lv->client, P, &p, &written, &err));
	assert_false(written);
	OK(fast_progress_read(&lv->client, P, &read, &found, &err));
	assert_true(found);
	assert_string_equal(read.step, "promote");
	OK(fast_progress_claim(&lv->client, P, next, &mine, &holder, &err));
	assert_true(mine);
	OK(fast_progress_end(&lv->client, P, next, FAST_PROGRESS_REMOVE, &done, &err));
	assert_true(done);
	OK(fast_progress_read(&lv->client, P, &read, &found, &err));
	assert_false(found);
	{
		etcd_kv kv;
		bool ofound = true;

		OK(etcd_get(&lv->client, P FAST_OWNER_LEAF, &kv, &ofound, &err));
		assert_false(ofound);
		etcd_kv_free(&kv);
	}
	OK(etcd_lease_revoke(&lv->client, next, &err));
	OK(etcd_delete(&lv->client, P, true, &err));
	END(lv);
}

/* Writes a pending config-set intent asking name=value; returns its revision. */
static int64_t put_settings_intent(struct live *lv, const char *token, const char *name, const char *value)
{
	refresh_intent in;
	char *json = NULL;
	etcd_kv kv;
	bool found = false;
	int64_t rev;
	pgr_err err;

	memset(&in, 0, sizeof(in));
	in.ask.ask = ASK_SETTINGS;
	snprintf(in.ask.token, sizeof(in.ask.token), "%s", token);
	snprintf(in.ask.settings[0].name, sizeof(in.ask.settings[0].name), "%s", name);
	snprintf(in.ask.settings[0].value, sizeof(in.ask.settings[0].value), "%s", value);
	in.ask.setting_count = 1;
	OK(intent_to_json(&in, &json, &err));
	OK(etcd_put(&lv->client, P "intent", json, 0, &err));
	free(json);
	OK(etcd_get(&lv->client, P "intent", &kv, &found, &err));
	assert_true(found);
	rev = kv.mod_revision;
	etcd_kv_free(&kv);
	return rev;
}

/*
 * 10. the coordinator's side of config set: a value the settings table refuses is answered refused and
 * nothing recorded; a coordinator whose lease expired records and answers nothing; the live one records
 * the settings and answers taken, with the intent's token.
 */
static void test_settings_intent(void **state)
{
	struct live *lv = *state;
	state_scope scope;
	store_snapshot *snap = calloc(1, sizeof(*snap));
	refresh_intent in;
	int64_t old = 0, live = 0, rev = 0;
	bool mine = false, answered = false, found = false;
	etcd_kv kv;
	pgr_err err;

	BEGIN(lv);
	assert_non_null(snap);
	OK(etcd_delete(&lv->client, P, true, &err));
	state_scope_init(&scope, "live");
	OK(etcd_lease_grant(&lv->client, 2, &old, &err));
	OK(etcd_lease_grant(&lv->client, 30, &live, &err));
	OK(store_claim_coordinator(&lv->client, &scope, "pg/0", old, &mine, &err));
	assert_true(mine);

	/* refused: the value is not one of the setting's */
	put_settings_intent(lv, "t-bad", "pause-after-unit-refresh", "bogus");
	OK(store_read(&lv->client, &scope, snap, &err));
	OK(intent_read(&lv->client, &scope, &in, &found, &rev, &err));
	OK(store_take_settings_intent(&lv->client, &scope, old, snap, &in, rev, &answered, &err));
	assert_true(answered);
	OK(intent_read(&lv->client, &scope, &in, &found, &rev, &err));
	assert_int_equal(in.answer, INTENT_REFUSED);
	assert_string_equal(in.ask.token, "t-bad");
	assert_non_null(strstr(in.result, "bogus"));
	OK(etcd_get(&lv->client, P "config", &kv, &found, &err));
	assert_false(found);
	etcd_kv_free(&kv);

	/* the coordinator's lease expired: nothing recorded, nothing answered (the next coordinator takes it) */
	put_settings_intent(lv, "t-all", "pause-after-unit-refresh", "all");
	wait_coordinator_gone(lv, &scope, old);
	OK(store_read(&lv->client, &scope, snap, &err));
	OK(intent_read(&lv->client, &scope, &in, &found, &rev, &err));
	OK(store_take_settings_intent(&lv->client, &scope, old, snap, &in, rev, &answered, &err));
	assert_false(answered);
	OK(intent_read(&lv->client, &scope, &in, &found, &rev, &err));
	assert_int_equal(in.answer, INTENT_PENDING);
	OK(etcd_get(&lv->client, P "config", &kv, &found, &err));
	assert_false(found);
	etcd_kv_free(&kv);
	/* nor can it answer the intent (a refusal by a coordinator that is no more) */
	assert_int_not_equal(intent_answer_it(&lv->client, &scope, old, &in, rev, INTENT_REFUSED, "no", &err), 0);
	OK(intent_read(&lv->client, &scope, &in, &found, &rev, &err));
	assert_int_equal(in.answer, INTENT_PENDING);

	/* the next coordinator takes it: recorded, answered taken with what it set */
	OK(store_claim_coordinator(&lv->client, &scope, "pg/1", live, &mine, &err));
	assert_true(mine);
	OK(store_take_settings_intent(&lv->client, &scope, live, snap, &in, rev, &answered, &err));
	assert_true(answered);
	OK(intent_read(&lv->client, &scope, &in, &found, &rev, &err));
	assert_int_equal(in.answer, INTENT_TAKEN);
	assert_string_equal(in.ask.token, "t-all");
	assert_string_equal(in.result, "pause-after-unit-refresh=all");
	OK(store_read(&lv->client, &scope, snap, &err));
	assert_int_equal(snap->settings.pause, PAUSE_ALL);

	/* during a refresh, the answer says where the refresh was when the value was taken */
	put_settings_intent(lv, "t-none", "pause-after-unit-refresh", "none");
	OK(store_read(&lv->client, &scope, snap, &err));
	snap->have_refresh = true;
	memset(&snap->refresh, 0, sizeof(snap->refresh));
	snap->refresh.id = 7;
	snap->refresh.state = RS_UNIT;
	snap->refresh.unit_count = 3;
	snap->refresh.current = 1;
	snprintf(snap->refresh.units[0].unit, sizeof(snap->refresh.units[0].unit), "pg/2");
	snap->refresh.units[0].step = STEP_DONE;
	snprintf(snap->refresh.units[1].unit, sizeof(snap->refresh.units[1].unit), "pg/1");
	snap->refresh.units[1].step = STEP_REFRESHING;
	OK(intent_read(&lv->client, &scope, &in, &found, &rev, &err));
	OK(store_take_settings_intent(&lv->client, &scope, live, snap, &in, rev, &answered, &err));
	assert_true(answered);
	OK(intent_read(&lv->client, &scope, &in, &found, &rev, &err));
	assert_int_equal(in.answer, INTENT_TAKEN);
	assert_string_equal(in.result,
			    "pause-after-unit-refresh=none; taken during refresh 7 (refreshing, 1/3 done, pg/1 in progress)");
	OK(etcd_lease_revoke(&lv->client, live, &err));
	OK(etcd_delete(&lv->client, P, true, &err));
	free(snap);
	END(lv);
}

/* 11. a unit's record written, read back and removed; the settings read alone (absent, set, corrupt) */
static void test_unit_record_and_settings(void **state)
{
	struct live *lv = *state;
	state_scope scope;
	unit_record rec, back;
	refresh_settings s;
	char *json = NULL;
	bool found = false;
	pgr_err err;

	BEGIN(lv);
	OK(etcd_delete(&lv->client, P, true, &err));
	state_scope_init(&scope, "live");
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.unit, sizeof(rec.unit), "pg/1");
	snprintf(rec.member, sizeof(rec.member), "pg-1");
	snprintf(rec.role, sizeof(rec.role), "replica");
	rec.heartbeat_ms = 1764430000000;
	OK(unit_record_put(&lv->client, &scope, &rec, &json, &err));
	assert_non_null(json);
	free(json);
	OK(unit_record_get(&lv->client, &scope, "pg-1", &back, &found, &err));
	assert_true(found);
	assert_string_equal(back.unit, "pg/1");
	assert_string_equal(back.role, "replica");
	assert_true(back.heartbeat_ms == rec.heartbeat_ms);
	OK(unit_record_delete(&lv->client, &scope, "pg-1", &err));
	OK(unit_record_get(&lv->client, &scope, "pg-1", &back, &found, &err));
	assert_false(found);
	OK(etcd_put(&lv->client, P "units/pg-2", "{\"unit\": ", 0, &err));
	assert_int_not_equal(unit_record_get(&lv->client, &scope, "pg-2", &back, &found, &err), 0);
	assert_non_null(strstr(err.msg, P "units/pg-2"));

	OK(store_read_settings(&lv->client, &scope, &s, &err));
	assert_int_equal(s.pause, PAUSE_FIRST);
	OK(etcd_put(&lv->client, P "config", "{\"pause-after-unit-refresh\": \"none\"}", 0, &err));
	OK(store_read_settings(&lv->client, &scope, &s, &err));
	assert_int_equal(s.pause, PAUSE_NONE);
	OK(etcd_put(&lv->client, P "config", "{\"pause-after-unit-refresh\": \"sometimes\"}", 0, &err));
	assert_int_not_equal(store_read_settings(&lv->client, &scope, &s, &err), 0);
	assert_int_equal(s.pause, PAUSE_FIRST);
	assert_non_null(strstr(err.msg, P "config"));
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
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_switchover_mark_cas),
		cmocka_unit_test(test_switchover_mark_race),
		cmocka_unit_test(test_refresh_writes_need_the_lease),
		cmocka_unit_test(test_fast_progress_needs_the_owner_lease),
		cmocka_unit_test(test_settings_intent),
		cmocka_unit_test(test_unit_record_and_settings),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
