/*
 * test_state_history.c — the pure parts under history and the id counter (state/history.h): history
 * keys and the ids read back from them, the counter's value, and the etcd request bodies the state layer
 * sends (etcd_build_range_req for paged and narrow reads, etcd_build_txn for the writes that go
 * together), decoded and checked field by field. Tables, one case a line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "etcd/etcd_parse.h"
#include "state/history.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define P "/pgrefresh/pg/"

static void test_history_key(void **state)
{
	static const struct {
		int64_t id;
		const char *key;
	} cases[] = {
		{ 1, P "history/00000001" },	     { 64, P "history/00000064" },
		{ 65, P "history/00000065" },	     { 12345678, P "history/12345678" },
		{ 99999999, P "history/99999999" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char key[128];

		state_history_key(P, cases[i].id, key, sizeof(key));
		assert_string_equal(key, cases[i].key);
		assert_int_equal(state_history_key_id(P, key), cases[i].id);
	}
}

static void test_history_key_order(void **state)
{
	/* keys sort as ids do, which is what paging and "the highest id is the last key" rely on */
	char a[128], b[128];

	(void)state;
	for (int64_t id = 1; id < 2000; id += 7) {
		state_history_key(P, id, a, sizeof(a));
		state_history_key(P, id + 1, b, sizeof(b));
		assert_true(strcmp(a, b) < 0);
	}
}

static void test_history_key_id_bad(void **state)
{
	static const char *const keys[] = {
		P "history/",	       P "history/abc",	 P "history/12x",  P "history/-5",
		P "history/ 7",	       P "historyx/0001", "/pgrefresh/other/history/0001", P "refresh",
		P "history/00000001/x", "",		 NULL,
	};

	(void)state;
	for (size_t i = 0; i < COUNT(keys); i++)
		if (state_history_key_id(P, keys[i]) != -1)
			fail_msg("\"%s\" read as an id", keys[i] ? keys[i] : "NULL");
}

static void test_id_parse(void **state)
{
	static const struct {
		const char *value;
		int64_t id; /* 0: refused */
	} cases[] = {
		{ "1", 1 },   { "66", 66 }, { "2147483647", 2147483647 }, { "0", 0 },  { "-1", 0 },
		{ "", 0 },    { "x", 0 },   { "12 ", 0 },		   { " 12", 0 }, { "2147483648", 0 },
		{ NULL, 0 },  { "6.5", 0 },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		int64_t id = -7;
		pgr_err err;
		int rc = state_id_parse(cases[i].value, &id, &err);

		if (cases[i].id == 0) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(err.msg, "refresh id counter"));
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(id, cases[i].id);
		}
	}
}

/* The base64 field of obj decoded (a heap string) */
static char *b64_field(json_t *obj, const char *field)
{
	json_t *v = json_object_get(obj, field);
	char *out = NULL;
	size_t len = 0;
	pgr_err err;

	if (!json_is_string(v))
		return NULL;
	assert_int_equal(etcd_b64_decode(json_string_value(v), &out, &len, &err), 0);
	return out;
}

static void test_build_range_req(void **state)
{
	static const struct {
		etcd_range_req req;
		const char *key;   /* decoded, without a NUL of after */
		size_t keylen;     /* with it */
		const char *end;   /* NULL: none */
		const char *order; /* NULL: none */
		const char *limit, *revision;
	} cases[] = {
		{ { .key = P, .range_end = P "history/" }, P, sizeof(P) - 1, P "history/", "ASCEND", NULL, NULL },
		{ { .key = P "history0", .range_end = "/pgrefresh/pg0", .revision = 42 }, P "history0", sizeof(P) + 7,
		  "/pgrefresh/pg0", "ASCEND", NULL, "42" },
		{ { .key = P "history/00000050", .after = true, .range_end = P "history0", .limit = 50, .revision = 9 },
		  P "history/00000050", sizeof(P "history/00000050"), P "history0", "ASCEND", "50", "9" },
		{ { .key = P "history/0", .range_end = P "history/:", .descend = true, .limit = 1 }, P "history/0",
		  sizeof(P) + 8, P "history/:", "DESCEND", "1", NULL },
		{ { .key = P "lock" }, P "lock", sizeof(P) + 3, NULL, NULL, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *body = NULL, *key = NULL, *end;
		size_t keylen = 0;
		json_t *root;
		pgr_err err;

		assert_int_equal(etcd_build_range_req(&cases[i].req, &body, &err), 0);
		root = json_loads(body, 0, NULL);
		assert_non_null(root);
		assert_int_equal(etcd_b64_decode(json_string_value(json_object_get(root, "key")), &key, &keylen, &err), 0);
		assert_int_equal(keylen, cases[i].keylen);
		assert_memory_equal(key, cases[i].key, strlen(cases[i].key));
		if (cases[i].req.after)
			assert_int_equal(key[keylen - 1], '\0'); /* the first key after: key + NUL */
		end = b64_field(root, "range_end");
		if (cases[i].end == NULL)
			assert_null(end);
		else
			assert_string_equal(end, cases[i].end);
		if (cases[i].order == NULL)
			assert_null(json_object_get(root, "sort_order"));
		else
			assert_string_equal(json_string_value(json_object_get(root, "sort_order")), cases[i].order);
		if (cases[i].limit == NULL)
			assert_null(json_object_get(root, "limit"));
		else
			assert_string_equal(json_string_value(json_object_get(root, "limit")), cases[i].limit);
		if (cases[i].revision == NULL)
			assert_null(json_object_get(root, "revision"));
		else
			assert_string_equal(json_string_value(json_object_get(root, "revision")), cases[i].revision);
		free(key);
		free(end);
		json_decref(root);
		free(body);
	}
	{
		etcd_range_req none = { .key = NULL };
		char *body = (char *)"x";
		pgr_err err;

		assert_int_equal(etcd_build_range_req(&none, &body, &err), -1);
		assert_null(body);
	}
}

/* op i of arr: its kind and decoded key (and value, lease for a put) */
static void check_op(json_t *arr, size_t i, const char *kind, const char *key, const char *value, const char *lease)
{
	json_t *op = json_object_get(json_array_get(arr, i), kind);
	char *k, *v;

	if (op == NULL)
		fail_msg("operation %zu is not a %s", i, kind);
	k = b64_field(op, "key");
	assert_string_equal(k, key);
	free(k);
	v = b64_field(op, "value");
	if (value == NULL)
		assert_null(v);
	else
		assert_string_equal(v, value);
	free(v);
	if (lease == NULL)
		assert_null(json_object_get(op, "lease"));
	else
		assert_string_equal(json_string_value(json_object_get(op, "lease")), lease);
	assert_null(json_object_get(op, "range_end")); /* one key, never a range */
}

static void test_build_txn(void **state)
{
	/* the record and the counter together: the refresh created with a fresh id, the lock free */
	const etcd_cmp cmps[] = { { P "refresh-id", ETCD_CMP_MOD, 17 },
				  { P "refresh", ETCD_CMP_CREATE, 0 },
				  { P "lock", ETCD_CMP_CREATE, 0 } };
	const etcd_op ok[] = { { ETCD_OP_PUT, P "refresh", "{\"id\":66}", 0 },
			       { ETCD_OP_PUT, P "refresh-id", "66", 0 },
			       { ETCD_OP_DELETE, P "x", NULL, 0 },
			       { ETCD_OP_PUT, P "lock", "{}", 0x7a } };
	const etcd_op ko[] = { { ETCD_OP_GET, P "refresh-id", NULL, 0 } };
	static const struct {
		const char *target, *field, *rev;
	} want_cmp[] = { { "MOD", "mod_revision", "17" }, { "CREATE", "create_revision", "0" }, { "CREATE", "create_revision", "0" } };
	char *body = NULL;
	json_t *root, *arr;
	pgr_err err;

	(void)state;
	assert_int_equal(etcd_build_txn(cmps, 3, ok, 4, ko, 1, &body, &err), 0);
	root = json_loads(body, 0, NULL);
	assert_non_null(root);
	arr = json_object_get(root, "compare");
	assert_int_equal(json_array_size(arr), 3);
	for (size_t i = 0; i < COUNT(want_cmp); i++) {
		json_t *c = json_array_get(arr, i);
		char *k = b64_field(c, "key");

		assert_string_equal(k, cmps[i].key);
		free(k);
		assert_string_equal(json_string_value(json_object_get(c, "target")), want_cmp[i].target);
		assert_string_equal(json_string_value(json_object_get(c, "result")), "EQUAL");
		assert_string_equal(json_string_value(json_object_get(c, want_cmp[i].field)), want_cmp[i].rev);
	}
	arr = json_object_get(root, "success");
	assert_int_equal(json_array_size(arr), 4);
	check_op(arr, 0, "request_put", P "refresh", "{\"id\":66}", NULL);
	check_op(arr, 1, "request_put", P "refresh-id", "66", NULL);
	check_op(arr, 2, "request_delete_range", P "x", NULL, NULL);
	check_op(arr, 3, "request_put", P "lock", "{}", "122");
	arr = json_object_get(root, "failure");
	assert_int_equal(json_array_size(arr), 1);
	check_op(arr, 0, "request_range", P "refresh-id", NULL, NULL);
	json_decref(root);
	free(body);

	/* no compare: the operations always run; no failure branch */
	assert_int_equal(etcd_build_txn(NULL, 0, ko, 1, NULL, 0, &body, &err), 0);
	root = json_loads(body, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(root, "compare")), 0);
	assert_int_equal(json_array_size(json_object_get(root, "failure")), 0);
	json_decref(root);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_history_key),	 cmocka_unit_test(test_history_key_order),
		cmocka_unit_test(test_history_key_id_bad), cmocka_unit_test(test_id_parse),
		cmocka_unit_test(test_build_range_req), cmocka_unit_test(test_build_txn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
