/*
 * etcd.h — a client for etcd's v3 API through its JSON gateway (/v3/kv/range, /v3/kv/put,
 * /v3/kv/deleterange, /v3/kv/txn, /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke, /v3/watch),
 * over libcurl (util/http). Keys and values are plain C strings here; base64 happens inside.
 *
 * pgrefresh keeps all its state in etcd under /pgrefresh/<cluster>/ and changes it with
 * compare-and-swap on mod_revision, so that any process can die at any moment.
 * The pure parsing of replies lives in etcd_parse.h and is unit-tested on captured replies.
 */
#ifndef PGR_ETCD_ETCD_H
#define PGR_ETCD_ETCD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/*
 * Where etcd is: endpoints tried in order ("http://127.0.0.1:2379"), and how long one request may take.
 * Only a transport failure (refused, unreachable, timed out) moves on to the next endpoint; an HTTP reply
 * from etcd, even an error, is the answer. Errors read "etcd <op> <key>: <cause>" (HTTP status and
 * etcd's message or the start of the body, or each endpoint's transport error).
 */
typedef struct etcd_client {
	char endpoints[4][128];
	int endpoint_count;
	long timeout_ms;
	/* TLS and authentication (etcd_client_set_tls, etcd_client_set_auth); "" when unused. */
	char ca_file[256];
	char cert_file[256];
	char key_file[256];
	char user[64];
	char password[128]; /* never logged, never in an error */
} etcd_client;

/*
 * TLS: the CA that signed etcd's certificate (NULL or "": the system's CAs), and a client certificate
 * and key (both or neither). Files are read at each request; a path too long is an error.
 */
int etcd_client_set_tls(etcd_client *client, const char *ca_file, const char *cert_file, const char *key_file,
			pgr_err *err) __attribute__((warn_unused_result));
/*
 * etcd authentication: user and password are exchanged for a token (/v3/auth/authenticate) at the first
 * request, kept for the process, sent as the Authorization header, and renewed once when etcd answers
 * that it is no longer valid. Refused credentials fail every request with
 * "etcd refused pgrefresh's credentials (user NAME): ...".
 */
int etcd_client_set_auth(etcd_client *client, const char *user, const char *password, pgr_err *err)
	__attribute__((warn_unused_result));

/* One key with its value and revisions, as etcd stores it. key and value are heap strings. */
typedef struct etcd_kv {
	char *key;
	char *value;
	int64_t create_revision;
	int64_t mod_revision;
	int64_t version;
	int64_t lease;
} etcd_kv;

/* A list of keys (a range or watch events) and the store revision the reply was taken at. */
typedef struct etcd_kvs {
	etcd_kv *items;
	int count;
	int64_t revision; /* header.revision */
} etcd_kvs;

/* Parses "http://h:p[,http://h2:p2]" into the client; timeout_ms default 3000. */
int etcd_client_init(etcd_client *client, const char *endpoints, pgr_err *err) __attribute__((warn_unused_result));

/* Reads one key. *found false (and out zeroed) when absent. Free out with etcd_kv_free. */
int etcd_get(const etcd_client *client, const char *key, etcd_kv *out, bool *found, pgr_err *err)
	__attribute__((warn_unused_result));
/* Reads every key that starts with prefix, sorted by key. Free with etcd_kvs_free. */
int etcd_get_prefix(const etcd_client *client, const char *prefix, etcd_kvs *out, pgr_err *err)
	__attribute__((warn_unused_result));
/* Unconditional put; lease 0 means none. */
int etcd_put(const etcd_client *client, const char *key, const char *value, int64_t lease, pgr_err *err)
	__attribute__((warn_unused_result));
/* Deletes key, or every key under it when prefix is true. */
int etcd_delete(const etcd_client *client, const char *key, bool prefix, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Compare-and-swap put: writes key=value only if the key's mod_revision is expected_mod_revision
 * (0 means "the key must not exist"). *swapped says whether it was written; on false, *current
 * (if not NULL) receives the key as it is now (found or not: current->key NULL when absent).
 * On true, *current receives the key as written (read in the same txn: its new mod_revision is the
 * one to compare against next). Free current with etcd_kv_free in both cases.
 */
int etcd_put_if(const etcd_client *client, const char *key, const char *value, int64_t expected_mod_revision,
		int64_t lease, bool *swapped, etcd_kv *current, pgr_err *err) __attribute__((warn_unused_result));
/*
 * Compare-and-swap delete: deletes key only if its mod_revision is expected_mod_revision; *deleted says
 * whether the compare held (with expected 0: the key did not exist, so there was nothing to delete).
 */
int etcd_delete_if(const etcd_client *client, const char *key, int64_t expected_mod_revision, bool *deleted,
		   pgr_err *err) __attribute__((warn_unused_result));

/*
 * A range in full, for reads narrower or wider than one key or one prefix: keys from key (just after it
 * when after is true) up to, not including, range_end (NULL: key alone), sorted by key (descending when
 * descend), at most limit of them (0: all), as of store revision (0: now). Paging: ask again with key the
 * last key of a page and after true, at the first page's revision; a page shorter than limit is the last.
 */
typedef struct etcd_range_req {
	const char *key;
	bool after;
	const char *range_end;
	bool descend;
	int64_t limit;
	int64_t revision;
} etcd_range_req;

int etcd_range(const etcd_client *client, const etcd_range_req *req, etcd_kvs *out, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * A transaction: when every compare holds (a key's create_revision or mod_revision EQUAL to revision;
 * create_revision 0: the key does not exist), the success operations run, else the failure ones, all at
 * one revision. Used where several keys change together (a record and its id counter; a record moved
 * to history). *range receives the kvs of the first GET that ran (count 0 if none): free it.
 */
typedef enum etcd_cmp_target { ETCD_CMP_CREATE, ETCD_CMP_MOD, ETCD_CMP_LEASE } etcd_cmp_target;
typedef struct etcd_cmp {
	const char *key;
	etcd_cmp_target target;
	int64_t revision; /* ETCD_CMP_LEASE: the lease the key is bound to (0: none, or no key) */
} etcd_cmp;
typedef enum etcd_op_type { ETCD_OP_PUT, ETCD_OP_DELETE, ETCD_OP_GET } etcd_op_type;
typedef struct etcd_op {
	etcd_op_type type;
	const char *key;
	const char *value; /* PUT only */
	int64_t lease;     /* PUT only; 0 none */
} etcd_op;

int etcd_txn(const etcd_client *client, const etcd_cmp *cmps, int ncmp, const etcd_op *success, int nsuccess,
	     const etcd_op *failure, int nfailure, bool *succeeded, etcd_kvs *range, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Leases. keepalive sets *ttl_left to the remaining TTL in seconds, 0 when the lease has expired.
 * Revoking a lease that no longer exists (expired, or revoked before) succeeds: the lease is gone.
 */
int etcd_lease_grant(const etcd_client *client, int ttl_seconds, int64_t *lease_id, pgr_err *err)
	__attribute__((warn_unused_result));
int etcd_lease_keepalive(const etcd_client *client, int64_t lease_id, int64_t *ttl_left, pgr_err *err)
	__attribute__((warn_unused_result));
int etcd_lease_revoke(const etcd_client *client, int64_t lease_id, pgr_err *err) __attribute__((warn_unused_result));
/* Another process's lease, without extending it: *ttl_left 0 when it has expired (or never existed). */
int etcd_lease_ttl(const etcd_client *client, int64_t lease_id, int64_t *ttl_left, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * A lease kept alive by a thread of its own (keepalive every third of the TTL), for a process whose
 * main thread blocks for seconds, e.g. a CLI switchover owning the PgBouncer paused mark: when the
 * process dies, the lease expires within ttl_seconds and others know it is gone.
 */
typedef struct etcd_lease_keeper {
	etcd_client client; /* a copy: the keeper outlives nothing it points to */
	int64_t lease;
	int ttl_seconds;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
} etcd_lease_keeper;

int etcd_lease_keeper_start(etcd_lease_keeper *keeper, const etcd_client *client, int ttl_seconds, pgr_err *err)
	__attribute__((warn_unused_result));
/* Stops the thread and revokes the lease (failures logged). */
void etcd_lease_keeper_stop(etcd_lease_keeper *keeper);

/*
 * Waits until key (or any key under it when prefix) changes after start_revision (events with a
 * revision >= start_revision), at most timeout_ms. On change, events holds the changed keys (a deleted
 * key has value NULL) and *changed is true; on timeout *changed is false and 0 is returned.
 * start_revision 0 means "from now"; pass a read's revision + 1 to miss nothing after that read.
 *
 * This is a polling watch, not etcd's streaming /v3/watch (util/http returns whole replies only): every
 * 100 ms it reads the keys and compares them with the keys as they were at start_revision - 1 (a
 * historical range). So several changes of one key come back as one event (its latest state, or
 * deleted), events->revision is the store revision of the read, and a start_revision older than etcd's
 * last compaction is an error ("required revision has been compacted"), as with a real watch.
 */
int etcd_watch(const etcd_client *client, const char *key, bool prefix, int64_t start_revision, long timeout_ms,
	       etcd_kvs *events, bool *changed, pgr_err *err) __attribute__((warn_unused_result));

/* Health: GET /health answers {"health":"true"}. */
int etcd_health(const etcd_client *client, pgr_err *err) __attribute__((warn_unused_result));

/* Whether err is the failure of a call that no endpoint answered (etcd down or unreachable). */
#define ETCD_UNREACHABLE_TEXT "no endpoint answered"
bool etcd_err_unreachable(const pgr_err *err);

/* What kept a call from etcd, for the user: each has its own message, hint and exit code (etcd_err_explain). */
typedef enum etcd_failure {
	ETCD_FAIL_OTHER = 0,     /* etcd answered with an error (or another failure) */
	ETCD_FAIL_UNREACHABLE,   /* no endpoint answered: etcd down, or not where pgrefresh.conf says */
	ETCD_FAIL_TLS,           /* reached, but TLS failed: a certificate not trusted, unreadable or refused */
	ETCD_FAIL_CREDENTIALS,   /* reached, but etcd refused the user and password, or denied the user the key */
} etcd_failure;

/* Pure: the failure err describes (from its text: http.h's HTTP_TLS_TEXT, etcd's refusal, no endpoint). */
etcd_failure etcd_err_classify(const pgr_err *err);

/*
 * For a command that could not read cluster's state from etcd: puts what failed in front of err and the
 * next step in its hint, and returns the exit code (util/exitcodes.h). Unreachable: "start the cluster"
 * (exit 7); TLS: the certificates of pgrefresh.conf (etcd_ca, etcd_cert, etcd_key; err names the file);
 * credentials: etcd_user and the secret etcd_password_secret (DIR/secrets.d/<password_secret>) (exit 1).
 * conf_dir: the cluster's directory; password_secret may be "".
 */
int etcd_err_explain(pgr_err *err, const char *cluster, const char *conf_dir, const char *password_secret);

void etcd_kv_free(etcd_kv *kv);
void etcd_kvs_free(etcd_kvs *kvs);

#endif
