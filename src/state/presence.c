#include "state/presence.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void presence_key(const char *prefix, const char *member, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", prefix, PRESENCE_LEAF, member);
}

int presence_alive(const etcd_client *etcd, const char *prefix, const char *member, bool *alive, pgr_err *err)
{
	char key[256];
	etcd_kv kv = { 0 };
	int rc;

	*alive = false;
	presence_key(prefix, member, key, sizeof(key));
	rc = etcd_get(etcd, key, &kv, alive, err);
	etcd_kv_free(&kv);
	return rc;
}

const char *presence_member_of_leaf(const char *leaf)
{
	size_t n = strlen(PRESENCE_LEAF);

	return strncmp(leaf, PRESENCE_LEAF, n) == 0 ? leaf + n : "";
}

int presence_to_json(const presence *p, char **json, pgr_err *err)
{
	json_t *obj = json_pack("{s:s,s:i,s:i}", "unit", p->unit, "pid", p->pid, "ttl_s", p->ttl_s);

	*json = NULL;
	if (obj == NULL)
		return pgr_err_set(err, "could not encode the presence of %s", p->unit);
	*json = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(obj);
	if (*json == NULL)
		return pgr_err_set(err, "could not encode the presence of %s", p->unit);
	return 0;
}

int presence_parse(const char *json, presence *p, pgr_err *err)
{
	json_error_t jerr;
	json_t *obj;
	json_t *unit, *pid, *ttl;

	memset(p, 0, sizeof(*p));
	if (strlen(json) > PRESENCE_MAX_JSON)
		return pgr_err_set(err, "presence value is %zu bytes, more than %d", strlen(json), PRESENCE_MAX_JSON);
	obj = json_loads(json, 0, &jerr);
	if (obj == NULL)
		return pgr_err_set(err, "presence value is not JSON: %s", jerr.text);
	unit = json_object_get(obj, "unit");
	pid = json_object_get(obj, "pid");
	ttl = json_object_get(obj, "ttl_s");
	if (!json_is_object(obj) || !json_is_string(unit) || strlen(json_string_value(unit)) >= sizeof(p->unit) ||
	    !json_is_integer(pid) || !json_is_integer(ttl) || json_integer_value(pid) <= 0 ||
	    json_integer_value(pid) > INT32_MAX || json_integer_value(ttl) <= 0 || json_integer_value(ttl) > 3600) {
		json_decref(obj);
		return pgr_err_set(err, "presence value lacks a unit, a pid or a TTL in range");
	}
	snprintf(p->unit, sizeof(p->unit), "%s", json_string_value(unit));
	p->pid = (int)json_integer_value(pid);
	p->ttl_s = (int)json_integer_value(ttl);
	json_decref(obj);
	return 0;
}

int presence_put(const etcd_client *etcd, const char *prefix, const char *member, const presence *p, int64_t lease,
		 pgr_err *err)
{
	char key[256];
	char *json = NULL;
	int rc;

	if (lease == 0)
		return pgr_err_set(err, "the presence of %s needs a lease", p->unit);
	if (presence_to_json(p, &json, err) != 0)
		return -1;
	presence_key(prefix, member, key, sizeof(key));
	rc = etcd_put(etcd, key, json, lease, err);
	free(json);
	if (rc != 0)
		return pgr_err_prefix(err, "%s", key);
	return 0;
}

presence_verdict presence_judge(bool have_report, bool alive)
{
	if (alive)
		return PRESENCE_REPORTING;
	return have_report ? PRESENCE_GONE : PRESENCE_NEVER;
}
