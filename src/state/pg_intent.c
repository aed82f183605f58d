#include "state/pg_intent.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/replace.h"

static const char *const action_names[PG_ACTION_COUNT] = {
	[PG_ACTION_NONE] = "none",
	[PG_ACTION_STOP] = "stop",
	[PG_ACTION_SYNC_OVERRIDE] = "sync-override",
	[PG_ACTION_PROMOTE] = "promote",
	[PG_ACTION_SYNC_RESET] = "sync-reset",
	[PG_ACTION_START] = "start",
};

const char *pg_action_name(pg_action action)
{
	return (int)action >= 0 && action < PG_ACTION_COUNT ? action_names[action] : "?";
}

int pg_action_parse(const char *name, pg_action *action)
{
	for (int i = 0; i < PG_ACTION_COUNT; i++)
		if (strcmp(action_names[i], name) == 0) {
			*action = (pg_action)i;
			return 0;
		}
	return -1;
}

/* One line, no control character; shorter than len. */
static bool line_ok(const char *s, size_t len)
{
	if (strlen(s) >= len)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* A token: non-empty, printable ASCII without spaces, shorter than len. */
static bool word_ok(const char *s, size_t len)
{
	if (s[0] == '\0' || strlen(s) >= len)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return false;
	return true;
}

static void pg_intent_key(const char *prefix, const char *leaf, const char *member, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", prefix, leaf, member);
}

static int dump(json_t *o, char **json, const char *what, pgr_err *err)
{
	*json = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (*json == NULL)
		return pgr_err_set(err, "%s: out of memory (or a value that is not UTF-8)", what);
	return 0;
}

int pg_intent_to_json(const pg_intent *intent, char **json, pgr_err *err)
{
	*json = NULL;
	if ((int)intent->action < 0 || intent->action >= PG_ACTION_COUNT)
		return pgr_err_set(err, "pg intent: not an action (%d)", (int)intent->action);
	if (!word_ok(intent->token, sizeof(intent->token)))
		return pgr_err_set(err, "pg intent: the token \"%s\" is empty or holds a space or control character",
				   intent->token);
	if (!line_ok(intent->standby, sizeof(intent->standby)) || !line_ok(intent->by, sizeof(intent->by)))
		return pgr_err_set(err, "pg intent: standby or by is too long or holds a control character");
	if (intent->action == PG_ACTION_SYNC_OVERRIDE && !word_ok(intent->standby, sizeof(intent->standby)))
		return pgr_err_set(err, "pg intent: sync-override names no standby");
	return dump(json_pack("{s:s, s:s, s:s, s:s, s:I}", "action", pg_action_name(intent->action), "standby",
			      intent->standby, "token", intent->token, "by", intent->by, "at_revision",
			      (json_int_t)intent->at_revision),
		    json, "pg intent", err);
}

int pg_intent_parse(const char *json, pg_intent *intent, pgr_err *err)
{
	json_error_t jerr;
	json_t *o = json_loads(json ? json : "", 0, &jerr);
	json_t *action, *standby, *token, *by, *at;
	int rc = -1;

	memset(intent, 0, sizeof(*intent));
	if (!json_is_object(o)) {
		pgr_err_set(err, "pg intent: not a JSON object: %s", o == NULL ? jerr.text : "another JSON value");
		goto out;
	}
	action = json_object_get(o, "action");
	standby = json_object_get(o, "standby");
	token = json_object_get(o, "token");
	by = json_object_get(o, "by");
	at = json_object_get(o, "at_revision");
	if (!json_is_string(action) || pg_action_parse(json_string_value(action), &intent->action) != 0) {
		pgr_err_set(err, "pg intent: \"action\" is not one of none, stop, sync-override, promote, sync-reset");
		goto out;
	}
	if (standby != NULL && (!json_is_string(standby) || !line_ok(json_string_value(standby), sizeof(intent->standby)))) {
		pgr_err_set(err, "pg intent: \"standby\" is not a member name");
		goto out;
	}
	if (intent->action == PG_ACTION_SYNC_OVERRIDE &&
	    (!json_is_string(standby) || !word_ok(json_string_value(standby), sizeof(intent->standby)))) {
		pgr_err_set(err, "pg intent: \"standby\" is missing for sync-override");
		goto out;
	}
	if (!json_is_string(token) || !word_ok(json_string_value(token), sizeof(intent->token))) {
		pgr_err_set(err, "pg intent: \"token\" is missing, empty, too long or holds a space or control character");
		goto out;
	}
	if (by != NULL && (!json_is_string(by) || !line_ok(json_string_value(by), sizeof(intent->by)))) {
		pgr_err_set(err, "pg intent: \"by\" is not a one-line string");
		goto out;
	}
	if (at != NULL && (!json_is_integer(at) || json_integer_value(at) < 0)) {
		pgr_err_set(err, "pg intent: \"at_revision\" is not a revision (an integer, 0 or more)");
		goto out;
	}
	snprintf(intent->standby, sizeof(intent->standby), "%s", standby ? json_string_value(standby) : "");
	snprintf(intent->token, sizeof(intent->token), "%s", json_string_value(token));
	snprintf(intent->by, sizeof(intent->by), "%s", by ? json_string_value(by) : "");
	intent->at_revision = at ? (int64_t)json_integer_value(at) : 0;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int pg_answer_to_json(const pg_answer *answer, char **json, pgr_err *err)
{
	*json = NULL;
	if (!word_ok(answer->token, sizeof(answer->token)))
		return pgr_err_set(err, "pg answer: the token \"%s\" is empty or holds a space or control character",
				   answer->token);
	if (!line_ok(answer->error, sizeof(answer->error)) || !line_ok(answer->state, sizeof(answer->state)) ||
	    !line_ok(answer->checkpoint_lsn, sizeof(answer->checkpoint_lsn)))
		return pgr_err_set(err, "pg answer: a field is too long or holds a control character");
	return dump(json_pack("{s:s, s:b, s:s, s:s, s:s, s:I}", "token", answer->token, "ok", answer->ok, "error",
			      answer->error, "state", answer->state, "checkpoint_lsn", answer->checkpoint_lsn, "timeline",
			      (json_int_t)answer->timeline),
		    json, "pg answer", err);
}

/* A string field that may be absent ("" then); -1 when it is there and not a one-line string shorter than len. */
static int opt_string(json_t *o, const char *name, char *out, size_t len)
{
	json_t *v = json_object_get(o, name);

	if (v == NULL || json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	if (!json_is_string(v) || !line_ok(json_string_value(v), len))
		return -1;
	snprintf(out, len, "%s", json_string_value(v));
	return 0;
}

int pg_answer_parse(const char *json, pg_answer *answer, pgr_err *err)
{
	json_error_t jerr;
	json_t *o = json_loads(json ? json : "", 0, &jerr);
	json_t *token, *ok, *tli;
	int rc = -1;

	memset(answer, 0, sizeof(*answer));
	if (!json_is_object(o)) {
		pgr_err_set(err, "pg answer: not a JSON object: %s", o == NULL ? jerr.text : "another JSON value");
		goto out;
	}
	token = json_object_get(o, "token");
	ok = json_object_get(o, "ok");
	tli = json_object_get(o, "timeline");
	if (!json_is_string(token) || !word_ok(json_string_value(token), sizeof(answer->token))) {
		pgr_err_set(err, "pg answer: \"token\" is missing, empty, too long or holds a space or control character");
		goto out;
	}
	if (!json_is_boolean(ok)) {
		pgr_err_set(err, "pg answer: \"ok\" is not true or false");
		goto out;
	}
	if (opt_string(o, "error", answer->error, sizeof(answer->error)) != 0 ||
	    opt_string(o, "state", answer->state, sizeof(answer->state)) != 0 ||
	    opt_string(o, "checkpoint_lsn", answer->checkpoint_lsn, sizeof(answer->checkpoint_lsn)) != 0) {
		pgr_err_set(err, "pg answer: \"error\", \"state\" or \"checkpoint_lsn\" is not a one-line string");
		goto out;
	}
	if (tli != NULL && (!json_is_integer(tli) || json_integer_value(tli) < 0 || json_integer_value(tli) > UINT32_MAX)) {
		pgr_err_set(err, "pg answer: \"timeline\" is not a timeline");
		goto out;
	}
	snprintf(answer->token, sizeof(answer->token), "%s", json_string_value(token));
	answer->ok = json_is_true(ok);
	answer->timeline = tli ? (uint32_t)json_integer_value(tli) : 0;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* Reads <prefix><leaf><member>; parse: pg_intent_parse or pg_answer_parse, into out. */
static int read_key(const etcd_client *etcd, const char *prefix, const char *leaf, const char *member, void *out,
		    int (*parse)(const char *, void *, pgr_err *), bool *found, int64_t *mod_revision, pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	int rc = 0;

	pg_intent_key(prefix, leaf, member, key, sizeof(key));
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found) {
		rc = parse(kv.value, out, err);
		if (rc != 0)
			pgr_err_prefix(err, "%s", key);
		*mod_revision = kv.mod_revision;
	}
	etcd_kv_free(&kv);
	return rc;
}

static int parse_intent(const char *json, void *out, pgr_err *err)
{
	return pg_intent_parse(json, out, err);
}

static int parse_answer(const char *json, void *out, pgr_err *err)
{
	return pg_answer_parse(json, out, err);
}

int pg_intent_read(const etcd_client *etcd, const char *prefix, const char *member, pg_intent *out, bool *found,
		   pgr_err *err)
{
	int64_t rev = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_key(etcd, prefix, PG_INTENT_LEAF, member, out, parse_intent, found, &rev, err);
	out->mod_revision = rev;
	return rc;
}

int pg_answer_read(const etcd_client *etcd, const char *prefix, const char *member, pg_answer *out, bool *found,
		   pgr_err *err)
{
	int64_t rev = 0;

	memset(out, 0, sizeof(*out));
	return read_key(etcd, prefix, PG_ANSWER_LEAF, member, out, parse_answer, found, &rev, err);
}

static int intent_value(int64_t at_revision, void *arg, char **json, pgr_err *err)
{
	pg_intent *want = arg;

	want->at_revision = at_revision;
	return pg_intent_to_json(want, json, err);
}

int pg_intent_ask(const etcd_client *etcd, const char *prefix, const char *member, pg_action action,
		  const char *standby, const char *token, const char *by, pgr_err *err)
{
	char key[256];
	pg_intent want;

	pg_intent_key(prefix, PG_INTENT_LEAF, member, key, sizeof(key));
	memset(&want, 0, sizeof(want));
	want.action = action;
	snprintf(want.standby, sizeof(want.standby), "%s", standby != NULL ? standby : "");
	snprintf(want.token, sizeof(want.token), "%s", token);
	snprintf(want.by, sizeof(want.by), "%s", by);
	return state_replace_put(etcd, key, intent_value, &want, err);
}

int pg_answer_put(const etcd_client *etcd, const char *prefix, const char *member, const pg_answer *answer,
		  pgr_err *err)
{
	char key[256], *json = NULL;
	int rc;

	pg_intent_key(prefix, PG_ANSWER_LEAF, member, key, sizeof(key));
	if (pg_answer_to_json(answer, &json, err) != 0)
		return -1;
	rc = etcd_put(etcd, key, json, 0, err);
	free(json);
	return rc;
}

int fast_progress_to_json(const fast_progress *p, char **json, pgr_err *err)
{
	*json = NULL;
	if (!word_ok(p->from, sizeof(p->from)) || !word_ok(p->to, sizeof(p->to)) || !word_ok(p->step, sizeof(p->step)) ||
	    !word_ok(p->token, sizeof(p->token)))
		return pgr_err_set(err, "fast switchover progress: from, to, step and token must be words");
	if (!line_ok(p->standby, sizeof(p->standby)) || !line_ok(p->checkpoint_lsn, sizeof(p->checkpoint_lsn)))
		return pgr_err_set(err, "fast switchover progress: standby or checkpoint_lsn holds a control character");
	return dump(json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "lease", (json_int_t)p->lease, "from", p->from,
			      "to", p->to, "step", p->step, "token", p->token, "standby", p->standby, "checkpoint_lsn",
			      p->checkpoint_lsn, "timeline", (json_int_t)p->timeline),
		    json, "fast switchover progress", err);
}

int fast_progress_parse(const char *json, fast_progress *p, pgr_err *err)
{
	json_error_t jerr;
	json_t *o = json_loads(json ? json : "", 0, &jerr);
	json_t *lease, *tli;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(o)) {
		pgr_err_set(err, "fast switchover progress: not a JSON object: %s", o == NULL ? jerr.text : "another JSON value");
		goto out;
	}
	lease = json_object_get(o, "lease");
	tli = json_object_get(o, "timeline");
	if (!json_is_integer(lease) || json_integer_value(lease) < 0) {
		pgr_err_set(err, "fast switchover progress: \"lease\" is not a lease");
		goto out;
	}
	if (opt_string(o, "from", p->from, sizeof(p->from)) != 0 || opt_string(o, "to", p->to, sizeof(p->to)) != 0 ||
	    opt_string(o, "step", p->step, sizeof(p->step)) != 0 || opt_string(o, "token", p->token, sizeof(p->token)) != 0 ||
	    opt_string(o, "standby", p->standby, sizeof(p->standby)) != 0 ||
	    opt_string(o, "checkpoint_lsn", p->checkpoint_lsn, sizeof(p->checkpoint_lsn)) != 0 || p->from[0] == '\0' ||
	    p->to[0] == '\0' || p->step[0] == '\0' || p->token[0] == '\0') {
		pgr_err_set(err, "fast switchover progress: \"from\", \"to\", \"step\" or \"token\" is missing or not a "
			    "one-line string");
		goto out;
	}
	if (tli != NULL && (!json_is_integer(tli) || json_integer_value(tli) < 0 || json_integer_value(tli) > UINT32_MAX)) {
		pgr_err_set(err, "fast switchover progress: \"timeline\" is not a timeline");
		goto out;
	}
	p->lease = (int64_t)json_integer_value(lease);
	p->timeline = tli ? (uint32_t)json_integer_value(tli) : 0;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int fast_progress_read(const etcd_client *etcd, const char *prefix, fast_progress *p, bool *found, pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	snprintf(key, sizeof(key), "%s%s", prefix, FAST_PROGRESS_LEAF);
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found && (rc = fast_progress_parse(kv.value, p, err)) != 0)
		pgr_err_prefix(err, "%s", key);
	etcd_kv_free(&kv);
	return rc;
}

int fast_progress_txn_build(const char *prefix, int64_t lease, fast_progress_op op, const char *json,
			    fast_progress_txn *txn, pgr_err *err)
{
	memset(txn, 0, sizeof(*txn));
	if (lease == 0)
		return pgr_err_set(err, "%s%s: written only by the holder of a lease", prefix, FAST_PROGRESS_LEAF);
	if (op == FAST_PROGRESS_PUT && json == NULL)
		return pgr_err_set(err, "%s%s: no value to write", prefix, FAST_PROGRESS_LEAF);
	snprintf(txn->owner_key, sizeof(txn->owner_key), "%s%s", prefix, FAST_OWNER_LEAF);
	snprintf(txn->key, sizeof(txn->key), "%s%s", prefix, FAST_PROGRESS_LEAF);
	txn->cmp = (etcd_cmp){ txn->owner_key, ETCD_CMP_LEASE, lease };
	switch (op) {
	case FAST_PROGRESS_PUT:
		txn->ops[txn->nops++] = (etcd_op){ ETCD_OP_PUT, txn->key, json, 0 };
		break;
	case FAST_PROGRESS_REMOVE:
		txn->ops[txn->nops++] = (etcd_op){ ETCD_OP_DELETE, txn->key, NULL, 0 };
		txn->ops[txn->nops++] = (etcd_op){ ETCD_OP_DELETE, txn->owner_key, NULL, 0 };
		break;
	case FAST_PROGRESS_RELEASE:
		txn->ops[txn->nops++] = (etcd_op){ ETCD_OP_DELETE, txn->owner_key, NULL, 0 };
		break;
	default:
		return pgr_err_set(err, "%s%s: not a write (%d)", prefix, FAST_PROGRESS_LEAF, (int)op);
	}
	return 0;
}

int fast_progress_claim(const etcd_client *etcd, const char *prefix, int64_t lease, bool *mine, int64_t *holder,
			pgr_err *err)
{
	char key[256], value[64];
	etcd_cmp cmp;
	etcd_op put, get;
	etcd_kvs now = { 0 };
	bool created = false;

	*mine = false;
	if (holder != NULL)
		*holder = 0;
	if (lease == 0)
		return pgr_err_set(err, "%s%s: claimed only by the holder of a lease", prefix, FAST_OWNER_LEAF);
	snprintf(key, sizeof(key), "%s%s", prefix, FAST_OWNER_LEAF);
	snprintf(value, sizeof(value), "{\"lease\": %" PRId64 "}", lease);
	cmp = (etcd_cmp){ key, ETCD_CMP_CREATE, 0 };
	put = (etcd_op){ ETCD_OP_PUT, key, value, lease };
	get = (etcd_op){ ETCD_OP_GET, key, NULL, 0 };
	if (etcd_txn(etcd, &cmp, 1, &put, 1, &get, 1, &created, &now, err) != 0)
		return pgr_err_prefix(err, "%s: cannot claim it", key);
	if (created)
		*mine = true;
	else if (now.count > 0) {
		*mine = now.items[0].lease == lease;
		if (holder != NULL)
			*holder = now.items[0].lease;
	}
	etcd_kvs_free(&now);
	return 0;
}

static int progress_txn(const etcd_client *etcd, const char *prefix, int64_t lease, fast_progress_op op,
			const char *json, bool *done, pgr_err *err)
{
	fast_progress_txn txn;
	etcd_kvs none = { 0 };
	int rc;

	*done = false;
	if (fast_progress_txn_build(prefix, lease, op, json, &txn, err) != 0)
		return -1;
	rc = etcd_txn(etcd, &txn.cmp, 1, txn.ops, txn.nops, NULL, 0, done, &none, err);
	etcd_kvs_free(&none);
	if (rc != 0)
		return pgr_err_prefix(err, "%s", txn.key);
	return 0;
}

int fast_progress_put(const etcd_client *etcd, const char *prefix, const fast_progress *p, bool *written, pgr_err *err)
{
	char *json = NULL;
	int rc;

	*written = false;
	if (fast_progress_to_json(p, &json, err) != 0)
		return -1;
	rc = progress_txn(etcd, prefix, p->lease, FAST_PROGRESS_PUT, json, written, err);
	free(json);
	return rc;
}

int fast_progress_end(const etcd_client *etcd, const char *prefix, int64_t lease, fast_progress_op op, bool *done,
		      pgr_err *err)
{
	*done = false;
	if (op == FAST_PROGRESS_PUT)
		return pgr_err_set(err, "fast_progress_end: a put is fast_progress_put");
	return progress_txn(etcd, prefix, lease, op, NULL, done, err);
}
