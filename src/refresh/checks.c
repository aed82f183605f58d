#include "refresh/checks.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "refresh/backup_check.h"
#include "cluster/conf_security.h"
#include "cluster/health.h"
#include "patroni/patroni.h"
#include "pg/pgsql.h"
#include "util/fileutil.h"
#include "util/proc.h"

const char *check_group_name(check_group g)
{
	switch (g) {
	case CHECK_PRE:
		return "pre-refresh";
	case CHECK_COMPAT:
		return "compatibility";
	case CHECK_BACKUP:
		return "backup";
	default:
		return "workload";
	}
}

const char *check_group_flag(check_group g)
{
	switch (g) {
	case CHECK_PRE:
		return "--run-pre-refresh-checks=false";
	case CHECK_COMPAT:
		return "--check-compatibility=false";
	case CHECK_BACKUP:
		return "--check-backup=false";
	default:
		return "--check-workload=false";
	}
}

check_result *checks_add(check_report *report, const char *name, check_group group, check_verdict verdict,
			 const char *fmt, ...)
{
	check_result *r;
	va_list ap;

	if (report->count >= CHECKS_MAX)
		return &report->results[CHECKS_MAX - 1];
	r = &report->results[report->count++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->group = group;
	r->verdict = verdict;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	return r;
}

const check_result *checks_first_failure(const check_report *report)
{
	for (int i = 0; i < report->count; i++)
		if (report->results[i].verdict == CHECK_FAIL)
			return &report->results[i];
	return NULL;
}

static bool blocklisted(const char *blocklist_text, const char *version)
{
	const char *p = blocklist_text;

	while (p != NULL && *p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char line[64];

		if (len < sizeof(line)) {
			const char *word;

			memcpy(line, p, len);
			line[len] = '\0';
			word = line + strspn(line, " \t");
			line[(size_t)(word - line) + strcspn(word, " \t#\r")] = '\0';
			if (strcmp(word, version) == 0)
				return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

void checks_versions(const check_request *req, const char *blocklist_text, check_report *report)
{
	pg_version from, to;
	pgr_err err;
	bool from_ok, to_ok;

	if (req->rollback) {
		checks_add(report, "same-major", CHECK_COMPAT, CHECK_SKIPPED, "rollback: forward checks skipped");
		checks_add(report, "higher-version", CHECK_COMPAT, CHECK_SKIPPED, "rollback: forward checks skipped");
		checks_add(report, "not-blocklisted", CHECK_COMPAT, CHECK_SKIPPED, "rollback: forward checks skipped");
		return;
	}
	if (req->skip_compat) {
		checks_add(report, "same-major", CHECK_COMPAT, CHECK_SKIPPED, "skipped (--check-compatibility=false)");
		checks_add(report, "higher-version", CHECK_COMPAT, CHECK_SKIPPED, "skipped (--check-compatibility=false)");
		checks_add(report, "not-blocklisted", CHECK_COMPAT, CHECK_SKIPPED, "skipped (--check-compatibility=false)");
		return;
	}
	from_ok = pg_version_parse(req->from, &from, &err) == 0;
	to_ok = pg_version_parse(req->to, &to, &err) == 0;
	if (!from_ok || !to_ok) {
		checks_add(report, "same-major", CHECK_COMPAT, CHECK_FAIL, "cannot read version \"%s\"",
			   from_ok ? req->to : req->from);
		return;
	}
	if (from.major != to.major)
		checks_add(report, "same-major", CHECK_COMPAT, CHECK_FAIL,
			   "%s is another major version than %s: a minor refresh cannot change the major", req->to, req->from);
	else
		checks_add(report, "same-major", CHECK_COMPAT, CHECK_PASS, "%s and %s are both %d.x", req->from, req->to,
			   from.major);
	if (pg_version_compare(&to, &from) <= 0)
		checks_add(report, "higher-version", CHECK_COMPAT, CHECK_FAIL,
			   "%s is not higher than %s: that would be a downgrade", req->to, req->from);
	else
		checks_add(report, "higher-version", CHECK_COMPAT, CHECK_PASS, "%s > %s", req->to, req->from);
	if (blocklist_text != NULL && blocklisted(blocklist_text, req->to))
		checks_add(report, "not-blocklisted", CHECK_COMPAT, CHECK_FAIL, "%s is on the catalog's blocklist", req->to);
	else
		checks_add(report, "not-blocklisted", CHECK_COMPAT, CHECK_PASS, "%s is not on the blocklist", req->to);
}

/* The primary's conninfo; -1 when no unit reports being the primary. */
static int primary_conninfo(const cluster_conf *conf, const unit_record *records, const bool *have, const char *dbname,
			    char *buf, size_t len)
{
	cluster_secrets secrets;
	pgr_err err;

	if (secrets_load(conf->dir, &secrets, &err) != 0)
		return -1;
	for (int i = 0; i < conf->unit_count; i++) {
		if (have[i] && strcmp(records[i].role, "primary") == 0) {
			pg_conninfo(buf, len, conf->units[i].host, conf->units[i].pg_port, conf->superuser,
				    secrets.superuser_password, dbname, 5);
			return 0;
		}
	}
	return -1;
}

/* One look at the cluster: Patroni's /cluster from any unit, and the leader's /patroni. */
static bool sample_cluster(const cluster_conf *conf, patroni_cluster *cluster, patroni_node *leader, bool *have_leader)
{
	patroni_client pc;

	conf_patroni_client(conf, &pc);
	for (int i = 0; i < conf->unit_count; i++) {
		char url[200], base[200];
		const patroni_member *lm;
		pgr_err err;

		conf_unit_api_url(conf, &conf->units[i], url, sizeof(url));
		if (patroni_get_cluster(&pc, url, 3000, cluster, &err) != 0)
			continue;
		lm = patroni_cluster_leader(cluster);
		*have_leader = lm != NULL && patroni_api_base(lm->api_url, base, sizeof(base)) == 0 &&
			       patroni_get_node(&pc, base, 3000, leader, &err) == 0;
		return true;
	}
	return false;
}

/*
 * Every unit running and streaming, a primary and a sync standby; lag judged over a short window
 * (cluster/health.h: health_lag_judge), not from one sample: under a steady write load one sample may
 * catch a standby a few MB behind that is caught up the next instant.
 */
static void check_health(const cluster_conf *conf, const refresh_settings *settings, check_report *report)
{
	enum { MAX_SAMPLES = HEALTH_LAG_WINDOW_MS / HEALTH_LAG_SAMPLE_MS + 2 };
	const char *members[CONF_MAX_UNITS];
	int64_t lag[CONF_MAX_UNITS][MAX_SAMPLES];
	health_report health;
	patroni_cluster *cluster = calloc(1, sizeof(*cluster));
	patroni_node *leader = calloc(1, sizeof(*leader));
	long long started = proc_now_ms();
	int samples = 0;
	bool got = false, lag_ok = false;
	char why[CONF_MAX_UNITS][200];

	if (cluster == NULL || leader == NULL) {
		free(cluster);
		free(leader);
		checks_add(report, "units-healthy", CHECK_PRE, CHECK_FAIL, "out of memory");
		return;
	}
	memset(&health, 0, sizeof(health));
	for (int i = 0; i < conf->unit_count; i++)
		members[i] = conf->units[i].member;
	while (samples < MAX_SAMPLES) {
		bool have_leader = false;
		bool over;

		if (!sample_cluster(conf, cluster, leader, &have_leader))
			break;
		got = true;
		/* everything but the size of the lag, from this sample */
		health_evaluate(cluster, have_leader ? leader : NULL, members, conf->unit_count, INT64_MAX, &health);
		for (int i = 0; i < conf->unit_count; i++) {
			const patroni_member *m = patroni_cluster_member(cluster, members[i]);

			lag[i][samples] = m != NULL && m->role != PATRONI_ROLE_LEADER ? m->lag_bytes : -1;
		}
		samples++;
		over = samples >= MAX_SAMPLES || proc_now_ms() - started >= HEALTH_LAG_WINDOW_MS;
		lag_ok = true;
		for (int i = 0; i < conf->unit_count; i++) {
			health_lag_verdict v = health_lag_judge(members[i], lag[i], samples, settings->lag_limit_bytes,
								(long)(proc_now_ms() - started), over, why[i],
								sizeof(why[i]));

			if (v != LAG_OK)
				lag_ok = false;
			if (v == LAG_WAIT)
				break;
		}
		if ((lag_ok && health.healthy) || over)
			break;
		proc_sleep_ms(HEALTH_LAG_SAMPLE_MS);
	}
	free(cluster);
	free(leader);
	if (!got) {
		checks_add(report, "units-healthy", CHECK_PRE, CHECK_FAIL, "no unit's Patroni answers");
		return;
	}
	if (health.healthy && lag_ok) {
		checks_add(report, "units-healthy", CHECK_PRE, CHECK_PASS,
			   "every unit running and streaming, a primary and a sync standby, lag within %lld bytes",
			   (long long)settings->lag_limit_bytes);
		return;
	}
	for (int i = 0; i < health.problem_count; i++)
		checks_add(report, "units-healthy", CHECK_PRE, CHECK_FAIL, "%s", health.problems[i]);
	if (!lag_ok) {
		/* the window is over (or Patroni stopped answering): the final verdict for each member */
		for (int i = 0; i < conf->unit_count; i++) {
			if (health_lag_judge(members[i], lag[i], samples, settings->lag_limit_bytes,
					     (long)(proc_now_ms() - started), true, why[i], sizeof(why[i])) == LAG_TOO_FAR)
				checks_add(report, "units-healthy", CHECK_PRE, CHECK_FAIL, "%s", why[i]);
		}
	}
}

static void check_backup(const cluster_conf *conf, const unit_record *records, const bool *have, check_report *report)
{
	char conninfo[1024], out[64];
	pgr_err err;

	if (primary_conninfo(conf, records, have, "postgres", conninfo, sizeof(conninfo)) != 0) {
		checks_add(report, "no-backup-running", CHECK_PRE, CHECK_FAIL, "no primary to ask");
		return;
	}
	if (pg_query_text(conninfo, "SELECT count(*) FROM pg_stat_progress_basebackup", out, sizeof(out), &err) != 0) {
		checks_add(report, "no-backup-running", CHECK_PRE, CHECK_FAIL, "could not ask the primary: %s", err.msg);
		return;
	}
	if (strcmp(out, "0") != 0)
		checks_add(report, "no-backup-running", CHECK_PRE, CHECK_FAIL, "%s base backup(s) in progress", out);
	else
		checks_add(report, "no-backup-running", CHECK_PRE, CHECK_PASS, "no base backup in progress");
}

/* Appends ", item" (or "item" first) to a list, if it fits whole. */
static void list_add(char *list, size_t len, const char *item)
{
	size_t used = strlen(list);

	if (used + strlen(item) + 3 < len)
		snprintf(list + used, len - used, "%s%s", used ? ", " : "", item);
}

void checks_workload_judge(const cluster_conf *conf, const check_request *req, const unit_record *records,
			   const bool *have, const checks_extension *installed, int installed_count,
			   const char *installed_error, check_report *report)
{
	char silent[160] = "", missing[160] = "", nofacts[160] = "", broken[160] = "", problem[200] = "";
	char lacking[200] = "";
	int with_facts = 0;

	for (int i = 0; i < conf->unit_count; i++) {
		const char *name = conf->units[i].name;
		const unit_version_facts *f;
		bool present = false;

		if (!have[i]) {
			list_add(silent, sizeof(silent), name);
			continue;
		}
		for (int v = 0; v < records[i].catalog_count; v++)
			if (strcmp(records[i].catalog[v], req->to) == 0)
				present = true;
		f = unit_record_facts(&records[i], req->to);
		if (!present && f == NULL) {
			list_add(missing, sizeof(missing), name);
			continue;
		}
		if (f == NULL) {
			list_add(nofacts, sizeof(nofacts), name);
			continue;
		}
		with_facts++;
		if (!f->runnable) {
			list_add(broken, sizeof(broken), name);
			if (problem[0] == '\0')
				snprintf(problem, sizeof(problem), "%s: %s", name, f->problem);
		}
	}
	if (silent[0])
		checks_add(report, "present-on-every-unit", CHECK_WORKLOAD, CHECK_FAIL,
			   "no report from the agent of %s yet: start it (`pgrefresh cluster start`), then `pgrefresh pre-refresh-check`",
			   silent);
	if (missing[0])
		checks_add(report, "present-on-every-unit", CHECK_WORKLOAD, CHECK_FAIL,
			   "%s is not in the catalog of %s: add it on that host (`pgrefresh versions add PATH`)", req->to,
			   missing);
	if (!silent[0] && !missing[0])
		checks_add(report, "present-on-every-unit", CHECK_WORKLOAD, CHECK_PASS, "every unit's catalog has %s",
			   req->to);
	if (nofacts[0])
		checks_add(report, "runnable", CHECK_WORKLOAD, CHECK_FAIL,
			   "%s reports %s in its catalog but not whether it runs there (an older agent, or more than %d versions in it)",
			   nofacts, req->to, UNIT_RECORD_MAX_FACTS);
	if (broken[0])
		checks_add(report, "runnable", CHECK_WORKLOAD, CHECK_FAIL,
			   "%s does not run on %s (mend it there, then `pgrefresh pre-refresh-check`): %s", req->to, broken,
			   problem);
	if (!nofacts[0] && !broken[0] && with_facts > 0)
		checks_add(report, "runnable", CHECK_WORKLOAD, CHECK_PASS, "%s runs on every unit that has it (%d, each checked by its agent)",
			   req->to, with_facts);
	else if (!nofacts[0] && !broken[0])
		checks_add(report, "runnable", CHECK_WORKLOAD, CHECK_FAIL, "no unit reports %s: nothing says it runs", req->to);
	if (req->rollback)
		return;
	if (installed_error != NULL) {
		checks_add(report, "extensions-present", CHECK_WORKLOAD, CHECK_FAIL, "%s", installed_error);
		return;
	}
	for (int e = 0; e < installed_count; e++) {
		char units[160] = "";

		for (int i = 0; i < conf->unit_count; i++) {
			const unit_version_facts *f = have[i] ? unit_record_facts(&records[i], req->to) : NULL;

			if (f != NULL && !unit_facts_has_extension(f, installed[e].name)) {
				char item[64];

				snprintf(item, sizeof(item), "%s%s", conf->units[i].name, f->extensions_cut ? " (its list is cut)" : "");
				list_add(units, sizeof(units), item);
			}
		}
		if (units[0]) {
			size_t used = strlen(lacking);

			if (used + strlen(installed[e].name) + strlen(installed[e].db) + strlen(units) + 16 < sizeof(lacking))
				snprintf(lacking + used, sizeof(lacking) - used, "%s%s (in %s) on %s", used ? "; " : "",
					 installed[e].name, installed[e].db, units);
		}
	}
	if (lacking[0])
		checks_add(report, "extensions-present", CHECK_WORKLOAD, CHECK_FAIL,
			   "%s lacks extension %s: install it into %s there, or drop it", req->to, lacking, req->to);
	else
		checks_add(report, "extensions-present", CHECK_WORKLOAD, CHECK_PASS,
			   "the %d installed extension(s) exist in %s on every unit that reports it", installed_count,
			   req->to);
}

#define CHECKS_MAX_INSTALLED 512

/* The extensions installed in the cluster's databases, by SQL on the primary: heap array, or why not. */
static int installed_extensions(const cluster_conf *conf, const unit_record *records, const bool *have,
				checks_extension **out, int *count, char *why, size_t whylen)
{
	char conninfo[1024], dbs[4096];
	pgr_err err;

	*count = 0;
	*out = calloc(CHECKS_MAX_INSTALLED, sizeof(**out));
	if (*out == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (primary_conninfo(conf, records, have, "postgres", conninfo, sizeof(conninfo)) != 0 ||
	    pg_query_text(conninfo,
			  "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datallowconn",
			  dbs, sizeof(dbs), &err) != 0) {
		snprintf(why, whylen, "could not list databases on the primary");
		return -1;
	}
	for (char *save = NULL, *db = strtok_r(dbs, ",", &save); db; db = strtok_r(NULL, ",", &save)) {
		char exts[4096];

		if (primary_conninfo(conf, records, have, db, conninfo, sizeof(conninfo)) != 0 ||
		    pg_query_text(conninfo, "SELECT string_agg(extname, ',' ORDER BY extname) FROM pg_extension", exts,
				  sizeof(exts), &err) != 0) {
			snprintf(why, whylen, "could not list extensions of database %s: %s", db, err.msg);
			return -1;
		}
		for (char *s2 = NULL, *ext = strtok_r(exts, ",", &s2); ext && *count < CHECKS_MAX_INSTALLED;
		     ext = strtok_r(NULL, ",", &s2)) {
			snprintf((*out)[*count].name, sizeof((*out)[0].name), "%s", ext);
			snprintf((*out)[*count].db, sizeof((*out)[0].db), "%s", db);
			(*count)++;
		}
	}
	return 0;
}

static void check_workload(const cluster_conf *conf, const check_request *req, const unit_record *records,
			   const bool *have, check_report *report)
{
	checks_extension *installed = NULL;
	int count = 0;
	char why[300] = "";
	bool failed = false;

	if (!req->rollback)
		failed = installed_extensions(conf, records, have, &installed, &count, why, sizeof(why)) != 0;
	checks_workload_judge(conf, req, records, have, installed, count, failed ? why : NULL, report);
	free(installed);
}

void checks_run(const cluster_conf *conf, const refresh_settings *settings, const check_request *req,
		const unit_record *records, const bool *have, check_report *report)
{
	char path[PATH_MAX + 32];
	char *blocklist = NULL;
	pgr_err err;
	bool backups = !req->skip_backup && !req->rollback;
	bool first_ok = false;
	char conninfo[1024];
	archiver_sample first;

	memset(report, 0, sizeof(*report));
	/* archiving: a first sample of pg_stat_archiver now, the second after the health checks' window */
	if (backups && primary_conninfo(conf, records, have, "postgres", conninfo, sizeof(conninfo)) == 0)
		first_ok = backup_archiver_sample(conninfo, &first, &err) == 0;
	if (req->skip_pre || req->rollback) {
		checks_add(report, "units-healthy", CHECK_PRE, CHECK_SKIPPED, "%s",
			   req->rollback ? "rollback: pre-refresh checks skipped" : "skipped (--run-pre-refresh-checks=false)");
	} else {
		check_health(conf, settings, report);
		check_backup(conf, records, have, report);
	}
	if (backups)
		backup_check_run(conf, settings->require_backup_hours,
				 primary_conninfo(conf, records, have, "postgres", conninfo, sizeof(conninfo)) == 0 ? conninfo
														  : NULL,
				 first_ok ? &first : NULL, report);
	else
		checks_add(report, "backup", CHECK_BACKUP, CHECK_SKIPPED, "%s",
			   req->rollback ? "rollback: backup checks skipped" : "skipped (--check-backup=false)");
	snprintf(path, sizeof(path), "%s/blocklist", conf->catalog);
	if (path_exists(path) && file_read_all(path, &blocklist, NULL, &err) != 0)
		blocklist = NULL;
	checks_versions(req, blocklist, report);
	free(blocklist);
	if (req->skip_workload)
		checks_add(report, "workload", CHECK_WORKLOAD, CHECK_SKIPPED, "skipped (--check-workload=false)");
	else
		check_workload(conf, req, records, have, report);
}
