/*
 * status.h — the status view of `shared/ux.md`: the cluster line and one line per unit, built from
 * what the agents reported into etcd (state/unit_record.h), then rendered as a table or as JSON.
 * Building and rendering are pure (no I/O), so every line of the view is unit-tested.
 */
#ifndef PGR_STATUS_STATUS_H
#define PGR_STATUS_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "state/unit_record.h"
#include "cluster/conf.h"
#include "cluster/switchover.h"
#include "state/presence.h"
#include "state/record.h"
#include "util/err.h"

/* One unit line. */
typedef struct status_unit {
	char name[32];
	char host[64];
	int port;
	char role[16];    /* primary | sync-standby | replica | unknown */
	char version[16]; /* what PostgreSQL runs (server_version); "" when it does not run */
	char state[16];   /* active | waiting | refreshing | failed | down */
	int64_t lag_bytes; /* -1 unknown */
	char message[160];
	int batch; /* its batch in the refresh's plan, from 1; 0: not in the plan (or no refresh) */
} status_unit;

/* The refresh part of the cluster line (idle until a refresh exists). */
typedef struct status_refresh {
	char state[16]; /* idle | refreshing | paused | incompatible | failed | corrupt */
	bool rollback;
	char from[16];
	char to[16];
	char next_unit[32];
	int batch;   /* the batch being refreshed (or halted in), from 1; 0: none */
	int batches; /* batches in the plan (max-parallel-units); equal to total with one unit a batch */
	int done;
	int total;
	int eta_seconds; /* -1 unknown */
	char message[240];
	char cause[600]; /* the cause of every halt and rollback of this refresh (refresh_record.cause) */
} status_refresh;

/* The whole view. */
typedef struct status_view {
	char cluster[32];
	char version[16]; /* what every unit runs; while they differ, the lowest */
	char coordinator[32];
	conf_endpoint pgbouncers[CONF_MAX_PGBOUNCERS];
	int pgbouncer_count;
	status_refresh refresh;
	status_unit units[CONF_MAX_UNITS];
	int unit_count;
	char message[240]; /* the cluster line's message */
	char security[120]; /* "" (nothing to say), else a line on how the cluster's links are secured */
} status_view;

/*
 * Values in etcd that do not parse. They are never guessed at: the view names the key and the command
 * that repairs it. refresh_key/refresh_why: the refresh record's key and parse error; unit[i]: unit i's
 * report does not parse (its agent overwrites it at its next report).
 */
typedef struct status_corrupt {
	bool refresh;
	char refresh_key[128];
	char refresh_why[200];
	bool unit[CONF_MAX_UNITS];
} status_corrupt;

/*
 * What the CLI saw of the host of a unit whose agent does not report (its presence key gone or never
 * written): the CLI asks that unit's Patroni REST API and the etcd member on its host, nothing more.
 */
typedef enum status_host_seen {
	STATUS_HOST_UNKNOWN = 0, /* not asked (its agent reports, or nothing to ask) */
	STATUS_HOST_ANSWERS,     /* its Patroni or its etcd member answered: the host is there, the agent is not */
	STATUS_HOST_SILENT,      /* neither answered: the host is out of reach (its link or the host is down) */
} status_host_seen;

/*
 * Pure: the message of a unit whose agent does not report (verdict PRESENCE_GONE or PRESENCE_NEVER), from
 * what was seen of its host. host_name is the host's name ("h1"; "" for none), addr its address, last the
 * agent's last report time as text ("" when none), refreshing whether a refresh is on its way (it waits
 * for the unit). A silent host: check its network, nothing to start; otherwise: start the agent.
 */
void status_agent_down_message(presence_verdict verdict, status_host_seen seen, const char *host_name,
			       const char *addr, const char *last, bool refreshing, char *buf, size_t len);

/*
 * Builds the view: conf gives the units expected; records[i] is the last report of unit i of conf
 * (have_record[i] false when none); alive[i] whether unit i's agent's presence key exists (its lease
 * lives: state/presence.h), the only judge of whether it reports; coordinator is the coordinator key's
 * value ("" if none); refresh the refresh in progress (NULL when none); now_ms the reader's wall clock,
 * compared only with times the coordinator recorded in the refresh record, never with an agent's.
 */
void status_build(const cluster_conf *conf, const unit_record *records, const bool *have_record, const bool *alive,
		  const char *coordinator, const refresh_record *refresh, int64_t now_ms, status_view *view);
/* The same, with what did not parse (NULL: everything did). */
void status_build_checked(const cluster_conf *conf, const unit_record *records, const bool *have_record,
			  const bool *alive, const status_corrupt *corrupt, const char *coordinator, const refresh_record *refresh,
			  int64_t now_ms, status_view *view);
/* The same, with what was seen of the hosts of the units whose agents do not report (NULL: nothing seen). */
void status_build_observed(const cluster_conf *conf, const unit_record *records, const bool *have_record,
			   const bool *alive, const status_corrupt *corrupt, const status_host_seen *seen,
			   const char *coordinator, const refresh_record *refresh, int64_t now_ms, status_view *view);
/*
 * A switchover that waits for clients holding transactions open (its mark names them): the refresh's
 * message (or, with no refresh, the cluster's) says who and until when. Pure.
 */
void status_note_switchover_wait(status_view *view, const refresh_record *refresh, const switchover_mark *mark,
				 int64_t now_ms);
/* The units of the first batch with a unit at step ("pg/4, pg/3", plan order) into buf; returns the
 * batch (from 0), -1 when no unit is at step. Pure. */
int status_batch_units(const refresh_record *rec, unit_step step, char *buf, size_t len);
/* The refresh's one-line message: what is happening and what the user must do (pure). */
void status_refresh_message(const refresh_record *rec, const char *next_unit, char *buf, size_t len);

/* Renders into a heap string (caller frees). */
int status_render_table(const status_view *view, char **out, pgr_err *err) __attribute__((warn_unused_result));
int status_render_json(const status_view *view, char **out, pgr_err *err) __attribute__((warn_unused_result));
/* "40s", "2m05s", "-" for unknown. */
void status_format_eta(int seconds, char *buf, size_t len);
/* The lowest version the view's units run ("" when none runs). */
void status_lowest_version(const status_view *view, char *buf, size_t len);
/* "0 B", "12 kB", "3 MB", "-" for unknown. */
void status_format_bytes(int64_t bytes, char *buf, size_t len);

#endif
