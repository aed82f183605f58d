#include "cluster/local_backup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "refresh/backup_check.h"
#include "util/fileutil.h"
#include "util/proc.h"

static const char *stanza_name(const cluster_conf *conf)
{
	return conf->pgbackrest_stanza[0] ? conf->pgbackrest_stanza : conf->name;
}

int local_backup_prepare(cluster_conf *conf, pgr_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], *text;
	const size_t cap = 4096 + (size_t)conf->unit_count * (3 * PATH_MAX + 64);
	size_t used;
	proc_user user;
	static const char *const subdirs[] = { "repo", "log", "lock" };
	int rc;

	if (!path_is_executable(BACKUP_PGBACKREST_BIN)) {
		pgr_err_set(err, "%s is missing (Debian package pgbackrest)", BACKUP_PGBACKREST_BIN);
		pgr_err_hint(err, "run scripts/install-deps (as root) or `apt-get install pgbackrest`");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/pgbackrest", conf->dir);
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (dir_make_all(path, 0750, err) != 0)
			return -1;
	}
	text = malloc(cap);
	if (text == NULL)
		return pgr_err_set(err, "out of memory");
	used = (size_t)snprintf(text, cap,
				"# pgBackRest for cluster %s (written by pgrefresh cluster create --backup)\n"
				"[global]\n"
				"repo1-path=%s/repo\n"
				"repo1-retention-full=2\n"
				"log-path=%s/log\n"
				"lock-path=%s/lock\n"
				"compress-type=lz4\n"
				"start-fast=y\n"
				"archive-timeout=60\n"
				"\n[%s]\n",
				conf->name, dir, dir, dir, stanza_name(conf));
	for (int i = 0; i < conf->unit_count && used < cap; i++) {
		char udir[PATH_MAX];

		conf_unit_dir(conf, &conf->units[i], udir, sizeof(udir));
		used += (size_t)snprintf(text + used, cap - used,
					 "pg%d-path=%s/data\npg%d-port=%d\npg%d-socket-path=%s\npg%d-user=%s\n", i + 1, udir,
					 i + 1, conf->units[i].pg_port, i + 1, udir, i + 1, conf->superuser);
	}
	if (used >= cap) {
		free(text);
		return pgr_err_set(err, "pgbackrest.conf too large");
	}
	snprintf(path, sizeof(path), "%s/pgbackrest.conf", dir);
	rc = file_write_durable(path, text, used, 0640, err);
	free(text);
	if (rc != 0)
		return -1;
	snprintf(conf->pgbackrest_config, sizeof(conf->pgbackrest_config), "%s", path);
	if (proc_user_for_servers(&user, err) != 0)
		return -1;
	return user.switch_user ? path_chown_all(dir, user.uid, user.gid, err) : 0;
}

/* s as one word of /bin/sh, which runs archive_command: '...' with each ' as '\''; "" when it does not fit. */
static void sh_quote(const char *s, char *out, size_t len)
{
	size_t n = 0;

	if (len < 3) {
		if (len > 0)
			out[0] = '\0';
		return;
	}
	out[n++] = '\'';
	for (; *s != '\0'; s++) {
		if (n + 6 >= len) {
			out[0] = '\0';
			return;
		}
		if (*s == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = *s;
		}
	}
	out[n++] = '\'';
	out[n] = '\0';
}

void local_backup_archive_command(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len)
{
	char udir[PATH_MAX], arg[PATH_MAX + 32], config[4 * PATH_MAX + 32], data[4 * PATH_MAX + 32], stanza[300];

	buf[0] = '\0';
	if (conf->pgbackrest_config[0] == '\0')
		return;
	conf_unit_dir(conf, unit, udir, sizeof(udir));
	snprintf(arg, sizeof(arg), "--config=%s", conf->pgbackrest_config);
	sh_quote(arg, config, sizeof(config));
	snprintf(arg, sizeof(arg), "--pg1-path=%s/data", udir);
	sh_quote(arg, data, sizeof(data));
	snprintf(arg, sizeof(arg), "--stanza=%s", stanza_name(conf));
	sh_quote(arg, stanza, sizeof(stanza));
	if (config[0] && data[0] && stanza[0])
		snprintf(buf, len, "%s %s %s %s archive-push %%p", BACKUP_PGBACKREST_BIN, config, stanza, data);
}

/* Runs pgbackrest STEP... as the servers' user; err names the step and the start of its output. */
static int run_pgbackrest(const cluster_conf *conf, const char *step, const char *option, char *out, size_t outlen,
			  pgr_err *err)
{
	char config[PATH_MAX + 16], stanza[96];
	char *argv[] = { BACKUP_PGBACKREST_BIN, config, stanza, "--log-level-console=warn", (char *)step,
			 (char *)option, NULL };
	proc_user user;
	int status = 0;

	snprintf(config, sizeof(config), "--config=%s", conf->pgbackrest_config);
	snprintf(stanza, sizeof(stanza), "--stanza=%s", stanza_name(conf));
	if (proc_user_for_servers(&user, err) != 0)
		return -1;
	if (proc_run(argv, &user, 300000, out, outlen, &status, err) != 0)
		return pgr_err_prefix(err, "pgbackrest %s", step);
	if (status != 0) {
		out[strcspn(out, "\n")] = '\0';
		return pgr_err_set(err, "pgbackrest %s exited with %d: %.300s", step, status, out);
	}
	return 0;
}

int local_backup_first(const cluster_conf *conf, char *label, size_t label_len, pgr_err *err)
{
	char out[8192], cmd[PATH_MAX + 96];
	backup_info info;

	label[0] = '\0';
	backup_take_command(conf, cmd, sizeof(cmd));
	if (run_pgbackrest(conf, "stanza-create", NULL, out, sizeof(out), err) != 0) {
		pgr_err_hint(err, "as the postgres user: `pgbackrest --config=%s --stanza=%s stanza-create`, then `%s`",
			     conf->pgbackrest_config, stanza_name(conf), cmd);
		return -1;
	}
	if (run_pgbackrest(conf, "backup", "--type=full", out, sizeof(out), err) != 0) {
		pgr_err_hint(err, "as the postgres user: `%s`", cmd);
		return -1;
	}
	{
		char why[300];

		if (backup_info_fetch(conf, &info, why, sizeof(why)) != 0)
			return pgr_err_set(err, "after the first backup: %s", why);
		if (info.full_count == 0)
			return pgr_err_set(err, "after the first backup: pgbackrest info lists no full backup");
	}
	snprintf(label, label_len, "%s", info.last_full_label);
	return 0;
}
