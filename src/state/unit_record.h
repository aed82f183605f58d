/*
 * unit_record.h — what an agent reports about its unit, every second, into etcd at
 * /pgrefresh/<cluster>/units/<member>: the one shape shared by the agent (writer) and status,
 * pre-refresh-check and the coordinator (readers). JSON encoding and decoding (pure), and the put.
 */
#ifndef PGR_STATE_UNIT_RECORD_H
#define PGR_STATE_UNIT_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd/etcd.h"
#include "state/scope.h"
#include "util/err.h"

#define UNIT_RECORD_MAX_VERSIONS 16
#define UNIT_RECORD_MAX_FACTS 8            /* catalog entries whose facts a report carries (the highest) */
#define UNIT_RECORD_EXTENSIONS_LEN 1024    /* an entry's extension names, comma-separated */
#define UNIT_RECORD_EXTENSION_NAME_MAX 63  /* PostgreSQL's NAMEDATALEN - 1 */
#define UNIT_RECORD_MAX_JSON 65536         /* a longer report is refused (an agent's own stays near 10 kB) */

/*
 * What a unit's agent found, on its own host, about one entry of its catalog: whether it runs there
 * (catalog_check_runnable, re-run only when the entry changes) and which extensions it offers (the names
 * of its share/extension/ *.control files). The coordinator judges a refresh's target from these alone.
 */
typedef struct unit_version_facts {
	char version[16];
	bool runnable;
	char problem[160];                           /* why it does not run ("" when it does) */
	char extensions[UNIT_RECORD_EXTENSIONS_LEN]; /* "btree_gist,hstore,plpgsql" */
	bool extensions_cut; /* more names than fit: one not listed may still be there */
} unit_version_facts;

typedef struct unit_record {
	char unit[32];           /* "pg/0" */
	char member[32];         /* "pg-0" (Patroni's name) */
	char host[64];
	int port;
	char role[16];           /* "primary", "sync-standby", "replica", "unknown" */
	char server_version[16]; /* what PostgreSQL runs ("15.18"), "" if not running */
	char linked_version[16]; /* what the unit's bin link points at */
	char patroni_state[32];  /* "running", "starting", "stopped", "" (Patroni not answering) */
	bool streaming;          /* per the primary's replication[]; true for the primary itself */
	int64_t lag_bytes;       /* -1 unknown */
	int timeline;
	bool tag_nosync;            /* Patroni tags in effect (pgrefresh sets them for a moment, see agent/tags.h) */
	char tag_replicatefrom[32]; /* "" if none */
	char catalog[UNIT_RECORD_MAX_VERSIONS][16]; /* versions this unit's catalog has */
	int catalog_count;
	unit_version_facts facts[UNIT_RECORD_MAX_FACTS]; /* the highest entries of that catalog, ascending */
	int fact_count;
	int64_t heartbeat_ms; /* wall clock (ms since the epoch) of the report */
	int agent_pid;
	char message[160]; /* what the agent is doing, if anything special */
	char step[16];        /* where the unit is in its own refresh table (refresh/unit_step.h), "" idle */
	char step_target[16]; /* the version that step is for */
	int64_t step_since_ms; /* this agent's wall clock when it stood aside / started the restart */
	int64_t restarted_ms;  /* when it last started a restart onto step_target (its clock; 0: none): kept
				* after the restart, for the refresh record's step times (state/record.h) */
	char intent_token[64];  /* the last unit intent its agent applied (state/unit_intent.h), "" none */
	char intent_error[160]; /* why that intent's tags could not be set, "" */
} unit_record;

/* Encodes into a heap string (caller frees). */
int unit_record_to_json(const unit_record *rec, char **json, pgr_err *err) __attribute__((warn_unused_result));
int unit_record_parse(const char *json, unit_record *rec, pgr_err *err) __attribute__((warn_unused_result));
/* The facts rec reports for version, NULL when none. */
const unit_version_facts *unit_record_facts(const unit_record *rec, const char *version);
/* Whether facts lists extension name. */
bool unit_facts_has_extension(const unit_version_facts *facts, const char *name);
/* Adds an extension name (skipped when it is not a name; extensions_cut set when there is no room). */
void unit_facts_add_extension(unit_version_facts *facts, const char *name);
/* 150018 -> "15.18"; 0 -> "" */
void unit_record_version_string(int server_version, char *buf, size_t len);

/*
 * Writes rec at <prefix>units/<member> (the agent is its only writer: a plain put). *json, if not NULL,
 * receives the value (free with free()), written or not: NULL only when rec could not be encoded.
 */
int unit_record_put(const etcd_client *etcd, const state_scope *scope, const unit_record *rec, char **json,
		    pgr_err *err) __attribute__((warn_unused_result));
/* Reads member's record: *found false when there is none; -1 when etcd fails or it does not parse. */
int unit_record_get(const etcd_client *etcd, const state_scope *scope, const char *member, unit_record *rec,
		    bool *found, pgr_err *err) __attribute__((warn_unused_result));
/* Removes member's record (a unit removed from the cluster). */
int unit_record_delete(const etcd_client *etcd, const state_scope *scope, const char *member, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
