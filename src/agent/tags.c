#include "agent/tags.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "state/unit_intent.h"
#include "util/log.h"

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void agent_tags_init(agent_tags *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
}

void agent_tags_destroy(agent_tags *t)
{
	pthread_mutex_destroy(&t->lock);
}

void agent_tags_seed(agent_tags *t, const char *token)
{
	pthread_mutex_lock(&t->lock);
	snprintf(t->intent_token, sizeof(t->intent_token), "%s", token);
	pthread_mutex_unlock(&t->lock);
}

int agent_tags_set(agent_tags *t, const cluster_conf *conf, const conf_unit *unit, const patroni_tags *tags,
		   pgr_err *err)
{
	int rc;

	pthread_mutex_lock(&t->lock);
	t->written_ms = wall_ms();
	rc = patroni_yml_set_tags(conf, unit, tags, err);
	t->last_known = rc == 0;
	t->last = *tags;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int agent_tags_take_intent(agent_tags *t, const etcd_client *etcd, const char *prefix, const cluster_conf *conf,
			   const conf_unit *unit, bool *changed, pgr_err *err)
{
	unit_intent intent;
	patroni_tags tags;
	bool found = false, in_force;
	char text[128];
	pgr_err werr;

	*changed = false;
	if (unit_intent_read(etcd, prefix, unit->member, &intent, &found, err) != 0)
		return -1;
	if (!found)
		return 0;
	memset(&tags, 0, sizeof(tags));
	snprintf(tags.replicatefrom, sizeof(tags.replicatefrom), "%s", intent.tags.replicatefrom);
	tags.nosync = intent.tags.nosync;
	pthread_mutex_lock(&t->lock);
	if (strcmp(intent.token, t->intent_token) == 0) {
		/* applied already (by this agent, or by the one before it, as its last record says) */
		if (!t->intent_known)
			t->intent = tags;
		t->intent_known = true;
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	unit_intent_tags_text(&intent.tags, text, sizeof(text));
	snprintf(t->intent_token, sizeof(t->intent_token), "%s", intent.token);
	t->intent = tags;
	t->intent_known = true;
	in_force = t->last_known && t->last.nosync == tags.nosync && strcmp(t->last.replicatefrom, tags.replicatefrom) == 0;
	if (!in_force)
		t->written_ms = wall_ms();
	if (in_force) {
		t->intent_error[0] = '\0';
		log_info("tags asked by intent %s: %s, already in force (asked by %s)", intent.token, text,
			 intent.by[0] ? intent.by : "?");
	} else if (patroni_yml_set_tags(conf, unit, &tags, &werr) != 0) {
		t->last_known = false;
		snprintf(t->intent_error, sizeof(t->intent_error), "%s", werr.msg);
		log_warn("tags asked by intent %s (%s, by %s) not applied: %s", intent.token, text,
			 intent.by[0] ? intent.by : "?", werr.msg);
	} else {
		t->intent_error[0] = '\0';
		t->last_known = true;
		t->last = tags;
		log_info("tags set by intent %s: %s (asked by %s)", intent.token, text, intent.by[0] ? intent.by : "?");
	}
	pthread_mutex_unlock(&t->lock);
	*changed = true;
	return 0;
}

void agent_tags_report(agent_tags *t, unit_record *rec)
{
	pthread_mutex_lock(&t->lock);
	snprintf(rec->intent_token, sizeof(rec->intent_token), "%s", t->intent_token);
	snprintf(rec->intent_error, sizeof(rec->intent_error), "%s", t->intent_error);
	pthread_mutex_unlock(&t->lock);
}

void agent_tags_snapshot(agent_tags *t, int64_t *written_ms, patroni_tags *intent)
{
	pthread_mutex_lock(&t->lock);
	*written_ms = t->written_ms;
	*intent = t->intent;
	pthread_mutex_unlock(&t->lock);
}
