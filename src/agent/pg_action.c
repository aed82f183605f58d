#include "agent/pg_action.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "adopt/adopt.h"
#include "adopt/adopt_yml.h"
#include "cluster/conf_security.h"
#include "cluster/fast_switchover.h"
#include "patroni/patroni.h"
#include "pg/pgsql.h"
#include "util/fileutil.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/text.h"

#define STOP_TIMEOUT_S 60       /* pg_ctl stop -t: a fast shutdown that takes longer has failed */
#define CONTROLDATA_TIMEOUT_MS 10000
#define SQL_TIMEOUT_MS 10000
#define PROMOTE_WAIT_S 30       /* the promotion, waited for */
#define STOP_POLL_MS 2          /* the stopping postmaster's pidfile, looked for */

int agent_pg_sync_names(const char *standby, char *buf, size_t len)
{
	if (standby[0] == '\0')
		return -1;
	for (const unsigned char *c = (const unsigned char *)standby; *c != '\0'; c++)
		if (!isalnum(*c) && *c != '_' && *c != '.' && *c != '-')
			return -1;
	snprintf(buf, len, "FIRST 1 (\"%s\")", standby);
	return 0;
}

int agent_pg_data_dir_parse(const char *yml, const char *origin, char *buf, size_t len, pgr_err *err)
{
	adopt_patroni_conf *pc = calloc(1, sizeof(*pc));
	int rc = -1;

	buf[0] = '\0';
	if (pc == NULL)
		return pgr_err_set(err, "out of memory");
	if (adopt_yml_read(yml, origin, pc, err) != 0)
		goto out;
	if (pc->data_dir[0] != '/')
		pgr_err_set(err, "%s: postgresql.data_dir '%.200s' is not an absolute path", origin, pc->data_dir);
	else if (strlen(pc->data_dir) >= len)
		pgr_err_set(err, "%s: postgresql.data_dir is too long", origin);
	else {
		snprintf(buf, len, "%s", pc->data_dir);
		rc = 0;
	}
out:
	free(pc);
	return rc;
}

int agent_pg_data_dir(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len, pgr_err *err)
{
	char path[PATH_MAX];
	char *text = NULL;
	bool adopted = false;
	int rc;

	buf[0] = '\0';
	if (adopt_unit_patroni_config(conf, unit, path, sizeof(path), &adopted, err) != 0)
		return -1;
	if (!adopted)
		conf_unit_path(conf, unit, "patroni.yml", path, sizeof(path));
	if (file_read_all(path, &text, NULL, err) != 0)
		return pgr_err_prefix(err, "the data directory of %s", unit->name);
	rc = agent_pg_data_dir_parse(text, path, buf, len, err);
	free(text);
	return rc;
}

static int conninfo_of(const cluster_conf *conf, const conf_unit *unit, char *buf, size_t len, pgr_err *err)
{
	cluster_secrets secrets;

	if (secrets_load(conf->dir, &secrets, err) != 0)
		return -1;
	pg_conninfo(buf, len, unit->host, unit->pg_port, conf->superuser, secrets.superuser_password, "postgres", 2);
	return 0;
}

/* pg_controldata of the unit's data directory, parsed into the answer. */
static int read_controldata(const cluster_conf *conf, const conf_unit *unit, const proc_user *as, pg_answer *a,
			    pgr_err *err)
{
	char bin[PATH_MAX], data[PATH_MAX], out[8192];
	fast_controldata cd;
	int status = 0;

	conf_unit_path(conf, unit, "bin/pg_controldata", bin, sizeof(bin));
	if (agent_pg_data_dir(conf, unit, data, sizeof(data), err) != 0)
		return -1;
	{
		char *const argv[] = { "/usr/bin/env", "LC_ALL=C", bin, "-D", data, NULL };

		if (proc_run(argv, as, CONTROLDATA_TIMEOUT_MS, out, sizeof(out), &status, err) != 0)
			return pgr_err_prefix(err, "pg_controldata");
	}
	if (status != 0)
		return pgr_err_set(err, "pg_controldata exited %d: %.200s", status, out);
	if (fast_switchover_controldata_parse(out, &cd, err) != 0)
		return -1;
	snprintf(a->state, sizeof(a->state), "%s", cd.state);
	snprintf(a->checkpoint_lsn, sizeof(a->checkpoint_lsn), "%X/%X", (unsigned)(cd.checkpoint_lsn >> 32),
		 (unsigned)(cd.checkpoint_lsn & 0xffffffffu));
	a->timeline = cd.timeline;
	return 0;
}

bool agent_pg_stat_dead(const char *stat)
{
	/* "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')' */
	const char *paren = strrchr(stat, ')');

	return paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

bool agent_pg_postmaster_gone(pid_t pid)
{
	char path[64], *text = NULL;
	bool gone;
	pgr_err err;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (file_read_all(path, &text, NULL, &err) != 0)
		return access(path, F_OK) != 0;
	gone = agent_pg_stat_dead(text);
	free(text);
	return gone;
}

agent_pg_stop_verdict agent_pg_stop_judge(bool signalled, bool pidfile_present, bool postmaster_gone)
{
	if (!pidfile_present || postmaster_gone)
		return AGENT_PG_STOP_DONE;
	return signalled ? AGENT_PG_STOP_WAIT : AGENT_PG_STOP_FAILED;
}

void agent_pg_one_line(char *out, size_t len, const char *msg)
{
	size_t n;

	text_copy(out, len, msg);
	for (char *c = out; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
			*c = ' ';
	for (n = strlen(out); n > 0 && out[n - 1] == ' '; n--)
		out[n - 1] = '\0';
}

/*
 * Stopped, fast; then what pg_controldata says. A PostgreSQL not running is stopped already; one whose
 * postmaster died (killed: its pidfile stays) is stopped too, crashed, and answered at once: pg_ctl's own
 * wait (-W here) would take its pidfile for a running server until its 60 s bound.
 */
static int ensure_stopped(const cluster_conf *conf, const conf_unit *unit, pg_answer *a, pgr_err *err)
{
	char bin[PATH_MAX], data[PATH_MAX], pidfile[PATH_MAX], out[2048];
	proc_user as;
	int status = 0;

	if (proc_user_for_servers(&as, err) != 0)
		return -1;
	conf_unit_path(conf, unit, "bin/pg_ctl", bin, sizeof(bin));
	if (agent_pg_data_dir(conf, unit, data, sizeof(data), err) != 0)
		return -1;
	if ((size_t)snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", data) >= sizeof(pidfile))
		return pgr_err_set(err, "%s/postmaster.pid: the path is too long", data);
	if (access(pidfile, F_OK) == 0) {
		/* -W: pg_ctl's own wait polls every 100 ms; the postmaster removes its pidfile as its last act */
		char *const argv[] = { bin, "stop", "-D", data, "-m", "fast", "-W", NULL };
		long long deadline;
		pid_t pid = 0;
		agent_pg_stop_verdict v;

		out[0] = '\0';
		if (proc_pidfile_read(pidfile, &pid, NULL) != 0) /* its first line: the postmaster's pid */
			pid = 0;
		/* a postmaster dead already is not signalled (pg_ctl would only say "No such process") */
		if (!agent_pg_postmaster_gone(pid) && proc_run(argv, &as, 10000, out, sizeof(out), &status, err) != 0)
			return pgr_err_prefix(err, "pg_ctl stop");
		deadline = proc_now_ms() + STOP_TIMEOUT_S * 1000LL;
		/* as pg_ctl's own wait: done when the pidfile is gone, or its postmaster died without removing it */
		while ((v = agent_pg_stop_judge(status == 0, access(pidfile, F_OK) == 0, agent_pg_postmaster_gone(pid))) ==
		       AGENT_PG_STOP_WAIT) {
			if (proc_now_ms() > deadline)
				return pgr_err_set(err, "PostgreSQL did not stop within %d s of pg_ctl stop -m fast (%s remains)",
						   STOP_TIMEOUT_S, pidfile);
			proc_sleep_ms(STOP_POLL_MS);
		}
		if (v == AGENT_PG_STOP_FAILED)
			return pgr_err_set(err, "pg_ctl stop -m fast exited %d: %.200s", status, out);
		if (access(pidfile, F_OK) == 0)
			log_warn("%s: the postmaster (pid %d) is gone and left %s: it died (killed or crashed) instead of "
				 "stopping", unit->name, (int)pid, pidfile);
	}
	return read_controldata(conf, unit, &as, a, err);
}

/*
 * Promoted, waited for: pg_promote(false) signals it, then the session itself watches pg_is_in_recovery()
 * every 2 ms (pg_promote(true) polls every 100 ms). Already promoted: nothing done. Bounded by
 * statement_timeout.
 */
static int ensure_promoted(const char *conninfo, pgr_err *err)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "SET statement_timeout = '%ds'; "
		 "DO $$ BEGIN "
		 "IF pg_is_in_recovery() THEN "
		 "IF NOT pg_promote(false) THEN RAISE EXCEPTION 'pg_promote() could not signal the postmaster'; END IF; "
		 "WHILE pg_is_in_recovery() LOOP PERFORM pg_sleep(0.002); END LOOP; "
		 "END IF; END $$",
		 PROMOTE_WAIT_S);
	return pg_exec_timeout(conninfo, sql, (PROMOTE_WAIT_S + 5) * 1000L, err);
}

static int set_sync_names(const char *conninfo, const char *names, pgr_err *err)
{
	char sql[200];

	if (names == NULL)
		snprintf(sql, sizeof(sql), "ALTER SYSTEM RESET synchronous_standby_names");
	else
		snprintf(sql, sizeof(sql), "ALTER SYSTEM SET synchronous_standby_names = '%s'", names);
	if (pg_exec_timeout(conninfo, sql, SQL_TIMEOUT_MS, err) != 0)
		return -1;
	return pg_exec_timeout(conninfo, "SELECT pg_reload_conf()", SQL_TIMEOUT_MS, err);
}

/*
 * Running (the fast switchover's candidate crashed after its promotion, Patroni in maintenance mode): started again
 * by its own Patroni (POST /restart: it starts it as it was, a primary, with its crash recovery). Answering SQL
 * already: nothing done.
 */
#define START_TIMEOUT_MS 30000

static int ensure_started(const cluster_conf *conf, const conf_unit *unit, pgr_err *err)
{
	char conninfo[1024], url[200], out[16];
	patroni_client pc;
	pgr_err qerr;

	if (conninfo_of(conf, unit, conninfo, sizeof(conninfo), err) != 0)
		return -1;
	if (pg_query_text_timeout(conninfo, "SELECT 1", 2000, out, sizeof(out), &qerr) == 0)
		return 0;
	conf_unit_patroni(conf, unit, &pc, url, sizeof(url));
	if (patroni_restart(&pc, url, START_TIMEOUT_MS, err) != 0)
		return pgr_err_prefix(err, "Patroni could not start PostgreSQL");
	return 0;
}

/* Ensures intent on the unit's PostgreSQL; the outcome into *a (ok, error, and after a stop its controldata). */
static void ensure(const pg_intent *intent, const cluster_conf *conf, const conf_unit *unit, pg_answer *a)
{
	char conninfo[1024], names[96];
	pgr_err err;
	int rc = 0;

	pgr_err_clear(&err);
	switch (intent->action) {
	case PG_ACTION_NONE:
		break;
	case PG_ACTION_STOP:
		rc = ensure_stopped(conf, unit, a, &err);
		break;
	case PG_ACTION_SYNC_OVERRIDE:
		if (agent_pg_sync_names(intent->standby, names, sizeof(names)) != 0)
			rc = pgr_err_set(&err, "not a standby name: '%.60s'", intent->standby);
		else if ((rc = conninfo_of(conf, unit, conninfo, sizeof(conninfo), &err)) == 0)
			rc = set_sync_names(conninfo, names, &err);
		break;
	case PG_ACTION_PROMOTE:
		if ((rc = conninfo_of(conf, unit, conninfo, sizeof(conninfo), &err)) == 0)
			rc = ensure_promoted(conninfo, &err);
		break;
	case PG_ACTION_SYNC_RESET:
		if ((rc = conninfo_of(conf, unit, conninfo, sizeof(conninfo), &err)) == 0)
			rc = set_sync_names(conninfo, NULL, &err);
		break;
	case PG_ACTION_START:
		rc = ensure_started(conf, unit, &err);
		break;
	default:
		rc = pgr_err_set(&err, "unknown action %d", (int)intent->action);
		break;
	}
	a->ok = rc == 0;
	if (rc != 0) /* one line: an answer that cannot be written is never seen, and the action taken again */
		agent_pg_one_line(a->error, sizeof(a->error), err.msg);
}

bool agent_pg_intent_waiting(agent_pg *p, const etcd_client *etcd, const char *prefix, const conf_unit *unit,
			     long period_ms)
{
	long long deadline = proc_now_ms() + period_ms;

	for (;;) {
		pg_intent intent;
		bool found = false;
		pgr_err err;

		if (pg_intent_read(etcd, prefix, unit->member, &intent, &found, &err) != 0)
			return false; /* said by agent_pg_take_intent at the next poll */
		if (found && (!p->seeded || strcmp(intent.token, p->answered) != 0))
			return true;
		if (proc_now_ms() + AGENT_PG_POLL_MS > deadline)
			return false;
		proc_sleep_ms(AGENT_PG_POLL_MS);
	}
}

int agent_pg_take_intent(agent_pg *p, const etcd_client *etcd, const char *prefix, const cluster_conf *conf,
			 const conf_unit *unit, bool *acted, pgr_err *err)
{
	pg_intent intent;
	pg_answer answer;
	bool found = false;
	long long t0;

	*acted = false;
	if (!p->seeded) {
		if (pg_answer_read(etcd, prefix, unit->member, &answer, &found, err) != 0)
			return -1;
		snprintf(p->answered, sizeof(p->answered), "%s", found ? answer.token : "");
		p->seeded = true;
	}
	if (pg_intent_read(etcd, prefix, unit->member, &intent, &found, err) != 0)
		return -1;
	if (!found || strcmp(intent.token, p->answered) == 0)
		return 0;
	memset(&answer, 0, sizeof(answer));
	snprintf(answer.token, sizeof(answer.token), "%s", intent.token);
	t0 = proc_now_ms();
	ensure(&intent, conf, unit, &answer);
	if (answer.ok)
		log_info("%s: %s ensured for intent %s (asked by %s) in %lld ms%s%s", unit->name,
			 pg_action_name(intent.action), intent.token, intent.by, proc_now_ms() - t0,
			 answer.state[0] != '\0' ? ": " : "", answer.state);
	else
		log_warn("%s: %s failed for intent %s (asked by %s): %s", unit->name, pg_action_name(intent.action),
			 intent.token, intent.by, answer.error);
	if (pg_answer_put(etcd, prefix, unit->member, &answer, err) != 0)
		return -1; /* not answered: ensured again, harmlessly, at the next poll */
	snprintf(p->answered, sizeof(p->answered), "%s", intent.token);
	*acted = true;
	return 0;
}
