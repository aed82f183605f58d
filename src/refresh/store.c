#include "refresh/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "cluster/switchover.h"
#include "state/history.h"
#include "state/presence.h"
#include "util/log.h"

#define STORE_REFRESH_LEAF "refresh"
#define STORE_ID_RETRIES 8 /* the counter moved under us this many times: give up */

void store_key(const cluster_conf *conf, const char *leaf, char *buf, size_t len)
{
	char prefix[128];

	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	snprintf(buf, len, "%s%s", prefix, leaf);
}

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* One key of the snapshot into snap (a value that does not parse is marked, never guessed at). */
static int take_kv(const cluster_conf *conf, size_t plen, const etcd_kv *kv, store_snapshot *snap)
{
	const char *leaf = kv->key + plen;
	pgr_err perr;

	if (strncmp(leaf, "units/", 6) == 0) {
		for (int i = 0; i < conf->unit_count; i++) {
			if (strcmp(leaf + 6, conf->units[i].member) == 0) {
				snap->have[i] = unit_record_parse(kv->value, &snap->records[i], &perr) == 0;
				snap->unit_corrupt[i] = !snap->have[i];
			}
		}
	} else if (presence_member_of_leaf(leaf)[0] != '\0') {
		/* the key exists only while its agent's lease lives: its value is for people */
		for (int i = 0; i < conf->unit_count; i++)
			if (strcmp(presence_member_of_leaf(leaf), conf->units[i].member) == 0)
				snap->alive[i] = true;
	} else if (strcmp(leaf, "coordinator") == 0) {
		snprintf(snap->coordinator, sizeof(snap->coordinator), "%s", kv->value);
	} else if (strcmp(leaf, STORE_REFRESH_LEAF) == 0) {
		snap->refresh_mod_revision = kv->mod_revision;
		if (record_parse(kv->value, &snap->refresh, &perr) != 0) {
			/* never guessed at: status shows it, `pgrefresh repair-refresh-record` removes it */
			snap->refresh_corrupt = true;
			snprintf(snap->refresh_corrupt_why, sizeof(snap->refresh_corrupt_why), "%s", perr.msg);
			memset(&snap->refresh, 0, sizeof(snap->refresh));
			return 0;
		}
		snap->have_refresh = true;
		if (snap->refresh.id > snap->max_id)
			snap->max_id = snap->refresh.id;
	} else if (strcmp(leaf, "config") == 0) {
		if (settings_from_json(kv->value, &snap->settings, &perr) != 0)
			log_warn("%s: %s (defaults used)", kv->key, perr.msg);
		snap->settings_mod_revision = kv->mod_revision;
	} else if (strcmp(leaf, SWITCHOVER_LEAF) == 0) {
		snap->have_switchover = true;
		switchover_mark_parse(kv->value, &snap->switchover);
	} else if (strcmp(leaf, STATE_LOCK_LEAF) == 0) {
		/* a lock that does not parse is still held: its owner is shown as unknown */
		if (state_lock_from_kv(kv, &snap->lock, &perr) != 0)
			log_warn("%s", perr.msg);
		snap->have_lock = true;
	} else if (strcmp(leaf, STATE_ID_LEAF) == 0) {
		int64_t id = 0;

		if (state_id_parse(kv->value, &id, &perr) != 0)
			log_warn("%s: %s", kv->key, perr.msg);
		else if (id > snap->max_id)
			snap->max_id = (int)id;
	}
	return 0;
}

/*
 * Two ranges at one revision: [prefix, prefix"history/") and [prefix"history0", the prefix's end):
 * everything but history.
 */
int store_read(const etcd_client *etcd, const cluster_conf *conf, store_snapshot *snap, pgr_err *err)
{
	char prefix[128], before[160], after[160], end[128];
	size_t plen;
	etcd_kvs kvs[2];
	int rc = 0;

	memset(snap, 0, sizeof(*snap));
	memset(kvs, 0, sizeof(kvs));
	settings_defaults(&snap->settings);
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	plen = strlen(prefix);
	snprintf(before, sizeof(before), "%s%s", prefix, STATE_HISTORY_LEAF);
	snprintf(after, sizeof(after), "%shistory0", prefix);
	/* the end of the prefix: "/pgrefresh/pg/" -> "/pgrefresh/pg0" */
	snprintf(end, sizeof(end), "%s", prefix);
	end[plen - 1]++;
	{
		etcd_range_req first = { .key = prefix, .range_end = before };

		rc = etcd_range(etcd, &first, &kvs[0], err);
	}
	if (rc == 0) {
		etcd_range_req second = { .key = after, .range_end = end, .revision = kvs[0].revision };

		rc = etcd_range(etcd, &second, &kvs[1], err);
	}
	for (int r = 0; rc == 0 && r < 2; r++)
		for (int k = 0; rc == 0 && k < kvs[r].count; k++) {
			const etcd_kv *kv = &kvs[r].items[k];

			if (kv->value == NULL || kv->key == NULL || strlen(kv->key) < plen)
				continue;
			rc = take_kv(conf, plen, kv, snap);
		}
	etcd_kvs_free(&kvs[0]);
	etcd_kvs_free(&kvs[1]);
	return rc;
}

/* CAS-writes json at leaf; frees json. */
static int put_if(const etcd_client *etcd, const cluster_conf *conf, const char *leaf, char *json, int64_t expected_rev,
		  bool *swapped, pgr_err *err)
{
	char key[256];
	etcd_kv current;
	int rc;

	store_key(conf, leaf, key, sizeof(key));
	memset(&current, 0, sizeof(current));
	rc = etcd_put_if(etcd, key, json, expected_rev, 0, swapped, &current, err);
	etcd_kv_free(&current);
	free(json);
	return rc;
}

/* A new refresh: a fresh id from the counter, the record and the counter in one txn, the lock free. */
static int create_refresh(const etcd_client *etcd, const cluster_conf *conf, refresh_record *rec, bool *created,
			  pgr_err *err)
{
	static const char *const absent[] = { STATE_LOCK_LEAF };
	char prefix[128];

	*created = false;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	for (int attempt = 0; attempt < STORE_ID_RETRIES; attempt++) {
		state_id_claim claim;
		char *json = NULL;
		bool moved = false;
		int rc;

		if (state_id_peek(etcd, prefix, 0, &claim, err) != 0)
			return -1;
		rec->id = (int)claim.id;
		if (record_to_json(rec, &json, err) != 0)
			return -1;
		rc = state_id_create(etcd, prefix, &claim, STORE_REFRESH_LEAF, json, absent, 1, created, &moved, err);
		free(json);
		if (rc != 0)
			return -1;
		if (*created || !moved)
			return 0;
	}
	return pgr_err_set(err, "%s%s: the refresh id counter kept changing; try again", prefix, STATE_ID_LEAF);
}

int store_put_refresh(const etcd_client *etcd, const cluster_conf *conf, refresh_record *rec, int64_t expected_rev,
		      bool *swapped, pgr_err *err)
{
	char *json = NULL;

	if (expected_rev == 0)
		return create_refresh(etcd, conf, rec, swapped, err);
	if (record_to_json(rec, &json, err) != 0)
		return -1;
	return put_if(etcd, conf, STORE_REFRESH_LEAF, json, expected_rev, swapped, err);
}

/* history/<id> exists already (a cluster from before ids were counted): same refresh, or another one */
static int archive_collision(const etcd_client *etcd, const cluster_conf *conf, const char *prefix,
			     const refresh_record *rec, int64_t rev, const etcd_kv *existing, pgr_err *err)
{
	refresh_record *old = calloc(1, sizeof(*old));
	refresh_record *renumbered = NULL;
	char key[256];
	bool same, deleted = false, created = false, moved = false;
	pgr_err perr;
	int rc = -1;

	if (old == NULL)
		return pgr_err_set(err, "out of memory");
	same = record_parse(existing->value, old, &perr) == 0 && old->id == rec->id && old->started_ms == rec->started_ms;
	store_key(conf, STORE_REFRESH_LEAF, key, sizeof(key));
	if (same) {
		/* archived before, the refresh key left behind: finish the move */
		log_info("refresh %d is in history already: removing the refresh key", rec->id);
		rc = etcd_delete_if(etcd, key, rev, &deleted, err);
		goto out;
	}
	renumbered = calloc(1, sizeof(*renumbered));
	if (renumbered == NULL) {
		pgr_err_set(err, "out of memory");
		goto out;
	}
	*renumbered = *rec;
	for (int attempt = 0; attempt < STORE_ID_RETRIES && !created; attempt++) {
		state_id_claim claim;
		char leaf[64], *json = NULL;

		if (state_id_peek(etcd, prefix, rec->id, &claim, err) != 0)
			goto out;
		renumbered->id = (int)claim.id;
		snprintf(leaf, sizeof(leaf), "%s%08d", STATE_HISTORY_LEAF, renumbered->id);
		if (record_to_json(renumbered, &json, err) != 0)
			goto out;
		rc = state_id_create(etcd, prefix, &claim, leaf, json, NULL, 0, &created, &moved, err);
		free(json);
		if (rc != 0)
			goto out;
		rc = -1;
		if (!created && !moved) {
			pgr_err_set(err, "%s%s%08d exists", prefix, STATE_HISTORY_LEAF, renumbered->id);
			goto out;
		}
	}
	if (!created) {
		pgr_err_set(err, "the refresh id counter kept changing");
		goto out;
	}
	log_warn("history/%08d holds another refresh (from before ids were counted): refresh %d archived as %d",
		 rec->id, rec->id, renumbered->id);
	rc = etcd_delete_if(etcd, key, rev, &deleted, err);
out:
	free(old);
	free(renumbered);
	return rc;
}

int store_archive_refresh(const etcd_client *etcd, const cluster_conf *conf, const refresh_record *rec, int64_t rev,
			  pgr_err *err)
{
	static const char *const also[] = { STATE_LOCK_LEAF };
	char prefix[128];
	char *json = NULL;
	etcd_kv existing;
	bool archived = false;
	int rc;

	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	if (record_to_json(rec, &json, err) != 0)
		return -1;
	rc = state_history_archive(etcd, prefix, rec->id, json, STORE_REFRESH_LEAF, rev, also, 1, &archived, &existing,
				   err);
	free(json);
	if (rc != 0 || archived)
		return rc;
	if (existing.key != NULL)
		rc = archive_collision(etcd, conf, prefix, rec, rev, &existing, err);
	/* else the refresh moved on meanwhile: nothing to do now */
	etcd_kv_free(&existing);
	return rc;
}

int store_hold_lock(const etcd_client *etcd, const cluster_conf *conf, const store_snapshot *snap, int64_t lease,
		    const char *owner, bool *mine, pgr_err *err)
{
	char prefix[128];
	state_lock want, holder;
	bool taken = false;

	*mine = false;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	if (!snap->have_refresh) {
		/* no refresh (removed by hand, or archived by an older version): a lock of ours is left over */
		*mine = true;
		if (snap->have_lock && lease != 0 && snap->lock.lease == lease &&
		    strcmp(snap->lock.operation, "refresh") == 0) {
			log_info("no refresh in progress: releasing the operation lock");
			return state_lock_release(etcd, prefix, &snap->lock, err);
		}
		return 0;
	}
	if (lease == 0)
		return pgr_err_set(err, "no lease to hold the operation lock with");
	if (snap->have_lock && snap->lock.lease != 0) {
		*mine = snap->lock.lease == lease;
		return 0;
	}
	memset(&want, 0, sizeof(want));
	snprintf(want.operation, sizeof(want.operation), "refresh");
	snprintf(want.owner, sizeof(want.owner), "%s", owner);
	want.since_ms = wall_ms();
	want.lease = lease;
	if (state_lock_take(etcd, prefix, &want, NULL, &taken, &holder, err) != 0)
		return -1;
	*mine = taken;
	if (taken)
		log_info("refresh %d: took the operation lock (%s)", snap->refresh.id, owner);
	return 0;
}

typedef struct history_visit_ctx {
	store_history_visit visit;
	void *arg;
	refresh_record rec;
} history_visit_ctx;

static int visit_record(int64_t id, const char *json, void *arg)
{
	history_visit_ctx *ctx = arg;
	pgr_err perr;

	if (record_parse(json, &ctx->rec, &perr) != 0) {
		log_warn("history/%08" PRId64 ": %s (left out)", id, perr.msg);
		return 0;
	}
	return ctx->visit(&ctx->rec, ctx->arg);
}

int store_history_foreach(const etcd_client *etcd, const cluster_conf *conf, store_history_visit visit, void *arg,
			  pgr_err *err)
{
	char prefix[128];
	history_visit_ctx *ctx = calloc(1, sizeof(*ctx));
	int rc;

	if (ctx == NULL)
		return pgr_err_set(err, "out of memory");
	ctx->visit = visit;
	ctx->arg = arg;
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	rc = state_history_foreach(etcd, prefix, 0, visit_record, ctx, NULL, err);
	free(ctx);
	return rc;
}

int store_put_settings(const etcd_client *etcd, const cluster_conf *conf, const refresh_settings *s, int64_t expected_rev,
		       bool *swapped, pgr_err *err)
{
	char *json = NULL;

	if (settings_to_json(s, &json, err) != 0)
		return -1;
	return put_if(etcd, conf, "config", json, expected_rev, swapped, err);
}
