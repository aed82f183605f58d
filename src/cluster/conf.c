#include "cluster/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/conf_security.h"
#include "util/fileutil.h"
#include "util/secret.h"

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

static int parse_port(const char *value, int *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* "host:port" into host (hostlen bytes) and port; a host with blanks or control characters is refused */
static int parse_endpoint(const char *value, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(value, ':');

	if (colon == NULL || colon == value || (size_t)(colon - value) >= hostlen)
		return -1;
	for (const char *p = value; p < colon; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ',')
			return -1;
	memcpy(host, value, (size_t)(colon - value));
	host[colon - value] = '\0';
	return parse_port(colon + 1, port);
}

static int set_value(char *dst, size_t len, const char *value, const char *where, int lineno, const char *key,
		     pgr_err *err);

conf_pooler *conf_pooler_add(cluster_conf *conf)
{
	conf_pooler *p;

	if (conf->pgbouncer_count >= CONF_MAX_PGBOUNCERS)
		return NULL;
	p = &conf->pgbouncers[conf->pgbouncer_count];
	memset(p, 0, sizeof(*p));
	if (conf->pgbouncer_count == 0)
		snprintf(p->name, sizeof(p->name), "pgbouncer");
	else
		snprintf(p->name, sizeof(p->name), "pgbouncer-%d", conf->pgbouncer_count);
	snprintf(p->kind, sizeof(p->kind), "pgbouncer");
	snprintf(p->secret, sizeof(p->secret), "%s", CONF_POOLER_DEFAULT_SECRET);
	conf->pgbouncer_count++;
	return p;
}

bool conf_secret_name_ok(const char *name)
{
	return strlen(name) <= 63 && secret_name_ok(name);
}

/* A pooler's name: the characters of a secret's name (it appears in etcd keys and file names). */
static bool pooler_name_ok(const char *name)
{
	return conf_secret_name_ok(name) && strlen(name) < sizeof(((conf_pooler *)0)->name);
}

/* One key of a [pooler] section. */
static int pooler_key(conf_pooler *p, const char *key, const char *value, const char *origin, int lineno, pgr_err *err)
{
	if (strcmp(key, "kind") == 0) {
		if (strcmp(value, "pgbouncer") != 0)
			return pgr_err_set(err, "%s:%d: unknown pooler kind \"%s\" (pgbouncer is the one there is)", origin,
					   lineno, value);
		return set_value(p->kind, sizeof(p->kind), value, origin, lineno, key, err);
	}
	if (strcmp(key, "admin") == 0) {
		if (parse_endpoint(value, p->host, sizeof(p->host), &p->port) != 0)
			return pgr_err_set(err, "%s:%d: bad admin address \"%s\" (expected host:port)", origin, lineno, value);
		return 0;
	}
	if (strcmp(key, "admin_user") == 0) {
		if (value[0] == '\0' || strpbrk(value, " \t'\"\\"))
			return pgr_err_set(err, "%s:%d: bad admin_user \"%s\"", origin, lineno, value);
		return set_value(p->admin_user, sizeof(p->admin_user), value, origin, lineno, key, err);
	}
	if (strcmp(key, "secret") == 0) {
		/* a name, never the secret itself: it names a file, so no path, no dot-file */
		if (!conf_secret_name_ok(value))
			return pgr_err_set(err, "%s:%d: bad secret name (a name of 1 to 63 letters, digits, '_', '-' or '.', "
					   "not starting with '.'; the password itself goes in DIR/secrets.d/NAME)",
					   origin, lineno);
		return set_value(p->secret, sizeof(p->secret), value, origin, lineno, key, err);
	}
	if (strcmp(key, "host") == 0) {
		if (value[0] == '\0' || strpbrk(value, " \t,"))
			return pgr_err_set(err, "%s:%d: bad pooler host \"%s\"", origin, lineno, value);
		return set_value(p->config_host, sizeof(p->config_host), value, origin, lineno, key, err);
	}
	if (strcmp(key, "config") == 0) {
		if (value[0] != '/')
			return pgr_err_set(err, "%s:%d: the pooler's config must be an absolute path", origin, lineno);
		return set_value(p->config, sizeof(p->config), value, origin, lineno, key, err);
	}
	return pgr_err_set(err, "%s:%d: unknown key \"%s\" in [pooler]", origin, lineno, key);
}

static int parse_unit_name(const char *cluster, const char *name, int *number)
{
	char *end;
	long v;
	const char *slash = strchr(name, '/');

	if (slash == NULL)
		slash = strchr(name, '-');
	if (slash == NULL)
		return -1;
	if (cluster[0] && (strlen(cluster) != (size_t)(slash - name) || strncmp(cluster, name, (size_t)(slash - name)) != 0))
		return -1;
	errno = 0;
	v = strtol(slash + 1, &end, 10);
	if (errno != 0 || end == slash + 1 || *end != '\0' || v < 0 || v > 9999)
		return -1;
	*number = (int)v;
	return 0;
}

/* Copies value into a field of len bytes; a value that does not fit is refused, never cut. */
static int set_value(char *dst, size_t len, const char *value, const char *where, int lineno, const char *key,
		     pgr_err *err)
{
	size_t n = strlen(value);

	if (n >= len)
		return pgr_err_set(err, "%s:%d: %s is longer than %zu bytes", where, lineno, key, len - 1);
	if (strpbrk(value, "\r\n") != NULL) /* conf_format refuses it too: it would not read back the same */
		return pgr_err_set(err, "%s:%d: %s holds a line break", where, lineno, key);
	memcpy(dst, value, n + 1);
	return 0;
}

int conf_parse(const char *text, const char *origin, cluster_conf *conf, pgr_err *err)
{
	char *copy = strdup(text);
	char *save = copy;
	char *line;
	int lineno = 0;
	enum { SEC_NONE, SEC_CLUSTER, SEC_UNIT, SEC_POOLER } section = SEC_NONE;
	conf_unit *unit = NULL;
	conf_pooler *pooler = NULL;
	bool old_poolers = false, new_poolers = false;
	int rc = 0;

	if (copy == NULL)
		return pgr_err_set(err, "out of memory");
	memset(conf, 0, sizeof(*conf));
	snprintf(conf->superuser, sizeof(conf->superuser), "postgres");
	for (line = strsep(&save, "\n"); line != NULL; line = strsep(&save, "\n")) {
		char *s = trim(line);
		char *eq, *key, *value;

		lineno++;
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (close == NULL || close[1] != '\0') {
				rc = pgr_err_set(err, "%s:%d: malformed section header \"%s\"", origin, lineno, s);
				break;
			}
			*close = '\0';
			s = trim(s + 1);
			if (strcmp(s, "cluster") == 0) {
				section = SEC_CLUSTER;
			} else if (strncmp(s, "unit ", 5) == 0) {
				char *uname = trim(s + 5);

				if (conf->unit_count >= CONF_MAX_UNITS) {
					rc = pgr_err_set(err, "%s:%d: more than %d units", origin, lineno, CONF_MAX_UNITS);
					break;
				}
				if (conf->name[0] == '\0') {
					rc = pgr_err_set(err, "%s:%d: [unit %s] before the cluster's name (name = ... in [cluster] comes first)",
							 origin, lineno, uname);
					break;
				}
				unit = &conf->units[conf->unit_count];
				if (parse_unit_name(conf->name, uname, &unit->number) != 0) {
					rc = pgr_err_set(err, "%s:%d: bad unit name \"%s\" (expected %s/N)", origin, lineno,
							 uname, conf->name[0] ? conf->name : "<cluster>");
					break;
				}
				snprintf(unit->name, sizeof(unit->name), "%s/%d", conf->name, unit->number);
				snprintf(unit->member, sizeof(unit->member), "%s-%d", conf->name, unit->number);
				snprintf(unit->host, sizeof(unit->host), "127.0.0.1");
				for (int i = 0; i < conf->unit_count; i++) {
					if (conf->units[i].number == unit->number) {
						rc = pgr_err_set(err, "%s:%d: unit %s listed twice", origin, lineno,
								 unit->name);
						break;
					}
				}
				if (rc != 0)
					break;
				conf->unit_count++;
				section = SEC_UNIT;
			} else if (strncmp(s, "pooler ", 7) == 0) {
				char *pname = trim(s + 7);

				if (old_poolers) {
					rc = pgr_err_set(err, "%s:%d: [pooler %s] and the old \"pgbouncer = \" list together: keep one",
							 origin, lineno, pname);
					break;
				}
				if (!pooler_name_ok(pname)) {
					rc = pgr_err_set(err, "%s:%d: bad pooler name \"%s\" (letters, digits, '_', '-', '.')", origin,
							 lineno, pname);
					break;
				}
				for (int i = 0; i < conf->pgbouncer_count; i++) {
					if (strcmp(conf->pgbouncers[i].name, pname) == 0) {
						rc = pgr_err_set(err, "%s:%d: pooler %s listed twice", origin, lineno, pname);
						break;
					}
				}
				if (rc != 0)
					break;
				pooler = conf_pooler_add(conf);
				if (pooler == NULL) {
					rc = pgr_err_set(err, "%s:%d: more than %d poolers", origin, lineno, CONF_MAX_PGBOUNCERS);
					break;
				}
				snprintf(pooler->name, sizeof(pooler->name), "%s", pname);
				new_poolers = true;
				section = SEC_POOLER;
			} else {
				rc = pgr_err_set(err, "%s:%d: unknown section [%s]", origin, lineno, s);
				break;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			rc = pgr_err_set(err, "%s:%d: expected \"key = value\", found \"%s\"", origin, lineno, s);
			break;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		if (section == SEC_CLUSTER) {
			if (strcmp(key, "name") == 0) {
				if (value[0] == '\0' || strlen(value) >= sizeof(conf->name) || strpbrk(value, "/- \t\r\n")) {
					rc = pgr_err_set(err, "%s:%d: bad cluster name \"%s\"", origin, lineno, value);
					break;
				}
				if (conf->unit_count > 0 && strcmp(conf->name, value) != 0) {
					rc = pgr_err_set(err, "%s:%d: the cluster name changes after its units are named %s/N",
							 origin, lineno, conf->name);
					break;
				}
				snprintf(conf->name, sizeof(conf->name), "%s", value);
			} else if (strcmp(key, "etcd") == 0) {
				if ((rc = set_value(conf->etcd, sizeof(conf->etcd), value, origin, lineno, key, err)) != 0)
					break;
			} else if (strcmp(key, "etcd_peer_port") == 0) {
				if (parse_port(value, &conf->etcd_peer_port) != 0) {
					rc = pgr_err_set(err, "%s:%d: bad port \"%s\"", origin, lineno, value);
					break;
				}
			} else if (strcmp(key, "catalog") == 0) {
				if ((rc = set_value(conf->catalog, sizeof(conf->catalog), value, origin, lineno, key, err)) != 0)
					break;
			} else if (strcmp(key, "superuser") == 0) {
				if ((rc = set_value(conf->superuser, sizeof(conf->superuser), value, origin, lineno, key, err)) != 0)
					break;
			} else if (strcmp(key, "pgbackrest_config") == 0 || strcmp(key, "pgbackrest_stanza") == 0) {
				bool cfg = key[11] == 'c';

				if ((rc = set_value(cfg ? conf->pgbackrest_config : conf->pgbackrest_stanza,
						    cfg ? sizeof(conf->pgbackrest_config) : sizeof(conf->pgbackrest_stanza), value,
						    origin, lineno, key, err)) != 0)
					break;
			} else if (conf_security_key(key)) {
				if ((rc = conf_security_set(&conf->security, key, value, origin, lineno, err)) != 0)
					break;
			} else if (strcmp(key, "hosts_net") == 0 || strcmp(key, "hosts_bridge") == 0) {
				bool net = key[6] == 'n';

				if (value[0] == '\0' || strpbrk(value, net ? " \t," : " \t,/") != NULL) {
					rc = pgr_err_set(err, "%s:%d: bad %s \"%s\"", origin, lineno, key, value);
					break;
				}
				if ((rc = set_value(net ? conf->hosts_net : conf->hosts_bridge,
						    net ? sizeof(conf->hosts_net) : sizeof(conf->hosts_bridge), value, origin,
						    lineno, key, err)) != 0)
					break;
			} else if (strcmp(key, "local") == 0) {
				if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
					rc = pgr_err_set(err, "%s:%d: local must be true or false", origin, lineno);
					break;
				}
				conf->local = strcmp(value, "true") == 0;
			} else if (strcmp(key, "pgbouncer") == 0) {
				char *save2 = NULL;
				char *item;

				if (new_poolers) {
					rc = pgr_err_set(err, "%s:%d: the old \"pgbouncer = \" list and [pooler] sections together: "
							 "keep one", origin, lineno);
					break;
				}
				old_poolers = true;
				conf->pgbouncer_count = 0;
				for (item = strtok_r(value, ",", &save2); item; item = strtok_r(NULL, ",", &save2)) {
					conf_pooler *p = conf_pooler_add(conf);

					if (p == NULL || parse_endpoint(trim(item), p->host, sizeof(p->host), &p->port) != 0) {
						rc = pgr_err_set(err, "%s:%d: bad pgbouncer \"%s\" (expected host:port)",
								 origin, lineno, item);
						break;
					}
				}
				if (rc != 0)
					break;
			} else {
				rc = pgr_err_set(err, "%s:%d: unknown key \"%s\" in [cluster]", origin, lineno, key);
				break;
			}
		} else if (section == SEC_UNIT) {
			if (strcmp(key, "host") == 0) {
				if ((rc = set_value(unit->host, sizeof(unit->host), value, origin, lineno, key, err)) != 0)
					break;
			} else if (strcmp(key, "member") == 0) { /* Patroni's name for it, when not <cluster>-N (adopted) */
				if (value[0] == '\0' || strpbrk(value, "/ \t")) {
					rc = pgr_err_set(err, "%s:%d: bad member name \"%s\"", origin, lineno, value);
					break;
				}
				if ((rc = set_value(unit->member, sizeof(unit->member), value, origin, lineno, key, err)) != 0)
					break;
			} else if (strcmp(key, "pg_port") == 0 || strcmp(key, "api_port") == 0) {
				int *port = key[0] == 'p' ? &unit->pg_port : &unit->api_port;

				if (parse_port(value, port) != 0) {
					rc = pgr_err_set(err, "%s:%d: bad port \"%s\"", origin, lineno, value);
					break;
				}
			} else if (strcmp(key, "metrics_port") == 0) {
				if (strcmp(value, "0") != 0 && parse_port(value, &unit->metrics_port) != 0) {
					rc = pgr_err_set(err, "%s:%d: bad port \"%s\" (0: no metrics)", origin, lineno, value);
					break;
				}
			} else {
				rc = pgr_err_set(err, "%s:%d: unknown key \"%s\" in [unit]", origin, lineno, key);
				break;
			}
		} else if (section == SEC_POOLER) {
			if ((rc = pooler_key(pooler, key, value, origin, lineno, err)) != 0)
				break;
		} else {
			rc = pgr_err_set(err, "%s:%d: \"%s\" outside of any section", origin, lineno, key);
			break;
		}
	}
	free(copy);
	if (rc != 0)
		return rc;
	if (conf->name[0] == '\0')
		return pgr_err_set(err, "%s: no cluster name ([cluster] name = ...)", origin);
	if (conf->etcd[0] == '\0')
		return pgr_err_set(err, "%s: no etcd endpoint ([cluster] etcd = http://host:port)", origin);
	if (conf->catalog[0] == '\0')
		return pgr_err_set(err, "%s: no catalog ([cluster] catalog = DIR)", origin);
	for (int i = 0; i < conf->unit_count; i++) {
		if (conf->units[i].pg_port == 0 || conf->units[i].api_port == 0)
			return pgr_err_set(err, "%s: unit %s needs pg_port and api_port", origin, conf->units[i].name);
	}
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		conf_pooler *p = &conf->pgbouncers[i];

		if (p->port == 0)
			return pgr_err_set(err, "%s: pooler %s needs its admin address (admin = host:port)", origin, p->name);
		if (p->config_host[0] == '\0') /* where it listens: its config is there */
			memcpy(p->config_host, p->host, sizeof(p->config_host)); /* same size */
	}
	return conf_security_check(&conf->security, origin, err);
}

int conf_format(const cluster_conf *conf, char *buf, size_t buflen, pgr_err *err)
{
	size_t used = 0;
	int n;

#define EMIT(...)                                                                                            \
	do {                                                                                                 \
		n = snprintf(buf + used, buflen - used, __VA_ARGS__);                                        \
		if (n < 0 || (size_t)n >= buflen - used)                                                     \
			return pgr_err_set(err, "configuration too large");                                  \
		used += (size_t)n;                                                                           \
	} while (0)

	/* one value a line: a line break in a value would be read back as another key */
	if (strpbrk(conf->name, "\r\n") || strpbrk(conf->etcd, "\r\n") || strpbrk(conf->catalog, "\r\n") ||
	    strpbrk(conf->superuser, "\r\n"))
		return pgr_err_set(err, "a value of pgrefresh.conf holds a line break: refused");
	EMIT("# pgrefresh cluster configuration (written by pgrefresh; passwords are in secrets)\n");
	EMIT("[cluster]\nname = %s\netcd = %s\n", conf->name, conf->etcd);
	if (conf->etcd_peer_port)
		EMIT("etcd_peer_port = %d\n", conf->etcd_peer_port);
	EMIT("catalog = %s\nsuperuser = %s\nlocal = %s\n", conf->catalog, conf->superuser,
	     conf->local ? "true" : "false");
	if (conf->hosts_net[0])
		EMIT("hosts_net = %s\n", conf->hosts_net);
	if (conf->hosts_bridge[0])
		EMIT("hosts_bridge = %s\n", conf->hosts_bridge);
	if (conf->pgbackrest_config[0] && !strpbrk(conf->pgbackrest_config, "\r\n"))
		EMIT("pgbackrest_config = %s\n", conf->pgbackrest_config);
	if (conf->pgbackrest_stanza[0] && !strpbrk(conf->pgbackrest_stanza, "\r\n"))
		EMIT("pgbackrest_stanza = %s\n", conf->pgbackrest_stanza);
	if (conf_security_format(&conf->security, buf + used, buflen - used, &n, err) != 0)
		return -1;
	used += (size_t)n;
	for (int i = 0; i < conf->unit_count; i++) {
		const conf_unit *u = &conf->units[i];
		char dflt[sizeof(u->member) + 16];

		EMIT("\n[unit %s]\nhost = %s\npg_port = %d\napi_port = %d\n", u->name, u->host, u->pg_port,
		     u->api_port);
		if (u->metrics_port != 0)
			EMIT("metrics_port = %d\n", u->metrics_port);
		snprintf(dflt, sizeof(dflt), "%s-%d", conf->name, u->number);
		if (strcmp(u->member, dflt) != 0)
			EMIT("member = %s\n", u->member);
	}
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		const conf_pooler *p = &conf->pgbouncers[i];

		if (strpbrk(p->config, "\r\n") || strpbrk(p->config_host, "\r\n") || strpbrk(p->admin_user, "\r\n"))
			return pgr_err_set(err, "a value of pooler %s holds a line break: refused", p->name);
		EMIT("\n[pooler %s]\nkind = %s\nadmin = %s:%d\n", p->name, p->kind[0] ? p->kind : "pgbouncer", p->host,
		     p->port);
		if (p->admin_user[0])
			EMIT("admin_user = %s\n", p->admin_user);
		EMIT("secret = %s\nhost = %s\n", p->secret[0] ? p->secret : CONF_POOLER_DEFAULT_SECRET,
		     p->config_host[0] ? p->config_host : p->host);
		if (p->config[0])
			EMIT("config = %s\n", p->config);
	}
#undef EMIT
	return 0;
}

static int resolve_dir(const char *dir, char *out, size_t len, pgr_err *err)
{
	const char *d = (dir && dir[0]) ? dir : getenv("PGREFRESH_DIR");
	char *real;

	if (d == NULL || d[0] == '\0') {
		pgr_err_set(err, "no cluster directory given");
		pgr_err_hint(err, "pass --dir DIR or set PGREFRESH_DIR (the directory of pgrefresh.conf)");
		return -1;
	}
	real = realpath(d, NULL);
	if (real == NULL) {
		pgr_err_set(err, "cluster directory %s: %s", d, strerror(errno));
		pgr_err_hint(err, "create a cluster with `pgrefresh cluster create --dir %s --units 3 --version V`", d);
		return -1;
	}
	snprintf(out, len, "%s", real);
	free(real);
	return 0;
}

int conf_load(const char *dir, cluster_conf *conf, pgr_err *err)
{
	char real[PATH_MAX];
	char path[PATH_MAX + 32];
	char *text;
	int rc;

	if (resolve_dir(dir, real, sizeof(real), err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/pgrefresh.conf", real);
	if (!path_exists(path)) {
		pgr_err_set(err, "%s holds no cluster (no pgrefresh.conf)", real);
		pgr_err_hint(err, "create one with `pgrefresh cluster create --dir %s --units 3 --version V`", real);
		return -1;
	}
	if (file_read_all(path, &text, NULL, err) != 0)
		return -1;
	rc = conf_parse(text, path, conf, err);
	free(text);
	if (rc != 0) {
		pgr_err_hint(err, "fix %s by hand, or recreate the cluster", path);
		return -1;
	}
	snprintf(conf->dir, sizeof(conf->dir), "%s", real);
	return 0;
}

int conf_save(const cluster_conf *conf, pgr_err *err)
{
	char buf[16384];
	char path[PATH_MAX + 32];

	if (conf_format(conf, buf, sizeof(buf), err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/pgrefresh.conf", conf->dir);
	return file_write_durable(path, buf, strlen(buf), 0644, err);
}

int secrets_load(const char *dir, cluster_secrets *secrets, pgr_err *err)
{
	char path[PATH_MAX + 32];
	char *text, *save = NULL, *line;

	memset(secrets, 0, sizeof(*secrets));
	snprintf(path, sizeof(path), "%s/secrets", dir);
	if (file_read_all(path, &text, NULL, err) != 0)
		return -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		if (strcmp(trim(line), "superuser_password") == 0)
			snprintf(secrets->superuser_password, sizeof(secrets->superuser_password), "%s", trim(eq + 1));
		else if (strcmp(trim(line), "replication_password") == 0)
			snprintf(secrets->replication_password, sizeof(secrets->replication_password), "%s",
				 trim(eq + 1));
		else if (strcmp(trim(line), "rewind_password") == 0)
			snprintf(secrets->rewind_password, sizeof(secrets->rewind_password), "%s", trim(eq + 1));
	}
	free(text);
	if (secrets->superuser_password[0] == '\0')
		return pgr_err_set(err, "%s: no superuser_password", path);
	return 0;
}

int conf_secret_load(const char *dir, const char *name, char *value, size_t len, pgr_err *err)
{
	char path[PATH_MAX + 96];
	char *text, *save = NULL, *line;
	struct stat st;
	bool found = false;

	if (len > 0)
		value[0] = '\0';
	if (!conf_secret_name_ok(name))
		return pgr_err_set(err, "bad secret name \"%.63s\"", name);
	snprintf(path, sizeof(path), "%s/secrets.d/%s", dir, name);
	if (lstat(path, &st) == 0)
		return secret_read(dir, name, value, len, err); /* the one reader of secrets.d */
	snprintf(path, sizeof(path), "%s/secrets", dir);
	if (file_read_all(path, &text, NULL, err) != 0)
		return -1;
	for (line = strtok_r(text, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		*eq = '\0';
		if (strcmp(trim(line), name) == 0 && strlen(trim(eq + 1)) < len) {
			snprintf(value, len, "%s", trim(eq + 1));
			found = value[0] != '\0';
		}
	}
	free(text);
	if (!found)
		return pgr_err_set(err, "no secret %s (neither %s/secrets.d/%s nor a key of %s)", name, dir, name, path);
	return 0;
}

const char *conf_pooler_admin_user(const cluster_conf *conf, const conf_pooler *p)
{
	return p->admin_user[0] ? p->admin_user : conf->superuser;
}

void conf_pooler_config(const cluster_conf *conf, int i, char *buf, size_t len)
{
	if (i >= 0 && i < conf->pgbouncer_count && conf->pgbouncers[i].config[0])
		snprintf(buf, len, "%s", conf->pgbouncers[i].config);
	else if (i == 0)
		snprintf(buf, len, "%s/pgbouncer/pgbouncer.ini", conf->dir);
	else
		snprintf(buf, len, "%s/pgbouncer-%d/pgbouncer.ini", conf->dir, i);
}

int secrets_save(const char *dir, const cluster_secrets *secrets, pgr_err *err)
{
	char path[PATH_MAX + 32];
	char buf[512];
	int n;

	snprintf(path, sizeof(path), "%s/secrets", dir);
	n = snprintf(buf, sizeof(buf), "superuser_password = %s\nreplication_password = %s\nrewind_password = %s\n",
		     secrets->superuser_password, secrets->replication_password, secrets->rewind_password);
	return file_write_durable(path, buf, (size_t)n, 0600, err);
}

const conf_unit *conf_find_member(const cluster_conf *conf, const char *member)
{
	for (int i = 0; i < conf->unit_count; i++)
		if (strcmp(conf->units[i].member, member) == 0)
			return &conf->units[i];
	return NULL;
}

const conf_unit *conf_find_unit(const cluster_conf *conf, const char *name)
{
	int number;
	char *end;
	long v;

	if (parse_unit_name(conf->name, name, &number) != 0) {
		errno = 0;
		v = strtol(name, &end, 10);
		if (errno != 0 || end == name || *end != '\0')
			return NULL;
		number = (int)v;
	}
	for (int i = 0; i < conf->unit_count; i++)
		if (conf->units[i].number == number)
			return &conf->units[i];
	return NULL;
}

void conf_unit_dir(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len)
{
	if (conf->hosts_bridge[0]) /* one unit a host, unit N on host hN (cluster/hosts.h) */
		snprintf(buf, len, "%s/hosts/h%d/units/%s", conf->dir, unit->number, unit->member);
	else
		snprintf(buf, len, "%s/units/%s", conf->dir, unit->member);
}

void conf_unit_path(const cluster_conf *conf, const conf_unit *unit, const char *leaf, char *buf, size_t len)
{
	char dir[PATH_MAX];

	conf_unit_dir(conf, unit, dir, sizeof(dir));
	snprintf(buf, len, "%s/%s", dir, leaf);
}

void conf_unit_api_url(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len)
{
	snprintf(buf, len, "%s://%s:%d", conf->security.patroni_ca[0] != '\0' ? "https" : "http", unit->host,
		 unit->api_port);
}

bool conf_agent_runs_patroni(const cluster_conf *conf)
{
	return conf->local;
}

void conf_etcd_prefix(const cluster_conf *conf, char *buf, size_t len)
{
	snprintf(buf, len, "/pgrefresh/%s/", conf->name);
}

void conf_state_scope(const cluster_conf *conf, state_scope *scope)
{
	state_scope_init(scope, conf->name);
	for (int i = 0; i < conf->unit_count; i++)
		state_scope_add_member(scope, conf->units[i].member);
}

int conf_unit_linked_version(const cluster_conf *conf, const conf_unit *unit, char *version, size_t len)
{
	char link[PATH_MAX];
	char target[PATH_MAX];
	ssize_t n;
	char *slash;

	version[0] = '\0';
	conf_unit_path(conf, unit, "bin", link, sizeof(link));
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	/* CATALOG/<version>/bin */
	while (n > 0 && target[n - 1] == '/')
		target[--n] = '\0';
	slash = strrchr(target, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	slash = strrchr(target, '/');
	snprintf(version, len, "%s", slash ? slash + 1 : target);
	return 0;
}
