#include "state/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "state/history.h"
#include "state/presence.h"
#include "util/log.h"

#define STORE_REFRESH_LEAF "refresh"
#define STORE_ID_RETRIES 8 /* the counter moved under us this many times: give up */

void store_key(const state_scope *scope, const char *leaf, char *buf, size_t len)
{
	state_scope_key(scope, leaf, buf, len);
}

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* One key of the snapshot into snap (a value that does not parse is marked, never guessed at). */
static int take_kv(const state_scope *scope, size_t plen, const etcd_kv *kv, store_snapshot *snap)
{
	const char *leaf = kv->key + plen;
	pgr_err perr;

	if (strncmp(leaf, "units/", 6) == 0) {
		for (int i = 0; i < scope->member_count; i++) {
			if (strcmp(leaf + 6, scope->members[i]) == 0) {
				snap->have[i] = unit_record_parse(kv->value, &snap->records[i], &perr) == 0;
				snap->unit_corrupt[i] = !snap->have[i];
			}
		}
	} else if (presence_member_of_leaf(leaf)[0] != '\0') {
		/* the key exists only while its agent's lease lives: its value is for people */
		for (int i = 0; i < scope->member_count; i++)
			if (strcmp(presence_member_of_leaf(leaf), scope->members[i]) == 0)
				snap->alive[i] = true;
	} else if (strcmp(leaf, STATE_COORDINATOR_LEAF) == 0) {
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
int store_read(const etcd_client *etcd, const state_scope *scope, store_snapshot *snap, pgr_err *err)
{
	const char *prefix = scope->prefix;
	char before[160], after[160], end[128];
	size_t plen;
	etcd_kvs kvs[2];
	int rc = 0;

	memset(snap, 0, sizeof(*snap));
	memset(kvs, 0, sizeof(kvs));
	settings_defaults(&snap->settings);
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
			rc = take_kv(scope, plen, kv, snap);
		}
	etcd_kvs_free(&kvs[0]);
	etcd_kvs_free(&kvs[1]);
	return rc;
}


/* CAS-writes json at leaf (at expected_rev, 0: absent), under lease's guard; frees json. */
static int put_if(const etcd_client *etcd, const state_scope *scope, int64_t lease, const char *leaf, char *json,
		  int64_t expected_rev, bool *swapped, pgr_err *err)
{
	char key[256], gkey[256];
	etcd_cmp cmps[2], gcmp;
	const etcd_cmp *guard = state_scope_lease_guard(scope, lease, gkey, sizeof(gkey), &gcmp);
	etcd_op put;
	etcd_kvs range;
	int rc;

	store_key(scope, leaf, key, sizeof(key));
	cmps[0] = (etcd_cmp){ key, expected_rev ? ETCD_CMP_MOD : ETCD_CMP_CREATE, expected_rev };
	if (guard != NULL)
		cmps[1] = *guard;
	put = (etcd_op){ ETCD_OP_PUT, key, json, 0 };
	rc = etcd_txn(etcd, cmps, guard != NULL ? 2 : 1, &put, 1, NULL, 0, swapped, &range, err);
	if (rc == 0)
		etcd_kvs_free(&range);
	free(json);
	return rc;
}

/* A new refresh: a fresh id from the counter, the record and the counter in one txn, the lock free. */
static int create_refresh(const etcd_client *etcd, const state_scope *scope, int64_t lease, refresh_record *rec,
			  bool *created, pgr_err *err)
{
	static const char *const absent[] = { STATE_LOCK_LEAF };
	const char *prefix = scope->prefix;
	char gkey[256];
	etcd_cmp gcmp;
	const etcd_cmp *guard = state_scope_lease_guard(scope, lease, gkey, sizeof(gkey), &gcmp);

	*created = false;
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
		rc = state_id_create(etcd, prefix, &claim, STORE_REFRESH_LEAF, json, absent, 1, guard, created, &moved, err);
		free(json);
		if (rc != 0)
			return -1;
		if (*created || !moved)
			return 0;
	}
	return pgr_err_set(err, "%s%s: the refresh id counter kept changing; try again", prefix, STATE_ID_LEAF);
}

int store_put_refresh(const etcd_client *etcd, const state_scope *scope, int64_t lease, refresh_record *rec,
		      int64_t expected_rev, bool *swapped, pgr_err *err)
{
	char *json = NULL;

	if (expected_rev == 0)
		return create_refresh(etcd, scope, lease, rec, swapped, err);
	if (record_to_json(rec, &json, err) != 0)
		return -1;
	return put_if(etcd, scope, lease, STORE_REFRESH_LEAF, json, expected_rev, swapped, err);
}

/* history/<id> exists already (a cluster from before ids were counted): same refresh, or another one */
static int archive_collision(const etcd_client *etcd, const state_scope *scope, const etcd_cmp *guard,
			     const refresh_record *rec, int64_t rev, const etcd_kv *existing, pgr_err *err)
{
	const char *prefix = scope->prefix;
	refresh_record *old = calloc(1, sizeof(*old));
	refresh_record *renumbered = NULL;
	char key[256];
	bool same, deleted = false, created = false, moved = false;
	pgr_err perr;
	int rc = -1;

	if (old == NULL)
		return pgr_err_set(err, "out of memory");
	same = record_parse(existing->value, old, &perr) == 0 && old->id == rec->id && old->started_ms == rec->started_ms;
	store_key(scope, STORE_REFRESH_LEAF, key, sizeof(key));
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
		rc = state_id_create(etcd, prefix, &claim, leaf, json, NULL, 0, guard, &created, &moved, err);
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

int store_archive_refresh(const etcd_client *etcd, const state_scope *scope, int64_t lease,
			  const refresh_record *rec, int64_t rev, pgr_err *err)
{
	static const char *const also[] = { STATE_LOCK_LEAF };
	const char *prefix = scope->prefix;
	char gkey[256];
	etcd_cmp gcmp;
	const etcd_cmp *guard = state_scope_lease_guard(scope, lease, gkey, sizeof(gkey), &gcmp);
	char *json = NULL;
	etcd_kv existing;
	bool archived = false;
	int rc;

	if (record_to_json(rec, &json, err) != 0)
		return -1;
	rc = state_history_archive(etcd, prefix, rec->id, json, STORE_REFRESH_LEAF, rev, also, 1, guard, &archived,
				   &existing, err);
	free(json);
	if (rc != 0 || archived)
		return rc;
	if (existing.key != NULL)
		rc = archive_collision(etcd, scope, guard, rec, rev, &existing, err);
	/* else the refresh moved on meanwhile: nothing to do now */
	etcd_kv_free(&existing);
	return rc;
}

int store_hold_lock(const etcd_client *etcd, const state_scope *scope, const store_snapshot *snap, int64_t lease,
		    const char *owner, bool *mine, pgr_err *err)
{
	const char *prefix = scope->prefix;
	state_lock want, holder;
	bool taken = false;

	*mine = false;
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

int store_history_foreach(const etcd_client *etcd, const state_scope *scope, store_history_visit visit, void *arg,
			  pgr_err *err)
{
	const char *prefix = scope->prefix;
	history_visit_ctx *ctx = calloc(1, sizeof(*ctx));
	int rc;

	if (ctx == NULL)
		return pgr_err_set(err, "out of memory");
	ctx->visit = visit;
	ctx->arg = arg;
	rc = state_history_foreach(etcd, prefix, 0, visit_record, ctx, NULL, err);
	free(ctx);
	return rc;
}

int store_put_settings(const etcd_client *etcd, const state_scope *scope, int64_t lease, const refresh_settings *s,
		       int64_t expected_rev, bool *swapped, pgr_err *err)
{
	char *json = NULL;

	if (settings_to_json(s, &json, err) != 0)
		return -1;
	return put_if(etcd, scope, lease, "config", json, expected_rev, swapped, err);
}

int store_claim_coordinator(const etcd_client *etcd, const state_scope *scope, const char *unit, int64_t lease,
			    bool *mine, pgr_err *err)
{
	char key[256];
	etcd_kv current;
	bool swapped = false;
	int rc;

	*mine = false;
	store_key(scope, STATE_COORDINATOR_LEAF, key, sizeof(key));
	memset(&current, 0, sizeof(current));
	rc = etcd_put_if(etcd, key, unit, 0, lease, &swapped, &current, err);
	if (rc == 0)
		*mine = swapped || (current.key != NULL && current.lease == lease);
	etcd_kv_free(&current);
	return rc;
}

int store_coordinator_held(const etcd_client *etcd, const state_scope *scope, int64_t lease, bool *held,
			   pgr_err *err)
{
	char key[256];
	etcd_kv current;
	bool found = false;

	*held = false;
	store_key(scope, STATE_COORDINATOR_LEAF, key, sizeof(key));
	if (etcd_get(etcd, key, &current, &found, err) != 0)
		return -1;
	*held = found && current.lease == lease;
	etcd_kv_free(&current);
	return 0;
}

int store_read_refresh(const etcd_client *etcd, const state_scope *scope, bool *found, int64_t *rev,
		       refresh_record *rec, bool *parsed, pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	pgr_err perr;

	*found = false;
	*rev = 0;
	if (parsed != NULL)
		*parsed = false;
	store_key(scope, STORE_REFRESH_LEAF, key, sizeof(key));
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found) {
		*rev = kv.mod_revision;
		if (rec != NULL && kv.value != NULL && record_parse(kv.value, rec, &perr) == 0 && parsed != NULL)
			*parsed = true;
	}
	etcd_kv_free(&kv);
	return 0;
}

int store_take_settings_intent(const etcd_client *etcd, const state_scope *scope, int64_t lease,
			       store_snapshot *snap, const refresh_intent *in, int64_t rev, bool *answered,
			       pgr_err *err)
{
	refresh_settings s = snap->settings;
	bool in_progress = snap->have_refresh && snap->refresh.state != RS_DONE, swapped = false;
	char result[320];
	size_t used = 0;
	pgr_err why;

	*answered = false;
	result[0] = '\0';
	for (int i = 0; i < in->ask.setting_count && i < INTENT_MAX_SETTINGS; i++) {
		const intent_setting *one = &in->ask.settings[i];
		const setting_def *def = settings_find(one->name);

		pgr_err_clear(&why);
		if (def == NULL)
			pgr_err_set(&why, "unknown setting \"%s\"", one->name);
		else if (settings_apply(&s, one->name, one->value, &why) == 0 && !def->allowed_during_refresh && in_progress)
			pgr_err_set(&why, "%s cannot change while a refresh is in progress (refresh %d is %s)", one->name,
				    snap->refresh.id, refresh_state_name(snap->refresh.state));
		if (why.msg[0] != '\0') {
			log_info("config set refused: %s", why.msg);
			if (intent_answer_it(etcd, scope, lease, in, rev, INTENT_REFUSED, why.msg, err) != 0)
				return -1;
			*answered = true;
			return 0;
		}
		if (used < sizeof(result)) {
			int w = snprintf(result + used, sizeof(result) - used, "%s%s=%s", i ? " " : "", one->name, one->value);

			used += w > 0 ? (size_t)w : 0;
		}
	}
	if (in_progress && used < sizeof(result)) {
		/* where the refresh was when the values were taken: the user learns where a stop lands */
		const refresh_record *rec = &snap->refresh;
		bool unit_in_progress = rec->state == RS_UNIT && rec->current >= 0 && rec->current < rec->unit_count;

		char doing[64] = "";

		if (unit_in_progress)
			snprintf(doing, sizeof(doing), ", %s in progress", rec->units[rec->current].unit);
		else if (rec->state == RS_SWITCHOVER)
			snprintf(doing, sizeof(doing), ", the switchover before the primary");
		snprintf(result + used, sizeof(result) - used, "; taken during refresh %d (%s, %d/%d done%s)", rec->id,
			 refresh_state_display(rec->state), record_done_count(rec), rec->unit_count, doing);
	}
	if (store_put_settings(etcd, scope, lease, &s, snap->settings_mod_revision, &swapped, err) != 0)
		return -1;
	if (!swapped)
		return 0;
	snap->settings = s;
	log_info("config set: %s", result);
	if (intent_answer_it(etcd, scope, lease, in, rev, INTENT_TAKEN, result, err) != 0)
		return -1;
	*answered = true;
	return 0;
}

int store_read_settings(const etcd_client *etcd, const state_scope *scope, refresh_settings *s, pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	bool found = false;
	int rc = 0;

	settings_defaults(s);
	store_key(scope, "config", key, sizeof(key));
	if (etcd_get(etcd, key, &kv, &found, err) != 0)
		return -1;
	if (found && kv.value != NULL && settings_from_json(kv.value, s, err) != 0) {
		pgr_err_prefix(err, "%s", key);
		settings_defaults(s);
		rc = -1;
	}
	etcd_kv_free(&kv);
	return rc;
}

int store_repair_refresh(const etcd_client *etcd, const state_scope *scope, store_repair *out, pgr_err *err)
{
	char leaf[64];
	etcd_kv kv;
	bool found = false, deleted = false;
	pgr_err perr;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	store_key(scope, STORE_REFRESH_LEAF, out->key, sizeof(out->key));
	if (etcd_get(etcd, out->key, &kv, &found, err) != 0)
		return -1;
	if (!found || kv.value == NULL) {
		out->result = STORE_REPAIR_ABSENT;
		etcd_kv_free(&kv);
		return 0;
	}
	if (record_parse(kv.value, &out->rec, &perr) == 0) {
		out->result = STORE_REPAIR_NOT_CORRUPT;
		etcd_kv_free(&kv);
		return 0;
	}
	out->result = STORE_REPAIR_CORRUPT;
	snprintf(out->why, sizeof(out->why), "%s", perr.msg);
	snprintf(leaf, sizeof(leaf), "corrupt/%lld", (long long)kv.mod_revision);
	store_key(scope, leaf, out->kept_at, sizeof(out->kept_at));
	if (etcd_put(etcd, out->kept_at, kv.value, 0, err) != 0) {
		rc = pgr_err_prefix(err, "could not keep the corrupt record at %s, nothing removed", out->kept_at);
	} else {
		out->result = STORE_REPAIR_KEPT;
		if (etcd_delete_if(etcd, out->key, kv.mod_revision, &deleted, err) != 0)
			rc = pgr_err_prefix(err, "kept at %s but could not remove %s", out->kept_at, out->key);
		else if (deleted)
			out->result = STORE_REPAIR_DONE;
	}
	etcd_kv_free(&kv);
	return rc;
}
