#include "state/unit_record.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/text.h"

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

const unit_version_facts *unit_record_facts(const unit_record *rec, const char *version)
{
	for (int i = 0; i < rec->fact_count && i < UNIT_RECORD_MAX_FACTS; i++)
		if (strcmp(rec->facts[i].version, version) == 0)
			return &rec->facts[i];
	return NULL;
}

bool unit_facts_has_extension(const unit_version_facts *facts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = facts->extensions; *p;) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* An extension name as a report may hold: 1..63 bytes, printable, no comma (the list's separator). */
static bool extension_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > UNIT_RECORD_EXTENSION_NAME_MAX)
		return false;
	for (const char *p = name; *p; p++)
		if (*p == ',' || (unsigned char)*p < 0x21 || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

void unit_facts_add_extension(unit_version_facts *facts, const char *name)
{
	size_t used = strlen(facts->extensions);

	if (!extension_name_ok(name))
		return;
	if (used + strlen(name) + 2 > sizeof(facts->extensions)) {
		facts->extensions_cut = true;
		return;
	}
	snprintf(facts->extensions + used, sizeof(facts->extensions) - used, "%s%s", used ? "," : "", name);
}

static json_t *facts_to_json(const unit_version_facts *f)
{
	json_t *exts = json_array();
	json_t *obj;

	for (const char *p = f->extensions; exts != NULL && *p;) {
		size_t len = strcspn(p, ",");

		json_array_append_new(exts, json_stringn(p, len));
		p += len;
		if (*p == ',')
			p++;
	}
	obj = json_pack("{s:s,s:b,s:s,s:o*,s:b}", "version", f->version, "runnable", f->runnable, "problem", f->problem,
			"extensions", exts, "extensions_cut", f->extensions_cut);
	return obj;
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
	{
		json_t *facts = json_array();

		for (int i = 0; facts != NULL && i < rec->fact_count && i < UNIT_RECORD_MAX_FACTS; i++)
			json_array_append_new(facts, facts_to_json(&rec->facts[i]));
		json_object_set_new(obj, "facts", facts);
	}
	json_object_set_new(obj, "heartbeat_ms", json_integer(rec->heartbeat_ms));
	json_object_set_new(obj, "agent_pid", json_integer(rec->agent_pid));
	json_object_set_new(obj, "message", json_string(rec->message));
	json_object_set_new(obj, "step", json_string(rec->step));
	json_object_set_new(obj, "step_target", json_string(rec->step_target));
	json_object_set_new(obj, "step_since_ms", json_integer(rec->step_since_ms));
	if (rec->restarted_ms > 0)
		json_object_set_new(obj, "restarted_ms", json_integer(rec->restarted_ms));
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

	(void)text_copy(out, len, json_is_string(v) ? json_string_value(v) : "");
}

/* One entry's facts; false when it is not one (skipped, never guessed at). */
static bool facts_parse(json_t *item, unit_version_facts *f)
{
	json_t *version = json_object_get(item, "version");
	json_t *exts = json_object_get(item, "extensions");
	size_t i;
	json_t *name;

	memset(f, 0, sizeof(*f));
	if (!json_is_object(item) || !json_is_string(version) || json_string_length(version) == 0 ||
	    json_string_length(version) >= sizeof(f->version) || !json_is_boolean(json_object_get(item, "runnable")))
		return false;
	snprintf(f->version, sizeof(f->version), "%s", json_string_value(version));
	f->runnable = json_is_true(json_object_get(item, "runnable"));
	get_str(item, "problem", f->problem, sizeof(f->problem));
	if (!f->runnable && f->problem[0] == '\0')
		snprintf(f->problem, sizeof(f->problem), "its agent says it does not run");
	f->extensions_cut = json_is_true(json_object_get(item, "extensions_cut"));
	if (!json_is_array(exts)) {
		f->extensions_cut = true; /* no list: nothing can be said to be missing for sure */
		return true;
	}
	json_array_foreach(exts, i, name)
	{
		if (json_is_string(name) && strlen(json_string_value(name)) == json_string_length(name))
			unit_facts_add_extension(f, json_string_value(name));
	}
	return true;
}

int unit_record_parse(const char *json, unit_record *rec, pgr_err *err)
{
	json_error_t jerr;
	json_t *obj;
	json_t *v;
	size_t len = strlen(json);

	memset(rec, 0, sizeof(*rec));
	if (len > UNIT_RECORD_MAX_JSON)
		return pgr_err_set(err, "unit record is %zu bytes, more than %d", len, UNIT_RECORD_MAX_JSON);
	obj = json_loads(json, 0, &jerr);
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
	rec->restarted_ms = (int64_t)json_integer_value(json_object_get(obj, "restarted_ms"));
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
	v = json_object_get(obj, "facts");
	if (json_is_array(v)) {
		size_t i;
		json_t *item;

		json_array_foreach(v, i, item)
		{
			if (rec->fact_count < UNIT_RECORD_MAX_FACTS && facts_parse(item, &rec->facts[rec->fact_count]))
				rec->fact_count++;
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
