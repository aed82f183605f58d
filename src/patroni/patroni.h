/*
 * patroni.h — a client for Patroni's REST API (3.0.x): GET /cluster, /patroni, /health,
 * POST /restart, POST /switchover, PATCH /config. Replies are parsed into the structs below by the
 * pure functions patroni_cluster_parse() and patroni_node_parse(), unit-tested on captured replies.
 *
 * Vocabulary traps (Patroni 3.0.2): /cluster says role "leader" | "sync_standby" | "replica";
 * /patroni says "master" on the primary. A replica never reports "streaming" itself: the primary's
 * replication[] does.
 */
#ifndef PGR_PATRONI_PATRONI_H
#define PGR_PATRONI_PATRONI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "util/err.h"

#define PATRONI_MAX_MEMBERS 32

/*
 * How pgrefresh reaches Patroni's REST API (made from pgrefresh.conf by conf_patroni_client, and by nothing
 * else): ca_file "" means plain http; else https, the peer verified against that CA. secret "" means no
 * authentication; else HTTP basic authentication with "user:password", the first line of
 * secret_dir/secrets.d/SECRET, read at each request (never kept, never on a command line). NULL for a
 * patroni_client argument below: plain http, no authentication.
 */
typedef struct patroni_client {
	char ca_file[256];
	char secret_dir[4096];
	char secret[64];
} patroni_client;

/* A member's role as /cluster names it. */
typedef enum patroni_role {
	PATRONI_ROLE_UNKNOWN = 0,
	PATRONI_ROLE_LEADER,
	PATRONI_ROLE_SYNC_STANDBY,
	PATRONI_ROLE_REPLICA,
} patroni_role;

/* One member of GET /cluster. lag is -1 when Patroni reports "unknown" or nothing. */
typedef struct patroni_member {
	char name[64];
	patroni_role role;
	char state[64]; /* "running", "starting", "stopped", "crashed", "running custom bootstrap script", ... */
	char host[64];
	int port;
	char api_url[160];
	int timeline;
	int64_t lag_bytes;
	bool pending_restart;
	char tags_replicatefrom[64]; /* the member's replicatefrom tag, "" if none */
	bool tags_nosync;            /* Patroni sets nosync for the time of a member's own restart */
	bool tags_nofailover;        /* the user's nofailover tag: Patroni never promotes this member */
} patroni_member;

/* GET /cluster: the members, and whether the cluster is in maintenance mode (paused). */
typedef struct patroni_cluster {
	patroni_member members[PATRONI_MAX_MEMBERS];
	int member_count;
	bool paused;
} patroni_cluster;

/* One entry of the primary's replication[] in GET /patroni. */
typedef struct patroni_replication {
	char application_name[64];
	char state[32];      /* "streaming", "startup", "catchup", ... */
	char sync_state[16]; /* "sync", "async", "potential", "quorum" */
	char client_addr[64];
} patroni_replication;

/*
 * GET /patroni on one member (GET /health answers the same document, with 503 when PostgreSQL is not
 * running). While PostgreSQL restarts or is stopped, only state, role and patroni are reported.
 */
typedef struct patroni_node {
	char state[64]; /* "running", "restarting", "stopped", ... */
	char role[32];  /* "master"/"primary" or "replica" (as Patroni says it) */
	bool is_primary;
	bool is_sync_standby;            /* "sync_standby": true, reported by the sync standby itself */
	char postmaster_start_time[48];  /* "2026-11-25 16:51:33.889268+00:00": identity of this postmaster */
	char system_identifier[32];      /* database_system_identifier */
	int server_version; /* 150018; 0 if not reported */
	int timeline;
	int64_t xlog_location;         /* primary: current WAL position (bytes) */
	int64_t xlog_received;         /* replica */
	int64_t xlog_replayed;         /* replica */
	bool pending_restart;
	bool paused;
	char patroni_version[32];
	char tags_replicatefrom[64]; /* the tags in effect now (the member's in /cluster lag until its next loop) */
	bool tags_nosync;
	bool tags_nofailover; /* never to be promoted (the user's tag) */
	patroni_replication replication[PATRONI_MAX_MEMBERS];
	int replication_count;
} patroni_node;

/* Pure parsing; err says what is wrong with a malformed reply. */
int patroni_cluster_parse(const char *json, patroni_cluster *out, pgr_err *err) __attribute__((warn_unused_result));
int patroni_node_parse(const char *json, patroni_node *out, pgr_err *err) __attribute__((warn_unused_result));
/* GET /config: its loop_wait (seconds); an error when it is absent or not a number. */
int patroni_config_loop_wait_parse(const char *json, int *loop_wait, pgr_err *err) __attribute__((warn_unused_result));
/* "leader" -> PATRONI_ROLE_LEADER, ... ; and the names pgrefresh shows: "primary", "sync-standby", "replica". */
patroni_role patroni_role_from_string(const char *s);
const char *patroni_role_display(patroni_role role);
/* Finds a member by name, or the leader; NULL if none. */
const patroni_member *patroni_cluster_member(const patroni_cluster *cluster, const char *name);
const patroni_member *patroni_cluster_leader(const patroni_cluster *cluster);
const patroni_member *patroni_cluster_sync_standby(const patroni_cluster *cluster);

/*
 * /cluster gives api_url as "http://127.0.0.1:8010/patroni": writes the base the I/O functions below want
 * ("http://127.0.0.1:8010"), without a trailing "/patroni" or "/". -1 if out is too small.
 */
int patroni_api_base(const char *api_url, char *out, size_t outlen) __attribute__((warn_unused_result));

/* "user:password" into user and password (split at the first ':'); -1 when there is no ':' or a part is empty. */
int patroni_credentials_split(const char *cred, char *user, size_t userlen, char *password, size_t passwordlen)
	__attribute__((warn_unused_result));

/*
 * I/O. pc: TLS and authentication (NULL: none). A certificate not trusted names pc's CA file; an HTTP 401
 * names pc's secret. api_url is "http://127.0.0.1:8010" (a trailing "/patroni" is tolerated and stripped). */
int patroni_get_cluster(const patroni_client *pc, const char *api_url, long timeout_ms, patroni_cluster *out, pgr_err *err)
	__attribute__((warn_unused_result));
int patroni_get_node(const patroni_client *pc, const char *api_url, long timeout_ms, patroni_node *out, pgr_err *err)
	__attribute__((warn_unused_result));
/* GET /health: *healthy true on HTTP 200 (PostgreSQL up and running). */
int patroni_health(const patroni_client *pc, const char *api_url, long timeout_ms, bool *healthy, pgr_err *err) __attribute__((warn_unused_result));
/* POST /restart; blocks until Patroni answers (Patroni restarts PostgreSQL first). Non-2xx is an error. */
int patroni_restart(const patroni_client *pc, const char *api_url, long timeout_ms, pgr_err *err) __attribute__((warn_unused_result));
/*
 * The same in a process of its own, for a threaded caller that must not block (the agent): this
 * program started again (util/proc.h proc_spawn_self) as "pgrefresh " PATRONI_RESTART_ARG " URL MS UNIT
 * CA DIR SECRET" (pc's members, "" when unset: the secret's name, never its content), which main() hands to
 * patroni_restart_main. It logs Patroni's answer on our stderr, prefixed with
 * unit, and exits 0 when the restart was done. *pid: the child, for the caller to reap.
 */
#define PATRONI_RESTART_ARG "__pgrefresh-patroni-restart"
int patroni_restart_spawn(const patroni_client *pc, const char *api_url, long timeout_ms, const char *unit, pid_t *pid, pgr_err *err)
	__attribute__((warn_unused_result));
/* main() of that process: argv[1] is PATRONI_RESTART_ARG. Returns the exit code. */
int patroni_restart_main(int argc, char **argv);
/*
 * POST /switchover {"leader": leader, "candidate": candidate}. *http_status receives the status
 * (200 done; 412 e.g. "can not find sync_standby": retry later). Returns -1 only on transport failure.
 */
int patroni_switchover(const patroni_client *pc, const char *api_url, const char *leader, const char *candidate, long timeout_ms,
		       int *http_status, char *reply_text, int reply_len, pgr_err *err) __attribute__((warn_unused_result));
/* POST /reload: Patroni re-reads its configuration file (e.g. a changed replicatefrom tag). */
int patroni_reload(const patroni_client *pc, const char *api_url, long timeout_ms, pgr_err *err) __attribute__((warn_unused_result));
/* PATCH /config with a JSON body (dynamic configuration, e.g. {"pause": true}). */
int patroni_patch_config(const patroni_client *pc, const char *api_url, const char *json_body, long timeout_ms, pgr_err *err)
	__attribute__((warn_unused_result));
/* GET /config: the loop_wait of the dynamic configuration. */
int patroni_get_loop_wait(const patroni_client *pc, const char *api_url, long timeout_ms, int *loop_wait, pgr_err *err)
	__attribute__((warn_unused_result));
/*
 * Wakes that member's HA loop now instead of at its next loop_wait tick: PATCH /config with loop_wait
 * at the value it has (patroni_get_loop_wait), which changes nothing in the DCS; Patroni wakes its loop
 * on every PATCH /config. E.g. after POST /reload, the new tags take effect at once.
 */
int patroni_wake(const patroni_client *pc, const char *api_url, int loop_wait, long timeout_ms, pgr_err *err) __attribute__((warn_unused_result));

#endif
