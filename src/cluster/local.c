#include "cluster/local.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "etcd/etcd.h"
#include "cluster/conf_security.h"
#include "cluster/health.h"
#include "cluster/local_secure.h"
#include "cluster/local_backup.h"
#include "cluster/hosts.h"
#include "patroni/patroni.h"
#include "patroni/patroni_yml.h"
#include "pg/pgbouncer.h"
#include "pooler/pooler.h"
#include "util/fileutil.h"
#include "util/log.h"
#include "util/proc.h"

#define PATRONI_BIN "/usr/bin/patroni"
#define ETCD_BIN "/usr/bin/etcd"
#define PGBOUNCER_BIN "/usr/sbin/pgbouncer"

int local_check_dependencies(pgr_err *err)
{
	static const char *const needed[][2] = {
		{ ETCD_BIN, "etcd-server" },
		{ PATRONI_BIN, "patroni" },
		{ PGBOUNCER_BIN, "pgbouncer" },
	};

	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!path_is_executable(needed[i][0])) {
			pgr_err_set(err, "%s is missing (Debian package %s)", needed[i][0], needed[i][1]);
			pgr_err_hint(err, "run scripts/install-deps (as root) or `apt-get install %s`", needed[i][1]);
			return -1;
		}
	}
	return 0;
}

bool local_port_is_free(int port)
{
	struct sockaddr_in addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	bool free_port;

	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	free_port = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return free_port;
}

int local_port_next_free(int *cursor, const int *taken, int taken_count, int *port, pgr_err *err)
{
	for (int p = *cursor; p < 65000; p++) {
		bool used = false;

		for (int i = 0; i < taken_count; i++)
			if (taken[i] == p)
				used = true;
		if (!used && local_port_is_free(p)) {
			*port = p;
			*cursor = p + 1;
			return 0;
		}
	}
	return pgr_err_set(err, "no free port on 127.0.0.1 at or above %d", *cursor);
}

/* ---- paths ---- */

static void path_in(const cluster_conf *conf, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", conf->dir, leaf);
}

static int owner_fix(const char *path, pgr_err *err)
{
	proc_user user;

	if (proc_user_for_servers(&user, err) != 0)
		return -1;
	if (!user.switch_user)
		return 0;
	return path_chown_all(path, user.uid, user.gid, err);
}

static int random_password(char *out, size_t len, pgr_err *err)
{
	unsigned char raw[16];
	int fd = open("/dev/urandom", O_RDONLY);

	if (fd < 0 || read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw)) {
		if (fd >= 0)
			close(fd);
		return pgr_err_set(err, "could not read /dev/urandom: %s", strerror(errno));
	}
	close(fd);
	for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static void etcd_hostport(const cluster_conf *conf, char *buf, size_t len)
{
	const char *s = strstr(conf->etcd, "://");

	snprintf(buf, len, "%s", s ? s + 3 : conf->etcd);
	buf[strcspn(buf, ",/")] = '\0';
}

/* ---- configuration files ---- */

int local_unit_prepare(const cluster_conf *conf, const conf_unit *unit, const char *version, pgr_err *err)
{
	char udir[PATH_MAX], link[PATH_MAX + 16], target[PATH_MAX + 64];
	cluster_secrets secrets;

	if (secrets_load(conf->dir, &secrets, err) != 0)
		return -1;
	conf_unit_dir(conf, unit, udir, sizeof(udir));
	if (dir_make_all(udir, 0750, err) != 0)
		return -1;
	snprintf(link, sizeof(link), "%s/bin", udir);
	snprintf(target, sizeof(target), "%s/%s/bin", conf->catalog, version);
	if (symlink_replace(target, link, err) != 0)
		return -1;
	if (patroni_yml_write(conf, &secrets, unit, NULL, err) != 0)
		return -1;
	return owner_fix(udir, err);
}

/* Across hosts: the number N of the host hN where pooler i runs (the unit's with its address). */
static int pooler_host(const cluster_conf *conf, int i)
{
	for (int k = 0; k < conf->unit_count; k++)
		if (i < conf->pgbouncer_count && strcmp(conf->units[k].host, conf->pgbouncers[i].host) == 0)
			return conf->units[k].number;
	return i;
}

/* The directory of PgBouncer number i of a local cluster (DIR/pgbouncer, DIR/pgbouncer-1, ...), or a file in it. */
static void bouncer_path(const cluster_conf *conf, int i, const char *leaf, char *buf, size_t len)
{
	char dir[64];

	if (conf->hosts_bridge[0]) /* a PgBouncer on each host: hosts/hN/pgbouncer */
		snprintf(dir, sizeof(dir), "hosts/h%d/pgbouncer", pooler_host(conf, i));
	else if (i == 0)
		snprintf(dir, sizeof(dir), "pgbouncer");
	else
		snprintf(dir, sizeof(dir), "pgbouncer-%d", i);
	if (leaf[0] != '\0')
		snprintf(buf, len, "%s/%s/%s", conf->dir, dir, leaf);
	else
		snprintf(buf, len, "%s/%s", conf->dir, dir);
}

static void pgbouncer_ini_for(const cluster_conf *conf, int i, const char *host, int port, pgbouncer_ini *ini)
{
	char pdir[PATH_MAX];

	bouncer_path(conf, i, "", pdir, sizeof(pdir));
	memset(ini, 0, sizeof(*ini));
	snprintf(ini->listen_addr, sizeof(ini->listen_addr), "%s", conf->pgbouncers[i].host);
	ini->listen_port = conf->pgbouncers[i].port;
	snprintf(ini->unix_socket_dir, sizeof(ini->unix_socket_dir), "%s", pdir);
	snprintf(ini->auth_file, sizeof(ini->auth_file), "%s/userlist.txt", pdir);
	snprintf(ini->admin_user, sizeof(ini->admin_user), "%s", conf_pooler_admin_user(conf, &conf->pgbouncers[i]));
	snprintf(ini->target_host, sizeof(ini->target_host), "%s", host);
	ini->target_port = port;
}

static int write_pgbouncer_ini(const cluster_conf *conf, int i, const char *host, int port, pgr_err *err)
{
	char path[PATH_MAX + 32], buf[8192];
	pgbouncer_ini ini;

	pgbouncer_ini_for(conf, i, host, port, &ini);
	if (pgbouncer_ini_render(&ini, buf, sizeof(buf), err) != 0)
		return -1;
	bouncer_path(conf, i, "pgbouncer.ini", path, sizeof(path));
	return file_write_durable(path, buf, strlen(buf), 0644, err);
}

/* PgBouncer i's directory, pgbouncer.ini (leading to host:port) and auth_file. */
static int write_pgbouncer_one(const cluster_conf *conf, const cluster_secrets *secrets, int i, const char *host,
			       int port, pgr_err *err)
{
	char pdir[PATH_MAX], path[PATH_MAX + 32], buf[1024];
	int n, rc;

	bouncer_path(conf, i, "", pdir, sizeof(pdir));
	if (dir_make_all(pdir, 0750, err) != 0 || write_pgbouncer_ini(conf, i, host, port, err) != 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "\"%s\" \"%s\"\n", conf->superuser, secrets->superuser_password);
	if (local_secure_pgbouncer_users(conf, buf + n, sizeof(buf) - (size_t)n, err) != 0)
		return -1;
	n += (int)strlen(buf + n);
	snprintf(path, sizeof(path), "%s/userlist.txt", pdir);
	rc = file_write_durable(path, buf, (size_t)n, 0600, err);
	explicit_bzero(buf, sizeof(buf));
	if (rc != 0)
		return -1;
	return owner_fix(pdir, err);
}

static int write_pgbouncer_files(const cluster_conf *conf, const cluster_secrets *secrets, pgr_err *err)
{
	for (int i = 0; i < conf->pgbouncer_count; i++)
		if (write_pgbouncer_one(conf, secrets, i, conf->units[0].host, conf->units[0].pg_port, err) != 0)
			return -1;
	return 0;
}

/*
 * The coordinator keeps the local PgBouncers leading to the running leader (after a failover, say):
 * the same repoint as a switchover's (pooler/pooler.h: [databases] retargeted, RELOAD), only where a
 * PgBouncer's file leads elsewhere. (A switchover's own repoint goes through an agent on the pooler's
 * host: cluster/switchover.c.)
 */
static int write_client_pgpass(const cluster_conf *conf, const cluster_secrets *secrets, pgr_err *err)
{
	char path[PATH_MAX + 16], buf[512];
	int n = snprintf(buf, sizeof(buf), "*:*:*:%s:%s\n", conf->superuser, secrets->superuser_password);

	path_in(conf, "pgpass", path, sizeof(path));
	return file_write_durable(path, buf, (size_t)n, 0600, err);
}

/* Copies this program into DIR/libexec so that agents run a binary the postgres user can reach. */
static int install_agent_binary(const cluster_conf *conf, const char *self_exe, pgr_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	char *data;
	size_t len;
	int rc;

	path_in(conf, "libexec", dir, sizeof(dir));
	if (dir_make_all(dir, 0755, err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/pgrefresh", dir);
	if (file_read_all(self_exe, &data, &len, err) != 0)
		return -1;
	rc = file_write_durable(path, data, len, 0755, err);
	free(data);
	return rc;
}

/* ---- processes ---- */


static int spawn_as_servers(char *const argv[], const char *log, const char *pidfile, pgr_err *err)
{
	proc_user user;
	pid_t child;

	if (proc_user_for_servers(&user, err) != 0)
		return -1;
	return proc_spawn_daemon(argv, NULL, &user, log, pidfile, &child, err);
}

static int etcd_wait_healthy(const cluster_conf *conf, long timeout_ms, pgr_err *err)
{
	etcd_client client;
	long long deadline = proc_now_ms() + timeout_ms;
	char pid[PATH_MAX + 32];

	snprintf(pid, sizeof(pid), "%s/etcd/etcd.pid", conf->dir);
	if (local_secure_etcd_bootstrap_client(conf, &client, err) != 0)
		return -1;
	client.timeout_ms = 1000;
	for (;;) {
		if (etcd_health(&client, err) == 0)
			return 0;
		if (!proc_pidfile_alive(pid, NULL))
			return pgr_err_set(err, "etcd exited at start; see %s/etcd/etcd.log", conf->dir);
		if (proc_now_ms() > deadline)
			return pgr_err_prefix(err, "etcd not healthy after %ld s", timeout_ms / 1000);
		proc_sleep_ms(100);
	}
}

static int etcd_start(const cluster_conf *conf, pgr_err *err)
{
	char edir[PATH_MAX], data[PATH_MAX + 16], log[PATH_MAX + 16], pid[PATH_MAX + 16], hp[160];
	char peer_url[200], initial[240], name[64];
	const char *colon;

	path_in(conf, "etcd", edir, sizeof(edir));
	snprintf(pid, sizeof(pid), "%s/etcd.pid", edir);
	if (proc_pidfile_alive(pid, NULL))
		return 0;
	if (dir_make_all(edir, 0750, err) != 0 || owner_fix(edir, err) != 0)
		return -1;
	snprintf(data, sizeof(data), "%s/data", edir);
	snprintf(log, sizeof(log), "%s/etcd.log", edir);
	etcd_hostport(conf, hp, sizeof(hp));
	colon = strrchr(hp, ':');
	if (colon == NULL)
		return pgr_err_set(err, "etcd endpoint %s has no port", conf->etcd);
	if (!local_port_is_free((int)strtol(colon + 1, NULL, 10)))
		return pgr_err_set(err, "port %s (etcd) is in use by another program", colon + 1);
	if (!local_port_is_free(conf->etcd_peer_port))
		return pgr_err_set(err, "port %d (etcd peer) is in use by another program", conf->etcd_peer_port);
	snprintf(name, sizeof(name), "%s-etcd", conf->name);
	snprintf(peer_url, sizeof(peer_url), "%s://127.0.0.1:%d", local_secure_scheme(conf), conf->etcd_peer_port);
	snprintf(initial, sizeof(initial), "%s=%s", name, peer_url);
	{
		char client_url[200];
		char *argv[40] = { ETCD_BIN, "--name", name, "--data-dir", data, "--logger=zap",
				 "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
				 "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
				 "--initial-cluster", initial, "--initial-cluster-state", "new", NULL };
		local_secure_etcd_args tls;
		int argc = 18;

		local_secure_etcd_args_for(conf, &tls);
		for (int i = 0; i < tls.count; i++)
			argv[argc++] = tls.arg[i];
		snprintf(client_url, sizeof(client_url), "%s://%s", local_secure_scheme(conf), hp);
		if (spawn_as_servers(argv, log, pid, err) != 0)
			return pgr_err_prefix(err, "could not start etcd");
	}
	return etcd_wait_healthy(conf, 30000, err);
}

static int pgbouncer_start_one(const cluster_conf *conf, int i, pgr_err *err)
{
	char ini[PATH_MAX + 32], log[PATH_MAX + 32], pid[PATH_MAX + 32];
	char *argv[] = { PGBOUNCER_BIN, ini, NULL };
	int port = conf->pgbouncers[i].port;
	long long deadline;

	bouncer_path(conf, i, "pgbouncer.ini", ini, sizeof(ini));
	bouncer_path(conf, i, "pgbouncer.log", log, sizeof(log));
	bouncer_path(conf, i, "pgbouncer.pid", pid, sizeof(pid));
	if (proc_pidfile_alive(pid, NULL))
		return 0;
	if (!local_port_is_free(port))
		return pgr_err_set(err, "port %d (PgBouncer) is in use by another program", port);
	if (spawn_as_servers(argv, log, pid, err) != 0)
		return pgr_err_prefix(err, "could not start PgBouncer");
	deadline = proc_now_ms() + 10000;
	while (local_port_is_free(port)) {
		if (!proc_pidfile_alive(pid, NULL))
			return pgr_err_set(err, "PgBouncer exited at start; see %s", log);
		if (proc_now_ms() > deadline)
			return pgr_err_set(err, "PgBouncer does not listen on port %d; see %s", port, log);
		proc_sleep_ms(50);
	}
	return 0;
}

static int pgbouncer_start(const cluster_conf *conf, pgr_err *err)
{
	for (int i = 0; i < conf->pgbouncer_count; i++)
		if (pgbouncer_start_one(conf, i, err) != 0)
			return -1;
	return 0;
}

/* several hosts: below, in their own section */
static int hosts_agent_start(const cluster_conf *conf, const conf_unit *unit, const char *log, const char *pid,
			     pgr_err *err);
static int hosts_etcd_stop(const cluster_conf *conf, pgr_err *err);
static int hosts_start(const cluster_conf *conf, const char *self_exe, long timeout_ms, pgr_err *err);

int local_agent_start(const cluster_conf *conf, const conf_unit *unit, pgr_err *err)
{
	char exe[PATH_MAX + 32], log[PATH_MAX + 32], pid[PATH_MAX + 32], dir[PATH_MAX];
	char uname[32];
	char *argv[] = { exe, "agent", "--dir", dir, "--unit", uname, NULL };

	snprintf(exe, sizeof(exe), "%s/libexec/pgrefresh", conf->dir);
	snprintf(dir, sizeof(dir), "%s", conf->dir);
	snprintf(uname, sizeof(uname), "%s", unit->name);
	conf_unit_path(conf, unit, "agent.pid", pid, sizeof(pid));
	conf_unit_path(conf, unit, "agent.log", log, sizeof(log));
	if (proc_pidfile_alive(pid, NULL))
		return 0;
	if (conf->hosts_bridge[0])
		return hosts_agent_start(conf, unit, log, pid, err);
	if (spawn_as_servers(argv, log, pid, err) != 0)
		return pgr_err_prefix(err, "could not start the agent of %s", unit->name);
	return 0;
}

int local_agent_stop(const cluster_conf *conf, const conf_unit *unit, long timeout_ms, pgr_err *err)
{
	char pid[PATH_MAX + 32];

	conf_unit_path(conf, unit, "agent.pid", pid, sizeof(pid));
	return proc_stop_pidfile(pid, SIGTERM, timeout_ms, err);
}

int local_unit_stop_leftovers(const cluster_conf *conf, const conf_unit *unit, pgr_err *err)
{
	char path[PATH_MAX + 32];
	pid_t pid;

	conf_unit_path(conf, unit, "patroni.pid", path, sizeof(path));
	if (proc_stop_pidfile(path, SIGTERM, 60000, err) != 0)
		return -1;
	/* PostgreSQL's own pidfile: first line is the postmaster's pid */
	conf_unit_path(conf, unit, "data/postmaster.pid", path, sizeof(path));
	if (proc_pidfile_read(path, &pid, NULL) == 0 && proc_start_time(pid) != 0) {
		char comm[64] = "";
		char commpath[64];
		FILE *f;

		snprintf(commpath, sizeof(commpath), "/proc/%d/comm", (int)pid);
		f = fopen(commpath, "r");
		if (f) {
			if (fgets(comm, sizeof(comm), f) == NULL)
				comm[0] = '\0';
			fclose(f);
		}
		if (strncmp(comm, "postgres", 8) == 0 && proc_stop_pid(pid, SIGINT, 30000, err) != 0)
			return -1;
	}
	return 0;
}

static int leader_index(const cluster_conf *conf)
{
	for (int i = 0; i < conf->unit_count; i++) {
		char url[200];
		patroni_cluster cl;
		patroni_client pc;
		pgr_err ignored;

		conf_unit_patroni(conf, &conf->units[i], &pc, url, sizeof(url));
		if (patroni_get_cluster(&pc, url, 2000, &cl, &ignored) == 0) {
			const patroni_member *leader = patroni_cluster_leader(&cl);

			if (leader == NULL)
				return -1;
			for (int j = 0; j < conf->unit_count; j++)
				if (strcmp(conf->units[j].member, leader->name) == 0)
					return j;
			return -1;
		}
	}
	return -1;
}

int local_cluster_stop(const cluster_conf *conf, pgr_err *err)
{
	char path[PATH_MAX + 32];
	int leader = leader_index(conf);
	int rc = 0;

	for (int i = 0; i < conf->pgbouncer_count; i++) {
		bouncer_path(conf, i, "pgbouncer.pid", path, sizeof(path));
		if (proc_stop_pidfile(path, SIGINT, 10000, err) != 0)
			rc = -1;
	}
	/* replicas first, in parallel, so that the primary's shutdown does not trigger a failover */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < conf->unit_count; i++) {
			pid_t pid;

			if ((pass == 0) == (i == leader))
				continue;
			conf_unit_path(conf, &conf->units[i], "agent.pid", path, sizeof(path));
			if (proc_pidfile_alive(path, &pid))
				kill(pid, SIGTERM);
		}
		for (int i = 0; i < conf->unit_count; i++) {
			if ((pass == 0) == (i == leader))
				continue;
			if (local_agent_stop(conf, &conf->units[i], 90000, err) != 0)
				rc = -1;
			if (local_unit_stop_leftovers(conf, &conf->units[i], err) != 0)
				rc = -1;
		}
	}
	if (conf->hosts_bridge[0])
		return hosts_etcd_stop(conf, err) != 0 ? -1 : rc;
	snprintf(path, sizeof(path), "%s/etcd/etcd.pid", conf->dir);
	if (proc_stop_pidfile(path, SIGTERM, 20000, err) != 0)
		rc = -1;
	return rc;
}

int local_wait_healthy(const cluster_conf *conf, long timeout_ms, pgr_err *err)
{
	long long deadline = proc_now_ms() + timeout_ms;
	const char *members[CONF_MAX_UNITS];
	health_report report;

	for (int i = 0; i < conf->unit_count; i++)
		members[i] = conf->units[i].member;
	for (;;) {
		memset(&report, 0, sizeof(report));
		snprintf(report.problems[0], sizeof(report.problems[0]), "no unit's Patroni answers");
		report.problem_count = 1;
		for (int i = 0; i < conf->unit_count; i++) {
			char url[200];
			patroni_cluster cl;
			patroni_client pc;
			pgr_err ignored;

			conf_unit_patroni(conf, &conf->units[i], &pc, url, sizeof(url));
			if (patroni_get_cluster(&pc, url, 2000, &cl, &ignored) == 0) {
				const patroni_member *lm = patroni_cluster_leader(&cl);
				patroni_node leader;
				bool have_leader = false;

				if (lm != NULL) {
					char base[200];

					have_leader = patroni_api_base(lm->api_url, base, sizeof(base)) == 0 &&
						      patroni_get_node(&pc, base, 2000, &leader, &ignored) == 0;
				}
				health_evaluate(&cl, have_leader ? &leader : NULL, members, conf->unit_count,
						16 * 1024 * 1024, &report);
				break;
			}
		}
		if (report.healthy)
			return 0;
		for (int i = 0; i < conf->unit_count; i++) {
			char pid[PATH_MAX + 32];

			conf_unit_path(conf, &conf->units[i], "agent.pid", pid, sizeof(pid));
			if (!proc_pidfile_alive(pid, NULL))
				return pgr_err_set(err, "the agent of %s exited; see %s/units/%s/agent.log and patroni.log",
						   conf->units[i].name, conf->dir, conf->units[i].member);
		}
		if (proc_now_ms() > deadline)
			return pgr_err_set(err, "cluster not healthy after %ld s: %s (logs: %s/units/*/patroni.log)",
					   timeout_ms / 1000, report.problems[0], conf->dir);
		proc_sleep_ms(250);
	}
}

/* Before anything starts: every port of a part that is not running must be free. */
static int ports_available(const cluster_conf *conf, pgr_err *err)
{
	char pid[PATH_MAX + 32];

	snprintf(pid, sizeof(pid), "%s/etcd/etcd.pid", conf->dir);
	if (!proc_pidfile_alive(pid, NULL)) {
		const char *colon = strrchr(conf->etcd, ':');
		int port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;

		if (port > 0 && !local_port_is_free(port))
			return pgr_err_set(err, "port %d (etcd) is in use by another program", port);
		if (!local_port_is_free(conf->etcd_peer_port))
			return pgr_err_set(err, "port %d (etcd peer) is in use by another program", conf->etcd_peer_port);
	}
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		bouncer_path(conf, i, "pgbouncer.pid", pid, sizeof(pid));
		if (!proc_pidfile_alive(pid, NULL) && !local_port_is_free(conf->pgbouncers[i].port))
			return pgr_err_set(err, "port %d (PgBouncer) is in use by another program", conf->pgbouncers[i].port);
	}
	for (int i = 0; i < conf->unit_count; i++) {
		conf_unit_path(conf, &conf->units[i], "agent.pid", pid, sizeof(pid));
		if (proc_pidfile_alive(pid, NULL))
			continue;
		/* a Patroni of ours may still run without its agent: the agent adopts it */
		conf_unit_path(conf, &conf->units[i], "patroni.pid", pid, sizeof(pid));
		if (proc_pidfile_alive(pid, NULL))
			continue;
		if (!local_port_is_free(conf->units[i].pg_port))
			return pgr_err_set(err, "port %d (PostgreSQL of %s) is in use by another program", conf->units[i].pg_port,
					   conf->units[i].name);
		if (!local_port_is_free(conf->units[i].api_port))
			return pgr_err_set(err, "port %d (Patroni of %s) is in use by another program", conf->units[i].api_port,
					   conf->units[i].name);
	}
	return 0;
}

int local_cluster_start(const cluster_conf *conf, const char *self_exe, long timeout_ms, pgr_err *err)
{
	if (conf->hosts_bridge[0])
		return hosts_start(conf, self_exe, timeout_ms, err);
	if (local_check_dependencies(err) != 0)
		return -1;
	if (ports_available(conf, err) != 0)
		return -1;
	if (install_agent_binary(conf, self_exe, err) != 0)
		return -1;
	if (etcd_start(conf, err) != 0)
		return -1;
	if (local_secure_etcd_auth(conf, err) != 0)
		return -1;
	for (int i = 0; i < conf->unit_count; i++) {
		if (local_agent_start(conf, &conf->units[i], err) != 0)
			return -1;
	}
	if (pgbouncer_start(conf, err) != 0)
		return -1;
	return local_wait_healthy(conf, timeout_ms, err);
}

/* Moves the logs of a failed create out of DIR, into a directory under /tmp; names it in err. */
static void keep_logs(const cluster_conf *conf, pgr_err *err)
{
	char keep[PATH_MAX];
	char from[PATH_MAX + 64], to[PATH_MAX + 64];
	pgr_err ignored;

	snprintf(keep, sizeof(keep), "/tmp/pgrefresh-failed-%s-%ld", conf->name, (long)time(NULL));
	if (dir_make_all(keep, 0755, &ignored) != 0)
		return;
	snprintf(from, sizeof(from), "%s/etcd/etcd.log", conf->dir);
	snprintf(to, sizeof(to), "%s/etcd.log", keep);
	(void)rename(from, to);
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		bouncer_path(conf, i, "pgbouncer.log", from, sizeof(from));
		if (i == 0)
			snprintf(to, sizeof(to), "%s/pgbouncer.log", keep);
		else
			snprintf(to, sizeof(to), "%s/pgbouncer-%d.log", keep, i);
		(void)rename(from, to);
	}
	for (int i = 0; i < conf->unit_count; i++) {
		static const char *const leaves[] = { "agent.log", "patroni.log" };

		for (size_t j = 0; j < 2; j++) {
			conf_unit_path(conf, &conf->units[i], leaves[j], from, sizeof(from));
			snprintf(to, sizeof(to), "%s/%s-%s", keep, conf->units[i].member, leaves[j]);
			(void)rename(from, to);
		}
	}
	{
		size_t len = strlen(err->msg);

		snprintf(err->msg + len, sizeof(err->msg) - len, " (logs kept in %s)", keep);
	}
}

static int remove_made(const cluster_conf *conf, pgr_err *err);

/* ---- several hosts (cluster create --hosts N): one etcd member, unit and PgBouncer a namespace ---- */

#define HOST_ETCD_PORT 2379
#define HOST_ETCD_PEER_PORT 2380
#define HOST_PG_PORT 5432
#define HOST_API_PORT 8008
#define HOST_PGBOUNCER_PORT 6432

/* The hosts' network as pgrefresh.conf records it (hosts_bridge, hosts_net; a host a unit). */
static int conf_hosts_net(const cluster_conf *conf, hosts_net *net, pgr_err *err)
{
	int block = hosts_block_of_cidr(conf->hosts_net);

	if (strncmp(conf->hosts_bridge, "pgr-", 4) != 0 || strlen(conf->hosts_bridge) != 12 || block < 0)
		return pgr_err_set(err, "%s/pgrefresh.conf: hosts_bridge %s / hosts_net %s are not pgrefresh's", conf->dir,
				   conf->hosts_bridge, conf->hosts_net);
	hosts_net_init(net, conf->hosts_bridge + 4, block, 0);
	for (int i = 0; i < conf->unit_count; i++) {
		if (conf->units[i].number < 0 || conf->units[i].number >= HOSTS_SLOTS)
			return pgr_err_set(err, "%s/pgrefresh.conf: unit %s has no host slot (0 to %d)", conf->dir,
					   conf->units[i].name, HOSTS_SLOTS - 1);
		net->mask |= 1u << conf->units[i].number;
	}
	net->count = conf->unit_count;
	return 0;
}

/* Whether the host at address host runs a member of the cluster's etcd: create's hosts do; a host add-unit
 * made is a client of theirs. */
static bool host_runs_etcd(const cluster_conf *conf, const char *host)
{
	return hosts_etcd_has(conf->etcd, host);
}

/*
 * The one place where a host's addresses and paths are decided: host i's own pgrefresh.conf, seen from
 * inside it. Its directory is DIR/hosts/hI, its catalog DIR/hosts/hI/catalog (a link to the catalog), its
 * etcd member comes first among the endpoints; it lists every unit and pooler (their addresses), and
 * holds files of its own unit and PgBouncer only.
 */
static int host_conf(const cluster_conf *top, int i, cluster_conf *hc, pgr_err *err)
{
	int h = top->units[i].number; /* unit N on host hN */

	*hc = *top;
	hosts_dir(top->dir, h, hc->dir, sizeof(hc->dir));
	hc->hosts_bridge[0] = '\0';
	snprintf(hc->catalog, sizeof(hc->catalog), "%s/catalog", hc->dir);
	if (hosts_etcd_own_first(top->etcd, top->units[i].host, hc->etcd, sizeof(hc->etcd)) != 0)
		return pgr_err_set(err, "host h%d: etcd endpoints too long", h);
	/* secure (the default): its own certificates and secrets, https */
	if (local_secure_host_conf(top, h, hc, err) != 0)
		return pgr_err_prefix(err, "host h%d", h);
	return 0;
}

/* Addresses and ports of a new cluster across net's hosts: unit N, etcd member N and PgBouncer N on host hN. */
static int hosts_layout(const hosts_net *net, cluster_conf *conf, pgr_err *err)
{
	size_t used = 0;

	hosts_cidr(net, conf->hosts_net, sizeof(conf->hosts_net));
	snprintf(conf->hosts_bridge, sizeof(conf->hosts_bridge), "%s", net->bridge);
	conf->etcd_peer_port = HOST_ETCD_PEER_PORT;
	for (int i = 0; i < net->count; i++) {
		conf_unit *u = &conf->units[i];
		conf_pooler *p = conf_pooler_add(conf);

		if (p == NULL)
			return pgr_err_set(err, "more than %d PgBouncers", CONF_MAX_PGBOUNCERS);
		u->number = i;
		snprintf(u->name, sizeof(u->name), "%s/%d", conf->name, i);
		snprintf(u->member, sizeof(u->member), "%s-%d", conf->name, i);
		hosts_addr(net, i, u->host, sizeof(u->host));
		u->pg_port = HOST_PG_PORT;
		u->api_port = HOST_API_PORT;
		conf->unit_count++;
		snprintf(p->host, sizeof(p->host), "%s", u->host);
		p->port = HOST_PGBOUNCER_PORT;
		snprintf(p->config_host, sizeof(p->config_host), "%s", u->host);
		snprintf(p->config, sizeof(p->config), "%s/hosts/h%d/pgbouncer/pgbouncer.ini", conf->dir, i);
		used += (size_t)snprintf(conf->etcd + used, sizeof(conf->etcd) - used, "%shttp://%s:%d", i ? "," : "",
					 u->host, HOST_ETCD_PORT);
		if (used >= sizeof(conf->etcd))
			return pgr_err_set(err, "etcd endpoints too long");
	}
	return 0;
}

/* Host i's files: its pgrefresh.conf, secrets, catalog link and unit (its agent binary: at each start). */
static int host_files(const cluster_conf *top, int i, const cluster_secrets *secrets, const char *version,
		      pgr_err *err)
{
	cluster_conf *hc = malloc(sizeof(*hc));
	char link[PATH_MAX + 16];
	int rc = -1;

	if (hc == NULL)
		return pgr_err_set(err, "out of memory");
	hosts_dir(top->dir, top->units[i].number, link, sizeof(link) - 16);
	strncat(link, "/catalog", sizeof(link) - strlen(link) - 1);
	if (host_conf(top, i, hc, err) == 0 && dir_make_all(hc->dir, 0755, err) == 0 &&
	    secrets_save(hc->dir, secrets, err) == 0 && local_secure_host_files(top, hc, top->units[i].host, err) == 0 &&
	    symlink_replace(top->catalog, link, err) == 0 && conf_save(hc, err) == 0 &&
	    local_unit_prepare(hc, &hc->units[i], version, err) == 0)
		rc = 0;
	free(hc);
	return rc;
}

/*
 * Starts argv on host i, as the servers' user, in host i's directory:
 *   ip netns exec NS setpriv --reuid U --regid G --clear-groups env -C DIR/hosts/hI ARGV...
 * (each execs the next: the pidfile names the program itself).
 */
static int spawn_on_host(const cluster_conf *conf, int i, char *const argv[], const char *log, const char *pidfile,
			 pgr_err *err)
{
	char ns[32], uid[32], gid[32], dir[PATH_MAX], home[300], user_env[96], logname[96];
	char *full[48];
	char *env[] = { home, user_env, logname, NULL };
	proc_user user, root;
	hosts_net net;
	pid_t child;
	int n = 0;

	if (proc_user_for_servers(&user, err) != 0 || conf_hosts_net(conf, &net, err) != 0)
		return -1;
	hosts_netns_name(&net, i, ns, sizeof(ns));
	hosts_dir(conf->dir, i, dir, sizeof(dir));
	snprintf(uid, sizeof(uid), "--reuid=%u", (unsigned)user.uid);
	snprintf(gid, sizeof(gid), "--regid=%u", (unsigned)user.gid);
	snprintf(home, sizeof(home), "HOME=%s", user.home);
	snprintf(user_env, sizeof(user_env), "USER=%s", user.name);
	snprintf(logname, sizeof(logname), "LOGNAME=%s", user.name);
	{
		char *prefix[] = { "/usr/sbin/ip", "netns", "exec", ns, "/usr/bin/setpriv", uid, gid, "--clear-groups",
				   "/usr/bin/env", "-C", dir };

		for (size_t k = 0; k < sizeof(prefix) / sizeof(prefix[0]); k++)
			full[n++] = prefix[k];
	}
	for (int k = 0; argv[k] != NULL && n < (int)(sizeof(full) / sizeof(full[0])) - 1; k++)
		full[n++] = argv[k];
	full[n] = NULL;
	memset(&root, 0, sizeof(root));
	root.switch_user = false;
	return proc_spawn_daemon(full, env, &root, log, pidfile, &child, err);
}

static void host_etcd_path(const cluster_conf *conf, int i, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s/hosts/h%d/etcd%s%s", conf->dir, i, leaf[0] ? "/" : "", leaf);
}

/* One etcd cluster of a member a host, initial-cluster over the hosts' addresses; waits until it answers. */
static int hosts_etcd_start(const cluster_conf *conf, pgr_err *err)
{
	char initial[1024] = "";
	size_t used = 0;
	etcd_client client;
	long long deadline;

	for (int i = 0; i < conf->unit_count; i++)
		if (host_runs_etcd(conf, conf->units[i].host))
			used += (size_t)snprintf(initial + used, sizeof(initial) - used, "%s%s-etcd-h%d=%s://%s:%d",
						 used ? "," : "", conf->name, conf->units[i].number, local_secure_scheme(conf),
						 conf->units[i].host, HOST_ETCD_PEER_PORT);
	for (int i = 0; i < conf->unit_count; i++) {
		int h = conf->units[i].number;
		char edir[PATH_MAX], data[PATH_MAX + 16], log[PATH_MAX + 16], pid[PATH_MAX + 16], name[64];
		char client_url[100], peer_url[100];
		char *argv[40] = { ETCD_BIN, "--name", name, "--data-dir", data, "--logger=zap",
				 "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
				 "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
				 "--initial-cluster", initial, "--initial-cluster-state", "new", NULL };
		local_secure_etcd_args tls; /* host i's own certificate (paths only) */
		cluster_conf *hc;
		int argc = 18;

		if (!host_runs_etcd(conf, conf->units[i].host))
			continue;
		hc = malloc(sizeof(*hc));
		if (hc == NULL)
			return pgr_err_set(err, "out of memory");
		if (host_conf(conf, i, hc, err) != 0) {
			free(hc);
			return -1;
		}
		local_secure_etcd_args_for(hc, &tls);
		free(hc);
		for (int k = 0; k < tls.count; k++)
			argv[argc++] = tls.arg[k];

		host_etcd_path(conf, h, "", edir, sizeof(edir));
		host_etcd_path(conf, h, "etcd.pid", pid, sizeof(pid));
		if (proc_pidfile_alive(pid, NULL))
			continue;
		if (dir_make_all(edir, 0750, err) != 0 || owner_fix(edir, err) != 0)
			return -1;
		host_etcd_path(conf, h, "data", data, sizeof(data));
		host_etcd_path(conf, h, "etcd.log", log, sizeof(log));
		snprintf(name, sizeof(name), "%s-etcd-h%d", conf->name, h);
		snprintf(client_url, sizeof(client_url), "%s://%s:%d", local_secure_scheme(conf), conf->units[i].host,
			 HOST_ETCD_PORT);
		snprintf(peer_url, sizeof(peer_url), "%s://%s:%d", local_secure_scheme(conf), conf->units[i].host,
			 HOST_ETCD_PEER_PORT);
		if (spawn_on_host(conf, h, argv, log, pid, err) != 0)
			return pgr_err_prefix(err, "could not start etcd on host h%d", h);
	}
	if (local_secure_etcd_bootstrap_client(conf, &client, err) != 0) /* TLS, no user yet */
		return -1;
	client.timeout_ms = 1000;
	deadline = proc_now_ms() + 30000;
	for (;;) {
		if (etcd_health(&client, err) == 0)
			return 0;
		for (int i = 0; i < conf->unit_count; i++) {
			char pid[PATH_MAX + 16];
			int h = conf->units[i].number;

			host_etcd_path(conf, h, "etcd.pid", pid, sizeof(pid));
			if (host_runs_etcd(conf, conf->units[i].host) && !proc_pidfile_alive(pid, NULL))
				return pgr_err_set(err, "etcd exited at start on host h%d; see %s/hosts/h%d/etcd/etcd.log", h,
						   conf->dir, h);
		}
		if (proc_now_ms() > deadline)
			return pgr_err_prefix(err, "etcd not healthy after 30 s");
		proc_sleep_ms(100);
	}
}

static int hosts_etcd_stop(const cluster_conf *conf, pgr_err *err)
{
	int rc = 0;

	for (int i = 0; i < conf->unit_count; i++) {
		char pid[PATH_MAX + 16];

		host_etcd_path(conf, conf->units[i].number, "etcd.pid", pid, sizeof(pid));
		if (proc_stop_pidfile(pid, SIGTERM, 20000, err) != 0)
			rc = -1;
	}
	return rc;
}

/* Whether something accepts TCP connections at host:port (from here, over the bridge). */
static bool tcp_answers(const char *host, int port)
{
	struct sockaddr_in addr;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	ok = inet_pton(AF_INET, host, &addr.sin_addr) == 1 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

static int hosts_pgbouncer_start(const cluster_conf *conf, pgr_err *err)
{
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		char ini[PATH_MAX + 32], log[PATH_MAX + 32], pid[PATH_MAX + 32];
		char *argv[] = { PGBOUNCER_BIN, ini, NULL };
		const conf_pooler *p = &conf->pgbouncers[i];
		long long deadline = proc_now_ms() + 10000;

		bouncer_path(conf, i, "pgbouncer.ini", ini, sizeof(ini));
		bouncer_path(conf, i, "pgbouncer.log", log, sizeof(log));
		bouncer_path(conf, i, "pgbouncer.pid", pid, sizeof(pid));
		if (proc_pidfile_alive(pid, NULL))
			continue;
		if (spawn_on_host(conf, pooler_host(conf, i), argv, log, pid, err) != 0)
			return pgr_err_prefix(err, "could not start PgBouncer on host h%d", pooler_host(conf, i));
		while (!tcp_answers(p->host, p->port)) {
			if (!proc_pidfile_alive(pid, NULL))
				return pgr_err_set(err, "PgBouncer exited at start; see %s", log);
			if (proc_now_ms() > deadline)
				return pgr_err_set(err, "PgBouncer does not listen on %s:%d; see %s", p->host, p->port, log);
			proc_sleep_ms(50);
		}
	}
	return 0;
}

/* Each host's copy of this program (DIR/hosts/hN/libexec/pgrefresh), for its agent. */
static int hosts_install_agent(const cluster_conf *conf, const char *self_exe, pgr_err *err)
{
	cluster_conf *hc = malloc(sizeof(*hc));
	int rc = 0;

	if (hc == NULL)
		return pgr_err_set(err, "out of memory");
	for (int i = 0; i < conf->unit_count && rc == 0; i++) {
		rc = host_conf(conf, i, hc, err);
		if (rc == 0)
			rc = install_agent_binary(hc, self_exe, err);
	}
	free(hc);
	return rc;
}

static int hosts_start(const cluster_conf *conf, const char *self_exe, long timeout_ms, pgr_err *err)
{
	hosts_net net;

	if (local_check_dependencies(err) != 0 || conf_hosts_net(conf, &net, err) != 0 || hosts_up(&net, err) != 0 ||
	    hosts_install_agent(conf, self_exe, err) != 0)
		return -1;
	if (hosts_etcd_start(conf, err) != 0 || local_secure_etcd_auth(conf, err) != 0)
		return -1;
	for (int i = 0; i < conf->unit_count; i++)
		if (local_agent_start(conf, &conf->units[i], err) != 0)
			return -1;
	if (hosts_pgbouncer_start(conf, err) != 0)
		return -1;
	return local_wait_healthy(conf, timeout_ms, err);
}

/* After the processes are stopped: the namespaces, veths and bridge, then DIR/hosts. */
static int hosts_remove(const cluster_conf *conf, pgr_err *err)
{
	char path[PATH_MAX + 16];
	hosts_net net;

	if (conf_hosts_net(conf, &net, err) != 0 || hosts_down(&net, err) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/hosts", conf->dir);
	return dir_remove_all(path, err);
}

/* The agent of a unit, on its host: DIR/hosts/hN/libexec/pgrefresh agent --dir DIR/hosts/hN (its own conf). */
static int hosts_agent_start(const cluster_conf *conf, const conf_unit *unit, const char *log, const char *pid,
			     pgr_err *err)
{
	char exe[PATH_MAX + 32], dir[PATH_MAX], uname[32];
	char *argv[] = { exe, "agent", "--dir", dir, "--unit", uname, NULL };

	hosts_dir(conf->dir, unit->number, dir, sizeof(dir));
	snprintf(exe, sizeof(exe), "%s/libexec/pgrefresh", dir);
	snprintf(uname, sizeof(uname), "%s", unit->name);
	if (spawn_on_host(conf, unit->number, argv, log, pid, err) != 0)
		return pgr_err_prefix(err, "could not start the agent of %s", unit->name);
	return 0;
}

/* The rest of `cluster create --hosts N`, once DIR is there and conf holds the cluster's name. */
static int hosts_create(const local_create_opts *opts, const char *self_exe, cluster_conf *conf, pgr_err *err)
{
	cluster_secrets secrets;
	hosts_net net;
	proc_user user;

	if (hosts_plan(conf->dir, opts->hosts, &net, err) != 0 || hosts_layout(&net, conf, err) != 0)
		return -1;
	if (random_password(secrets.superuser_password, sizeof(secrets.superuser_password), err) != 0 ||
	    random_password(secrets.replication_password, sizeof(secrets.replication_password), err) != 0 ||
	    random_password(secrets.rewind_password, sizeof(secrets.rewind_password), err) != 0)
		return -1;
	/* DIR/secrets and pgpass are the CLI's (the machine outside the hosts); so are the CA and its key */
	if (secrets_save(conf->dir, &secrets, err) != 0 || write_client_pgpass(conf, &secrets, err) != 0)
		return -1;
	if (opts->secure && local_secure_prepare_hosts(conf, err) != 0)
		return -1;
	for (int i = 0; i < conf->unit_count; i++)
		if (host_files(conf, i, &secrets, opts->version, err) != 0)
			return pgr_err_prefix(err, "host h%d", i);
	if (write_pgbouncer_files(conf, &secrets, err) != 0 || conf_save(conf, err) != 0)
		return -1;
	if (proc_user_for_servers(&user, err) != 0)
		return -1;
	for (int i = 0; i < conf->unit_count; i++) {
		char dir[PATH_MAX];

		hosts_dir(conf->dir, conf->units[i].number, dir, sizeof(dir));
		if (user.switch_user && path_chown_all(dir, user.uid, user.gid, err) != 0)
			return -1;
	}
	return hosts_start(conf, self_exe, opts->timeout_ms, err);
}


int local_cluster_create(const local_create_opts *opts, const char *self_exe, cluster_conf *conf, pgr_err *err)
{
	char path[PATH_MAX + 32];
	cluster_secrets secrets;
	catalog_entry entry;
	int cursor, taken[2 * CONF_MAX_UNITS + 4], ntaken = 0, port = 0;
	bool made_dir = false;
	pgr_err cleanup_err;
	conf_pooler *added;

	memset(conf, 0, sizeof(*conf));
	if (local_check_dependencies(err) != 0)
		return -1;
	if (opts->units < 1 || opts->units > CONF_MAX_UNITS)
		return pgr_err_set(err, "--units must be between 1 and %d", CONF_MAX_UNITS);
	if (catalog_find(opts->catalog, opts->version, &entry, err) != 0) {
		pgr_err_hint(err, "see `pgrefresh versions`, or add it with `pgrefresh versions add PATH`");
		return -1;
	}
	if (catalog_check_runnable(&entry, err) != 0) {
		pgr_err_prefix(err, "version %s in the catalog cannot run", opts->version);
		pgr_err_hint(err, "re-add it with `pgrefresh versions add PATH`");
		return -1;
	}
	if (strpbrk(opts->dir, "\n\r") != NULL) {
		pgr_err_set(err, "--dir must not hold a line break");
		pgr_err_hint(err, "choose another directory: `pgrefresh cluster create --dir DIR ...`");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/pgrefresh.conf", opts->dir);
	if (path_exists(path)) {
		pgr_err_set(err, "%s already holds a cluster", opts->dir);
		pgr_err_hint(err, "use `pgrefresh cluster start --dir %s`, or `cluster destroy` it first", opts->dir);
		return -1;
	}
	if (!path_exists(opts->dir)) {
		if (dir_make_all(opts->dir, 0755, err) != 0)
			return -1;
		made_dir = true;
	} else if (local_dir_check_empty(opts->dir, err) != 0) {
		/* the user's files: never written to, never removed */
		pgr_err_hint(err, "choose a new or empty directory: `pgrefresh cluster create --dir NEWDIR ...`");
		return -1;
	}
	{
		char *real = realpath(opts->dir, NULL);

		if (real == NULL)
			return pgr_err_set(err, "%s: %s", opts->dir, strerror(errno));
		snprintf(conf->dir, sizeof(conf->dir), "%s", real);
		free(real);
	}
	chmod(conf->dir, 0755);
	snprintf(conf->name, sizeof(conf->name), "%s", opts->name[0] ? opts->name : "pg");
	snprintf(conf->catalog, sizeof(conf->catalog), "%s", opts->catalog);
	snprintf(conf->superuser, sizeof(conf->superuser), "postgres");
	conf->local = true;
	if (opts->hosts > 0) {
		if (hosts_create(opts, self_exe, conf, err) != 0)
			goto fail;
		return 0;
	}

	cursor = 2379;
	if (local_port_next_free(&cursor, taken, ntaken, &port, err) != 0)
		goto fail;
	taken[ntaken++] = port;
	snprintf(conf->etcd, sizeof(conf->etcd), "http://127.0.0.1:%d", port);
	if (local_port_next_free(&cursor, taken, ntaken, &conf->etcd_peer_port, err) != 0)
		goto fail;
	taken[ntaken++] = conf->etcd_peer_port;
	cursor = 6432;
	for (int i = 0; i < (opts->pgbouncers > 0 ? opts->pgbouncers : 1) && i < CONF_MAX_PGBOUNCERS; i++) {
		if (local_port_next_free(&cursor, taken, ntaken, &port, err) != 0)
			goto fail;
		taken[ntaken++] = port;
		added = conf_pooler_add(conf);
		if (added == NULL)
			break;
		snprintf(added->host, sizeof(added->host), "127.0.0.1");
		added->port = port;
		snprintf(added->config_host, sizeof(added->config_host), "127.0.0.1");
	}
	for (int i = 0; i < opts->units; i++) {
		conf_unit *u = &conf->units[i];
		int pg_cursor = 5440 + i, api_cursor = 8010 + i;

		u->number = i;
		snprintf(u->name, sizeof(u->name), "%s/%d", conf->name, i);
		snprintf(u->member, sizeof(u->member), "%s-%d", conf->name, i);
		snprintf(u->host, sizeof(u->host), "127.0.0.1");
		if (local_port_next_free(&pg_cursor, taken, ntaken, &u->pg_port, err) != 0)
			goto fail;
		taken[ntaken++] = u->pg_port;
		if (local_port_next_free(&api_cursor, taken, ntaken, &u->api_port, err) != 0)
			goto fail;
		taken[ntaken++] = u->api_port;
		{
			/* the agent's metrics (metrics/server.h): above the previous unit's */
			int metrics_cursor = i > 0 && conf->units[i - 1].metrics_port >= 9560 + i
						     ? conf->units[i - 1].metrics_port + 1
						     : 9560 + i;

			if (local_port_next_free(&metrics_cursor, taken, ntaken, &u->metrics_port, err) != 0)
				goto fail;
		}
		conf->unit_count++;
	}
	if (random_password(secrets.superuser_password, sizeof(secrets.superuser_password), err) != 0 ||
	    random_password(secrets.replication_password, sizeof(secrets.replication_password), err) != 0 ||
	    random_password(secrets.rewind_password, sizeof(secrets.rewind_password), err) != 0)
		goto fail;
	if (secrets_save(conf->dir, &secrets, err) != 0 || write_client_pgpass(conf, &secrets, err) != 0)
		goto fail;
	if (opts->secure && local_secure_prepare(conf, "127.0.0.1", err) != 0)
		goto fail;
	if (opts->backup && local_backup_prepare(conf, err) != 0)
		goto fail;
	for (int i = 0; i < conf->unit_count; i++) {
		if (local_unit_prepare(conf, &conf->units[i], opts->version, err) != 0)
			goto fail;
	}
	if (write_pgbouncer_files(conf, &secrets, err) != 0)
		goto fail;
	if (conf_save(conf, err) != 0)
		goto fail;
	{
		char secrets_path[PATH_MAX + 16];
		proc_user user;

		/* the agents (postgres user) read the secrets; clients' pgpass stays the caller's */
		snprintf(secrets_path, sizeof(secrets_path), "%s/secrets", conf->dir);
		if (proc_user_for_servers(&user, err) != 0)
			goto fail;
		(void)secrets_path;
		if (user.switch_user && path_chown_all(conf->dir, user.uid, user.gid, err) != 0)
			goto fail;
	}
	if (local_cluster_start(conf, self_exe, opts->timeout_ms, err) != 0)
		goto fail;
	return 0;

fail:
	if (local_cluster_stop(conf, &cleanup_err) != 0)
		log_warn("while cleaning up: %s", cleanup_err.msg);
	keep_logs(conf, err);
	if (conf->hosts_bridge[0] && hosts_remove(conf, &cleanup_err) != 0) /* namespaces, veths, bridge */
		log_warn("while cleaning up: %s", cleanup_err.msg);
	if (made_dir) {
		if (dir_remove_all(conf->dir[0] ? conf->dir : opts->dir, &cleanup_err) != 0)
			log_warn("while cleaning up: %s", cleanup_err.msg);
	} else if (conf->dir[0] && remove_made(conf, &cleanup_err) != 0) {
		log_warn("while cleaning up: %s", cleanup_err.msg);
	}
	return -1;
}

int local_dir_check_empty(const char *dir, pgr_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char first[256] = "";
	int others = 0;

	if (d == NULL)
		return pgr_err_set(err, "cannot read %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", e->d_name);
		else
			others++;
	}
	closedir(d);
	if (first[0] == '\0')
		return 0;
	if (others > 0)
		return pgr_err_set(err, "%s is not empty and holds no pgrefresh cluster (%s and %d more): nothing written", dir,
				   first, others);
	return pgr_err_set(err, "%s is not empty and holds no pgrefresh cluster (%s): nothing written", dir, first);
}

/* What `cluster create` makes in DIR, by name: nothing else there is ever removed. pgrefresh.conf goes last,
 * so that a destroy that stopped half-way can be run again. */
static const char *const made_names[] = { "units", "etcd", "libexec", "secrets", "pgpass", "pki", "secrets.d",
					  "pgbackrest", "pgrefresh.conf" };

static int remove_made(const cluster_conf *conf, pgr_err *err)
{
	for (int i = 0; i < CONF_MAX_PGBOUNCERS; i++) {
		char p[PATH_MAX + 32];

		bouncer_path(conf, i, "", p, sizeof(p));
		if (dir_remove_all(p, err) != 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(made_names) / sizeof(made_names[0]); i++) {
		char p[PATH_MAX + 32];

		snprintf(p, sizeof(p), "%s/%s", conf->dir, made_names[i]);
		if (dir_remove_all(p, err) != 0)
			return -1;
	}
	return 0;
}

int local_cluster_destroy(const cluster_conf *conf, bool *dir_kept, pgr_err *err)
{
	*dir_kept = false;
	if (local_cluster_stop(conf, err) != 0)
		return -1;
	if (conf->hosts_bridge[0] && hosts_remove(conf, err) != 0)
		return -1;
	if (remove_made(conf, err) != 0)
		return -1;
	if (rmdir(conf->dir) != 0) {
		if (errno != ENOTEMPTY && errno != EEXIST)
			return pgr_err_set(err, "could not remove %s: %s", conf->dir, strerror(errno));
		*dir_kept = true; /* it holds files pgrefresh did not make */
	}
	return 0;
}

/* ---- add-unit and remove-unit across hosts ---- */

bool local_hosts_unit_runs_etcd(const cluster_conf *conf, const conf_unit *unit)
{
	return conf->hosts_bridge[0] && host_runs_etcd(conf, unit->host);
}

/* Every host's pgrefresh.conf but skip's (-1: none) rewritten from conf: the units and poolers they list. */
static int hosts_conf_rewrite(const cluster_conf *conf, int skip, pgr_err *err)
{
	cluster_conf *hc = malloc(sizeof(*hc));
	int rc = 0;

	if (hc == NULL)
		return pgr_err_set(err, "out of memory");
	for (int i = 0; i < conf->unit_count && rc == 0; i++) {
		char path[PATH_MAX + 32];

		if (i == skip)
			continue;
		rc = host_conf(conf, i, hc, err);
		if (rc == 0)
			rc = conf_save(hc, err);
		snprintf(path, sizeof(path), "%s/pgrefresh.conf", hc->dir);
		if (rc == 0)
			rc = owner_fix(path, err);
	}
	free(hc);
	return rc;
}

int local_hosts_unit_add(cluster_conf *conf, const char *self_exe, const char *version, const conf_unit *primary,
			 pgr_err *err)
{
	int idx = conf->unit_count - 1;
	conf_unit *u = &conf->units[idx];
	conf_pooler *p = NULL;
	cluster_secrets secrets;
	cluster_conf *hc;
	hosts_net net;
	proc_user user;
	char dir[PATH_MAX];
	int rc;

	if (u->number < 0 || u->number >= HOSTS_SLOTS)
		return pgr_err_set(err, "the cluster's block %s has no address left for host h%d (%d hosts at most)",
				   conf->hosts_net, u->number, HOSTS_SLOTS);
	if (conf_hosts_net(conf, &net, err) != 0)
		return -1;
	hosts_addr(&net, u->number, u->host, sizeof(u->host));
	u->pg_port = HOST_PG_PORT;
	u->api_port = HOST_API_PORT;
	if (conf->pgbouncer_count > 0 && conf->pgbouncer_count < CONF_MAX_PGBOUNCERS) { /* its own PgBouncer */
		const conf_pooler first = conf->pgbouncers[0];

		p = conf_pooler_add(conf);
		snprintf(p->host, sizeof(p->host), "%s", u->host);
		p->port = HOST_PGBOUNCER_PORT;
		snprintf(p->admin_user, sizeof(p->admin_user), "%s", first.admin_user);
		snprintf(p->secret, sizeof(p->secret), "%s", first.secret);
		snprintf(p->config_host, sizeof(p->config_host), "%s", u->host);
		snprintf(p->config, sizeof(p->config), "%s/hosts/h%d/pgbouncer/pgbouncer.ini", conf->dir, u->number);
	}
	hosts_dir(conf->dir, u->number, dir, sizeof(dir));
	if (path_exists(dir))
		return pgr_err_set(err, "%s exists already (a host removed half-way?)", dir);
	if (hosts_host_up(&net, u->number, err) != 0)
		return pgr_err_prefix(err, "host h%d", u->number);
	if (secrets_load(conf->dir, &secrets, err) != 0 || host_files(conf, idx, &secrets, version, err) != 0)
		return pgr_err_prefix(err, "host h%d", u->number);
	rc = p == NULL ? 0 : write_pgbouncer_one(conf, &secrets, conf->pgbouncer_count - 1, primary->host,
						      primary->pg_port, err);
	explicit_bzero(&secrets, sizeof(secrets));
	if (rc != 0 || proc_user_for_servers(&user, err) != 0)
		return -1;
	hc = malloc(sizeof(*hc));
	if (hc == NULL)
		return pgr_err_set(err, "out of memory");
	rc = host_conf(conf, idx, hc, err) == 0 ? install_agent_binary(hc, self_exe, err) : -1;
	free(hc);
	if (rc != 0 || (user.switch_user && path_chown_all(dir, user.uid, user.gid, err) != 0))
		return -1;
	if (conf_save(conf, err) != 0 || hosts_conf_rewrite(conf, idx, err) != 0)
		return -1;
	if (local_secure_etcd_auth(conf, err) != 0) /* its own etcd users */
		return -1;
	if (local_agent_start(conf, u, err) != 0 || hosts_pgbouncer_start(conf, err) != 0)
		return -1;
	return 0;
}

int local_hosts_unit_remove(cluster_conf *conf, int idx, pgr_err *err)
{
	conf_unit gone = conf->units[idx];
	char dir[PATH_MAX], pid[PATH_MAX + 32];
	hosts_net net;

	if (conf_hosts_net(conf, &net, err) != 0)
		return -1;
	if (local_secure_etcd_host_users_drop(conf, gone.number, err) != 0) /* its secrets let nothing in from now */
		return pgr_err_prefix(err, "host h%d", gone.number);
	for (int i = 0; i < conf->pgbouncer_count; i++) {
		if (strcmp(conf->pgbouncers[i].host, gone.host) != 0)
			continue;
		bouncer_path(conf, i, "pgbouncer.pid", pid, sizeof(pid));
		if (proc_stop_pidfile(pid, SIGINT, 10000, err) != 0)
			return -1;
		memmove(&conf->pgbouncers[i], &conf->pgbouncers[i + 1],
			(size_t)(conf->pgbouncer_count - i - 1) * sizeof(conf->pgbouncers[0]));
		conf->pgbouncer_count--;
		memset(&conf->pgbouncers[conf->pgbouncer_count], 0, sizeof(conf->pgbouncers[0]));
		break;
	}
	memmove(&conf->units[idx], &conf->units[idx + 1], (size_t)(conf->unit_count - idx - 1) * sizeof(conf->units[0]));
	conf->unit_count--;
	memset(&conf->units[conf->unit_count], 0, sizeof(conf->units[0]));
	if (conf_save(conf, err) != 0 || hosts_conf_rewrite(conf, -1, err) != 0)
		return -1;
	if (hosts_host_down(&net, gone.number, err) != 0)
		return pgr_err_prefix(err, "host h%d", gone.number);
	hosts_dir(conf->dir, gone.number, dir, sizeof(dir));
	return dir_remove_all(dir, err);
}

void local_agents_reload(const cluster_conf *conf)
{
	for (int i = 0; i < conf->unit_count; i++) {
		char path[PATH_MAX + 32];
		pid_t pid;

		conf_unit_path(conf, &conf->units[i], "agent.pid", path, sizeof(path));
		if (proc_pidfile_alive(path, &pid) && kill(pid, SIGHUP) != 0)
			log_warn("could not signal the agent of %s (pid %d): %s", conf->units[i].name, (int)pid,
				 strerror(errno));
	}
}
