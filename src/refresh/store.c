#include "refresh/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/switchover.h"
#include "util/log.h"

void store_key(const cluster_conf *conf, const char *leaf, char *buf, size_t len)
{
	char prefix[128];

	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	snprintf(buf, len, "%s%s", prefix, leaf);
}

int store_read(const etcd_client *etcd, const cluster_conf *conf, store_snapshot *snap, pgr_err *err)
{
	etcd_kvs kvs;
	char prefix[128];
	size_t plen;

	memset(snap, 0, sizeof(*snap));
	settings_defaults(&snap->settings);
	conf_etcd_prefix(conf, prefix, sizeof(prefix));
	plen = strlen(prefix);
	if (etcd_get_prefix(etcd, prefix, &kvs, err) != 0)
		return -1;
	for (int k = 0; k < kvs.count; k++) {
		const etcd_kv *kv = &kvs.items[k];
		const char *leaf = kv->key + plen;
		pgr_err perr;

		if (kv->value == NULL || strlen(kv->key) < plen)
			continue;
		if (strncmp(leaf, "units/", 6) == 0) {
			for (int i = 0; i < conf->unit_count; i++) {
				if (strcmp(leaf + 6, conf->units[i].member) == 0) {
					snap->have[i] = unit_record_parse(kv->value, &snap->records[i], &perr) == 0;
					snap->unit_corrupt[i] = !snap->have[i];
				}
			}
		} else if (strcmp(leaf, "coordinator") == 0) {
			snprintf(snap->coordinator, sizeof(snap->coordinator), "%s", kv->value);
		} else if (strcmp(leaf, "refresh") == 0) {
			snap->refresh_mod_revision = kv->mod_revision;
			if (record_parse(kv->value, &snap->refresh, &perr) != 0) {
				snap->refresh_corrupt = true;
				snprintf(snap->refresh_corrupt_why, sizeof(snap->refresh_corrupt_why), "%s", perr.msg);
				memset(&snap->refresh, 0, sizeof(snap->refresh));
				continue;
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
		} else if (strncmp(leaf, "history/", 8) == 0 && snap->history_count < STORE_MAX_HISTORY) {
			if (record_parse(kv->value, &snap->history[snap->history_count], &perr) == 0) {
				if (snap->history[snap->history_count].id > snap->max_id)
					snap->max_id = snap->history[snap->history_count].id;
				snap->history_count++;
			}
		}
	}
	etcd_kvs_free(&kvs);
	return 0;
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

int store_put_refresh(const etcd_client *etcd, const cluster_conf *conf, const refresh_record *rec, int64_t expected_rev,
		      bool *swapped, pgr_err *err)
{
	char *json = NULL;

	if (record_to_json(rec, &json, err) != 0)
		return -1;
	return put_if(etcd, conf, "refresh", json, expected_rev, swapped, err);
}

int store_archive_refresh(const etcd_client *etcd, const cluster_conf *conf, const refresh_record *rec, int64_t rev,
			  pgr_err *err)
{
	char key[256], leaf[64];
	char *json = NULL;
	bool deleted = false;
	int rc;

	snprintf(leaf, sizeof(leaf), "history/%08d", rec->id);
	store_key(conf, leaf, key, sizeof(key));
	if (record_to_json(rec, &json, err) != 0)
		return -1;
	rc = etcd_put(etcd, key, json, 0, err);
	free(json);
	if (rc != 0)
		return -1;
	store_key(conf, "refresh", key, sizeof(key));
	return etcd_delete_if(etcd, key, rev, &deleted, err);
}

int store_put_settings(const etcd_client *etcd, const cluster_conf *conf, const refresh_settings *s, int64_t expected_rev,
		       bool *swapped, pgr_err *err)
{
	char *json = NULL;

	if (settings_to_json(s, &json, err) != 0)
		return -1;
	return put_if(etcd, conf, "config", json, expected_rev, swapped, err);
}
