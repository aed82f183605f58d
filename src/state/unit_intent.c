#include "state/unit_intent.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/replace.h"
#include "util/text.h"


void unit_intent_key(const char *prefix, const char *member, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", prefix, UNIT_INTENT_LEAF, member);
}

/* No control character (a log line, a YAML scalar and a message stay one line). */
static bool printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static bool token_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(((unit_intent *)0)->token))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

static bool replicatefrom_ok(const char *s)
{
	return strlen(s) < sizeof(((unit_intent_tags *)0)->replicatefrom) && printable(s);
}

int unit_intent_to_json(const unit_intent *intent, char **json, pgr_err *err)
{
	json_t *o;

	*json = NULL;
	if (!token_ok(intent->token))
		return pgr_err_set(err, "unit intent: the token \"%s\" is empty or holds a space or control character",
				   intent->token);
	if (!replicatefrom_ok(intent->tags.replicatefrom) || !printable(intent->by))
		return pgr_err_set(err, "unit intent: replicatefrom or by holds a control character");
	o = json_pack("{s:{s:s, s:b}, s:s, s:s, s:I}", "tags", "replicatefrom", intent->tags.replicatefrom, "nosync",
		      intent->tags.nosync, "token", intent->token, "by", intent->by, "at_revision",
		      (json_int_t)intent->at_revision);
	*json = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (*json == NULL)
		return pgr_err_set(err, "unit intent: out of memory (or a value that is not UTF-8)");
	return 0;
}

int unit_intent_parse(const char *json, unit_intent *intent, pgr_err *err)
{
	json_error_t jerr;
	json_t *o = json_loads(json ? json : "", 0, &jerr);
	json_t *tags, *rf, *nosync, *token, *by, *at;
	int rc = -1;

	memset(intent, 0, sizeof(*intent));
	if (!json_is_object(o)) {
		pgr_err_set(err, "unit intent: not a JSON object: %s", o == NULL ? jerr.text : "another JSON value");
		goto out;
	}
	tags = json_object_get(o, "tags");
	token = json_object_get(o, "token");
	by = json_object_get(o, "by");
	at = json_object_get(o, "at_revision");
	if (!json_is_object(tags)) {
		pgr_err_set(err, "unit intent: \"tags\" is not an object");
		goto out;
	}
	rf = json_object_get(tags, "replicatefrom");
	nosync = json_object_get(tags, "nosync");
	if (rf != NULL && !json_is_null(rf) && (!json_is_string(rf) || !replicatefrom_ok(json_string_value(rf)))) {
		pgr_err_set(err, "unit intent: \"tags.replicatefrom\" is not a member name (a string of at most %zu "
			    "characters, no control character)",
			    sizeof(intent->tags.replicatefrom) - 1);
		goto out;
	}
	if (nosync != NULL && !json_is_boolean(nosync)) {
		pgr_err_set(err, "unit intent: \"tags.nosync\" is not true or false");
		goto out;
	}
	if (!json_is_string(token) || !token_ok(json_string_value(token))) {
		pgr_err_set(err, "unit intent: \"token\" is missing, empty, too long or holds a space or control character");
		goto out;
	}
	if (by != NULL && (!json_is_string(by) || !printable(json_string_value(by)))) {
		pgr_err_set(err, "unit intent: \"by\" is not a one-line string");
		goto out;
	}
	if (at != NULL && (!json_is_integer(at) || json_integer_value(at) < 0)) {
		pgr_err_set(err, "unit intent: \"at_revision\" is not a revision (an integer, 0 or more)");
		goto out;
	}
	if (json_is_string(rf))
		snprintf(intent->tags.replicatefrom, sizeof(intent->tags.replicatefrom), "%s", json_string_value(rf));
	intent->tags.nosync = json_is_true(nosync);
	snprintf(intent->token, sizeof(intent->token), "%s", json_string_value(token));
	(void)text_copy(intent->by, sizeof(intent->by), by ? json_string_value(by) : "");
	intent->at_revision = at ? (int64_t)json_integer_value(at) : 0;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

void unit_intent_tags_text(const unit_intent_tags *tags, char *buf, size_t len)
{
	snprintf(buf, len, "replicatefrom=%s, nosync=%s", tags->replicatefrom[0] ? tags->replicatefrom : "none",
		 tags->nosync ? "true" : "false");
}

int unit_intent_read(const etcd_client *etcd, const char *prefix, const char *member, unit_intent *out, bool *found,
		     pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	unit_intent_key(prefix, member, key, sizeof(key));
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found) {
		rc = unit_intent_parse(kv.value, out, err);
		if (rc != 0)
			pgr_err_prefix(err, "%s", key);
		out->mod_revision = kv.mod_revision;
	}
	etcd_kv_free(&kv);
	return rc;
}

static int intent_value(int64_t at_revision, void *arg, char **json, pgr_err *err)
{
	unit_intent *want = arg;

	want->at_revision = at_revision;
	return unit_intent_to_json(want, json, err);
}

int unit_intent_ask(const etcd_client *etcd, const char *prefix, const char *member, const unit_intent_tags *tags,
		    const char *token, const char *by, pgr_err *err)
{
	char key[256];
	unit_intent want;

	unit_intent_key(prefix, member, key, sizeof(key));
	memset(&want, 0, sizeof(want));
	want.tags = *tags;
	snprintf(want.token, sizeof(want.token), "%s", token);
	snprintf(want.by, sizeof(want.by), "%s", by);
	return state_replace_put(etcd, key, intent_value, &want, err); /* a value that is not an intent is replaced */
}
