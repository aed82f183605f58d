#include "cluster/local_secure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cluster/conf_security.h"
#include "cluster/pki.h"
#include "util/fileutil.h"
#include "util/http.h"
#include "util/secret.h"
#include "util/yaml.h"

#define CERT_DAYS 3650
#define SECRET_ROOT "etcd_root"
#define SECRET_PATRONI "etcd_patroni"
#define SECRET_PGREFRESH "etcd_pgrefresh"
#define SECRET_API "patroni_api"
#define SECRET_BOUNCER "pgbouncer_admin"
#define BOUNCER_ADMIN "pgbouncer_admin"
#define API_USER "patroni"
#define PATRONI_USER "patroni"     /* etcd users (a host's: "-hN" appended) */
#define PGREFRESH_USER "pgrefresh"

static void pki_path(const cluster_conf *conf, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/pki/%s", conf->dir, leaf);
}

bool local_secure_on(const cluster_conf *conf)
{
	return conf->security.etcd_user[0] != '\0' && conf->security.patroni_ca[0] != '\0';
}

const char *local_secure_scheme(const cluster_conf *conf)
{
	return local_secure_on(conf) ? "https" : "http";
}

/* A new secret: 32 hex digits from the CSPRNG, prefixed by prefix ("" or "user:"), into DIR/secrets.d/NAME. */
static int secret_make(const cluster_conf *conf, const char *name, const char *prefix, pgr_err *err)
{
	unsigned char raw[16];
	char value[128], path[PATH_MAX + 64];
	int n, rc;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return pgr_err_set(err, "could not draw a random password (RAND_bytes)");
	n = snprintf(value, sizeof(value), "%s", prefix);
	for (size_t i = 0; i < sizeof(raw); i++)
		n += snprintf(value + n, sizeof(value) - (size_t)n, "%02x", raw[i]);
	n += snprintf(value + n, sizeof(value) - (size_t)n, "\n");
	snprintf(path, sizeof(path), "%s/secrets.d/%s", conf->dir, name);
	rc = file_write_durable(path, value, (size_t)n, 0600, err);
	explicit_bzero(value, sizeof(value));
	explicit_bzero(raw, sizeof(raw));
	return rc;
}

/* What a directory's pki/ holds: a certificate and key each. */
static const struct {
	const char *leaf;
	pki_usage usage;
} CERTS[] = { { "server", PKI_SERVER }, { "pgrefresh", PKI_CLIENT }, { "patroni", PKI_CLIENT } };
#define CERT_SERVER 0
#define CERT_PGREFRESH 1
#define CERT_PATRONI 2

/* The secrets every host shares, copied from the CLI's (the REST API's and the poolers' admin console: the
 * coordinator, on any host, restarts any unit's Patroni and pauses every PgBouncer). etcd_root and the CA's
 * key stay with the CLI; each host's etcd passwords (its Patroni's, its agent's) are its own. */
static const char *const HOST_SECRETS[] = { SECRET_API, SECRET_BOUNCER };
/* A host's own etcd users: PATRONI_USER-hN and PGREFRESH_USER-hN, passwords in its secrets.d only. */
static const char *const HOST_OWN_SECRETS[] = { SECRET_PATRONI, SECRET_PGREFRESH };

/* DIR/pki (0755) and DIR/secrets.d (0700). */
static int dirs_make(const char *dir, pgr_err *err)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/pki", dir);
	if (dir_make_all(path, 0755, err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/secrets.d", dir);
	return dir_make_all(path, 0700, err);
}

/* CERTS[which] of the host at address, into to's pki/, signed by the CA in ca_conf's pki/. */
static int cert_issue(const cluster_conf *ca_conf, const cluster_conf *to, size_t which, const char *address,
		      pgr_err *err)
{
	char ca[PATH_MAX + 32], cakey[PATH_MAX + 32], crt[PATH_MAX + 32], key[PATH_MAX + 32], leaf[64];

	pki_path(ca_conf, "ca.crt", ca, sizeof(ca));
	pki_path(ca_conf, "ca.key", cakey, sizeof(cakey));
	snprintf(leaf, sizeof(leaf), "%s.crt", CERTS[which].leaf);
	pki_path(to, leaf, crt, sizeof(crt));
	snprintf(leaf, sizeof(leaf), "%s.key", CERTS[which].leaf);
	pki_path(to, leaf, key, sizeof(key));
	if (pki_cert_issue(ca, cakey, CERTS[which].usage, address, CERT_DAYS, crt, key, err) != 0)
		return pgr_err_prefix(err, "the %s certificate", CERTS[which].leaf);
	return 0;
}

/* The CA (pki/ca.crt, ca.key) and every secret, in conf->dir (across hosts, no Patroni's: each host has its own). */
static int ca_and_secrets_make(const cluster_conf *conf, bool hosts, pgr_err *err)
{
	static const char *const secrets[] = { SECRET_ROOT, SECRET_PGREFRESH, SECRET_BOUNCER, SECRET_PATRONI };
	size_t nsecrets = sizeof(secrets) / sizeof(secrets[0]) - (hosts ? 1 : 0);
	char ca[PATH_MAX + 32], cakey[PATH_MAX + 32], cn[96];

	if (dirs_make(conf->dir, err) != 0)
		return -1;
	pki_path(conf, "ca.crt", ca, sizeof(ca));
	pki_path(conf, "ca.key", cakey, sizeof(cakey));
	snprintf(cn, sizeof(cn), "pgrefresh CA of cluster %s", conf->name);
	if (pki_ca_create(ca, cakey, cn, CERT_DAYS, err) != 0)
		return pgr_err_prefix(err, "the cluster's CA");
	for (size_t i = 0; i < nsecrets; i++)
		if (secret_make(conf, secrets[i], "", err) != 0)
			return -1;
	return secret_make(conf, SECRET_API, API_USER ":", err);
}

/* Every etcd endpoint of etcd (a comma-separated list) with the scheme https; -1 when it does not fit. */
static int etcd_https(const char *etcd, char *out, size_t len)
{
	char list[sizeof(((cluster_conf *)0)->etcd)];
	char *save = NULL;
	size_t used = 0;

	snprintf(list, sizeof(list), "%s", etcd);
	out[0] = '\0';
	for (char *ep = strtok_r(list, ",", &save); ep != NULL; ep = strtok_r(NULL, ",", &save)) {
		const char *rest = strstr(ep, "://");
		int n = snprintf(out + used, len - used, "%shttps://%s", used ? "," : "", rest ? rest + 3 : ep);

		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

/* conf->security pointed at conf->dir's pki/ and secrets; its poolers' admin console pgbouncer_admin's. */
static int security_point(cluster_conf *conf, pgr_err *err)
{
	conf_security *sec = &conf->security;
	char etcd[sizeof(conf->etcd)];

	if (etcd_https(conf->etcd, etcd, sizeof(etcd)) != 0)
		return pgr_err_set(err, "etcd endpoints %s: too long with https", conf->etcd);
	snprintf(conf->etcd, sizeof(conf->etcd), "%s", etcd);
	pki_path(conf, "ca.crt", sec->etcd_ca, sizeof(sec->etcd_ca));
	pki_path(conf, "pgrefresh.crt", sec->etcd_cert, sizeof(sec->etcd_cert));
	pki_path(conf, "pgrefresh.key", sec->etcd_key, sizeof(sec->etcd_key));
	snprintf(sec->etcd_user, sizeof(sec->etcd_user), "pgrefresh");
	snprintf(sec->etcd_password_secret, sizeof(sec->etcd_password_secret), SECRET_PGREFRESH);
	pki_path(conf, "ca.crt", sec->patroni_ca, sizeof(sec->patroni_ca));
	snprintf(sec->patroni_auth_secret, sizeof(sec->patroni_auth_secret), SECRET_API);
	/* PgBouncer's admin console: its own user, known to PgBouncer only, by a SCRAM secret */
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		snprintf(conf->pgbouncers[i].admin_user, sizeof(conf->pgbouncers[i].admin_user), BOUNCER_ADMIN);
		snprintf(conf->pgbouncers[i].secret, sizeof(conf->pgbouncers[i].secret), SECRET_BOUNCER);
	}
	if (strlen(sec->etcd_key) >= sizeof(sec->etcd_key) - 1)
		return pgr_err_set(err, "%s: the directory's path is too long for the TLS files' paths", conf->dir);
	return 0;
}

int local_secure_prepare(cluster_conf *conf, const char *address, pgr_err *err)
{
	const char *colon = strrchr(conf->etcd, ':');
	char etcd[sizeof(conf->etcd)];

	if (colon == NULL)
		return pgr_err_set(err, "etcd endpoint %s has no port", conf->etcd);
	if (ca_and_secrets_make(conf, false, err) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(CERTS) / sizeof(CERTS[0]); i++)
		if (cert_issue(conf, conf, i, address, err) != 0)
			return -1;
	snprintf(etcd, sizeof(etcd), "https://%s%s", address, colon); /* the host's address: its certificate's */
	snprintf(conf->etcd, sizeof(conf->etcd), "%s", etcd);
	return security_point(conf, err);
}

int local_secure_prepare_hosts(cluster_conf *conf, pgr_err *err)
{
	if (ca_and_secrets_make(conf, true, err) != 0 || cert_issue(conf, conf, CERT_PGREFRESH, NULL, err) != 0)
		return -1;
	return security_point(conf, err);
}

void local_secure_host_users(int host, char *patroni, size_t plen, char *pgrefresh, size_t rlen)
{
	snprintf(patroni, plen, "%s-h%d", PATRONI_USER, host);
	snprintf(pgrefresh, rlen, "%s-h%d", PGREFRESH_USER, host);
}

int local_secure_host_conf(const cluster_conf *top, int host, cluster_conf *hc, pgr_err *err)
{
	char patroni[64];

	if (!local_secure_on(top))
		return 0;
	if (security_point(hc, err) != 0)
		return -1;
	local_secure_host_users(host, patroni, sizeof(patroni), hc->security.etcd_user, sizeof(hc->security.etcd_user));
	return 0;
}

/* The etcd user Patroni of conf's directory authenticates as: "patroni", or a host's own "patroni-hN" (its
 * agent's user is "pgrefresh-hN": the same suffix). */
static void patroni_user_of(const cluster_conf *conf, char *buf, size_t len)
{
	const char *user = conf->security.etcd_user;

	if (strncmp(user, PGREFRESH_USER, strlen(PGREFRESH_USER)) == 0)
		snprintf(buf, len, "%s%s", PATRONI_USER, user + strlen(PGREFRESH_USER));
	else
		snprintf(buf, len, "%s", PATRONI_USER);
}

/* Copies a file durably with mode (the CA's certificate, a secret). */
static int file_copy(const char *from, const char *to, mode_t mode, pgr_err *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	if (file_read_all(from, &data, &len, err) != 0)
		return -1;
	rc = file_write_durable(to, data, len, mode, err);
	explicit_bzero(data, len);
	free(data);
	return rc;
}

int local_secure_host_files(const cluster_conf *top, const cluster_conf *hc, const char *address, pgr_err *err)
{
	char from[PATH_MAX + 64], to[PATH_MAX + 64];

	if (!local_secure_on(top))
		return 0;
	if (dirs_make(hc->dir, err) != 0)
		return -1;
	pki_path(top, "ca.crt", from, sizeof(from));
	pki_path(hc, "ca.crt", to, sizeof(to));
	if (file_copy(from, to, 0644, err) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(CERTS) / sizeof(CERTS[0]); i++)
		if (cert_issue(top, hc, i, address, err) != 0)
			return -1;
	for (size_t i = 0; i < sizeof(HOST_SECRETS) / sizeof(HOST_SECRETS[0]); i++) {
		snprintf(from, sizeof(from), "%s/secrets.d/%s", top->dir, HOST_SECRETS[i]);
		snprintf(to, sizeof(to), "%s/secrets.d/%s", hc->dir, HOST_SECRETS[i]);
		if (file_copy(from, to, 0600, err) != 0)
			return pgr_err_prefix(err, "secret %s", HOST_SECRETS[i]);
	}
	for (size_t i = 0; i < sizeof(HOST_OWN_SECRETS) / sizeof(HOST_OWN_SECRETS[0]); i++)
		if (secret_make(hc, HOST_OWN_SECRETS[i], "", err) != 0)
			return pgr_err_prefix(err, "secret %s", HOST_OWN_SECRETS[i]);
	return 0;
}

void local_secure_etcd_args_for(const cluster_conf *conf, local_secure_etcd_args *args)
{
	char ca[PATH_MAX + 32], crt[PATH_MAX + 32], key[PATH_MAX + 32];
	const char *pairs[][2] = {
		{ "--cert-file", crt },		{ "--key-file", key },		{ "--trusted-ca-file", ca },
		{ "--peer-cert-file", crt },	{ "--peer-key-file", key },	{ "--peer-trusted-ca-file", ca },
	};

	memset(args, 0, sizeof(*args));
	if (!local_secure_on(conf))
		return;
	pki_path(conf, "ca.crt", ca, sizeof(ca));
	pki_path(conf, "server.crt", crt, sizeof(crt));
	pki_path(conf, "server.key", key, sizeof(key));
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		snprintf(args->arg[args->count++], sizeof(args->arg[0]), "%s=%s", pairs[i][0], pairs[i][1]);
	snprintf(args->arg[args->count++], sizeof(args->arg[0]), "--client-cert-auth");
	snprintf(args->arg[args->count++], sizeof(args->arg[0]), "--peer-client-cert-auth");
}

int local_secure_etcd_bootstrap_client(const cluster_conf *conf, etcd_client *client, pgr_err *err)
{
	if (conf_etcd_client(conf, client, err) != 0)
		return -1;
	explicit_bzero(client->password, sizeof(client->password));
	client->user[0] = '\0';
	return 0;
}

/* ---- etcd's users and roles, through its JSON gateway ---- */

struct etcd_admin {
	char url[256];   /* the first endpoint */
	http_opts opts;  /* pgrefresh's client certificate; the root token once there is one */
	char header[512];
};

/* POSTs body (a JSON object, consumed) to path; 0 on 200, 1 when etcd answered with an error whose
 * message holds tolerated (NULL: none), else -1 with etcd's answer in err. *reply_out, when non-NULL, gets
 * the reply (the caller frees it). */
static int admin_post(struct etcd_admin *a, const char *path, json_t *body, const char *tolerated,
		      http_reply *reply_out, pgr_err *err)
{
	char url[320];
	char *text = json_dumps(body, JSON_COMPACT);
	http_reply reply;
	int rc;

	json_decref(body);
	if (text == NULL)
		return pgr_err_set(err, "out of memory");
	snprintf(url, sizeof(url), "%s%s", a->url, path);
	rc = http_request_opts("POST", url, text, 10000, &a->opts, &reply, err);
	explicit_bzero(text, strlen(text));
	free(text);
	if (rc != 0)
		return pgr_err_prefix(err, "etcd %s", path);
	if (reply.status == 200) {
		rc = 0;
	} else if (tolerated != NULL && reply.body != NULL && strstr(reply.body, tolerated) != NULL) {
		rc = 1;
	} else {
		pgr_err_set(err, "etcd %s: HTTP %ld: %.200s", path, reply.status, reply.body ? reply.body : "");
		http_reply_free(&reply);
		return -1;
	}
	if (reply_out != NULL)
		*reply_out = reply;
	else
		http_reply_free(&reply);
	return rc;
}

/* The key range of a prefix: key and range_end base64-encoded, as the gateway wants them. */
static json_t *prefix_perm(const char *type, const char *prefix)
{
	unsigned char end[128];
	char k64[200], e64[200];
	size_t n = strlen(prefix);

	memcpy(end, prefix, n);
	end[n - 1]++; /* "/pgrefresh/" -> "/pgrefresh0": every key under the prefix */
	EVP_EncodeBlock((unsigned char *)k64, (const unsigned char *)prefix, (int)n);
	EVP_EncodeBlock((unsigned char *)e64, end, (int)n);
	return json_pack("{s:s, s:s, s:s}", "permType", type, "key", k64, "range_end", e64);
}

/* Ensures role with its permissions (granting one it has again changes nothing). */
static int role_ensure(struct etcd_admin *a, const char *role, const char *const perms[][2], size_t nperms, pgr_err *err)
{
	if (admin_post(a, "/v3/auth/role/add", json_pack("{s:s}", "name", role), "already exists", NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < nperms; i++)
		if (admin_post(a, "/v3/auth/role/grant",
			       json_pack("{s:s, s:o}", "name", role, "perm", prefix_perm(perms[i][0], perms[i][1])), NULL,
			       NULL, err) < 0)
			return -1;
	return 0;
}

/* Ensures user (its password: the secret named secret in dir's secrets.d) with role. */
static int user_ensure(struct etcd_admin *a, const char *dir, const char *user, const char *secret, const char *role,
		       pgr_err *err)
{
	char password[128];
	int rc;

	if (secret_read(dir, secret, password, sizeof(password), err) != 0)
		return -1;
	rc = admin_post(a, "/v3/auth/user/add", json_pack("{s:s, s:s}", "name", user, "password", password),
			"already exists", NULL, err);
	explicit_bzero(password, sizeof(password));
	if (rc < 0 || admin_post(a, "/v3/auth/user/grant", json_pack("{s:s, s:s}", "user", user, "role", role), "already",
				 NULL, err) < 0)
		return pgr_err_prefix(err, "etcd user %s", user);
	return 0;
}

/* The users of conf: pgrefresh's (the CLI's, and on loopback every agent's) and Patroni's on loopback; across
 * hosts, each host's own two (its directory's secrets). Roles: Patroni's read-write on its namespace /service/;
 * pgrefresh's read-write on /pgrefresh/ and read on /service/ (Patroni's keys are Patroni's; leases need no
 * grant). */
static int users_ensure(struct etcd_admin *a, const cluster_conf *conf, pgr_err *err)
{
	static const char *const patroni_perms[][2] = { { "READWRITE", "/service/" } };
	static const char *const pgrefresh_perms[][2] = { { "READWRITE", "/pgrefresh/" }, { "READ", "/service/" } };

	if (role_ensure(a, PATRONI_USER, patroni_perms, 1, err) != 0 ||
	    role_ensure(a, PGREFRESH_USER, pgrefresh_perms, 2, err) != 0 ||
	    user_ensure(a, conf->dir, PGREFRESH_USER, SECRET_PGREFRESH, PGREFRESH_USER, err) != 0)
		return -1;
	if (!conf->hosts_bridge[0])
		return user_ensure(a, conf->dir, PATRONI_USER, SECRET_PATRONI, PATRONI_USER, err);
	for (int i = 0; i < conf->unit_count; i++) {
		char hdir[PATH_MAX + 32], patroni[64], pgrefresh[64];
		int h = conf->units[i].number;

		snprintf(hdir, sizeof(hdir), "%s/hosts/h%d", conf->dir, h);
		local_secure_host_users(h, patroni, sizeof(patroni), pgrefresh, sizeof(pgrefresh));
		if (user_ensure(a, hdir, patroni, SECRET_PATRONI, PATRONI_USER, err) != 0 ||
		    user_ensure(a, hdir, pgrefresh, SECRET_PGREFRESH, PGREFRESH_USER, err) != 0)
			return -1;
	}
	return 0;
}

/* a: the first etcd endpoint of conf with pgrefresh's client certificate; *enabled: etcd's authentication is
 * on, and a carries root's token. 0, or -1 with the cause in err. */
static int admin_open(struct etcd_admin *a, const cluster_conf *conf, bool *enabled, pgr_err *err)
{
	char root[128];
	http_reply reply;
	int rc;

	memset(a, 0, sizeof(*a));
	*enabled = false;
	snprintf(a->url, sizeof(a->url), "%s", conf->etcd);
	a->url[strcspn(a->url, ",")] = '\0';
	a->opts.ca_file = conf->security.etcd_ca;
	a->opts.cert_file = conf->security.etcd_cert;
	a->opts.key_file = conf->security.etcd_key;
	if (secret_read(conf->dir, SECRET_ROOT, root, sizeof(root), err) != 0)
		return -1;
	rc = admin_post(a, "/v3/auth/authenticate", json_pack("{s:s, s:s}", "name", "root", "password", root),
			"authentication is not enabled", &reply, err);
	explicit_bzero(root, sizeof(root));
	if (rc < 0)
		return pgr_err_prefix(err, "etcd's root user (secret %s)", SECRET_ROOT);
	if (rc == 0) {
		json_t *doc = json_loads(reply.body ? reply.body : "", 0, NULL);
		const char *token = json_string_value(json_object_get(doc, "token"));

		if (token != NULL)
			snprintf(a->header, sizeof(a->header), "Authorization: %s", token);
		json_decref(doc);
		http_reply_free(&reply);
		if (a->header[0] == '\0')
			return pgr_err_set(err, "etcd's root user: no token in etcd's answer");
		a->opts.auth_header = a->header;
		*enabled = true;
	} else {
		http_reply_free(&reply);
	}
	return 0;
}

int local_secure_etcd_auth(const cluster_conf *conf, pgr_err *err)
{
	struct etcd_admin a;
	bool enabled;
	char root[128];
	int rc;

	if (!local_secure_on(conf))
		return 0;
	if (admin_open(&a, conf, &enabled, err) != 0)
		return -1;
	if (enabled) { /* made before: a host added since has its users made now */
		rc = users_ensure(&a, conf, err);
		explicit_bzero(a.header, sizeof(a.header));
		return rc != 0 ? pgr_err_prefix(err, "etcd's users") : 0;
	}
	if (secret_read(conf->dir, SECRET_ROOT, root, sizeof(root), err) != 0)
		return -1;
	rc = admin_post(&a, "/v3/auth/user/add", json_pack("{s:s, s:s}", "name", "root", "password", root),
			"already exists", NULL, err);
	explicit_bzero(root, sizeof(root));
	if (rc < 0 ||
	    admin_post(&a, "/v3/auth/role/add", json_pack("{s:s}", "name", "root"), "already exists", NULL, err) < 0 ||
	    admin_post(&a, "/v3/auth/user/grant", json_pack("{s:s, s:s}", "user", "root", "role", "root"), "already",
		       NULL, err) < 0)
		return pgr_err_prefix(err, "etcd's root user");
	if (users_ensure(&a, conf, err) != 0)
		return pgr_err_prefix(err, "etcd's users");
	if (admin_post(&a, "/v3/auth/enable", json_object(), NULL, NULL, err) < 0)
		return pgr_err_prefix(err, "etcd's authentication");
	return 0;
}

int local_secure_etcd_host_users_drop(const cluster_conf *conf, int host, pgr_err *err)
{
	struct etcd_admin a;
	char users[2][64];
	bool enabled;
	int rc = 0;

	if (!local_secure_on(conf))
		return 0;
	if (admin_open(&a, conf, &enabled, err) != 0)
		return -1;
	local_secure_host_users(host, users[0], sizeof(users[0]), users[1], sizeof(users[1]));
	for (int i = 0; i < 2 && rc == 0; i++)
		if (admin_post(&a, "/v3/auth/user/delete", json_pack("{s:s}", "name", users[i]), "user name not found", NULL,
			       err) < 0)
			rc = pgr_err_prefix(err, "etcd user %s", users[i]);
	explicit_bzero(a.header, sizeof(a.header));
	return rc;
}

/* ---- Patroni ---- */

static int quoted_path(const cluster_conf *conf, const char *leaf, char *out, size_t len, pgr_err *err)
{
	char path[PATH_MAX + 32];

	pki_path(conf, leaf, path, sizeof(path));
	return yaml_quote("a TLS file's path", path, out, len, err);
}

int local_secure_patroni_yml(const cluster_conf *conf, local_secure_patroni *out, pgr_err *err)
{
	char ca[PATH_MAX * 2 + 16], crt[PATH_MAX * 2 + 16], key[PATH_MAX * 2 + 16], pcrt[PATH_MAX * 2 + 16],
		pkey[PATH_MAX * 2 + 16];
	char etcd_pw[128], api[200], q_etcd_pw[300], q_api_pw[300], user[64], q_user[160];
	const char *colon;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!local_secure_on(conf))
		return 0;
	if (quoted_path(conf, "ca.crt", ca, sizeof(ca), err) != 0 || quoted_path(conf, "server.crt", crt, sizeof(crt), err) != 0 ||
	    quoted_path(conf, "server.key", key, sizeof(key), err) != 0 ||
	    quoted_path(conf, "patroni.crt", pcrt, sizeof(pcrt), err) != 0 ||
	    quoted_path(conf, "patroni.key", pkey, sizeof(pkey), err) != 0)
		return -1;
	if (secret_read(conf->dir, SECRET_PATRONI, etcd_pw, sizeof(etcd_pw), err) != 0)
		return -1;
	if (secret_read(conf->dir, SECRET_API, api, sizeof(api), err) != 0)
		goto out;
	colon = strchr(api, ':');
	if (colon == NULL || strncmp(api, API_USER ":", strlen(API_USER) + 1) != 0) {
		pgr_err_set(err, "secret %s: not \"%s:PASSWORD\"", SECRET_API, API_USER);
		goto out;
	}
	if (yaml_quote("a password", etcd_pw, q_etcd_pw, sizeof(q_etcd_pw), err) != 0 ||
	    yaml_quote("a password", colon + 1, q_api_pw, sizeof(q_api_pw), err) != 0)
		goto out;
	snprintf(out->restapi, sizeof(out->restapi),
		 ", certfile: %s, keyfile: %s, authentication: {username: %s, password: %s}", crt, key, API_USER,
		 q_api_pw);
	patroni_user_of(conf, user, sizeof(user));
	if (yaml_quote("the etcd user", user, q_user, sizeof(q_user), err) != 0)
		goto out;
	snprintf(out->etcd3, sizeof(out->etcd3),
		 ", protocol: https, cacert: %s, cert: %s, key: %s, username: %s, password: %s", ca, pcrt, pkey, q_user,
		 q_etcd_pw);
	snprintf(out->ctl, sizeof(out->ctl), "ctl: {cacert: %s}\n", ca);
	rc = 0;
out:
	explicit_bzero(etcd_pw, sizeof(etcd_pw));
	explicit_bzero(api, sizeof(api));
	explicit_bzero(q_etcd_pw, sizeof(q_etcd_pw));
	explicit_bzero(q_api_pw, sizeof(q_api_pw));
	return rc;
}

/* ---- PgBouncer ---- */

int local_secure_pgbouncer_users(const cluster_conf *conf, char *buf, size_t len, pgr_err *err)
{
	char password[128], secret[256];
	int rc, n;

	buf[0] = '\0';
	if (!local_secure_on(conf))
		return 0;
	if (secret_read(conf->dir, SECRET_BOUNCER, password, sizeof(password), err) != 0)
		return -1;
	rc = pki_scram_secret(password, NULL, 0, 4096, secret, sizeof(secret), err);
	explicit_bzero(password, sizeof(password));
	if (rc != 0)
		return -1;
	n = snprintf(buf, len, "\"%s\" \"%s\"\n", BOUNCER_ADMIN, secret);
	if (n < 0 || (size_t)n >= len)
		return pgr_err_set(err, "PgBouncer's users do not fit in %zu bytes", len);
	return 0;
}
