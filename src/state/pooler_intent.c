#include "state/pooler_intent.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static const char *const state_names[] = {
	[POOLER_INTENT_REQUESTED] = "requested", [POOLER_INTENT_ARMED] = "armed", [POOLER_INTENT_GO] = "go",
	[POOLER_INTENT_APPLIED] = "applied",	 [POOLER_INTENT_FAILED] = "failed",
};

const char *pooler_intent_state_name(pooler_intent_state state)
{
	if ((size_t)state >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[state];
}

/* A host or a name: printable, no blanks or quotes (it ends up in an ini file and in logs). */
static bool plain(const char *s, bool may_be_empty)
{
	if (s[0] == '\0')
		return may_be_empty;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("'\"\\=;#,", *p) != NULL)
			return false;
	return true;
}

static int check(const pooler_intent *in, pgr_err *err)
{
	if (!plain(in->pooler, false) || strchr(in->pooler, '/') != NULL)
		return pgr_err_set(err, "pooler intent: bad pooler name");
	if (!plain(in->host, false))
		return pgr_err_set(err, "pooler intent: bad host");
	if (!plain(in->target_host, false))
		return pgr_err_set(err, "pooler intent: bad target_host");
	if (in->target_port < 1 || in->target_port > 65535)
		return pgr_err_set(err, "pooler intent: target_port %d is out of range", in->target_port);
	if ((size_t)in->state >= sizeof(state_names) / sizeof(state_names[0]))
		return pgr_err_set(err, "pooler intent: unknown state");
	if (!plain(in->by, in->state == POOLER_INTENT_REQUESTED))
		return pgr_err_set(err, "pooler intent: a %s intent needs the unit that took it", state_names[in->state]);
	if (strpbrk(in->message, "\r\n") != NULL)
		return pgr_err_set(err, "pooler intent: the message holds a line break");
	return 0;
}

int pooler_intent_to_json(const pooler_intent *in, char **json, pgr_err *err)
{
	json_t *o;

	*json = NULL;
	if (check(in, err) != 0)
		return -1;
	o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:s, s:s, s:s}", "pooler", in->pooler, "host", in->host, "target_host",
		      in->target_host, "target_port", in->target_port, "attempt", (json_int_t)in->attempt, "state",
		      state_names[in->state], "by", in->by, "message", in->message);
	*json = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (*json == NULL)
		return pgr_err_set(err, "out of memory");
	return 0;
}

/* A string field that must be there and fit; -1 naming it otherwise. */
static int string_field(json_t *o, const char *key, char *dst, size_t len, pgr_err *err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return pgr_err_set(err, "pooler intent: \"%s\" is missing or not a string", key);
	if (json_string_length(v) >= len || strlen(json_string_value(v)) != json_string_length(v))
		return pgr_err_set(err, "pooler intent: \"%s\" is longer than %zu bytes or holds a NUL", key, len - 1);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int pooler_intent_parse(const char *json, pooler_intent *out, pgr_err *err)
{
	json_error_t jerr;
	json_t *o = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &jerr);
	json_t *port, *attempt;
	char state[16];
	int64_t rev = out->mod_revision, lease = out->lease;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->mod_revision = rev;
	out->lease = lease;
	if (!json_is_object(o)) {
		pgr_err_set(err, "pooler intent: not a JSON object: %s", o == NULL ? jerr.text : "another JSON value");
		goto out;
	}
	if (string_field(o, "pooler", out->pooler, sizeof(out->pooler), err) != 0 ||
	    string_field(o, "host", out->host, sizeof(out->host), err) != 0 ||
	    string_field(o, "target_host", out->target_host, sizeof(out->target_host), err) != 0 ||
	    string_field(o, "state", state, sizeof(state), err) != 0 ||
	    string_field(o, "by", out->by, sizeof(out->by), err) != 0 ||
	    string_field(o, "message", out->message, sizeof(out->message), err) != 0)
		goto out;
	port = json_object_get(o, "target_port");
	attempt = json_object_get(o, "attempt");
	if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535) {
		pgr_err_set(err, "pooler intent: \"target_port\" is not a port");
		goto out;
	}
	if (!json_is_integer(attempt)) {
		pgr_err_set(err, "pooler intent: \"attempt\" is not an integer");
		goto out;
	}
	out->target_port = (int)json_integer_value(port);
	out->attempt = (int64_t)json_integer_value(attempt);
	out->state = (pooler_intent_state)-1;
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(state, state_names[i]) == 0)
			out->state = (pooler_intent_state)i;
	if ((int)out->state < 0) {
		pgr_err_set(err, "pooler intent: unknown state \"%s\"", state);
		goto out;
	}
	rc = check(out, err);
out:
	json_decref(o);
	if (rc != 0) {
		memset(out, 0, sizeof(*out));
		out->mod_revision = rev;
		out->lease = lease;
	}
	return rc;
}

void pooler_intent_key(const char *prefix, const char *pooler, char *buf, size_t len)
{
	snprintf(buf, len, "%s" POOLER_INTENT_DIR "%s", prefix, pooler);
}

int pooler_intent_put_if(const etcd_client *etcd, const char *prefix, pooler_intent *in, bool *swapped, pgr_err *err)
{
	char key[256], *json;
	etcd_kv current;
	int rc;

	*swapped = false;
	if (pooler_intent_to_json(in, &json, err) != 0)
		return -1;
	pooler_intent_key(prefix, in->pooler, key, sizeof(key));
	memset(&current, 0, sizeof(current));
	rc = etcd_put_if(etcd, key, json, in->mod_revision, in->lease, swapped, &current, err);
	free(json);
	if (rc == 0 && *swapped)
		in->mod_revision = current.mod_revision;
	etcd_kv_free(&current);
	return rc;
}

int pooler_intent_read(const etcd_client *etcd, const char *prefix, const char *pooler, bool *found,
		       pooler_intent *out, pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pooler_intent_key(prefix, pooler, key, sizeof(key));
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found) {
		out->mod_revision = kv.mod_revision;
		out->lease = kv.lease;
		if (pooler_intent_parse(kv.value, out, err) != 0)
			rc = pgr_err_prefix(err, "%s", key);
	}
	etcd_kv_free(&kv);
	return rc;
}

int pooler_intent_list(const etcd_client *etcd, const char *prefix, pooler_intent *out, int max, int *n,
		       pgr_err *err)
{
	char dir[256];
	etcd_kvs kvs;

	*n = 0;
	snprintf(dir, sizeof(dir), "%s" POOLER_INTENT_DIR, prefix);
	if (etcd_get_prefix(etcd, dir, &kvs, err) != 0)
		return -1;
	for (int i = 0; i < kvs.count && *n < max; i++) {
		pgr_err one;

		out[*n].mod_revision = kvs.items[i].mod_revision;
		out[*n].lease = kvs.items[i].lease;
		if (pooler_intent_parse(kvs.items[i].value, &out[*n], &one) != 0) {
			log_warn("%s: %s", kvs.items[i].key, one.msg);
			continue;
		}
		(*n)++;
	}
	etcd_kvs_free(&kvs);
	return 0;
}

int pooler_intent_remove(const etcd_client *etcd, const char *prefix, const char *pooler, pgr_err *err)
{
	char key[256];

	pooler_intent_key(prefix, pooler, key, sizeof(key));
	return etcd_delete(etcd, key, false, err);
}
