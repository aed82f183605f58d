#include "metrics/publisher.h"

#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "state/history.h"
#include "util/log.h"

int metrics_publisher_start(metrics_publisher *p, const conf_unit *unit, pgr_err *err)
{
	memset(p, 0, sizeof(*p));
	if (unit->metrics_port == 0)
		return 0;
	if (metrics_server_start(unit->host, unit->metrics_port, &p->server, err) != 0)
		return -1;
	log_info("metrics at http://%s:%d/metrics", unit->host, unit->metrics_port);
	return 0;
}

void metrics_publisher_note_refresh(metrics_publisher *p, bool found, const refresh_record *rec)
{
	if (rec != NULL) {
		p->refresh = *rec;
		p->have_refresh = true;
	}
	p->live = found && rec != NULL && rec->state != RS_DONE;
}

static int keep_last(int64_t id, const char *json, void *arg)
{
	char **last = arg;

	(void)id;
	free(*last);
	*last = strdup(json);
	return 0;
}

/* The last refresh in history, if any (read once: a new coordinator that saw none finish). */
static void read_last_from_history(metrics_publisher *p, const etcd_client *etcd, const state_scope *scope)
{
	char *last = NULL;
	int pages = 0;
	pgr_err err;

	if (state_history_foreach(etcd, scope->prefix, 0, keep_last, &last, &pages, &err) != 0) {
		log_debug("metrics: cannot read history: %s", err.msg);
		free(last);
		return;
	}
	p->history_read = true;
	if (last != NULL && !p->have_refresh && record_parse(last, &p->refresh, &err) == 0)
		p->have_refresh = true;
	free(last);
}

void metrics_publisher_tick(metrics_publisher *p, const etcd_client *etcd, const state_scope *scope,
			    const char *cluster, const unit_record *me, bool coordinator)
{
	metrics_view v = { .scope = cluster, .unit = me->unit, .version = me->server_version, .coordinator = coordinator };
	char *text = NULL;
	pgr_err err;

	if (p->server == NULL)
		return;
	if (coordinator && !p->have_refresh && !p->history_read)
		read_last_from_history(p, etcd, scope);
	v.refresh = p->have_refresh ? &p->refresh : NULL;
	v.refresh_in_progress = p->live;
	if (metrics_format(&v, &text, &err) != 0) {
		log_warn("%s", err.msg);
		return;
	}
	metrics_server_publish(p->server, text);
	free(text);
}

void metrics_publisher_stop(metrics_publisher *p)
{
	metrics_server_stop(p->server);
	p->server = NULL;
}
