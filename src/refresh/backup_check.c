#include "refresh/backup_check.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg/pgsql.h"
#include "util/fileutil.h"
#include "util/proc.h"

/* ---- pgBackRest's info, parsed ---- */

static void copy_string(json_t *value, char *dst, size_t len)
{
	snprintf(dst, len, "%s", json_is_string(value) ? json_string_value(value) : "");
}

static int64_t json_int_at(json_t *obj, const char *key, const char *sub)
{
	json_t *v = json_object_get(obj, key);

	if (sub != NULL)
		v = json_object_get(v, sub);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* The stanza's backups: the newest full one without error, and the newest of any type. */
static void read_backups(json_t *backups, backup_info *out)
{
	size_t i;
	json_t *b;

	json_array_foreach(backups, i, b)
	{
		const char *type = json_string_value(json_object_get(b, "type"));
		int64_t stop = json_int_at(b, "timestamp", "stop");

		if (type == NULL || json_is_true(json_object_get(b, "error")))
			continue; /* a backup pgBackRest found damaged (checksum errors) is no backup */
		if (stop >= out->last_stop) {
			out->last_stop = stop;
			copy_string(json_object_get(b, "label"), out->last_label, sizeof(out->last_label));
			snprintf(out->last_type, sizeof(out->last_type), "%s", type);
		}
		if (strcmp(type, "full") != 0)
			continue;
		out->full_count++;
		if (stop >= out->last_full_stop) {
			out->last_full_stop = stop;
			copy_string(json_object_get(b, "label"), out->last_full_label, sizeof(out->last_full_label));
		}
	}
}

int backup_info_parse(const char *json, const char *stanza, backup_info *out, pgr_err *err)
{
	json_error_t jerr;
	json_t *root, *item, *found = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	root = json_loads(json, 0, &jerr);
	if (root == NULL)
		return pgr_err_set(err, "pgbackrest info: not JSON (line %d: %s)", jerr.line, jerr.text);
	if (!json_is_array(root)) {
		json_decref(root);
		return pgr_err_set(err, "pgbackrest info: expected a list of stanzas");
	}
	json_array_foreach(root, i, item)
	{
		const char *name = json_string_value(json_object_get(item, "name"));
		size_t used = strlen(out->stanzas);

		if (!json_is_object(item) || name == NULL) {
			json_decref(root);
			return pgr_err_set(err, "pgbackrest info: stanza %zu has no name", i + 1);
		}
		out->stanza_count++;
		if (used + strlen(name) + 3 < sizeof(out->stanzas))
			snprintf(out->stanzas + used, sizeof(out->stanzas) - used, "%s%s", used ? ", " : "", name);
		if (stanza != NULL && stanza[0] != '\0' ? strcmp(name, stanza) == 0 : json_array_size(root) == 1)
			found = item;
	}
	if (found == NULL) {
		json_decref(root);
		return 1;
	}
	{
		json_t *status = json_object_get(found, "status");

		copy_string(json_object_get(found, "name"), out->stanza, sizeof(out->stanza));
		if (!json_is_integer(json_object_get(status, "code"))) {
			json_decref(root);
			return pgr_err_set(err, "pgbackrest info: stanza %s has no status code", out->stanza);
		}
		out->status_code = (int)json_integer_value(json_object_get(status, "code"));
		copy_string(json_object_get(status, "message"), out->status_message, sizeof(out->status_message));
		out->backup_running = json_is_true(json_object_get(json_object_get(json_object_get(status, "lock"), "backup"),
								   "held"));
	}
	read_backups(json_object_get(found, "backup"), out);
	json_decref(root);
	return 0;
}

void backup_age_text(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%" PRId64 " s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 " min", s / 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRId64 " h %" PRId64 " min", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRId64 " d %" PRId64 " h", s / 86400, s % 86400 / 3600);
}

/* ---- the judgements ---- */

void backup_judge_archiver(const archiver_sample *first, const archiver_sample *a, int require_hours,
			   check_report *report)
{
	char age[32], fage[32];
	bool growing, stale;

	if (strcmp(a->archive_mode, "on") != 0 && strcmp(a->archive_mode, "always") != 0) {
		if (require_hours > 0)
			checks_add(report, "wal-archiving", CHECK_BACKUP, CHECK_FAIL,
				   "archive_mode is %s: no WAL is archived, so no backup restores to the moment before the "
				   "refresh (require-backup-within-hours=%d)", a->archive_mode[0] ? a->archive_mode : "off",
				   require_hours);
		else
			checks_add(report, "wal-archiving", CHECK_BACKUP, CHECK_PASS, "archive_mode is %s: WAL is not archived (information)",
				   a->archive_mode[0] ? a->archive_mode : "off");
		return;
	}
	growing = first != NULL && a->failed_count > first->failed_count;
	stale = a->last_failed_time > 0 && a->last_failed_time > a->last_archived_time;
	backup_age_text(a->now - a->last_archived_time, age, sizeof(age));
	backup_age_text(a->now - a->last_failed_time, fage, sizeof(fage));
	if (growing || stale) {
		char since[64];

		if (a->last_archived_time > 0)
			snprintf(since, sizeof(since), "the last success %s ago", age);
		else
			snprintf(since, sizeof(since), "no segment archived yet");
		checks_add(report, "wal-archiving", CHECK_BACKUP, CHECK_FAIL,
			   "WAL archiving fails: %" PRId64 " failure(s)%s, the last on %s %s ago, %s; see archive_command in "
			   "the primary's log",
			   a->failed_count,
			   growing ? (a->failed_count - first->failed_count > 1 ? ", more while checked" : ", one more while checked")
				   : "",
			   a->last_failed_wal, fage, since);
		return;
	}
	if (a->archived_count == 0)
		checks_add(report, "wal-archiving", CHECK_BACKUP, CHECK_PASS,
			   "archive_mode is %s; no segment archived yet, no failure", a->archive_mode);
	else
		checks_add(report, "wal-archiving", CHECK_BACKUP, CHECK_PASS,
			   "archive_mode is %s; %" PRId64 " segment(s) archived, the last (%s) %s ago; %" PRId64
			   " failure(s), none since",
			   a->archive_mode, a->archived_count, a->last_archived_wal, age, a->failed_count);
}

void backup_judge_backup(const backup_info *info, const char *why_missing, int require_hours, int64_t now,
			 const char *take_cmd, check_report *report)
{
	char age[32], limit[48];

	if (require_hours > 0)
		snprintf(limit, sizeof(limit), "limit %d h", require_hours);
	else
		snprintf(limit, sizeof(limit), "no limit set");
	if (info == NULL || (info->status_code != 0 && info->status_code != 2)) {
		char why[200];

		if (info == NULL)
			snprintf(why, sizeof(why), "%s", why_missing);
		else
			snprintf(why, sizeof(why), "stanza %s: %s", info->stanza, info->status_message);
		if (require_hours > 0)
			checks_add(report, "backup", CHECK_BACKUP, CHECK_FAIL,
				   "no full backup (%s), require-backup-within-hours=%d: take one: `%s`", why, require_hours,
				   take_cmd);
		else
			checks_add(report, "backup", CHECK_BACKUP, CHECK_PASS, "no backup to report: %s (information)", why);
		return;
	}
	if (info->backup_running) {
		checks_add(report, "backup", CHECK_BACKUP, CHECK_FAIL,
			   "a pgBackRest backup of stanza %s is running: let it finish, then run the check again", info->stanza);
		return;
	}
	if (info->full_count == 0) {
		if (require_hours > 0)
			checks_add(report, "backup", CHECK_BACKUP, CHECK_FAIL,
				   "stanza %s has no full backup, require-backup-within-hours=%d: take one: `%s`", info->stanza,
				   require_hours, take_cmd);
		else
			checks_add(report, "backup", CHECK_BACKUP, CHECK_PASS, "stanza %s has no full backup yet (%s)",
				   info->stanza, limit);
		return;
	}
	backup_age_text(now - info->last_full_stop, age, sizeof(age));
	if (require_hours > 0 && now - info->last_full_stop > (int64_t)require_hours * 3600)
		checks_add(report, "backup", CHECK_BACKUP, CHECK_FAIL,
			   "last full backup %s is %s old, over require-backup-within-hours=%d: take one: `%s`",
			   info->last_full_label, age, require_hours, take_cmd);
	else
		checks_add(report, "backup", CHECK_BACKUP, CHECK_PASS,
			   "last full backup %s (stanza %s) is %s old (%s); %d full backup(s)", info->last_full_label,
			   info->stanza, age, limit, info->full_count);
}

/* ---- against the running cluster ---- */

static const char *stanza_of(const cluster_conf *conf)
{
	return conf->pgbackrest_stanza[0] ? conf->pgbackrest_stanza : conf->name;
}

void backup_take_command(const cluster_conf *conf, char *buf, size_t len)
{
	if (conf->pgbackrest_config[0])
		snprintf(buf, len, "pgbackrest --config=%s --stanza=%s backup --type=full", conf->pgbackrest_config,
			 stanza_of(conf));
	else
		snprintf(buf, len, "pgbackrest --stanza=%s backup --type=full", stanza_of(conf));
}

#define ARCHIVER_SQL                                                                                                   \
	"SELECT concat_ws('|', current_setting('archive_mode'), archived_count, coalesce(last_archived_wal, ''), "     \
	"coalesce(extract(epoch FROM last_archived_time)::bigint, 0), failed_count, coalesce(last_failed_wal, ''), " \
	"coalesce(extract(epoch FROM last_failed_time)::bigint, 0), extract(epoch FROM now())::bigint) "              \
	"FROM pg_stat_archiver"

int backup_archiver_parse(const char *row, archiver_sample *out, pgr_err *err)
{
	char copy[512];
	char *field[8];
	char *p = copy;
	int n = 0;

	memset(out, 0, sizeof(*out));
	snprintf(copy, sizeof(copy), "%s", row);
	/* strtok_r would merge empty fields: split by hand */
	while (n < 8) {
		field[n++] = p;
		p = strchr(p, '|');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	if (n != 8 || p != NULL)
		return pgr_err_set(err, "pg_stat_archiver: unexpected row \"%.80s\"", row);
	snprintf(out->archive_mode, sizeof(out->archive_mode), "%s", field[0]);
	out->archived_count = strtoll(field[1], NULL, 10);
	snprintf(out->last_archived_wal, sizeof(out->last_archived_wal), "%s", field[2]);
	out->last_archived_time = strtoll(field[3], NULL, 10);
	out->failed_count = strtoll(field[4], NULL, 10);
	snprintf(out->last_failed_wal, sizeof(out->last_failed_wal), "%s", field[5]);
	out->last_failed_time = strtoll(field[6], NULL, 10);
	out->now = strtoll(field[7], NULL, 10);
	return 0;
}

int backup_archiver_sample(const char *conninfo, archiver_sample *out, pgr_err *err)
{
	char row[512];

	memset(out, 0, sizeof(*out));
	if (pg_query_text(conninfo, ARCHIVER_SQL, row, sizeof(row), err) != 0)
		return -1;
	return backup_archiver_parse(row, out, err);
}

int backup_info_fetch(const cluster_conf *conf, backup_info *info, char *why, size_t whylen)
{
	char config[PATH_MAX + 16], stanza[96], *out;
	char *argv[10];
	const size_t outlen = 1 << 20;
	int argc = 0, status = 0, rc;
	proc_user user;
	pgr_err err;

	if (!path_is_executable(BACKUP_PGBACKREST_BIN)) {
		snprintf(why, whylen, "pgBackRest is not installed (Debian package pgbackrest)");
		return -1;
	}
	if (conf->pgbackrest_config[0] && !path_exists(conf->pgbackrest_config)) {
		snprintf(why, whylen, "pgBackRest's config %s is missing", conf->pgbackrest_config);
		return -1;
	}
	if (proc_user_for_servers(&user, &err) != 0) {
		snprintf(why, whylen, "%s", err.msg);
		return -1;
	}
	out = malloc(outlen);
	if (out == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	snprintf(config, sizeof(config), "--config=%s", conf->pgbackrest_config);
	snprintf(stanza, sizeof(stanza), "--stanza=%s", stanza_of(conf));
	argv[argc++] = BACKUP_PGBACKREST_BIN;
	if (conf->pgbackrest_config[0])
		argv[argc++] = config;
	argv[argc++] = stanza;
	argv[argc++] = "--log-level-console=off";
	argv[argc++] = "--log-level-stderr=off";
	argv[argc++] = "--log-level-file=off";
	argv[argc++] = "--output=json";
	argv[argc++] = "info";
	argv[argc] = NULL;
	/* as the servers' user: the repository is theirs */
	if (proc_run(argv, &user, 20000, out, outlen, &status, &err) != 0) {
		snprintf(why, whylen, "pgbackrest info: %s", err.msg);
		free(out);
		return -1;
	}
	if (status != 0) {
		out[strcspn(out, "\n")] = '\0';
		snprintf(why, whylen, "`pgbackrest info` exited with %d%s%.120s", status, out[0] ? ": " : "", out);
		free(out);
		return -1;
	}
	rc = backup_info_parse(out, stanza_of(conf), info, &err);
	free(out);
	if (rc < 0)
		snprintf(why, whylen, "%s", err.msg);
	else if (rc > 0)
		snprintf(why, whylen, "pgBackRest lists no stanza %s", stanza_of(conf));
	return rc == 0 ? 0 : -1;
}

void backup_check_run(const cluster_conf *conf, int require_hours, const char *conninfo, const archiver_sample *first,
		      check_report *report)
{
	archiver_sample second;
	backup_info info;
	char why[300] = "", cmd[PATH_MAX + 96];
	pgr_err err;

	if (conninfo == NULL)
		checks_add(report, "wal-archiving", CHECK_BACKUP, require_hours > 0 ? CHECK_FAIL : CHECK_PASS,
			   "no primary to ask about WAL archiving");
	else if (backup_archiver_sample(conninfo, &second, &err) != 0)
		checks_add(report, "wal-archiving", CHECK_BACKUP, CHECK_FAIL, "could not read pg_stat_archiver on the primary: %s",
			   err.msg);
	else
		backup_judge_archiver(first, &second, require_hours, report);
	backup_take_command(conf, cmd, sizeof(cmd));
	if (backup_info_fetch(conf, &info, why, sizeof(why)) == 0)
		backup_judge_backup(&info, NULL, require_hours, (int64_t)time(NULL), cmd, report);
	else
		backup_judge_backup(NULL, why, require_hours, (int64_t)time(NULL), cmd, report);
}
