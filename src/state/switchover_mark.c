#include "state/switchover_mark.h"
#include "state/lease.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

#define MARK_CAS_TRIES 4 /* the mark changed between its read and its swap this many times: give up */

void switchover_mark_format(const switchover_mark *mark, char *out, size_t outlen)
{
	json_t *o = json_pack("{s:I, s:b, s:s, s:s}", "lease", (json_int_t)mark->lease, "pgbouncer_paused",
			      mark->pgbouncer_paused, "from", mark->from, "to", mark->to);
	char *text;

	if (o != NULL && (mark->attempt != 0 || mark->cascaded || mark->waiting_since_ms != 0 || mark->pause_timeouts ||
			  mark->patroni_way)) {
		json_t *holders = json_array();

		for (int i = 0; i < mark->holder_count && i < SWITCHOVER_MAX_HOLDERS; i++) {
			const switchover_holder *x = &mark->holders[i];

			json_array_append_new(holders, json_pack("{s:i, s:s, s:s, s:s, s:I, s:I}", "pid", x->pid,
								 "application", x->application, "client", x->client,
								 "state", x->state, "xact_start_us",
								 (json_int_t)x->xact_start_us, "age_ms",
								 (json_int_t)x->age_ms));
		}
		json_object_set_new(o, "attempt", json_integer(mark->attempt));
		json_object_set_new(o, "cascaded", json_boolean(mark->cascaded));
		json_object_set_new(o, "waiting_since_ms", json_integer(mark->waiting_since_ms));
		json_object_set_new(o, "wait_s", json_integer(mark->wait_s));
		json_object_set_new(o, "terminate", json_boolean(mark->terminate));
		json_object_set_new(o, "pause_timeouts", json_integer(mark->pause_timeouts));
		json_object_set_new(o, "pause_not_before_ms", json_integer(mark->pause_not_before_ms));
		json_object_set_new(o, "waiting_for_count", json_integer(mark->holder_count));
		json_object_set_new(o, "waiting_for", holders);
		json_object_set_new(o, "waiting_for_seen_ms", json_integer(mark->holders_seen_ms));
		json_object_set_new(o, "patroni_way", json_boolean(mark->patroni_way));
	}
	text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	snprintf(out, outlen, "%s", text ? text : "{}");
	free(text);
	json_decref(o);
}

static int64_t int_field(json_t *o, const char *key, int64_t min, int64_t max)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return 0;
	return (int64_t)json_integer_value(v);
}

void switchover_mark_parse(const char *value, switchover_mark *mark)
{
	json_t *o = json_loads(value, 0, NULL);
	json_t *v, *holders;
	size_t i;

	memset(mark, 0, sizeof(*mark));
	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	v = json_object_get(o, "lease");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		mark->lease = (int64_t)json_integer_value(v);
	mark->pgbouncer_paused = json_is_true(json_object_get(o, "pgbouncer_paused"));
	v = json_object_get(o, "from");
	(void)text_copy(mark->from, sizeof(mark->from), json_is_string(v) ? json_string_value(v) : "");
	v = json_object_get(o, "to");
	(void)text_copy(mark->to, sizeof(mark->to), json_is_string(v) ? json_string_value(v) : "");
	mark->attempt = int_field(o, "attempt", INT64_MIN, INT64_MAX);
	mark->cascaded = json_is_true(json_object_get(o, "cascaded"));
	mark->waiting_since_ms = int_field(o, "waiting_since_ms", 0, INT64_MAX);
	mark->wait_s = (int)int_field(o, "wait_s", 0, 86400);
	mark->terminate = json_is_true(json_object_get(o, "terminate"));
	mark->pause_timeouts = (int)int_field(o, "pause_timeouts", 0, 1000000);
	mark->pause_not_before_ms = int_field(o, "pause_not_before_ms", 0, INT64_MAX);
	mark->holders_seen_ms = int_field(o, "waiting_for_seen_ms", 0, INT64_MAX);
	mark->patroni_way = json_is_true(json_object_get(o, "patroni_way"));
	holders = json_object_get(o, "waiting_for");
	json_array_foreach(holders, i, v)
	{
		switchover_holder *x;
		const char *text;

		if (mark->holder_count >= SWITCHOVER_MAX_HOLDERS || int_field(v, "pid", 1, INT32_MAX) == 0)
			break;
		x = &mark->holders[mark->holder_count++];
		x->pid = (int)int_field(v, "pid", 1, INT32_MAX);
		text = json_string_value(json_object_get(v, "application"));
		snprintf(x->application, sizeof(x->application), "%s", text ? text : "");
		text = json_string_value(json_object_get(v, "client"));
		snprintf(x->client, sizeof(x->client), "%s", text ? text : "");
		text = json_string_value(json_object_get(v, "state"));
		snprintf(x->state, sizeof(x->state), "%s", text ? text : "");
		x->xact_start_us = int_field(v, "xact_start_us", INT64_MIN, INT64_MAX);
		x->age_ms = int_field(v, "age_ms", 0, INT64_MAX);
	}
	/* the count covers the ones not named too; never fewer than those named */
	v = json_object_get(o, "waiting_for_count");
	if (json_is_integer(v) && json_integer_value(v) > mark->holder_count && json_integer_value(v) < 1000000)
		mark->holder_count = (int)json_integer_value(v);
	json_decref(o);
}

int switchover_mark_read(const etcd_client *etcd, const char *prefix, switchover_mark *mark, bool *found,
			 int64_t *rev, pgr_err *err)
{
	char key[256];
	etcd_kv kv;

	memset(mark, 0, sizeof(*mark));
	if (rev != NULL)
		*rev = 0;
	snprintf(key, sizeof(key), "%s%s", prefix, SWITCHOVER_LEAF);
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found && kv.value != NULL)
		switchover_mark_parse(kv.value, mark);
	if (*found && rev != NULL)
		*rev = kv.mod_revision;
	etcd_kv_free(&kv);
	return 0;
}

/* Whether the owner of mark is alive: its lease has not expired (a mark naming no lease has no owner). */
static int owner_alive(const etcd_client *etcd, const switchover_mark *mark, bool *alive, pgr_err *err)
{
	return state_lease_alive(etcd, mark->lease, alive, err);
}

int switchover_mark_held(const etcd_client *etcd, const char *prefix, bool *held, pgr_err *err)
{
	switchover_mark mark;
	bool found = false;

	*held = false;
	if (switchover_mark_read(etcd, prefix, &mark, &found, NULL, err) != 0)
		return -1;
	if (!found)
		return 0;
	return owner_alive(etcd, &mark, held, err);
}

int switchover_mark_put(const etcd_client *etcd, const char *prefix, const switchover_mark *mark, bool *written,
			switchover_mark *holder, pgr_err *err)
{
	char key[256], value[4096];

	*written = false;
	if (mark->lease == 0)
		return pgr_err_set(err, "%s%s: a switchover mark needs its owner's lease", prefix, SWITCHOVER_LEAF);
	snprintf(key, sizeof(key), "%s%s", prefix, SWITCHOVER_LEAF);
	switchover_mark_format(mark, value, sizeof(value));
	for (int attempt = 0; attempt < MARK_CAS_TRIES; attempt++) {
		switchover_mark there;
		bool found = false, alive = false, swapped = false;
		int64_t rev = 0;
		etcd_kv current;
		int rc;

		if (switchover_mark_read(etcd, prefix, &there, &found, &rev, err) != 0)
			return -1;
		if (found && there.lease != mark->lease) {
			if (owner_alive(etcd, &there, &alive, err) != 0)
				return -1;
			if (alive) {
				if (holder != NULL)
					*holder = there;
				return 0;
			}
		}
		memset(&current, 0, sizeof(current));
		rc = etcd_put_if(etcd, key, value, found ? rev : 0, 0, &swapped, &current, err);
		etcd_kv_free(&current);
		if (rc != 0)
			return -1;
		if (swapped) {
			*written = true;
			return 0;
		}
	}
	return pgr_err_set(err, "%s: the switchover mark kept changing under us", key);
}

int switchover_mark_remove(const etcd_client *etcd, const char *prefix, int64_t owner_lease, bool *removed,
			   pgr_err *err)
{
	char key[256];

	*removed = false;
	snprintf(key, sizeof(key), "%s%s", prefix, SWITCHOVER_LEAF);
	for (int attempt = 0; attempt < MARK_CAS_TRIES; attempt++) {
		switchover_mark there;
		bool found = false, alive = false, deleted = false;
		int64_t rev = 0;

		if (switchover_mark_read(etcd, prefix, &there, &found, &rev, err) != 0)
			return -1;
		if (!found) {
			*removed = true;
			return 0;
		}
		if (owner_lease == 0 || there.lease != owner_lease) {
			if (owner_alive(etcd, &there, &alive, err) != 0)
				return -1;
			if (alive)
				return 0;
		}
		if (etcd_delete_if(etcd, key, rev, &deleted, err) != 0)
			return -1;
		if (deleted) {
			*removed = true;
			return 0;
		}
	}
	return pgr_err_set(err, "%s: the switchover mark kept changing under us", key);
}
