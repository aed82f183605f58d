#include "state/intent.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/proc.h"

static const char *const ask_names[] = { [ASK_NONE] = "none", [ASK_RESUME] = "resume-refresh",
					 [ASK_ROLLBACK] = "rollback", [ASK_FORCE] = "force-refresh-start",
					 [ASK_REFRESH] = "refresh", [ASK_SETTINGS] = "config-set" };
static const char *const answer_names[] = { [INTENT_PENDING] = "pending", [INTENT_TAKEN] = "taken",
					    [INTENT_REFUSED] = "refused" };

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

const char *intent_ask_name(fsm_ask ask)
{
	return (unsigned)ask < sizeof(ask_names) / sizeof(ask_names[0]) ? ask_names[ask] : "?";
}

void intent_key(const state_scope *scope, char *buf, size_t len)
{
	state_scope_key(scope, "intent", buf, len);
}

int intent_to_json(const refresh_intent *in, char **json, pgr_err *err)
{
	json_t *obj = json_pack("{s:s,s:s,s:I,s:b,s:b,s:b,s:b,s:s,s:s}", "ask", intent_ask_name(in->ask.ask), "token",
				in->ask.token, "requested_ms", (json_int_t)in->requested_ms, "check_health",
				in->ask.check_health, "skip_compatibility", in->ask.skip_compatibility, "skip_prechecks",
				in->ask.skip_prechecks, "skip_workload", in->ask.skip_workload, "answer",
				answer_names[in->answer], "result", in->result);

	if (obj != NULL && in->ask.skip_backup)
		json_object_set_new(obj, "skip_backup", json_true());
	if (obj != NULL && in->ask.ask == ASK_REFRESH) {
		json_object_set_new(obj, "id", json_integer(in->ask.id));
		json_object_set_new(obj, "from", json_string(in->ask.from));
		json_object_set_new(obj, "to", json_string(in->ask.to));
	}
	if (obj != NULL && in->ask.ask == ASK_SETTINGS) {
		json_t *list = json_array();

		for (int i = 0; list != NULL && i < in->ask.setting_count && i < INTENT_MAX_SETTINGS; i++)
			json_array_append_new(list, json_pack("{s:s,s:s}", "name", in->ask.settings[i].name, "value",
							      in->ask.settings[i].value));
		json_object_set_new(obj, "settings", list);
	}
	*json = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(obj);
	return *json ? 0 : pgr_err_set(err, "could not encode the intent");
}

static int name_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* A config set's list: 1 to INTENT_MAX_SETTINGS {"name", "value"} objects, each string fitting its field. */
static int parse_settings(json_t *list, fsm_intent *ask, pgr_err *err)
{
	size_t i;
	json_t *item;

	if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > INTENT_MAX_SETTINGS)
		return pgr_err_set(err, "a config-set intent needs 1 to %d settings", INTENT_MAX_SETTINGS);
	json_array_foreach(list, i, item)
	{
		const char *name = json_string_value(json_object_get(item, "name"));
		const char *value = json_string_value(json_object_get(item, "value"));
		intent_setting *s = &ask->settings[ask->setting_count];

		if (name == NULL || value == NULL || name[0] == '\0' || strlen(name) >= sizeof(s->name) ||
		    strlen(value) >= sizeof(s->value))
			return pgr_err_set(err, "config-set intent: setting %zu is not a name and a value that fit", i + 1);
		snprintf(s->name, sizeof(s->name), "%s", name);
		snprintf(s->value, sizeof(s->value), "%s", value);
		ask->setting_count++;
	}
	return 0;
}

int intent_parse(const char *json, refresh_intent *in, pgr_err *err)
{
	json_error_t jerr;
	json_t *obj = json_loads(json, 0, &jerr);
	const char *ask, *token, *answer, *result;
	int a, w;

	memset(in, 0, sizeof(*in));
	if (obj == NULL)
		return pgr_err_set(err, "intent is not JSON: %s", jerr.text);
	ask = json_string_value(json_object_get(obj, "ask"));
	token = json_string_value(json_object_get(obj, "token"));
	answer = json_string_value(json_object_get(obj, "answer"));
	result = json_string_value(json_object_get(obj, "result"));
	a = ask ? name_index(ask_names, sizeof(ask_names) / sizeof(ask_names[0]), ask) : -1;
	w = answer ? name_index(answer_names, sizeof(answer_names) / sizeof(answer_names[0]), answer) : -1;
	if (a <= 0 || w < 0 || token == NULL || token[0] == '\0') {
		json_decref(obj);
		return pgr_err_set(err, "intent has no valid ask, answer or token");
	}
	in->ask.ask = (fsm_ask)a;
	in->answer = (intent_answer)w;
	snprintf(in->ask.token, sizeof(in->ask.token), "%s", token);
	snprintf(in->result, sizeof(in->result), "%s", result ? result : "");
	in->requested_ms = (int64_t)json_integer_value(json_object_get(obj, "requested_ms"));
	in->ask.check_health = !json_is_false(json_object_get(obj, "check_health"));
	in->ask.skip_compatibility = json_is_true(json_object_get(obj, "skip_compatibility"));
	in->ask.skip_prechecks = json_is_true(json_object_get(obj, "skip_prechecks"));
	in->ask.skip_workload = json_is_true(json_object_get(obj, "skip_workload"));
	in->ask.skip_backup = json_is_true(json_object_get(obj, "skip_backup"));
	in->ask.id = (int)json_integer_value(json_object_get(obj, "id"));
	result = json_string_value(json_object_get(obj, "from"));
	snprintf(in->ask.from, sizeof(in->ask.from), "%s", result ? result : "");
	result = json_string_value(json_object_get(obj, "to"));
	snprintf(in->ask.to, sizeof(in->ask.to), "%s", result ? result : "");
	if (in->ask.ask == ASK_REFRESH && (in->ask.id <= 0 || in->ask.from[0] == '\0' || in->ask.to[0] == '\0')) {
		json_decref(obj);
		return pgr_err_set(err, "a refresh intent needs an id, from and to");
	}
	if (in->ask.ask == ASK_SETTINGS && parse_settings(json_object_get(obj, "settings"), &in->ask, err) != 0) {
		json_decref(obj);
		return -1;
	}
	json_decref(obj);
	return 0;
}

int intent_read(const etcd_client *etcd, const state_scope *scope, refresh_intent *in, bool *found, int64_t *rev,
		pgr_err *err)
{
	char key[256];
	etcd_kv kv;
	pgr_err perr;
	int rc = 0;

	intent_key(scope, key, sizeof(key));
	memset(in, 0, sizeof(*in));
	*rev = 0;
	if (etcd_get(etcd, key, &kv, found, err) != 0)
		return -1;
	if (*found) {
		*rev = kv.mod_revision;
		if (kv.value == NULL || intent_parse(kv.value, in, &perr) != 0)
			rc = pgr_err_set(err, "%s: %s", key, kv.value ? perr.msg : "no value");
	}
	etcd_kv_free(&kv);
	return rc;
}

/* CAS-writes in at key over expected_rev; *new_rev: its revision after. */
static int put_intent(const etcd_client *etcd, const char *key, const refresh_intent *in, int64_t expected_rev,
		      bool *swapped, int64_t *new_rev, pgr_err *err)
{
	char *json = NULL;
	etcd_kv current;
	int rc;

	if (intent_to_json(in, &json, err) != 0)
		return -1;
	memset(&current, 0, sizeof(current));
	rc = etcd_put_if(etcd, key, json, expected_rev, 0, swapped, &current, err);
	if (new_rev != NULL)
		*new_rev = current.mod_revision;
	etcd_kv_free(&current);
	free(json);
	return rc;
}

int intent_submit_and_wait(const etcd_client *etcd, const state_scope *scope, const fsm_intent *ask, long timeout_ms,
			   refresh_intent *in, pgr_err *err)
{
	char key[256], host[64] = "cli";
	refresh_intent old;
	bool found, swapped = false, deleted = false;
	int64_t rev, my_rev = 0;
	long long deadline;
	bool extended = false;

	intent_key(scope, key, sizeof(key));
	if (intent_read(etcd, scope, &old, &found, &rev, err) != 0) {
		if (!found)
			return -1;
		/* a corrupt intent: replace it */
	} else if (found && old.answer == INTENT_PENDING && wall_ms() - old.requested_ms < INTENT_ABANDONED_MS) {
		pgr_err_set(err, "another command (%s) is waiting for the coordinator", intent_ask_name(old.ask.ask));
		pgr_err_hint(err, "wait until it returns (seconds), see `pgrefresh status`, then try again");
		return 2;
	}
	memset(in, 0, sizeof(*in));
	in->ask = *ask;
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	in->requested_ms = wall_ms();
	snprintf(in->ask.token, sizeof(in->ask.token), "%.40s-%ld-%lld", host, (long)getpid(), (long long)in->requested_ms);
	in->answer = INTENT_PENDING;
	if (put_intent(etcd, key, in, found ? rev : 0, &swapped, &my_rev, err) != 0)
		return -1;
	if (!swapped) {
		pgr_err_set(err, "another command wrote an intent at the same moment");
		pgr_err_hint(err, "see `pgrefresh status` and try again");
		return 2;
	}
	deadline = proc_now_ms() + timeout_ms;
	for (;;) {
		refresh_intent now;
		pgr_err rerr;

		proc_sleep_ms(100);
		if (intent_read(etcd, scope, &now, &found, &rev, &rerr) == 0 && found &&
		    strcmp(now.ask.token, in->ask.token) == 0 && now.answer != INTENT_PENDING) {
			in->answer = now.answer;
			snprintf(in->result, sizeof(in->result), "%s", now.result);
			if (etcd_delete_if(etcd, key, rev, &deleted, &rerr) != 0)
				fprintf(stderr, "pgrefresh: warning: could not remove the answered intent: %s\n", rerr.msg);
			return 0;
		}
		if (proc_now_ms() > deadline) {
			if (etcd_delete_if(etcd, key, my_rev, &deleted, &rerr) == 0 && deleted) {
				pgr_err_set(err, "no coordinator took the %s within %ld s: withdrawn, nothing changed",
					    intent_ask_name(ask->ask), timeout_ms / 1000);
				pgr_err_hint(err, "is a coordinator running? see `pgrefresh status`; start the agents with "
						  "`pgrefresh cluster start`");
				return 1;
			}
			if (extended) {
				pgr_err_set(err, "the %s intent changed under this command and was not answered",
					    intent_ask_name(ask->ask));
				pgr_err_hint(err, "see `pgrefresh status`");
				return 1;
			}
			/* answered in the meantime: read the answer next time round */
			extended = true;
			deadline = proc_now_ms() + 5000;
		}
	}
}

bool intent_pending(const etcd_client *etcd, const state_scope *scope)
{
	refresh_intent in;
	bool found = false;
	int64_t rev;
	pgr_err err;

	return intent_read(etcd, scope, &in, &found, &rev, &err) == 0 && found && in.answer == INTENT_PENDING;
}

int intent_answer_it(const etcd_client *etcd, const state_scope *scope, int64_t lease, const refresh_intent *in,
		     int64_t rev, intent_answer answer, const char *result, pgr_err *err)
{
	char key[256], gkey[256];
	refresh_intent out = *in;
	etcd_cmp cmps[2];
	const etcd_cmp *guard = state_scope_lease_guard(scope, lease, gkey, sizeof(gkey), &cmps[1]);
	etcd_op put;
	etcd_kvs range;
	char *json = NULL;
	bool swapped = false;
	int rc;

	intent_key(scope, key, sizeof(key));
	out.answer = answer;
	snprintf(out.result, sizeof(out.result), "%s", result);
	if (intent_to_json(&out, &json, err) != 0)
		return -1;
	cmps[0] = (etcd_cmp){ key, ETCD_CMP_MOD, rev };
	put = (etcd_op){ ETCD_OP_PUT, key, json, 0 };
	rc = etcd_txn(etcd, cmps, guard != NULL ? 2 : 1, &put, 1, NULL, 0, &swapped, &range, err);
	etcd_kvs_free(&range);
	free(json);
	if (rc != 0)
		return -1;
	if (!swapped)
		return pgr_err_set(err, "%s changed while it was answered (withdrawn by its command?), or the lease "
				   "%lld no longer holds the coordinator key", key, (long long)lease);
	return 0;
}
