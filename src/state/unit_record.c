#include "state/unit_record.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void unit_record_version_string(int server_version, char *buf, size_t len)
{
	if (server_version <= 0)
		snprintf(buf, len, "%s", "");
	else if (server_version >= 100000)
		snprintf(buf, len, "%d.%d", server_version / 10000, server_version % 10000);
	else
		snprintf(buf, len, "%d.%d.%d", server_version / 10000, (server_version / 100) % 100,
			 server_version % 100);
}

int unit_record_to_json(const unit_record *rec, char **json, pgr_err *err)
{
	json_t *obj = json_object();
	json_t *cat = json_array();

	*json = NULL;
	if (obj == NULL || cat == NULL) {
		json_decref(obj);
		json_decref(cat);
		return pgr_err_set(err, "out of memory");
	}
	for (int i = 0; i < rec->catalog_count; i++)
		json_array_append_new(cat, json_string(rec->catalog[i]));
	json_object_set_new(obj, "unit", json_string(rec->unit));
	json_object_set_new(obj, "member", json_string(rec->member));
	json_object_set_new(obj, "host", json_string(rec->host));
	json_object_set_new(obj, "port", json_integer(rec->port));
	json_object_set_new(obj, "role", json_string(rec->role));
	json_object_set_new(obj, "server_version", json_string(rec->server_version));
	json_object_set_new(obj, "linked_version", json_string(rec->linked_version));
	json_object_set_new(obj, "patroni_state", json_string(rec->patroni_state));
	json_object_set_new(obj, "streaming", json_boolean(rec->streaming));
	json_object_set_new(obj, "lag_bytes", json_integer(rec->lag_bytes));
	json_object_set_new(obj, "timeline", json_integer(rec->timeline));
	json_object_set_new(obj, "tag_nosync", json_boolean(rec->tag_nosync));
	json_object_set_new(obj, "tag_replicatefrom", json_string(rec->tag_replicatefrom));
	json_object_set_new(obj, "catalog", cat);
	json_object_set_new(obj, "heartbeat_ms", json_integer(rec->heartbeat_ms));
	json_object_set_new(obj, "agent_pid", json_integer(rec->agent_pid));
	json_object_set_new(obj, "message", json_string(rec->message));
	json_object_set_new(obj, "step", json_string(rec->step));
	json_object_set_new(obj, "step_target", json_string(rec->step_target));
	json_object_set_new(obj, "step_since_ms", json_integer(rec->step_since_ms));
	json_object_set_new(obj, "intent_token", json_string(rec->intent_token));
	json_object_set_new(obj, "intent_error", json_string(rec->intent_error));
	*json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (*json == NULL)
		return pgr_err_set(err, "could not encode the unit record");
	return 0;
}

static void get_str(json_t *obj, const char *key, char *out, size_t len)
{
	json_t *v = json_object_get(obj, key);

	snprintf(out, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int unit_record_parse(const char *json, unit_record *rec, pgr_err *err)
{
	json_error_t jerr;
	json_t *obj = json_loads(json, 0, &jerr);
	json_t *v;

	memset(rec, 0, sizeof(*rec));
	if (obj == NULL)
		return pgr_err_set(err, "unit record is not JSON: %s", jerr.text);
	if (!json_is_object(obj) || !json_is_string(json_object_get(obj, "unit"))) {
		json_decref(obj);
		return pgr_err_set(err, "unit record has no \"unit\"");
	}
	get_str(obj, "unit", rec->unit, sizeof(rec->unit));
	get_str(obj, "member", rec->member, sizeof(rec->member));
	get_str(obj, "host", rec->host, sizeof(rec->host));
	get_str(obj, "role", rec->role, sizeof(rec->role));
	get_str(obj, "server_version", rec->server_version, sizeof(rec->server_version));
	get_str(obj, "linked_version", rec->linked_version, sizeof(rec->linked_version));
	get_str(obj, "patroni_state", rec->patroni_state, sizeof(rec->patroni_state));
	get_str(obj, "message", rec->message, sizeof(rec->message));
	get_str(obj, "step", rec->step, sizeof(rec->step));
	get_str(obj, "step_target", rec->step_target, sizeof(rec->step_target));
	rec->step_since_ms = (int64_t)json_integer_value(json_object_get(obj, "step_since_ms"));
	get_str(obj, "intent_token", rec->intent_token, sizeof(rec->intent_token));
	get_str(obj, "intent_error", rec->intent_error, sizeof(rec->intent_error));
	get_str(obj, "tag_replicatefrom", rec->tag_replicatefrom, sizeof(rec->tag_replicatefrom));
	rec->tag_nosync = json_is_true(json_object_get(obj, "tag_nosync"));
	rec->port = (int)json_integer_value(json_object_get(obj, "port"));
	rec->streaming = json_is_true(json_object_get(obj, "streaming"));
	v = json_object_get(obj, "lag_bytes");
	rec->lag_bytes = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
	rec->timeline = (int)json_integer_value(json_object_get(obj, "timeline"));
	rec->heartbeat_ms = (int64_t)json_integer_value(json_object_get(obj, "heartbeat_ms"));
	rec->agent_pid = (int)json_integer_value(json_object_get(obj, "agent_pid"));
	v = json_object_get(obj, "catalog");
	if (json_is_array(v)) {
		size_t i;
		json_t *item;

		json_array_foreach(v, i, item)
		{
			if (rec->catalog_count >= UNIT_RECORD_MAX_VERSIONS || !json_is_string(item))
				continue;
			snprintf(rec->catalog[rec->catalog_count++], sizeof(rec->catalog[0]), "%s",
				 json_string_value(item));
		}
	}
	json_decref(obj);
	return 0;
}

int unit_record_put(const etcd_client *etcd, const state_scope *scope, const unit_record *rec, char **json,
		    pgr_err *err)
{
	char leaf[64], key[256];
	char *value = NULL;
	int rc;

	if (json != NULL)
		*json = NULL;
	if (unit_record_to_json(rec, &value, err) != 0)
		return -1;
	snprintf(leaf, sizeof(leaf), "units/%s", rec->member);
	state_scope_key(scope, leaf, key, sizeof(key));
	rc = etcd_put(etcd, key, value, 0, err);
	if (json != NULL)
		*json = value;
	else
		free(value);
	return rc;
}

int unit_record_get(const etcd_client *etcd, const state_scope *scope, const char *member, unit_record *rec,
		    bool *found, pgr_err *err)
{
	char leaf[64], key[256];
	etcd_kv kv;
	int rc = 0;

	snprintf(leaf, sizeof(leaf), "units/%s", member);
	state_scope_key(scope, leaf, key, sizeof(key));
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found && (kv.value == NULL || unit_record_parse(kv.value, rec, err) != 0))
		rc = pgr_err_prefix(err, "%s", key);
	etcd_kv_free(&kv);
	return rc;
}

int unit_record_delete(const etcd_client *etcd, const state_scope *scope, const char *member, pgr_err *err)
{
	char leaf[64], key[256];

	snprintf(leaf, sizeof(leaf), "units/%s", member);
	state_scope_key(scope, leaf, key, sizeof(key));
	return etcd_delete(etcd, key, false, err);
}
