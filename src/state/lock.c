#include "state/lock.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"
#include <time.h>

#include "util/log.h"

static const char *const operations[] = { "refresh", "switchover", "add-unit", "remove-unit" };

bool state_lock_known_operation(const char *op)
{
	for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++)
		if (op != NULL && strcmp(op, operations[i]) == 0)
			return true;
	return false;
}

int state_lock_to_json(const state_lock *lock, char **json, pgr_err *err)
{
	json_t *o;

	*json = NULL;
	if (!state_lock_known_operation(lock->operation))
		return pgr_err_set(err, "operation lock: unknown operation \"%s\"", lock->operation);
	o = json_pack("{s:s, s:s, s:I}", "operation", lock->operation, "owner", lock->owner, "since_ms",
		      (json_int_t)lock->since_ms);
	*json = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (*json == NULL)
		return pgr_err_set(err, "out of memory");
	return 0;
}

int state_lock_parse(const char *json, state_lock *lock, pgr_err *err)
{
	json_error_t jerr;
	json_t *o = json_loads(json ? json : "", 0, &jerr);
	json_t *op, *owner, *since;
	int rc = -1;

	memset(lock->operation, 0, sizeof(lock->operation));
	memset(lock->owner, 0, sizeof(lock->owner));
	lock->since_ms = 0;
	if (!json_is_object(o)) {
		pgr_err_set(err, "operation lock: not a JSON object: %s", o == NULL ? jerr.text : "another JSON value");
		goto out;
	}
	op = json_object_get(o, "operation");
	owner = json_object_get(o, "owner");
	since = json_object_get(o, "since_ms");
	if (!json_is_string(op) || !state_lock_known_operation(json_string_value(op))) {
		pgr_err_set(err, "operation lock: \"operation\" is not one of refresh, switchover, add-unit, remove-unit");
		goto out;
	}
	if (!json_is_string(owner) || (since != NULL && !json_is_integer(since))) {
		pgr_err_set(err, "operation lock: \"owner\" must be a string and \"since_ms\" an integer");
		goto out;
	}
	snprintf(lock->operation, sizeof(lock->operation), "%s", json_string_value(op));
	(void)text_copy(lock->owner, sizeof(lock->owner), json_string_value(owner));
	lock->since_ms = since ? (int64_t)json_integer_value(since) : 0;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int state_lock_from_kv(const etcd_kv *kv, state_lock *lock, pgr_err *err)
{
	memset(lock, 0, sizeof(*lock));
	lock->lease = kv->lease;
	lock->mod_revision = kv->mod_revision;
	if (state_lock_parse(kv->value, lock, err) != 0)
		return pgr_err_prefix(err, "%s", kv->key ? kv->key : "lock");
	return 0;
}

void state_lock_describe(const state_lock *lock, int64_t now_ms, char *buf, size_t len)
{
	char since[40] = "an unknown time";
	int64_t age = lock->since_ms > 0 ? (now_ms - lock->since_ms) / 1000 : -1;

	if (lock->since_ms > 0) {
		time_t t = (time_t)(lock->since_ms / 1000);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
	}
	if (age < 0 && lock->since_ms > 0)
		age = 0;
	if (age >= 0)
		snprintf(buf, len, "a %s by %s since %s (%" PRId64 " s ago)", lock->operation[0] ? lock->operation : "operation",
			 lock->owner[0] ? lock->owner : "an unnamed owner", since, age);
	else
		snprintf(buf, len, "a %s by %s since %s", lock->operation[0] ? lock->operation : "operation",
			 lock->owner[0] ? lock->owner : "an unnamed owner", since);
}

static void leaf_key(const char *prefix, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", prefix, leaf);
}

int state_lock_read(const etcd_client *etcd, const char *prefix, bool *found, state_lock *lock, pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	int rc = 0;

	memset(lock, 0, sizeof(*lock));
	leaf_key(prefix, STATE_LOCK_LEAF, key, sizeof(key));
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found)
		rc = state_lock_from_kv(&kv, lock, err);
	etcd_kv_free(&kv);
	return rc;
}

int state_lock_take(const etcd_client *etcd, const char *prefix, state_lock *want, const char *unless_leaf,
		    bool *taken, state_lock *holder, pgr_err *err)
{
	char key[256], unless[256];
	char *json = NULL;
	int rc = -1;

	*taken = false;
	memset(holder, 0, sizeof(*holder));
	if (want->lease == 0)
		return pgr_err_set(err, "operation lock: a %s must take it under a lease", want->operation);
	if (state_lock_to_json(want, &json, err) != 0)
		return -1;
	leaf_key(prefix, STATE_LOCK_LEAF, key, sizeof(key));
	if (unless_leaf != NULL)
		leaf_key(prefix, unless_leaf, unless, sizeof(unless));
	for (int attempt = 0; attempt < 2; attempt++) {
		etcd_cmp cmps[2] = { { key, ETCD_CMP_CREATE, 0 }, { unless, ETCD_CMP_CREATE, 0 } };
		etcd_op success[2] = { { ETCD_OP_PUT, key, json, want->lease }, { ETCD_OP_GET, key, NULL, 0 } };
		etcd_op failure[1] = { { ETCD_OP_GET, key, NULL, 0 } };
		etcd_kvs range;
		bool ok = false, deleted = false;
		pgr_err perr;

		if (etcd_txn(etcd, cmps, unless_leaf != NULL ? 2 : 1, success, 2, failure, 1, &ok, &range, err) != 0)
			goto out;
		if (ok) {
			*taken = true;
			want->mod_revision = range.count > 0 ? range.items[0].mod_revision : 0;
			etcd_kvs_free(&range);
			rc = 0;
			goto out;
		}
		if (range.count == 0) {
			/* the lock is free: unless_leaf exists */
			etcd_kvs_free(&range);
			rc = 0;
			goto out;
		}
		if (state_lock_from_kv(&range.items[0], holder, &perr) != 0) {
			log_warn("%s (taken as held)", perr.msg);
			snprintf(holder->operation, sizeof(holder->operation), "operation");
			snprintf(holder->owner, sizeof(holder->owner), "an owner whose lock cannot be read");
		}
		holder->lease = range.items[0].lease;
		holder->mod_revision = range.items[0].mod_revision;
		etcd_kvs_free(&range);
		if (holder->lease != 0 || attempt > 0) {
			rc = 0;
			goto out;
		}
		/* bound to no lease, nobody would ever release it: remove it and try once more */
		log_warn("the operation lock %s is bound to no lease (%s by %s): removing it", key,
			 holder->operation[0] ? holder->operation : "unknown operation", holder->owner);
		if (etcd_delete_if(etcd, key, holder->mod_revision, &deleted, err) != 0)
			goto out;
		memset(holder, 0, sizeof(*holder));
	}
	rc = 0;
out:
	free(json);
	return rc;
}

int state_lock_release(const etcd_client *etcd, const char *prefix, const state_lock *held, pgr_err *err)
{
	char key[256];
	bool deleted = false;

	leaf_key(prefix, STATE_LOCK_LEAF, key, sizeof(key));
	if (held->mod_revision == 0)
		return 0;
	if (etcd_delete_if(etcd, key, held->mod_revision, &deleted, err) != 0)
		return -1;
	if (!deleted)
		log_debug("operation lock %s: not ours any more (expired or released)", key);
	return 0;
}
