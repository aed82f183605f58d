/*
 * publisher.h — an agent's metrics, from its loop: it starts the server (metrics/server.h) when its unit
 * has a metrics_port, keeps the last refresh record the loop read (so that the coordinator still tells
 * the last refresh's start, end and timings once it has moved to history), and once a tick formats
 * (metrics/metrics.h) and publishes what the agent knows. A coordinator that saw no refresh yet reads the
 * last one from history once.
 */
#ifndef PGR_METRICS_PUBLISHER_H
#define PGR_METRICS_PUBLISHER_H

#include <stdbool.h>

#include "cluster/conf.h"
#include "etcd/etcd.h"
#include "metrics/server.h"
#include "state/record.h"
#include "state/scope.h"
#include "state/unit_record.h"

typedef struct metrics_publisher {
	metrics_server *server; /* NULL: this agent serves no metrics */
	refresh_record refresh; /* the last refresh record read */
	bool have_refresh;
	bool live;          /* it is in progress (false: finished, or archived since) */
	bool history_read;  /* the last refresh was looked for in history */
} metrics_publisher;

/* Starts serving at unit->host:unit->metrics_port (nothing when the port is 0). -1 when it cannot listen. */
int metrics_publisher_start(metrics_publisher *p, const conf_unit *unit, pgr_err *err)
	__attribute__((warn_unused_result));
/* What the loop read of the refresh record: found, and rec (NULL when it did not parse). */
void metrics_publisher_note_refresh(metrics_publisher *p, bool found, const refresh_record *rec);
/* Publishes the agent's metrics now: me is its unit's last report. */
void metrics_publisher_tick(metrics_publisher *p, const etcd_client *etcd, const state_scope *scope,
			    const char *cluster, const unit_record *me, bool coordinator);
void metrics_publisher_stop(metrics_publisher *p);

#endif
