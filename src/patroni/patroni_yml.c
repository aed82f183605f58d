#include "patroni/patroni_yml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adopt/adopt.h"
#include "cluster/conf_security.h"
#include "cluster/local_backup.h"
#include "cluster/local_secure.h"
#include "patroni/patroni.h"
#include "util/fileutil.h"
#include "util/proc.h"
#include "util/yaml.h"

/* host:port of every etcd endpoint, in conf's order (a host's own member first), comma-separated, as
 * Patroni's etcd3.hosts takes them: a Patroni cut off from its own member reaches the others */
static void etcd_hostport(const cluster_conf *conf, char *buf, size_t len)
{
	const char *ep = conf->etcd;
	size_t used = 0;

	buf[0] = '\0';
	while (*ep != '\0' && used + 1 < len) {
		const char *s = strstr(ep, "://");
		size_t n;

		if (s != NULL && s < ep + strcspn(ep, ","))
			ep = s + 3;
		n = strcspn(ep, ",/");
		used += (size_t)snprintf(buf + used, len - used, "%s%.*s", used ? "," : "", (int)n, ep);
		ep += strcspn(ep, ",");
		if (*ep == ',')
			ep++;
	}
}

/* Patroni runs as the servers' user: the file is theirs (when pgrefresh runs as root). */
static int file_to_servers_user(const char *path, pgr_err *err)
{
	proc_user user;

	if (proc_user_for_servers(&user, err) != 0)
		return -1;
	return user.switch_user ? path_chown_all(path, user.uid, user.gid, err) : 0;
}

/* The values of one unit's patroni.yml, each a YAML double-quoted scalar (util/yaml.h). */
struct patroni_values {
	char scope[96], name[96], api[160], etcd[400], pg[160], data[PATH_MAX * 2 + 16], bin[PATH_MAX * 2 + 16],
		pgpass[PATH_MAX * 2 + 16], superuser[96], su_pw[160], repl_pw[160], rewind_pw[160],
		sockets[PATH_MAX * 2 + 16], replicatefrom[160];
};

static int quote_joined(const char *what, const char *a, const char *b, char *out, size_t len, pgr_err *err)
{
	char joined[PATH_MAX + 64];

	if (snprintf(joined, sizeof(joined), "%s%s", a, b) >= (int)sizeof(joined))
		return pgr_err_set(err, "%s is too long", what);
	return yaml_quote(what, joined, out, len, err);
}

static int patroni_values_make(const cluster_conf *conf, const cluster_secrets *secrets, const conf_unit *unit,
			       const patroni_tags *tags, struct patroni_values *v, pgr_err *err)
{
	char udir[PATH_MAX], hp[160], etcd[160];

	conf_unit_dir(conf, unit, udir, sizeof(udir));
	etcd_hostport(conf, etcd, sizeof(etcd));
	snprintf(hp, sizeof(hp), "%s:%d", unit->host, unit->api_port);
	if (yaml_quote("the cluster name", conf->name, v->scope, sizeof(v->scope), err) != 0 ||
	    yaml_quote("the member name", unit->member, v->name, sizeof(v->name), err) != 0 ||
	    yaml_quote("the REST API address", hp, v->api, sizeof(v->api), err) != 0 ||
	    yaml_quote("the etcd address", etcd, v->etcd, sizeof(v->etcd), err) != 0)
		return -1;
	snprintf(hp, sizeof(hp), "%s:%d", unit->host, unit->pg_port);
	if (yaml_quote("the PostgreSQL address", hp, v->pg, sizeof(v->pg), err) != 0 ||
	    quote_joined("the unit's directory", udir, "/data", v->data, sizeof(v->data), err) != 0 ||
	    quote_joined("the unit's directory", udir, "/bin", v->bin, sizeof(v->bin), err) != 0 ||
	    quote_joined("the unit's directory", udir, "/pgpass", v->pgpass, sizeof(v->pgpass), err) != 0 ||
	    yaml_quote("the unit's directory", udir, v->sockets, sizeof(v->sockets), err) != 0 ||
	    yaml_quote("the superuser", conf->superuser, v->superuser, sizeof(v->superuser), err) != 0 ||
	    yaml_quote("a password", secrets->superuser_password, v->su_pw, sizeof(v->su_pw), err) != 0 ||
	    yaml_quote("a password", secrets->replication_password, v->repl_pw, sizeof(v->repl_pw), err) != 0 ||
	    yaml_quote("a password", secrets->rewind_password, v->rewind_pw, sizeof(v->rewind_pw), err) != 0 ||
	    yaml_quote("the replicatefrom tag", tags->replicatefrom, v->replicatefrom, sizeof(v->replicatefrom), err) != 0)
		return pgr_err_prefix(err, "patroni.yml of %s", unit->name);
	return 0;
}

int patroni_yml_render(const cluster_conf *conf, const cluster_secrets *secrets, const conf_unit *unit,
		       const patroni_tags *tags, char **out, size_t *out_len, pgr_err *err)
{
	static const patroni_tags no_tags;
	char tag_line[200], hba[300], archive[3 * PATH_MAX + 160] = "";
	struct patroni_values *v;
	local_secure_patroni *sec;
	char *yml;
	size_t cap = 16384;
	int n;

	if (tags == NULL)
		tags = &no_tags;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		return pgr_err_set(err, "out of memory");
	sec = calloc(1, sizeof(*sec));
	if (sec == NULL || patroni_values_make(conf, secrets, unit, tags, v, err) != 0 ||
	    local_secure_patroni_yml(conf, sec, err) != 0) {
		if (sec == NULL)
			pgr_err_set(err, "out of memory");
		free(sec);
		free(v);
		return -1;
	}
	snprintf(tag_line, sizeof(tag_line), "%s%s%s%s", tags->replicatefrom[0] ? "replicatefrom: " : "",
		 tags->replicatefrom[0] ? v->replicatefrom : "", tags->replicatefrom[0] && tags->nosync ? ", " : "",
		 tags->nosync ? "nosync: true" : "");
	if (conf->hosts_net[0]) /* several hosts: their block only (cluster/hosts.h), the CLI's address in it too;
				 * no trust: the socket to the postgres user alone, by peer */
		snprintf(hba, sizeof(hba), "    - local all %s peer\n    - host replication replicator %s scram-sha-256\n"
			 "    - host all all %s scram-sha-256\n", conf->superuser, conf->hosts_net, conf->hosts_net);
	else
		snprintf(hba, sizeof(hba), "    - local all all trust\n"
			 "    - host replication replicator 127.0.0.1/32 scram-sha-256\n"
			 "    - host all all 127.0.0.1/32 scram-sha-256\n");
	{
		/* cluster create --backup: WAL archived with pgBackRest (cluster/local_backup.h) */
		char cmd[3 * PATH_MAX + 96], quoted[sizeof(archive) - 40];

		local_backup_archive_command(conf, unit, cmd, sizeof(cmd));
		if (cmd[0] && yaml_quote("the archive_command", cmd, quoted, sizeof(quoted), err) != 0) {
			free(sec);
			free(v);
			return -1;
		}
		if (cmd[0])
			snprintf(archive, sizeof(archive), ",\n               archive_mode: 'on', archive_command: %s", quoted);
	}
	yml = malloc(cap);
	if (yml == NULL) {
		free(sec);
		free(v);
		return pgr_err_set(err, "out of memory");
	}
	/* every text value is a double-quoted scalar (util/yaml.h): a path may hold quotes, ':' or '#' */
	/* failsafe_mode (Patroni >= 3.0): with etcd down, the primary stays primary while every member answers
	 * its POST /failsafe, instead of demoting itself after retry_timeout (tests/faults: etcd20) */
	n = snprintf(yml, cap,
		     "# Patroni configuration of a unit (written by pgrefresh)\n"
		     "scope: %s\n"
		     "namespace: /service/\n"
		     "name: %s\n"
		     "log: {level: INFO}\n"
		     "restapi: {listen: %s, connect_address: %s%s}\n"
		     "etcd3: {hosts: %s%s}\n"
		     "%s"
		     "bootstrap:\n"
		     "  dcs:\n"
		     "    ttl: 10\n"
		     "    loop_wait: 2\n"
		     "    retry_timeout: 4\n"
		     "    maximum_lag_on_failover: 1048576\n"
		     "    synchronous_mode: true\n"
		     "    synchronous_mode_strict: %s\n"
		     "    failsafe_mode: true\n"
		     "    postgresql:\n"
		     "      use_pg_rewind: true\n"
		     "      use_slots: true\n"
		     "      parameters: {wal_level: replica, hot_standby: 'on', max_wal_senders: 70,\n"
		     "                   max_replication_slots: 40, wal_keep_size: 256MB, wal_log_hints: 'on',\n"
		     "                   wal_retrieve_retry_interval: 250ms}\n"
		     "  initdb: [{encoding: UTF8}, {locale: C}, data-checksums]\n"
		     "postgresql:\n"
		     "  listen: %s\n"
		     "  connect_address: %s\n"
		     "  data_dir: %s\n"
		     "  bin_dir: %s\n"
		     "  pgpass: %s\n"
		     "  authentication:\n"
		     "    superuser: {username: %s, password: %s}\n"
		     "    replication: {username: replicator, password: %s}\n"
		     "    rewind: {username: rewinder, password: %s}\n"
		     "  parameters: {unix_socket_directories: %s, logging_collector: 'on', log_directory: log%s}\n"
		     "  pg_hba:\n"
		     "%s"
		     "tags: {%s}\n",
		     v->scope, v->name, v->api, v->api, sec->restapi, v->etcd, sec->etcd3, sec->ctl, conf->unit_count >= 3 ? "true" : "false", v->pg, v->pg,
		     v->data, v->bin, v->pgpass, v->superuser, v->su_pw, v->repl_pw, v->rewind_pw, v->sockets, archive, hba, tag_line);
	explicit_bzero(sec, sizeof(*sec));
	free(sec);
	free(v);
	if (n < 0 || (size_t)n >= cap) {
		free(yml);
		return pgr_err_set(err, "patroni.yml of %s too large", unit->name);
	}
	*out = yml;
	*out_len = (size_t)n;
	return 0;
}

int patroni_yml_write(const cluster_conf *conf, const cluster_secrets *secrets, const conf_unit *unit,
		      const patroni_tags *tags, pgr_err *err)
{
	char udir[PATH_MAX], path[PATH_MAX + 32];
	char *yml = NULL;
	size_t len = 0;
	int rc;

	if (patroni_yml_render(conf, secrets, unit, tags, &yml, &len, err) != 0)
		return -1;
	conf_unit_dir(conf, unit, udir, sizeof(udir));
	snprintf(path, sizeof(path), "%s/patroni.yml", udir);
	rc = file_write_durable(path, yml, len, 0600, err);
	free(yml);
	return rc != 0 ? rc : file_to_servers_user(path, err);
}

int patroni_yml_set_tags(const cluster_conf *conf, const conf_unit *unit, const patroni_tags *tags, pgr_err *err)
{
	cluster_secrets secrets;
	char url[200];
	patroni_client pc;
	int loop_wait = 0;

	bool adopted = false;

	if (adopt_unit_write_tags(conf, unit, tags, &adopted, err) != 0) /* an adopted unit: the user's config */
		return -1;
	if (!adopted && secrets_load(conf->dir, &secrets, err) != 0)
		return -1;
	if (!adopted && patroni_yml_write(conf, &secrets, unit, tags, err) != 0)
		return -1;
	conf_unit_patroni(conf, unit, &pc, url, sizeof(url));
	if (patroni_reload(&pc, url, 5000, err) != 0)
		return -1;
	/* POST /reload only flags it: Patroni reads the file at its next loop. Wake the loop now. */
	if (patroni_get_loop_wait(&pc, url, 2000, &loop_wait, err) != 0 ||
	    patroni_wake(&pc, url, loop_wait, 2000, err) != 0)
		return pgr_err_prefix(err, "tags written, Patroni reloads them at its next loop");
	return 0;
}

