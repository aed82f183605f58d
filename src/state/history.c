#include "state/history.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void state_history_key(const char *prefix, int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%08" PRId64, prefix, STATE_HISTORY_LEAF, id);
}

int64_t state_history_key_id(const char *prefix, const char *key)
{
	size_t plen = strlen(prefix), hlen = strlen(STATE_HISTORY_LEAF);
	const char *digits;
	char *end;
	long long id;

	if (key == NULL || strncmp(key, prefix, plen) != 0 || strncmp(key + plen, STATE_HISTORY_LEAF, hlen) != 0)
		return -1;
	digits = key + plen + hlen;
	if (*digits < '0' || *digits > '9')
		return -1;
	errno = 0;
	id = strtoll(digits, &end, 10);
	if (errno != 0 || *end != '\0' || id < 0)
		return -1;
	return (int64_t)id;
}

int state_id_parse(const char *value, int64_t *id, pgr_err *err)
{
	char *end;
	long long v;

	*id = 0;
	if (value == NULL || *value < '0' || *value > '9')
		return pgr_err_set(err, "refresh id counter: \"%s\" is not a number", value ? value : "");
	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0 || v > INT32_MAX)
		return pgr_err_set(err, "refresh id counter: \"%s\" is not an id from 1 to %d", value, INT32_MAX);
	*id = (int64_t)v;
	return 0;
}

/* The highest id in history: its last key (keys sort by id), 0 when history is empty. */
static int highest_history_id(const etcd_client *etcd, const char *prefix, int64_t *highest, pgr_err *err)
{
	char first[256], end[256];
	etcd_range_req req = { .key = first, .range_end = end, .descend = true };
	etcd_kvs kvs;

	*highest = 0;
	/* only digits: "history/0" up to "history/:" (':' follows '9') */
	snprintf(first, sizeof(first), "%s%s0", prefix, STATE_HISTORY_LEAF);
	snprintf(end, sizeof(end), "%s%s:", prefix, STATE_HISTORY_LEAF);
	req.limit = 1;
	if (etcd_range(etcd, &req, &kvs, err) != 0)
		return -1;
	if (kvs.count > 0) {
		int64_t id = state_history_key_id(prefix, kvs.items[0].key);

		*highest = id > 0 ? id : 0;
	}
	etcd_kvs_free(&kvs);
	return 0;
}

int state_id_peek(const etcd_client *etcd, const char *prefix, int64_t floor, state_id_claim *claim, pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	bool found = false;
	int64_t last = 0;
	int rc = 0;

	memset(claim, 0, sizeof(*claim));
	snprintf(key, sizeof(key), "%s%s", prefix, STATE_ID_LEAF);
	if (etcd_get(etcd, key, &kv, &found, err) != 0)
		return -1;
	if (found) {
		rc = state_id_parse(kv.value, &last, err);
		claim->counter_mod_revision = kv.mod_revision;
		etcd_kv_free(&kv);
		if (rc != 0)
			return pgr_err_prefix(err, "%s", key);
	} else if (highest_history_id(etcd, prefix, &last, err) != 0) {
		return -1;
	}
	if (floor > last)
		last = floor;
	if (last >= INT32_MAX)
		return pgr_err_set(err, "%s: no refresh id is left after %" PRId64, key, last);
	claim->id = last + 1;
	return 0;
}

int state_id_create(const etcd_client *etcd, const char *prefix, const state_id_claim *claim, const char *leaf,
		    const char *value, const char *const *absent_leaves, int nabsent, const etcd_cmp *guard,
		    bool *created, bool *counter_moved, pgr_err *err)
{
	char counter[256], key[256], absent[4][256], idtext[32];
	etcd_cmp cmps[7];
	etcd_op success[2], failure[1];
	etcd_kvs range;
	int ncmp = 0;

	*created = false;
	*counter_moved = false;
	if (nabsent > 4)
		return pgr_err_set(err, "state_id_create: at most 4 keys that must be absent");
	snprintf(counter, sizeof(counter), "%s%s", prefix, STATE_ID_LEAF);
	snprintf(key, sizeof(key), "%s%s", prefix, leaf);
	snprintf(idtext, sizeof(idtext), "%" PRId64, claim->id);
	cmps[ncmp++] = (etcd_cmp){ counter, claim->counter_mod_revision ? ETCD_CMP_MOD : ETCD_CMP_CREATE,
				   claim->counter_mod_revision };
	cmps[ncmp++] = (etcd_cmp){ key, ETCD_CMP_CREATE, 0 };
	for (int i = 0; i < nabsent; i++) {
		snprintf(absent[i], sizeof(absent[i]), "%s%s", prefix, absent_leaves[i]);
		cmps[ncmp++] = (etcd_cmp){ absent[i], ETCD_CMP_CREATE, 0 };
	}
	if (guard != NULL)
		cmps[ncmp++] = *guard;
	success[0] = (etcd_op){ ETCD_OP_PUT, key, value, 0 };
	success[1] = (etcd_op){ ETCD_OP_PUT, counter, idtext, 0 };
	failure[0] = (etcd_op){ ETCD_OP_GET, counter, NULL, 0 };
	if (etcd_txn(etcd, cmps, ncmp, success, 2, failure, 1, created, &range, err) != 0)
		return -1;
	if (!*created)
		*counter_moved = range.count > 0 ? range.items[0].mod_revision != claim->counter_mod_revision
						 : claim->counter_mod_revision != 0;
	etcd_kvs_free(&range);
	return 0;
}

int state_history_archive(const etcd_client *etcd, const char *prefix, int64_t id, const char *json,
			  const char *from_leaf, int64_t from_rev, const char *const *also_delete, int nalso,
			  const etcd_cmp *guard, bool *archived, etcd_kv *existing, pgr_err *err)
{
	char hkey[256], from[256], extra[4][256];
	etcd_cmp cmps[3];
	etcd_op success[6], failure[1];
	etcd_kvs range;
	int nsuccess = 0;

	*archived = false;
	if (existing)
		memset(existing, 0, sizeof(*existing));
	if (nalso > 4)
		return pgr_err_set(err, "state_history_archive: at most 4 more keys to delete");
	state_history_key(prefix, id, hkey, sizeof(hkey));
	snprintf(from, sizeof(from), "%s%s", prefix, from_leaf);
	cmps[0] = (etcd_cmp){ from, ETCD_CMP_MOD, from_rev };
	cmps[1] = (etcd_cmp){ hkey, ETCD_CMP_CREATE, 0 };
	if (guard != NULL)
		cmps[2] = *guard;
	success[nsuccess++] = (etcd_op){ ETCD_OP_PUT, hkey, json, 0 };
	success[nsuccess++] = (etcd_op){ ETCD_OP_DELETE, from, NULL, 0 };
	for (int i = 0; i < nalso; i++) {
		snprintf(extra[i], sizeof(extra[i]), "%s%s", prefix, also_delete[i]);
		success[nsuccess++] = (etcd_op){ ETCD_OP_DELETE, extra[i], NULL, 0 };
	}
	failure[0] = (etcd_op){ ETCD_OP_GET, hkey, NULL, 0 };
	if (etcd_txn(etcd, cmps, guard != NULL ? 3 : 2, success, nsuccess, failure, 1, archived, &range, err) != 0)
		return -1;
	if (!*archived && existing != NULL && range.count > 0) {
		*existing = range.items[0];
		memset(&range.items[0], 0, sizeof(range.items[0]));
	}
	etcd_kvs_free(&range);
	return 0;
}

int state_history_foreach(const etcd_client *etcd, const char *prefix, int page_size, state_history_visit visit,
			  void *arg, int *pages, pgr_err *err)
{
	char first[256], end[256], last[256];
	int64_t revision = 0;
	bool after = false;

	if (pages)
		*pages = 0;
	if (page_size <= 0)
		page_size = STATE_HISTORY_PAGE;
	snprintf(first, sizeof(first), "%s%s", prefix, STATE_HISTORY_LEAF);
	/* every key under history/: '/' + 1 is '0' */
	snprintf(end, sizeof(end), "%shistory0", prefix);
	snprintf(last, sizeof(last), "%s", first);
	for (;;) {
		etcd_range_req req = { .key = last, .after = after, .range_end = end, .limit = page_size, .revision = revision };
		etcd_kvs kvs;
		int count;

		if (etcd_range(etcd, &req, &kvs, err) != 0)
			return pgr_err_prefix(err, "history");
		if (pages)
			(*pages)++;
		if (revision == 0)
			revision = kvs.revision;
		for (int i = 0; i < kvs.count; i++) {
			int64_t id = state_history_key_id(prefix, kvs.items[i].key);
			int rc;

			if (id < 0 || kvs.items[i].value == NULL)
				continue;
			rc = visit(id, kvs.items[i].value, arg);
			if (rc != 0) {
				etcd_kvs_free(&kvs);
				return rc;
			}
		}
		count = kvs.count;
		if (count > 0)
			snprintf(last, sizeof(last), "%s", kvs.items[count - 1].key);
		etcd_kvs_free(&kvs);
		if (count < page_size)
			return 0;
		after = true;
	}
}
