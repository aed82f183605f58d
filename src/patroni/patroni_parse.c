/*
 * patroni_parse.c — the pure half of the Patroni client: JSON replies of GET /cluster and GET /patroni
 * into structs, role names, member lookups. No I/O here: unit-tested on captured replies.
 *
 * Liberal in what it accepts: optional fields may be missing; a field that is present with the wrong
 * type, or a reply that is not JSON, is an error that names the field.
 */
#include "patroni/patroni.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/*
 * Copies an optional string field into dst ("" when missing or null). -1 when present with another type,
 * or too long for dst: a member name or API URL cut short would name another member.
 */
static int get_str(json_t *obj, const char *key, char *dst, size_t dstlen, const char *where, pgr_err *err)
{
	json_t *v = json_object_get(obj, key);

	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return pgr_err_set(err, "%s: field \"%s\" is not a string", where, key);
	if (json_string_length(v) >= dstlen)
		return pgr_err_set(err, "%s: field \"%s\" is longer than %zu bytes: \"%.40s...\"", where, key, dstlen - 1,
				   json_string_value(v));
	snprintf(dst, dstlen, "%s", json_string_value(v));
	return 0;
}

/* An optional integer field; *dst keeps its default when missing or null. */
static int get_int64(json_t *obj, const char *key, int64_t *dst, const char *where, pgr_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return pgr_err_set(err, "%s: field \"%s\" is not an integer", where, key);
	*dst = (int64_t)json_integer_value(v);
	return 0;
}

static int get_int(json_t *obj, const char *key, int *dst, const char *where, pgr_err *err)
{
	int64_t v = *dst;

	if (get_int64(obj, key, &v, where, err) != 0)
		return -1;
	if (v < -2147483647LL || v > 2147483647LL)
		return pgr_err_set(err, "%s: field \"%s\" is out of range", where, key);
	*dst = (int)v;
	return 0;
}

/* An optional boolean field; false when missing or null. */
static int get_bool(json_t *obj, const char *key, bool *dst, const char *where, pgr_err *err)
{
	json_t *v = json_object_get(obj, key);

	*dst = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return pgr_err_set(err, "%s: field \"%s\" is not a boolean", where, key);
	*dst = json_is_true(v);
	return 0;
}

/* Parses text into a JSON object; the caller owns the result (json_decref). */
static json_t *load_object(const char *text, const char *what, pgr_err *err)
{
	json_error_t jerr;
	json_t *root;

	if (text == NULL) {
		pgr_err_set(err, "%s: empty reply", what);
		return NULL;
	}
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		pgr_err_set(err, "%s: not valid JSON (line %d, column %d: %s)", what, jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		pgr_err_set(err, "%s: the reply is not a JSON object", what);
		return NULL;
	}
	return root;
}


/* "tags": {"replicatefrom": ..., "nosync": ...} of a member or a node; absent is no tags. */
static int parse_tags(json_t *obj, const char *where, char *replicatefrom, size_t len, bool *nosync, bool *nofailover,
		      pgr_err *err)
{
	json_t *tags = json_object_get(obj, "tags"), *rf;

	replicatefrom[0] = '\0';
	*nosync = false;
	*nofailover = false;
	if (tags == NULL || json_is_null(tags))
		return 0;
	if (!json_is_object(tags))
		return pgr_err_set(err, "%s: field \"tags\" is not an object", where);
	/* tags come from the user's YAML: an odd type is ignored, not an error */
	rf = json_object_get(tags, "replicatefrom");
	if (json_is_string(rf))
		snprintf(replicatefrom, len, "%s", json_string_value(rf));
	*nosync = json_is_true(json_object_get(tags, "nosync"));
	*nofailover = json_is_true(json_object_get(tags, "nofailover"));
	return 0;
}

static int parse_member(json_t *m, int index, patroni_member *out, pgr_err *err)
{
	char where[96];
	char role[32];
	json_t *lag;

	memset(out, 0, sizeof(*out));
	out->lag_bytes = -1;
	snprintf(where, sizeof(where), "Patroni /cluster: members[%d]", index);
	if (!json_is_object(m))
		return pgr_err_set(err, "%s is not an object", where);
	if (get_str(m, "name", out->name, sizeof(out->name), where, err) != 0 ||
	    get_str(m, "role", role, sizeof(role), where, err) != 0 ||
	    get_str(m, "state", out->state, sizeof(out->state), where, err) != 0 ||
	    get_str(m, "host", out->host, sizeof(out->host), where, err) != 0 ||
	    get_str(m, "api_url", out->api_url, sizeof(out->api_url), where, err) != 0 ||
	    get_int(m, "port", &out->port, where, err) != 0 || get_int(m, "timeline", &out->timeline, where, err) != 0 ||
	    get_bool(m, "pending_restart", &out->pending_restart, where, err) != 0)
		return -1;
	if (out->name[0] == '\0')
		return pgr_err_set(err, "%s has no \"name\"", where);
	out->role = patroni_role_from_string(role);

	/* lag: bytes, or "unknown" (string) when Patroni cannot tell */
	lag = json_object_get(m, "lag");
	if (json_is_integer(lag))
		out->lag_bytes = (int64_t)json_integer_value(lag);
	else if (lag != NULL && !json_is_string(lag) && !json_is_null(lag))
		return pgr_err_set(err, "%s: field \"lag\" is neither a number nor a string", where);

	return parse_tags(m, where, out->tags_replicatefrom, sizeof(out->tags_replicatefrom), &out->tags_nosync,
			  &out->tags_nofailover, err);
}

int patroni_cluster_parse(const char *json, patroni_cluster *out, pgr_err *err)
{
	json_t *root, *members;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	root = load_object(json, "Patroni /cluster", err);
	if (root == NULL)
		return -1;
	members = json_object_get(root, "members");
	if (members == NULL || !json_is_array(members)) {
		pgr_err_set(err, "Patroni /cluster: %s", members == NULL ? "no \"members\"" : "\"members\" is not an array");
		goto out;
	}
	if (json_array_size(members) > PATRONI_MAX_MEMBERS) {
		pgr_err_set(err, "Patroni /cluster: %zu members, more than the %d supported", json_array_size(members),
			    PATRONI_MAX_MEMBERS);
		goto out;
	}
	for (i = 0; i < json_array_size(members); i++) {
		if (parse_member(json_array_get(members, i), (int)i, &out->members[i], err) != 0)
			goto out;
		out->member_count++;
	}
	if (get_bool(root, "pause", &out->paused, "Patroni /cluster", err) != 0)
		goto out;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static int parse_replication(json_t *r, int index, patroni_replication *out, pgr_err *err)
{
	char where[96];

	memset(out, 0, sizeof(*out));
	snprintf(where, sizeof(where), "Patroni /patroni: replication[%d]", index);
	if (!json_is_object(r))
		return pgr_err_set(err, "%s is not an object", where);
	if (get_str(r, "application_name", out->application_name, sizeof(out->application_name), where, err) != 0 ||
	    get_str(r, "state", out->state, sizeof(out->state), where, err) != 0 ||
	    get_str(r, "sync_state", out->sync_state, sizeof(out->sync_state), where, err) != 0 ||
	    get_str(r, "client_addr", out->client_addr, sizeof(out->client_addr), where, err) != 0)
		return -1;
	return 0;
}

int patroni_config_loop_wait_parse(const char *json, int *loop_wait, pgr_err *err)
{
	static const char *where = "Patroni /config";
	json_t *root = load_object(json, where, err);
	json_t *v;
	int rc = 0;

	*loop_wait = 0;
	if (root == NULL)
		return -1;
	v = json_object_get(root, "loop_wait");
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 3600)
		rc = pgr_err_set(err, "%s: no loop_wait of a few seconds in the dynamic configuration", where);
	else
		*loop_wait = (int)json_integer_value(v);
	json_decref(root);
	return rc;
}

int patroni_node_parse(const char *json, patroni_node *out, pgr_err *err)
{
	static const char *where = "Patroni /patroni";
	json_t *root, *xlog, *repl, *patroni;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	root = load_object(json, where, err);
	if (root == NULL)
		return -1;
	if (get_str(root, "state", out->state, sizeof(out->state), where, err) != 0 ||
	    get_str(root, "role", out->role, sizeof(out->role), where, err) != 0 ||
	    get_int(root, "server_version", &out->server_version, where, err) != 0 ||
	    get_int(root, "timeline", &out->timeline, where, err) != 0 ||
	    get_bool(root, "pending_restart", &out->pending_restart, where, err) != 0 ||
	    get_bool(root, "pause", &out->paused, where, err) != 0 ||
	    get_bool(root, "sync_standby", &out->is_sync_standby, where, err) != 0 ||
	    get_str(root, "postmaster_start_time", out->postmaster_start_time, sizeof(out->postmaster_start_time), where,
		    err) != 0 ||
	    get_str(root, "database_system_identifier", out->system_identifier, sizeof(out->system_identifier), where,
		    err) != 0)
		goto out;
	out->is_primary = strcmp(out->role, "master") == 0 || strcmp(out->role, "primary") == 0;
	if (parse_tags(root, where, out->tags_replicatefrom, sizeof(out->tags_replicatefrom), &out->tags_nosync,
		       &out->tags_nofailover, err) != 0)
		goto out;

	xlog = json_object_get(root, "xlog");
	if (xlog != NULL && !json_is_null(xlog)) {
		if (!json_is_object(xlog)) {
			pgr_err_set(err, "%s: field \"xlog\" is not an object", where);
			goto out;
		}
		if (get_int64(xlog, "location", &out->xlog_location, "Patroni /patroni: xlog", err) != 0 ||
		    get_int64(xlog, "received_location", &out->xlog_received, "Patroni /patroni: xlog", err) != 0 ||
		    get_int64(xlog, "replayed_location", &out->xlog_replayed, "Patroni /patroni: xlog", err) != 0)
			goto out;
	}

	repl = json_object_get(root, "replication");
	if (repl != NULL && !json_is_null(repl)) {
		if (!json_is_array(repl)) {
			pgr_err_set(err, "%s: field \"replication\" is not an array", where);
			goto out;
		}
		if (json_array_size(repl) > PATRONI_MAX_MEMBERS) {
			pgr_err_set(err, "%s: %zu replication entries, more than the %d supported", where,
				    json_array_size(repl), PATRONI_MAX_MEMBERS);
			goto out;
		}
		for (i = 0; i < json_array_size(repl); i++) {
			if (parse_replication(json_array_get(repl, i), (int)i, &out->replication[i], err) != 0)
				goto out;
			out->replication_count++;
		}
	}

	patroni = json_object_get(root, "patroni");
	if (patroni != NULL && !json_is_null(patroni)) {
		if (!json_is_object(patroni)) {
			pgr_err_set(err, "%s: field \"patroni\" is not an object", where);
			goto out;
		}
		if (get_str(patroni, "version", out->patroni_version, sizeof(out->patroni_version),
			    "Patroni /patroni: patroni", err) != 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

patroni_role patroni_role_from_string(const char *s)
{
	if (s == NULL)
		return PATRONI_ROLE_UNKNOWN;
	/* /cluster says "leader"; "master"/"primary" are accepted too, as other Patroni versions say them */
	if (strcmp(s, "leader") == 0 || strcmp(s, "master") == 0 || strcmp(s, "primary") == 0)
		return PATRONI_ROLE_LEADER;
	if (strcmp(s, "sync_standby") == 0 || strcmp(s, "sync-standby") == 0)
		return PATRONI_ROLE_SYNC_STANDBY;
	if (strcmp(s, "replica") == 0)
		return PATRONI_ROLE_REPLICA;
	return PATRONI_ROLE_UNKNOWN;
}

const char *patroni_role_display(patroni_role role)
{
	switch (role) {
	case PATRONI_ROLE_LEADER:
		return "primary";
	case PATRONI_ROLE_SYNC_STANDBY:
		return "sync-standby";
	case PATRONI_ROLE_REPLICA:
		return "replica";
	case PATRONI_ROLE_UNKNOWN:
		break;
	}
	return "unknown";
}

const patroni_member *patroni_cluster_member(const patroni_cluster *cluster, const char *name)
{
	if (cluster == NULL || name == NULL)
		return NULL;
	for (int i = 0; i < cluster->member_count; i++) {
		if (strcmp(cluster->members[i].name, name) == 0)
			return &cluster->members[i];
	}
	return NULL;
}

static const patroni_member *member_with_role(const patroni_cluster *cluster, patroni_role role)
{
	if (cluster == NULL)
		return NULL;
	for (int i = 0; i < cluster->member_count; i++) {
		if (cluster->members[i].role == role)
			return &cluster->members[i];
	}
	return NULL;
}

const patroni_member *patroni_cluster_leader(const patroni_cluster *cluster)
{
	return member_with_role(cluster, PATRONI_ROLE_LEADER);
}

const patroni_member *patroni_cluster_sync_standby(const patroni_cluster *cluster)
{
	return member_with_role(cluster, PATRONI_ROLE_SYNC_STANDBY);
}

int patroni_api_base(const char *api_url, char *out, size_t outlen)
{
	static const char suffix[] = "/patroni";
	size_t n, slen = sizeof(suffix) - 1;

	if (api_url == NULL || outlen == 0)
		return -1;
	n = strlen(api_url);
	while (n > 0 && api_url[n - 1] == '/')
		n--;
	if (n >= slen && strncmp(api_url + n - slen, suffix, slen) == 0)
		n -= slen;
	while (n > 0 && api_url[n - 1] == '/')
		n--;
	if (n >= outlen)
		return -1;
	memcpy(out, api_url, n);
	out[n] = '\0';
	return 0;
}
