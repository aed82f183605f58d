#include "adopt/adopt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adopt/adopt_agent.h"
#include "adopt/adopt_yml.h"
#include "catalog/catalog.h"
#include "cluster/conf_security.h"
#include "cluster/local.h"
#include "etcd/etcd.h"
#include "patroni/patroni.h"
#include "state/scope.h"
#include "state/unit_record.h"
#include "util/exitcodes.h"
#include "util/fileutil.h"
#include "util/http.h"
#include "util/proc.h"

#define BACKUP_SUFFIX ".pgrefresh-orig"
#define ADOPTED_FILE "adopted"

/* What CONFDIR/units/<member>/adopted records: what unadopt puts back. */
typedef struct adopted_state {
	char config[PATH_MAX];
	char backup[PATH_MAX + 32];
	char bin_dir[PATH_MAX]; /* the original */
	char version[CATALOG_VERSION_LEN];
	char agent[32]; /* "systemd:INSTANCE" when pgrefresh-agent@INSTANCE runs it, else "" (pgrefresh) */
} adopted_state;

/* A refusal: err's message and hint; returns code. */
static int refuse(pgr_err *err, int code, const char *hint, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(pgr_err *err, int code, const char *hint, const char *fmt, ...)
{
	char msg[PGR_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pgr_err_set(err, "%s", msg);
	pgr_err_hint(err, "%s", hint);
	return code;
}

static void path_join(char *buf, size_t len, const char *a, const char *b)
{
	snprintf(buf, len, "%s/%s", a, b);
}

static int state_write(const char *path, const adopted_state *s, pgr_err *err)
{
	char buf[PATH_MAX * 3 + 256];
	int n = snprintf(buf, sizeof(buf), "config = %s\nbackup = %s\nbin_dir = %s\nversion = %s\nagent = %s\n", s->config,
			 s->backup, s->bin_dir, s->version, s->agent[0] ? s->agent : "pgrefresh");

	if (n < 0 || (size_t)n >= sizeof(buf))
		return pgr_err_set(err, "%s: too long", path);
	return file_write_durable(path, buf, (size_t)n, 0644, err);
}

static int state_read(const char *path, adopted_state *s, pgr_err *err)
{
	char *data = NULL, *save = NULL, *line;
	size_t len;

	memset(s, 0, sizeof(*s));
	if (file_read_all(path, &data, &len, err) != 0)
		return -1;
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strstr(line, " = ");

		if (eq == NULL)
			continue;
		*eq = '\0';
		if (strcmp(line, "config") == 0)
			snprintf(s->config, sizeof(s->config), "%s", eq + 3);
		else if (strcmp(line, "backup") == 0)
			snprintf(s->backup, sizeof(s->backup), "%s", eq + 3);
		else if (strcmp(line, "bin_dir") == 0)
			snprintf(s->bin_dir, sizeof(s->bin_dir), "%s", eq + 3);
		else if (strcmp(line, "version") == 0)
			snprintf(s->version, sizeof(s->version), "%s", eq + 3);
		else if (strcmp(line, "agent") == 0 && strncmp(eq + 3, "systemd:", 8) == 0)
			snprintf(s->agent, sizeof(s->agent), "%s", eq + 3);
	}
	free(data);
	if (s->config[0] == '\0' || s->backup[0] == '\0' || s->bin_dir[0] == '\0')
		return pgr_err_set(err, "%s: incomplete (config, backup, bin_dir)", path);
	return 0;
}

/* Writes data over path durably, keeping its mode and owner (the user's file, Patroni's to read). */
static int rewrite_keeping_owner(const char *path, const char *data, pgr_err *err)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return pgr_err_set(err, "%s: %s", path, strerror(errno));
	if (file_write_durable(path, data, strlen(data), st.st_mode & 07777, err) != 0)
		return -1;
	if (chown(path, st.st_uid, st.st_gid) != 0 && errno != EPERM)
		return pgr_err_set(err, "chown %s: %s", path, strerror(errno));
	return 0;
}

/* "150018" -> "15.18" */
static void server_version_text(int v, char *buf, size_t len)
{
	snprintf(buf, len, "%d.%d", v / 10000, v % 100);
}

/* The pgrefresh name of a scope: '-' and other signs become '_' ("15-main" -> "15_main"). */
static void name_from_scope(const char *scope, char *buf, size_t len)
{
	size_t i;

	for (i = 0; scope[i] != '\0' && i + 1 < len; i++) {
		char c = scope[i];

		buf[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') ? c : '_';
	}
	buf[i] = '\0';
}

/* Prints a unified diff of old and new text (files at path) on out, with diff(1). */
static void print_diff(const char *path, const char *newtext, FILE *out)
{
	char tmp[] = "/tmp/pgrefresh-adopt-XXXXXX";
	char label[PATH_MAX + 32], diff[8192];
	char *argv[] = { "/usr/bin/diff", "-u", "--label", (char *)path, "--label", label, (char *)path, tmp, NULL };
	int fd = mkstemp(tmp), status = 0;
	pgr_err ignored;
	size_t len = strlen(newtext);

	snprintf(label, sizeof(label), "%s (adopted)", path);
	if (fd < 0)
		return;
	if (write(fd, newtext, len) != (ssize_t)len) {
		close(fd);
		unlink(tmp);
		return;
	}
	close(fd);
	if (proc_run(argv, NULL, 10000, diff, sizeof(diff), &status, &ignored) == 0)
		fputs(diff, out);
	unlink(tmp);
}

/* Reads and parses the Patroni config; the refusal when it is missing. */
static int read_patroni_config(const char *path, char **text, adopt_patroni_conf *pc, pgr_err *err)
{
	size_t len;

	if (access(path, F_OK) != 0)
		return refuse(err, PGR_EXIT_ERROR,
			      "name it: pgrefresh adopt --config PATH (Debian's: /etc/patroni/VERSION-CLUSTER.yml, "
			      "made by pg_createconfig_patroni)",
			      "no Patroni config at %s", path);
	if (file_read_all(path, text, &len, err) != 0)
		return PGR_EXIT_ERROR;
	if (adopt_yml_read(*text, path, pc, err) != 0) {
		pgr_err_hint(err, "fix the Patroni config (patroni --validate-config %s), then pgrefresh adopt again", path);
		return PGR_EXIT_ERROR;
	}
	return PGR_EXIT_OK;
}

/* The cluster as Patroni knows it: members sorted by name, unit numbers in that order. */
static int cluster_units(const adopt_patroni_conf *pc, const char *name, const patroni_cluster *cl, cluster_conf *conf,
			 int *self, pgr_err *err)
{
	int order[PATRONI_MAX_MEMBERS];

	*self = -1;
	for (int i = 0; i < cl->member_count; i++)
		order[i] = i;
	for (int i = 1; i < cl->member_count; i++)
		for (int j = i; j > 0 && strcmp(cl->members[order[j - 1]].name, cl->members[order[j]].name) > 0; j--) {
			int t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	if (cl->member_count > CONF_MAX_UNITS)
		return pgr_err_set(err, "more than %d members", CONF_MAX_UNITS);
	for (int i = 0; i < cl->member_count; i++) {
		const patroni_member *m = &cl->members[order[i]];
		conf_unit *u = &conf->units[i];
		char host[64];
		int port = 0;
		const char *hp = strstr(m->api_url, "://");

		memset(u, 0, sizeof(*u));
		u->number = i;
		snprintf(u->name, sizeof(u->name), "%s/%d", name, i);
		snprintf(u->member, sizeof(u->member), "%s", m->name);
		snprintf(u->host, sizeof(u->host), "%s", m->host);
		u->pg_port = m->port;
		if (hp != NULL) {
			char a[160];

			snprintf(a, sizeof(a), "%s", hp + 3);
			a[strcspn(a, "/")] = '\0';
			if (adopt_split_hostport(a, host, sizeof(host), &port) != 0)
				port = 0;
		}
		if (port == 0 || u->pg_port == 0)
			return pgr_err_set(err, "member %s: Patroni reports no REST API or PostgreSQL address", m->name);
		u->api_port = port;
		if (strcmp(m->name, pc->name) == 0)
			*self = i;
	}
	conf->unit_count = cl->member_count;
	if (*self < 0)
		return pgr_err_set(err, "Patroni's cluster %s does not list this member (%s)", pc->scope, pc->name);
	return 0;
}

/*
 * Whether the agent's user (postgres, when we are root) can read path: as that user, not by mode bits. An
 * agent systemd runs (User=postgres) has postgres's supplementary groups (ssl-cert, for Debian's keys); one
 * pgrefresh starts has none.
 */
static bool agent_can_read(const proc_user *user, bool with_groups, const char *path)
{
	char uid[32], gid[32], out[64];
	char *plain[] = { "/usr/bin/test", "-r", (char *)path, NULL };
	char *grouped[] = { "/usr/bin/setpriv", "--reuid", uid, "--regid", gid, "--init-groups", "/usr/bin/test", "-r",
			    (char *)path, NULL };
	int status = -1;
	pgr_err ignored;

	if (!user->switch_user)
		return access(path, R_OK) == 0;
	snprintf(uid, sizeof(uid), "%u", (unsigned)user->uid);
	snprintf(gid, sizeof(gid), "%u", (unsigned)user->gid);
	if (with_groups)
		return proc_run(grouped, NULL, 10000, out, sizeof(out), &status, &ignored) == 0 && status == 0;
	return proc_run(plain, user, 10000, out, sizeof(out), &status, &ignored) == 0 && status == 0;
}

/* Every TLS file the translated keys name must be readable by the agent: a refusal naming the first not. */
static int check_files_readable(const conf_security *sec, bool with_groups, const char *config, pgr_err *err)
{
	const char *files[ADOPT_SECURITY_FILES], *keys[ADOPT_SECURITY_FILES];
	proc_user user;

	if (proc_user_for_servers(&user, err) != 0)
		return PGR_EXIT_ERROR;
	adopt_security_files(sec, files, keys);
	for (int i = 0; i < ADOPT_SECURITY_FILES; i++)
		if (files[i][0] != '\0' && !agent_can_read(&user, with_groups, files[i]))
			return refuse(err, PGR_EXIT_REFUSED,
				      "let the agent's user read it (chgrp postgres FILE; chmod g+r FILE), then pgrefresh adopt "
				      "again",
				      "%s names %s %s, which pgrefresh's agent (user %s) cannot read", config, keys[i], files[i],
				      user.name);
	return PGR_EXIT_OK;
}

/* Writes secret name of dir (dir/secrets.d/name, 0600): value and a line break. */
static int secret_write(const char *dir, const char *name, const char *value, pgr_err *err)
{
	char path[PATH_MAX + 96], buf[300];
	int n, rc;

	snprintf(path, sizeof(path), "%s/secrets.d", dir);
	if (dir_make_all(path, 0700, err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/secrets.d/%s", dir, name);
	n = snprintf(buf, sizeof(buf), "%s\n", value);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return pgr_err_set(err, "secret %s: too long", name);
	rc = file_write_durable(path, buf, (size_t)n, 0600, err);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* The Patroni client's secret: "user:password", as patroni_auth_secret holds it. */
static int api_secret_write(const char *dir, const adopt_patroni_conf *pc, const conf_security *sec, pgr_err *err)
{
	char cred[200];
	int rc;

	snprintf(cred, sizeof(cred), "%s:%s", pc->api_user, pc->api_password);
	rc = secret_write(dir, sec->patroni_auth_secret, cred, err);
	explicit_bzero(cred, sizeof(cred));
	return rc;
}

/*
 * Whether Patroni takes the config's restapi.authentication: PATCH /config with an empty body, which
 * Patroni checks the credentials of first and then refuses as empty (400) without changing anything.
 */
static int check_api_password(const adopt_patroni_conf *pc, const conf_security *sec, const char *api_url,
			      const char *config, pgr_err *err)
{
	char url[256];
	http_opts opts = { 0 };
	http_reply reply;
	long status;

	if (pc->api_user[0] == '\0')
		return PGR_EXIT_OK;
	snprintf(url, sizeof(url), "%s/config", api_url);
	opts.ca_file = sec->patroni_ca;
	opts.basic_user = pc->api_user;
	opts.basic_password = pc->api_password;
	if (http_request_opts("PATCH", url, "{}", 5000, &opts, &reply, err) != 0) {
		pgr_err_hint(err, "check restapi and ctl.cacert in %s, then pgrefresh adopt again", config);
		return PGR_EXIT_UNREACHABLE;
	}
	status = reply.status;
	http_reply_free(&reply);
	if (status == 401 || status == 403)
		return refuse(err, PGR_EXIT_REFUSED,
			      "put the password Patroni runs with in restapi.authentication, then pgrefresh adopt again",
			      "%s: Patroni refuses restapi.authentication (user %s, HTTP %ld): a wrong password", config,
			      pc->api_user, status);
	return PGR_EXIT_OK;
}

int adopt_run(const adopt_opts *o, FILE *out, pgr_err *err)
{
	adopt_patroni_conf pc;
	char *text = NULL, *edited = NULL;
	char api_url[200], etcd_url[600], confdir[PATH_MAX], udir[PATH_MAX + 64], path[PATH_MAX + 96],
		link[PATH_MAX + 96], running[CATALOG_VERSION_LEN], have[CATALOG_VERSION_LEN];
	patroni_node node;
	patroni_cluster cl;
	etcd_client etcd;
	cluster_conf *conf = NULL;
	cluster_secrets secrets;
	catalog_entry entry;
	adopted_state st;
	pg_version bin_version;
	proc_user user;
	conf_security sec;
	patroni_client pcl;
	bool pid1, installed;
	adopt_agent_how how;
	char instance[64];
	int rc, self;

	memset(&etcd, 0, sizeof(etcd));
	rc = read_patroni_config(o->config, &text, &pc, err);
	if (rc != PGR_EXIT_OK)
		goto out;
	/* TLS and passwords: what Patroni uses, translated into pgrefresh.conf's keys and the conf dir's secrets */
	if (adopt_yml_security(&pc, &sec, err) != 0) {
		pgr_err_prefix(err, "%s", o->config);
		pgr_err_hint(err, "fix it in %s, then pgrefresh adopt again", o->config);
		rc = PGR_EXIT_REFUSED;
		goto out;
	}
	memset(&pcl, 0, sizeof(pcl));
	snprintf(pcl.ca_file, sizeof(pcl.ca_file), "%s", sec.patroni_ca);
	if (o->dir[0] != '\0')
		snprintf(confdir, sizeof(confdir), "%s", o->dir);
	else
		snprintf(confdir, sizeof(confdir), "%s/%s", ADOPT_DEFAULT_CONF_ROOT, pc.scope);
	/* already adopted: by this conf dir, or bin_dir already a link of pgrefresh's */
	adopt_agent_facts(&pid1, &installed);
	how = adopt_agent_decide(pid1, installed, confdir, ADOPT_DEFAULT_CONF_ROOT, instance, sizeof(instance));
	rc = check_files_readable(&sec, how == ADOPT_AGENT_SYSTEMD, o->config, err);
	if (rc != PGR_EXIT_OK)
		goto out;
	snprintf(udir, sizeof(udir), "%s/units/%s", confdir, pc.name);
	path_join(path, sizeof(path), udir, ADOPTED_FILE);
	if (access(path, F_OK) == 0 || strstr(pc.bin_dir, "/units/") != NULL) {
		rc = refuse(err, PGR_EXIT_REFUSED, "to give it back first: pgrefresh unadopt --dir CONFDIR",
			    "%s is already adopted (bin_dir %s)", pc.name, pc.bin_dir);
		goto out;
	}
	snprintf(api_url, sizeof(api_url), "%s://%s", pc.api_tls ? "https" : "http", pc.api_connect);
	if (patroni_get_node(&pcl, api_url, 5000, &node, err) != 0) {
		if (http_err_tls(err)) {
			pgr_err_prefix(err, "Patroni of %s at %s", pc.name, api_url);
			pgr_err_hint(err, "check restapi.certfile and ctl.cacert (or restapi.cafile) in %s", o->config);
			rc = PGR_EXIT_REFUSED;
			goto out;
		}
		pgr_err_prefix(err, "Patroni of %s is not running (its REST API %s does not answer)", pc.name, api_url);
		pgr_err_hint(err, "start it (systemctl start patroni@%s), then pgrefresh adopt again", pc.scope);
		rc = PGR_EXIT_UNREACHABLE;
		goto out;
	}
	rc = check_api_password(&pc, &sec, api_url, o->config, err);
	if (rc != PGR_EXIT_OK)
		goto out;
	snprintf(etcd_url, sizeof(etcd_url), "%s://%s", pc.etcd_protocol, pc.etcd_hosts);
	for (char *c = etcd_url; (c = strchr(c, ',')) != NULL; c++) {
		/* "h:p,h:p" -> "http://h:p,http://h:p" */
		char rest[600];

		snprintf(rest, sizeof(rest), "%s", c + 1);
		snprintf(c + 1, sizeof(etcd_url) - (size_t)(c + 1 - etcd_url), "%s://%s", pc.etcd_protocol, rest);
	}
	if (etcd_client_init(&etcd, etcd_url, err) != 0 ||
	    etcd_client_set_tls(&etcd, sec.etcd_ca, sec.etcd_cert, sec.etcd_key, err) != 0 || etcd_health(&etcd, err) != 0) {
		if (http_err_tls(err)) {
			pgr_err_prefix(err, "etcd at %s", etcd_url);
			pgr_err_hint(err, "check etcd3's cacert, cert and key in %s", o->config);
			rc = PGR_EXIT_REFUSED;
			goto out;
		}
		pgr_err_prefix(err, "etcd at %s cannot be reached", etcd_url);
		pgr_err_hint(err, "start etcd (systemctl start etcd), or fix etcd3.hosts in %s; then pgrefresh adopt again",
			     o->config);
		rc = PGR_EXIT_UNREACHABLE;
		goto out;
	}
	if (pc.etcd_user[0] != '\0') {
		/* the password, tried now: a read where pgrefresh keeps its keys */
		etcd_kv kv;
		bool found = false;

		memset(&kv, 0, sizeof(kv));
		if (etcd_client_set_auth(&etcd, pc.etcd_user, pc.etcd_password, err) != 0 ||
		    etcd_get(&etcd, "/pgrefresh/", &kv, &found, err) != 0) {
			pgr_err_prefix(err, "%s: etcd3.username/password (user %s)", o->config, pc.etcd_user);
			pgr_err_hint(err, "put the password Patroni uses in etcd3.password, and let user %s read and write "
					  "/pgrefresh/ (etcdctl role grant-permission); then pgrefresh adopt again",
				     pc.etcd_user);
			rc = PGR_EXIT_REFUSED;
			goto out;
		}
		if (found)
			etcd_kv_free(&kv);
	}
	if (patroni_get_cluster(&pcl, api_url, 5000, &cl, err) != 0) {
		rc = PGR_EXIT_UNREACHABLE;
		goto out;
	}
	/* one version on every unit, and bin_dir holds it */
	server_version_text(node.server_version, running, sizeof(running));
	if (node.server_version == 0) {
		rc = refuse(err, PGR_EXIT_REFUSED, "start it (patronictl restart), then pgrefresh adopt again",
			    "PostgreSQL of %s is not running (Patroni says %s)", pc.name, node.state);
		goto out;
	}
	for (int i = 0; i < cl.member_count; i++) {
		patroni_node other;
		char v[CATALOG_VERSION_LEN];

		if (patroni_get_node(&pcl, cl.members[i].api_url, 5000, &other, err) != 0) {
			pgr_err_prefix(err, "member %s", cl.members[i].name);
			pgr_err_hint(err, "bring every member up (patronictl list), then pgrefresh adopt again");
			rc = PGR_EXIT_UNREACHABLE;
			goto out;
		}
		server_version_text(other.server_version, v, sizeof(v));
		if (other.server_version != node.server_version) {
			pgr_err_set(err, "versions differ between units: %s runs %s, %s runs %s", pc.name, running,
				    cl.members[i].name, other.server_version ? v : "nothing");
			pgr_err_hint(err, "bring every unit to one version first (restart the one behind: patronictl "
					  "restart %s MEMBER), then pgrefresh adopt again", pc.scope);
			rc = PGR_EXIT_REFUSED;
			goto out;
		}
	}
	if (catalog_detect_version(pc.bin_dir, &bin_version, err) != 0) {
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	pg_version_format(&bin_version, have, sizeof(have));
	if (strcmp(have, running) != 0) {
		pgr_err_set(err, "bin_dir %s holds %s but PostgreSQL runs %s: the binaries were replaced under it", pc.bin_dir,
			    have, running);
		pgr_err_hint(err, "restart the unit on what bin_dir holds (patronictl restart %s %s), then pgrefresh adopt "
				  "again", pc.scope, pc.name);
		rc = PGR_EXIT_REFUSED;
		goto out;
	}

	conf = calloc(1, sizeof(*conf));
	if (conf == NULL) {
		pgr_err_set(err, "out of memory");
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	snprintf(conf->dir, sizeof(conf->dir), "%s", confdir);
	if (o->name[0] != '\0')
		snprintf(conf->name, sizeof(conf->name), "%s", o->name);
	else
		name_from_scope(pc.scope, conf->name, sizeof(conf->name));
	snprintf(conf->etcd, sizeof(conf->etcd), "%s", etcd_url);
	if (o->catalog[0] != '\0')
		snprintf(conf->catalog, sizeof(conf->catalog), "%s", o->catalog);
	else
		catalog_default_dir(conf->catalog, sizeof(conf->catalog));
	snprintf(conf->superuser, sizeof(conf->superuser), "%s", pc.superuser);
	conf->security = sec;
	conf->local = false;
	if (o->pgbouncer[0] != '\0') {
		conf_pooler *p = conf_pooler_add(conf);
		char host[64];
		int port;

		if (p == NULL || adopt_split_hostport(o->pgbouncer, host, sizeof(host), &port) != 0) {
			rc = refuse(err, PGR_EXIT_USAGE, "pgrefresh adopt --pgbouncer HOST:PORT --pgbouncer-config PATH",
				    "bad --pgbouncer %s (expected its admin address host:port)", o->pgbouncer);
			goto out;
		}
		snprintf(p->host, sizeof(p->host), "%s", host);
		p->port = port;
		snprintf(p->config_host, sizeof(p->config_host), "%s", host);
		snprintf(p->config, sizeof(p->config), "%s", o->pgbouncer_config);
	}
	if (cluster_units(&pc, conf->name, &cl, conf, &self, err) != 0) {
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	path_join(link, sizeof(link), udir, "bin");
	if (adopt_yml_set_bin_dir(text, link, &edited, err) != 0) {
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	fprintf(out, "%s: %s of cluster %s (scope %s), PostgreSQL %s, %d members; etcd %s\n",
		o->dry_run ? "would adopt" : "adopting", conf->units[self].name, conf->name, pc.scope, running,
		conf->unit_count, etcd_url);
	if (o->dry_run) {
		fprintf(out, "catalog %s: %s\nconf dir %s; bin_dir -> %s -> the catalog's %s\n", conf->catalog,
			catalog_find(conf->catalog, running, &entry, err) == 0 ? "has it" : "a copy of bin_dir's installation",
			confdir, link, running);
		print_diff(o->config, edited, out);
		rc = PGR_EXIT_OK;
		goto out;
	}

	/* 1. the installation, into the catalog (what the unit runs from now on) */
	if (catalog_find(conf->catalog, running, &entry, err) != 0) {
		if (catalog_copy_installation(conf->catalog, pc.bin_dir, &entry, err) != 0) {
			rc = PGR_EXIT_ERROR;
			goto out;
		}
		fprintf(out, "copied %s into the catalog: %s\n", pc.bin_dir, entry.root);
	}
	if (catalog_check_runnable(&entry, err) != 0) {
		pgr_err_hint(err, "pgrefresh versions --catalog %s", conf->catalog);
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	/* 2. the conf dir: pgrefresh.conf, secrets, the unit, its link, the agent's binary */
	memset(&secrets, 0, sizeof(secrets));
	snprintf(secrets.superuser_password, sizeof(secrets.superuser_password), "%s", pc.superuser_password);
	snprintf(st.config, sizeof(st.config), "%s", o->config);
	snprintf(st.backup, sizeof(st.backup), "%s%s", o->config, BACKUP_SUFFIX);
	snprintf(st.bin_dir, sizeof(st.bin_dir), "%s", pc.bin_dir);
	snprintf(st.version, sizeof(st.version), "%s", running);
	st.agent[0] = '\0';
	if (access(st.backup, F_OK) == 0) {
		rc = refuse(err, PGR_EXIT_REFUSED, "move it away if it is stale, then pgrefresh adopt again",
			    "%s exists: a backup from an earlier adopt", st.backup);
		goto out;
	}
	{
		char unitfile[PATH_MAX + 16], line[64], *data = NULL;
		size_t dlen;
		int n;

		path_join(unitfile, sizeof(unitfile), confdir, "unit");
		n = snprintf(line, sizeof(line), "%s\n", conf->units[self].name);
		snprintf(path, sizeof(path), "%s/libexec", confdir);
		if (dir_make_all(udir, 0755, err) != 0 || dir_make_all(path, 0755, err) != 0 || conf_save(conf, err) != 0 ||
		    secrets_save(confdir, &secrets, err) != 0 ||
		    (sec.etcd_password_secret[0] != '\0' &&
		     secret_write(confdir, sec.etcd_password_secret, pc.etcd_password, err) != 0) ||
		    (sec.patroni_auth_secret[0] != '\0' && api_secret_write(confdir, &pc, &sec, err) != 0) ||
		    file_write_durable(unitfile, line, (size_t)n, 0644, err) != 0 ||
		    symlink_replace(entry.bin, link, err) != 0) {
			rc = PGR_EXIT_ERROR;
			goto out;
		}
		snprintf(path, sizeof(path), "%s/libexec/pgrefresh", confdir);
		if (file_read_all(o->self_exe, &data, &dlen, err) != 0 ||
		    file_write_durable(path, data, dlen, 0755, err) != 0) {
			free(data);
			rc = PGR_EXIT_ERROR;
			goto out;
		}
		free(data);
		if (proc_user_for_servers(&user, err) != 0 ||
		    (user.switch_user && path_chown_all(confdir, user.uid, user.gid, err) != 0)) {
			rc = PGR_EXIT_ERROR;
			goto out;
		}
	}
	/* 3. the config: a backup, then bin_dir on the link, written durably; Patroni reloads it */
	{
		size_t tlen = strlen(text);
		struct stat sb;

		if (stat(o->config, &sb) != 0 || file_write_durable(st.backup, text, tlen, sb.st_mode & 07777, err) != 0 ||
		    (chown(st.backup, sb.st_uid, sb.st_gid) != 0 && errno != EPERM)) {
			pgr_err_prefix(err, "the backup of %s", o->config);
			rc = PGR_EXIT_ERROR;
			goto out;
		}
	}
	path_join(path, sizeof(path), udir, ADOPTED_FILE);
	if (state_write(path, &st, err) != 0 || rewrite_keeping_owner(o->config, edited, err) != 0) {
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	fprintf(out, "%s: bin_dir %s -> %s (backup %s)\n", o->config, pc.bin_dir, link, st.backup);
	conf_patroni_client(conf, &pcl);
	if (patroni_reload(&pcl, api_url, 5000, err) != 0) {
		pgr_err_prefix(err, "the config is written, but Patroni did not reload it");
		pgr_err_hint(err, "reload it (systemctl reload patroni@%s)", pc.scope);
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	/* 4. the agent: systemd's pgrefresh-agent@INSTANCE where systemd runs this host, else started here */
	if (how == ADOPT_AGENT_SYSTEMD) {
		snprintf(st.agent, sizeof(st.agent), "systemd:%s", instance);
		path_join(path, sizeof(path), udir, ADOPTED_FILE);
		if (state_write(path, &st, err) != 0 || adopt_agent_systemctl("enable", instance, err) != 0) {
			pgr_err_hint(err, "journalctl -u pgrefresh-agent@%s", instance);
			rc = PGR_EXIT_ERROR;
			goto out;
		}
	} else if (local_agent_start(conf, &conf->units[self], err) != 0) {
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	fprintf(out, "adopted %s (%s): its agent runs%s%s; pgrefresh status --dir %s\n", conf->units[self].name,
		pc.name, st.agent[0] ? " as pgrefresh-agent@" : "", st.agent[0] ? instance : "", confdir);
	fprintf(out, "next: Patroni reads bin_dir only when it starts: restart it with PostgreSQL kept running, "
		     "`patronictl -c %s pause; systemctl restart patroni@%s; patronictl -c %s resume`\n",
		o->config, pc.scope, o->config);
	rc = PGR_EXIT_OK;
out:
	explicit_bzero(&pc, sizeof(pc));
	if (text != NULL)
		explicit_bzero(text, strlen(text));
	free(text);
	free(edited);
	free(conf);
	return rc;
}

/* The unit of CONFDIR: its name from CONFDIR/unit. */
static const conf_unit *own_unit(const cluster_conf *conf, pgr_err *err)
{
	char path[PATH_MAX + 16], *data = NULL;
	size_t len;
	const conf_unit *u;

	path_join(path, sizeof(path), conf->dir, "unit");
	if (file_read_all(path, &data, &len, err) != 0)
		return NULL;
	data[strcspn(data, "\r\n")] = '\0';
	u = conf_find_unit(conf, data);
	if (u == NULL)
		pgr_err_set(err, "%s names %s, which is not in pgrefresh.conf", path, data);
	free(data);
	return u;
}

int unadopt_run(const char *dir, adopt_bin_choice choice, FILE *out, pgr_err *err)
{
	cluster_conf conf;
	const conf_unit *unit;
	adopted_state st;
	char path[PATH_MAX + 96], api_url[200], running[CATALOG_VERSION_LEN], have[CATALOG_VERSION_LEN],
		bin_dir[PATH_MAX];
	char *text = NULL, *edited = NULL;
	patroni_node node;
	patroni_client pc;
	pg_version v;
	catalog_entry entry;
	etcd_client etcd;
	state_scope scope;
	int rc = PGR_EXIT_ERROR;

	if (conf_load(dir, &conf, err) != 0) {
		pgr_err_hint(err, "name the conf dir adopt wrote: pgrefresh unadopt --dir /etc/pgrefresh/INSTANCE");
		return PGR_EXIT_ERROR;
	}
	unit = own_unit(&conf, err);
	if (unit == NULL)
		return PGR_EXIT_ERROR;
	conf_unit_path(&conf, unit, ADOPTED_FILE, path, sizeof(path));
	if (access(path, F_OK) != 0)
		return refuse(err, PGR_EXIT_REFUSED, "pgrefresh adopt --config PATH --dir DIR adopts a unit",
			      "%s is not adopted (no %s)", unit->name, path);
	if (state_read(path, &st, err) != 0)
		return PGR_EXIT_ERROR;
	conf_unit_patroni(&conf, unit, &pc, api_url, sizeof(api_url));
	if (patroni_get_node(&pc, api_url, 5000, &node, err) != 0 || node.server_version == 0) {
		pgr_err_set(err, "Patroni of %s does not answer at %s, or its PostgreSQL is not running", unit->name, api_url);
		pgr_err_hint(err, "start it (systemctl start patroni@INSTANCE), then pgrefresh unadopt again");
		return PGR_EXIT_UNREACHABLE;
	}
	server_version_text(node.server_version, running, sizeof(running));
	if (choice == ADOPT_BIN_ORIGINAL) {
		snprintf(bin_dir, sizeof(bin_dir), "%s", st.bin_dir);
		if (catalog_detect_version(bin_dir, &v, err) != 0)
			return PGR_EXIT_ERROR;
		pg_version_format(&v, have, sizeof(have));
		if (strcmp(have, running) != 0) {
			pgr_err_set(err, "%s runs %s but its original bin_dir %s holds %s: its next restart would change its version",
				    unit->name, running, bin_dir, have);
			pgr_err_hint(err, "keep the catalog's copy: pgrefresh unadopt --bin-dir catalog (or install %s there "
					  "first)", running);
			return PGR_EXIT_REFUSED;
		}
	} else {
		if (catalog_find(conf.catalog, running, &entry, err) != 0) {
			pgr_err_hint(err, "pgrefresh versions --catalog %s", conf.catalog);
			return PGR_EXIT_ERROR;
		}
		snprintf(bin_dir, sizeof(bin_dir), "%s", entry.bin);
	}
	/* 1. the agent: stopped (systemd's pgrefresh-agent@INSTANCE disabled and stopped, when it ran it) */
	if (strncmp(st.agent, "systemd:", 8) == 0) {
		if (adopt_agent_systemctl("disable", st.agent + 8, err) != 0)
			return PGR_EXIT_ERROR;
	} else if (local_agent_stop(&conf, unit, 30000, err) != 0) {
		return PGR_EXIT_ERROR;
	}
	/* 2. the config from the backup, bin_dir as chosen; Patroni reloads it */
	{
		size_t len;

		if (file_read_all(st.backup, &text, &len, err) != 0)
			goto out;
	}
	if (choice == ADOPT_BIN_CATALOG) {
		if (adopt_yml_set_bin_dir(text, bin_dir, &edited, err) != 0)
			goto out;
	}
	if (rewrite_keeping_owner(st.config, edited ? edited : text, err) != 0)
		goto out;
	if (patroni_reload(&pc, api_url, 5000, err) != 0) {
		pgr_err_prefix(err, "the config is back, but Patroni did not reload it");
		pgr_err_hint(err, "reload it (systemctl reload patroni@INSTANCE), then pgrefresh unadopt --dir %s again",
			     conf.dir);
		goto out;
	}
	fprintf(out, "%s: bin_dir back to %s (%s)\n", st.config, bin_dir, running);
	if (unlink(st.backup) != 0 && errno != ENOENT) {
		pgr_err_set(err, "remove %s: %s", st.backup, strerror(errno));
		goto out;
	}
	/* 3. the unit's record in etcd */
	conf_state_scope(&conf, &scope);
	if (conf_etcd_client(&conf, &etcd, err) != 0 || unit_record_delete(&etcd, &scope, unit->member, err) != 0) {
		pgr_err_prefix(err, "the config is back; the unit's record in etcd stays");
		rc = PGR_EXIT_UNREACHABLE;
		goto out;
	}
	/* 4. what adopt wrote in the conf dir, by name */
	{
		static const char *const leaves[] = { "bin", ADOPTED_FILE, "agent.pid", "agent.log" };
		static const char *const made[] = { "pgrefresh.conf", "secrets", "unit" };
		char p2[PATH_MAX + 96];

		for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
			conf_unit_path(&conf, unit, leaves[i], p2, sizeof(p2));
			(void)unlink(p2);
		}
		conf_unit_dir(&conf, unit, p2, sizeof(p2));
		(void)rmdir(p2);
		snprintf(p2, sizeof(p2), "%s/units", conf.dir);
		(void)rmdir(p2);
		snprintf(p2, sizeof(p2), "%s/libexec/pgrefresh", conf.dir);
		(void)unlink(p2);
		snprintf(p2, sizeof(p2), "%s/libexec", conf.dir);
		(void)rmdir(p2);
		for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
			snprintf(p2, sizeof(p2), "%s/%s", conf.dir, made[i]);
			(void)unlink(p2);
		}
		/* the secrets adopt translated from the Patroni config */
		if (conf.security.etcd_password_secret[0] != '\0') {
			snprintf(p2, sizeof(p2), "%s/secrets.d/%s", conf.dir, conf.security.etcd_password_secret);
			(void)unlink(p2);
		}
		if (conf.security.patroni_auth_secret[0] != '\0') {
			snprintf(p2, sizeof(p2), "%s/secrets.d/%s", conf.dir, conf.security.patroni_auth_secret);
			(void)unlink(p2);
		}
		snprintf(p2, sizeof(p2), "%s/secrets.d", conf.dir);
		(void)rmdir(p2);
		(void)rmdir(conf.dir);
	}
	fprintf(out, "unadopted %s: its config names %s; the catalog keeps its versions\n", unit->name, bin_dir);
	fprintf(out, "next: Patroni reads bin_dir only when it starts: restart it now with PostgreSQL kept running, "
		     "`patronictl -c %s pause; systemctl restart patroni@SCOPE; patronictl -c %s resume`\n",
		st.config, st.config);
	rc = PGR_EXIT_OK;
out:
	free(text);
	free(edited);
	return rc;
}

int adopt_unit_write_tags(const cluster_conf *conf, const conf_unit *unit, const patroni_tags *tags, bool *adopted,
			  pgr_err *err)
{
	char path[PATH_MAX + 96];
	adopted_state st;
	char *text = NULL, *edited = NULL;
	size_t len;
	int rc;

	*adopted = false;
	conf_unit_path(conf, unit, ADOPTED_FILE, path, sizeof(path));
	if (access(path, F_OK) != 0)
		return 0;
	*adopted = true;
	if (state_read(path, &st, err) != 0 || file_read_all(st.config, &text, &len, err) != 0)
		return -1;
	rc = adopt_yml_set_tags(text, tags->replicatefrom, tags->nosync, &edited, err);
	if (rc == 0)
		rc = rewrite_keeping_owner(st.config, edited, err);
	free(text);
	free(edited);
	return rc == 0 ? 0 : pgr_err_prefix(err, "the tags of %s in %s", unit->name, st.config);
}

int adopt_unit_patroni_config(const cluster_conf *conf, const conf_unit *unit, char *path, size_t len, bool *adopted,
			      pgr_err *err)
{
	char file[PATH_MAX + 96];
	adopted_state st;

	*adopted = false;
	path[0] = '\0';
	conf_unit_path(conf, unit, ADOPTED_FILE, file, sizeof(file));
	if (access(file, F_OK) != 0)
		return 0;
	*adopted = true;
	if (state_read(file, &st, err) != 0)
		return -1;
	if (strlen(st.config) >= len)
		return pgr_err_set(err, "%s: the config's path is too long", file);
	snprintf(path, len, "%s", st.config);
	return 0;
}
