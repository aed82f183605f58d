/*
 * test_etcd_live.c — the etcd client against a real etcd (/usr/bin/etcd, Debian etcd-server 3.4) started
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
#include "util/http.h"
#include "util/proc.h"

#define LIVE_ETCD_DIR_TEMPLATE "/tmp/pgr-etcd-live-XXXXXX"
#include "live_etcd.h"

/* 1. put, get, get_prefix, delete, delete prefix */
static void test_kv_basics(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	static const struct {
		const char *key, *value;
	} puts[] = {
		{ "/t/kv/p/2", "two" }, { "/t/kv/p/1", "one" }, { "/t/kv/p/3", "" }, { "/t/kv/p0", "sibling" },
		{ "/t/kv/single", "{\"json\": \"é ünïcode\"}" },
	};
	pgr_err err;
	etcd_kv kv;
	etcd_kvs kvs;
	bool found;

	BEGIN(lv);
	for (size_t i = 0; i < sizeof(puts) / sizeof(puts[0]); i++)
		OK(etcd_put(c, puts[i].key, puts[i].value, 0, &err));

	OK(etcd_get(c, "/t/kv/single", &kv, &found, &err));
	assert_true(found);
	assert_string_equal(kv.key, "/t/kv/single");
	assert_string_equal(kv.value, "{\"json\": \"é ünïcode\"}");
	assert_true(kv.mod_revision > 0);
	assert_int_equal(kv.version, 1);
	etcd_kv_free(&kv);

	OK(etcd_get(c, "/t/kv/missing", &kv, &found, &err));
	assert_false(found);
	assert_null(kv.key);

	OK(etcd_get_prefix(c, "/t/kv/p/", &kvs, &err));
	assert_int_equal(kvs.count, 3);
	assert_string_equal(kvs.items[0].key, "/t/kv/p/1");
	assert_string_equal(kvs.items[1].value, "two");
	assert_string_equal(kvs.items[2].value, "");
	assert_true(kvs.revision >= kvs.items[0].mod_revision);
	etcd_kvs_free(&kvs);

	OK(etcd_delete(c, "/t/kv/single", false, &err));
	OK(etcd_get(c, "/t/kv/single", &kv, &found, &err));
	assert_false(found);
	OK(etcd_delete(c, "/t/kv/single", false, &err)); /* deleting an absent key is fine */

	OK(etcd_delete(c, "/t/kv/p/", true, &err));
	OK(etcd_get_prefix(c, "/t/kv/p/", &kvs, &err));
	assert_int_equal(kvs.count, 0);
	etcd_kvs_free(&kvs);
	OK(etcd_get(c, "/t/kv/p0", &kv, &found, &err)); /* outside the prefix: kept */
	assert_true(found);
	etcd_kv_free(&kv);
	END(lv);
}

/* 2. put_if with 0: create only if absent; a second create fails and shows the key */
static void test_put_if_create(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	pgr_err err;
	etcd_kv cur;
	bool swapped;
	int64_t created_rev;

	BEGIN(lv);
	OK(etcd_put_if(c, "/t/cas/create", "first", 0, 0, &swapped, &cur, &err));
	assert_true(swapped);
	assert_string_equal(cur.key, "/t/cas/create");
	assert_string_equal(cur.value, "first");
	assert_int_equal(cur.create_revision, cur.mod_revision);
	created_rev = cur.mod_revision;
	etcd_kv_free(&cur);

	OK(etcd_put_if(c, "/t/cas/create", "second", 0, 0, &swapped, &cur, &err));
	assert_false(swapped);
	assert_string_equal(cur.value, "first");
	assert_int_equal(cur.mod_revision, created_rev);
	etcd_kv_free(&cur);

	OK(etcd_put_if(c, "/t/cas/create", "third", 0, 0, &swapped, NULL, &err));
	assert_false(swapped);
	END(lv);
}

/* 3. put_if on mod_revision: the right revision writes, a stale one fails and shows the current key */
static void test_put_if_mod_revision(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	pgr_err err;
	etcd_kv kv, cur;
	bool found, swapped;
	int64_t rev1, rev2;

	BEGIN(lv);
	OK(etcd_put(c, "/t/cas/mod", "v1", 0, &err));
	OK(etcd_get(c, "/t/cas/mod", &kv, &found, &err));
	rev1 = kv.mod_revision;
	etcd_kv_free(&kv);

	OK(etcd_put_if(c, "/t/cas/mod", "v2", rev1, 0, &swapped, &cur, &err));
	assert_true(swapped);
	assert_string_equal(cur.value, "v2");
	assert_true(cur.mod_revision > rev1);
	rev2 = cur.mod_revision;
	etcd_kv_free(&cur);

	OK(etcd_put_if(c, "/t/cas/mod", "v3", rev1, 0, &swapped, &cur, &err));
	assert_false(swapped);
	assert_string_equal(cur.value, "v2");
	assert_int_equal(cur.mod_revision, rev2);
	etcd_kv_free(&cur);

	/* a revision on an absent key: not written, current says absent */
	OK(etcd_put_if(c, "/t/cas/absent", "x", rev2, 0, &swapped, &cur, &err));
	assert_false(swapped);
	assert_null(cur.key);
	OK(etcd_get(c, "/t/cas/absent", &kv, &found, &err));
	assert_false(found);
	END(lv);
}

/* 4. delete_if */
static void test_delete_if(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	pgr_err err;
	etcd_kv kv;
	bool found, deleted;
	int64_t rev;

	BEGIN(lv);
	OK(etcd_put(c, "/t/cas/del", "a", 0, &err));
	OK(etcd_get(c, "/t/cas/del", &kv, &found, &err));
	rev = kv.mod_revision;
	etcd_kv_free(&kv);

	OK(etcd_delete_if(c, "/t/cas/del", rev - 1, &deleted, &err));
	assert_false(deleted);
	OK(etcd_get(c, "/t/cas/del", &kv, &found, &err));
	assert_true(found);
	etcd_kv_free(&kv);

	OK(etcd_delete_if(c, "/t/cas/del", rev, &deleted, &err));
	assert_true(deleted);
	OK(etcd_get(c, "/t/cas/del", &kv, &found, &err));
	assert_false(found);
	END(lv);
}

/* 5. lease grant, put with it, keepalive, revoke: the key goes with the lease */
static void test_lease_revoke(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	pgr_err err;
	etcd_kv kv;
	bool found;
	int64_t lease, ttl;

	BEGIN(lv);
	OK(etcd_lease_grant(c, 30, &lease, &err));
	assert_true(lease > 0);
	OK(etcd_put(c, "/t/lease/held", "alive", lease, &err));
	OK(etcd_get(c, "/t/lease/held", &kv, &found, &err));
	assert_true(found);
	assert_int_equal(kv.lease, lease);
	etcd_kv_free(&kv);

	OK(etcd_lease_keepalive(c, lease, &ttl, &err));
	assert_true(ttl > 0 && ttl <= 30);
	OK(etcd_lease_ttl(c, lease, &ttl, &err)); /* another process's view: alive */
	assert_true(ttl > 0 && ttl <= 30);

	OK(etcd_lease_revoke(c, lease, &err));
	OK(etcd_lease_ttl(c, lease, &ttl, &err));
	assert_int_equal(ttl, 0);
	OK(etcd_get(c, "/t/lease/held", &kv, &found, &err));
	assert_false(found);
	OK(etcd_lease_keepalive(c, lease, &ttl, &err));
	assert_int_equal(ttl, 0);
	OK(etcd_lease_revoke(c, lease, &err)); /* already gone: still fine */

	/* a put with a lease that does not exist is refused, and says so */
	pgr_err_clear(&err);
	assert_int_equal(etcd_put(c, "/t/lease/bad", "x", lease, &err), -1);
	assert_contains(err.msg, "put /t/lease/bad");
	assert_contains(err.msg, "lease not found");
	END(lv);
}

/* 6. a lease of 2 s without keepalive expires, and its key with it */
static void test_lease_expiry(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	pgr_err err;
	etcd_kv kv;
	bool found = true;
	int64_t lease, ttl;
	long long start, deadline;

	BEGIN(lv);
	OK(etcd_lease_grant(c, 2, &lease, &err));
	OK(etcd_put(c, "/t/lease/expiring", "soon gone", lease, &err));
	start = proc_now_ms();
	deadline = start + 5000;
	while (found && proc_now_ms() < deadline) {
		OK(etcd_get(c, "/t/lease/expiring", &kv, &found, &err));
		etcd_kv_free(&kv);
		if (found)
			proc_sleep_ms(100);
	}
	assert_false(found);
	assert_true(proc_now_ms() - start >= 1000); /* not gone at once */
	OK(etcd_lease_keepalive(c, lease, &ttl, &err));
	assert_int_equal(ttl, 0);
	END(lv);
}

/* 6b. a lease kept by its own thread outlives its TTL; once stopped, it is revoked */
static void test_lease_keeper(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	etcd_lease_keeper keeper;
	pgr_err err;
	int64_t ttl, lease;

	BEGIN(lv);
	OK(etcd_lease_keeper_start(&keeper, c, 3, &err));
	lease = keeper.lease;
	assert_true(lease > 0);
	proc_sleep_ms(4500); /* past the TTL: only the keeper keeps it */
	OK(etcd_lease_ttl(c, lease, &ttl, &err));
	assert_true(ttl > 0);
	etcd_lease_keeper_stop(&keeper);
	OK(etcd_lease_ttl(c, lease, &ttl, &err));
	assert_int_equal(ttl, 0);
	END(lv);
}

/* Forks a child that, after delay_ms, puts (value != NULL) or deletes key. */
static pid_t later(const etcd_client *c, long delay_ms, const char *key, const char *value)
{
	pid_t pid = fork();

	if (pid == 0) {
		pgr_err err = { 0 };
		int rc;

		proc_sleep_ms(delay_ms);
		rc = value ? etcd_put(c, key, value, 0, &err) : etcd_delete(c, key, false, &err);
		if (rc != 0)
			fprintf(stderr, "child: %s\n", err.msg);
		_exit(rc == 0 ? 0 : 1);
	}
	return pid;
}

static void wait_child(pid_t pid)
{
	int status = 0;

	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* 7. watch: changes made by another process are seen; a quiet key times out */
static void test_watch(void **state)
{
	struct live *lv = *state;
	const etcd_client *c = &lv->client;
	pgr_err err;
	etcd_kv kv;
	etcd_kvs events, kvs;
	bool found, changed;
	int64_t rev;
	long long start;
	pid_t child;

	BEGIN(lv);
	OK(etcd_put(c, "/t/watch/a", "1", 0, &err));
	OK(etcd_get(c, "/t/watch/a", &kv, &found, &err));
	rev = kv.mod_revision;
	etcd_kv_free(&kv);

	/* a change in another process, 300 ms later */
	child = later(c, 300, "/t/watch/a", "2");
	start = proc_now_ms();
	OK(etcd_watch(c, "/t/watch/a", false, rev + 1, 10000, &events, &changed, &err));
	wait_child(child);
	assert_true(changed);
	assert_true(proc_now_ms() - start >= 250);
	assert_int_equal(events.count, 1);
	assert_string_equal(events.items[0].key, "/t/watch/a");
	assert_string_equal(events.items[0].value, "2");
	rev = events.items[0].mod_revision;
	etcd_kvs_free(&events);

	/* a delete under a prefix: value NULL */
	child = later(c, 200, "/t/watch/a", NULL);
	OK(etcd_watch(c, "/t/watch/", true, rev + 1, 10000, &events, &changed, &err));
	wait_child(child);
	assert_true(changed);
	assert_int_equal(events.count, 1);
	assert_string_equal(events.items[0].key, "/t/watch/a");
	assert_null(events.items[0].value);
	etcd_kvs_free(&events);

	/* a change already made before the watch began (start_revision in the past) is seen at once */
	OK(etcd_put(c, "/t/watch/b", "x", 0, &err));
	OK(etcd_get_prefix(c, "/t/watch/", &kvs, &err));
	rev = kvs.revision;
	etcd_kvs_free(&kvs);
	start = proc_now_ms();
	OK(etcd_watch(c, "/t/watch/", true, rev, 5000, &events, &changed, &err));
	assert_true(changed);
	assert_true(proc_now_ms() - start < 2000);
	assert_string_equal(events.items[0].key, "/t/watch/b");
	etcd_kvs_free(&events);

	/* nothing changes: a timeout, changed false, after about timeout_ms */
	start = proc_now_ms();
	OK(etcd_watch(c, "/t/watch/", true, rev + 1, 400, &events, &changed, &err));
	assert_false(changed);
	assert_int_equal(events.count, 0);
	assert_true(proc_now_ms() - start >= 400);
	assert_true(proc_now_ms() - start < 3000);

	/* "from now" (0): a later change is seen, an earlier one is not */
	child = later(c, 200, "/t/watch/c", "new");
	OK(etcd_watch(c, "/t/watch/", true, 0, 10000, &events, &changed, &err));
	wait_child(child);
	assert_true(changed);
	assert_int_equal(events.count, 1);
	assert_string_equal(events.items[0].key, "/t/watch/c");
	etcd_kvs_free(&events);
	END(lv);
}

/* 8. errors name the key and the cause: no endpoint, and an HTTP error from etcd */
static void test_errors(void **state)
{
	struct live *lv = *state;
	etcd_client dead;
	pgr_err err;
	etcd_kv kv;
	bool found = true;
	long long start;

	BEGIN(lv);
	OK(etcd_client_init(&dead, lv->dead_url, &err));
	start = proc_now_ms();
	pgr_err_clear(&err);
	assert_int_equal(etcd_get(&dead, "/t/err/key", &kv, &found, &err), -1);
	assert_false(found);
	assert_true(proc_now_ms() - start < 3000);
	assert_contains(err.msg, "etcd get /t/err/key: no endpoint answered:");
	assert_contains(err.msg, lv->dead_url);
	assert_contains(err.msg, "onnect");
	assert_null(strchr(err.msg, '\n'));
	pgr_err_clear(&err);
	assert_int_equal(etcd_health(&dead, &err), -1);
	assert_contains(err.msg, "etcd health: no endpoint answered");

	/* an empty key is refused by etcd itself: HTTP 400 and etcd's message */
	pgr_err_clear(&err);
	assert_int_equal(etcd_put(&lv->client, "", "x", 0, &err), -1);
	assert_contains(err.msg, "HTTP 400");
	assert_contains(err.msg, "key is not provided");
	END(lv);
}

/* 9. the second endpoint is used when the first is dead */
static void test_failover(void **state)
{
	struct live *lv = *state;
	etcd_client two;
	char endpoints[160];
	pgr_err err;
	etcd_kv kv;
	bool found;

	BEGIN(lv);
	snprintf(endpoints, sizeof(endpoints), "%s,%s", lv->dead_url, lv->live_url);
	OK(etcd_client_init(&two, endpoints, &err));
	assert_int_equal(two.endpoint_count, 2);
	OK(etcd_put(&two, "/t/failover", "reached", 0, &err));
	OK(etcd_get(&two, "/t/failover", &kv, &found, &err));
	assert_true(found);
	assert_string_equal(kv.value, "reached");
	etcd_kv_free(&kv);
	OK(etcd_health(&two, &err));
	END(lv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_basics),    cmocka_unit_test(test_put_if_create),
		cmocka_unit_test(test_put_if_mod_revision), cmocka_unit_test(test_delete_if),
		cmocka_unit_test(test_lease_revoke), cmocka_unit_test(test_lease_expiry),
		cmocka_unit_test(test_lease_keeper),
		cmocka_unit_test(test_watch),	     cmocka_unit_test(test_errors),
		cmocka_unit_test(test_failover),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
