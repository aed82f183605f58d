/*
 * The refresh commands: pre-refresh-check, refresh [--dry-run], resume-refresh, force-refresh-start,
 * rollback, config, wait, history, debug fsm. They read the cluster's state from etcd (state/store.h),
 * change the refresh record only by compare-and-swap, and leave the doing to the coordinator.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "cli/cli.h"
#include "cli/refresh_view.h"
#include "cluster/conf.h"
#include "cluster/conf_security.h"
#include "etcd/etcd.h"
#include "refresh/checks.h"
#include "refresh/driver.h"
#include "refresh/fsm.h"
#include "state/intent.h"
#include "state/store.h"
#include "state/lock.h"
#include "status/status.h"
#include "status/svg.h"
#include "util/exitcodes.h"
#include "util/fileutil.h"
#include "util/proc.h"

#define CHECKS_WAIT_MS 90000
/* How long await_checks goes on once etcd stops answering: the refresh is recorded, and the user has
 * etcd to start, not a coordinator to wait for (etcd killed mid-refresh: 90 s of silence before). */
#define CHECKS_ETCD_LOST_MS 5000

static int64_t wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Everything a refresh command works with. */
typedef struct refresh_cli {
	cluster_conf conf;
	etcd_client etcd;
	state_scope scope; /* conf's, for the state layer */
	store_snapshot *snap;
} refresh_cli;

static int open_cluster(cli_ctx *ctx, refresh_cli *rc)
{
	memset(rc, 0, sizeof(*rc));
	if (conf_load(ctx->dir, &rc->conf, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	conf_state_scope(&rc->conf, &rc->scope);
	if (conf_etcd_client(&rc->conf, &rc->etcd, &ctx->err) != 0)
		return PGR_EXIT_ERROR;
	rc->etcd.timeout_ms = 3000;
	rc->snap = calloc(1, sizeof(*rc->snap));
	if (rc->snap == NULL) {
		pgr_err_set(&ctx->err, "out of memory");
		return PGR_EXIT_ERROR;
	}
	if (store_read(&rc->etcd, &rc->scope, rc->snap, &ctx->err) != 0)
		return etcd_err_explain(&ctx->err, rc->conf.name, rc->conf.dir, rc->conf.security.etcd_password_secret);
	if (rc->snap->refresh_corrupt) {
		char key[256];

		store_key(&rc->scope, "refresh", key, sizeof(key));
		pgr_err_set(&ctx->err, "the refresh record at %s is corrupt (%s): nothing done", key,
			    rc->snap->refresh_corrupt_why);
		pgr_err_hint(&ctx->err, "see `pgrefresh status`; `pgrefresh repair-refresh-record` keeps it aside and removes it");
		return PGR_EXIT_ERROR;
	}
	return PGR_EXIT_OK;
}

static int reread(cli_ctx *ctx, refresh_cli *rc)
{
	if (store_read(&rc->etcd, &rc->scope, rc->snap, &ctx->err) != 0)
		return -1;
	if (rc->snap->refresh_corrupt) /* never read as "no refresh" */
		return pgr_err_set(&ctx->err, "the refresh record is corrupt (%s)", rc->snap->refresh_corrupt_why);
	return 0;
}

static void close_cluster(refresh_cli *rc)
{
	free(rc->snap);
	rc->snap = NULL;
}

static bool refresh_in_progress(const refresh_cli *rc)
{
	return rc->snap->have_refresh && rc->snap->refresh.state != RS_DONE;
}

/* "paused 15.18→15.20 1/3" */
static void describe_refresh(const refresh_record *rec, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s %s→%s %d/%d", rec->rollback ? "rollback " : "", refresh_state_display(rec->state),
		 rec->from, rec->to, record_done_count(rec), rec->unit_count);
}

/* The operation lock, for commands that change the cluster. 0 when free. */
int cli_refuse_during_refresh(cli_ctx *ctx, const char *what);

/* "pg/0 → pg/1" for the switchover marked in progress */
static void describe_switchover(const refresh_cli *rc, char *out, size_t len)
{
	const char *from = rc->snap->switchover.from, *to = rc->snap->switchover.to;

	for (int i = 0; i < rc->conf.unit_count; i++) {
		if (strcmp(rc->conf.units[i].member, rc->snap->switchover.from) == 0)
			from = rc->conf.units[i].name;
		if (strcmp(rc->conf.units[i].member, rc->snap->switchover.to) == 0)
			to = rc->conf.units[i].name;
	}
	snprintf(out, len, "%s → %s", from, to);
}

/* The refusal of a cluster operation while snap shows a refresh or a switchover mark; PGR_EXIT_OK if neither. */
static int refuse_if_busy(cli_ctx *ctx, const refresh_cli *rc, const char *what)
{
	char desc[128];

	if (refresh_in_progress(rc)) {
		describe_refresh(&rc->snap->refresh, desc, sizeof(desc));
		pgr_err_set(&ctx->err, "%s refused: a refresh is in progress (%s)", what, desc);
		pgr_err_hint(&ctx->err, "finish it (`pgrefresh resume-refresh`, `pgrefresh wait idle`) or roll it back (`pgrefresh rollback`)");
		return PGR_EXIT_REFUSED;
	}
	if (rc->snap->have_switchover) {
		describe_switchover(rc, desc, sizeof(desc));
		pgr_err_set(&ctx->err, "%s refused: a switchover is in progress (%s)", what, desc);
		pgr_err_hint(&ctx->err, "wait until `pgrefresh status` shows it done (seconds), then try again");
		return PGR_EXIT_REFUSED;
	}
	return PGR_EXIT_OK;
}

int cli_refuse_during_refresh(cli_ctx *ctx, const char *what)
{
	refresh_cli rc;
	int code = open_cluster(ctx, &rc);

	if (code == PGR_EXIT_OK)
		code = refuse_if_busy(ctx, &rc, what);
	close_cluster(&rc);
	return code;
}

/* The operation lock held by a cluster operation of this process (cli.h). */
struct cli_op_lock {
	etcd_client etcd;
	etcd_lease_keeper keeper; /* the lease the lock is bound to: it expires if this process dies */
	char prefix[128];
	state_lock held;
};

#define CLI_LOCK_TTL_S 5

/* "add-unit refused: another operation holds the lock: a switchover by ... since ... (3 s ago)" */
static int refuse_locked(cli_ctx *ctx, const char *what, const state_lock *holder)
{
	char desc[400];

	state_lock_describe(holder, wall_ms(), desc, sizeof(desc));
	pgr_err_set(&ctx->err, "%s refused: another operation is in progress: %s", what, desc);
	pgr_err_hint(&ctx->err, "wait until it ends (`pgrefresh status`), then try again; the lock of a process that died "
				"goes away by itself within %d s", CLI_LOCK_TTL_S);
	return PGR_EXIT_REFUSED;
}

int cli_lock_take(cli_ctx *ctx, const char *what, cli_op_lock **out)
{
	refresh_cli rc;
	cli_op_lock *lock = NULL;
	state_lock holder;
	char host[64] = "";
	bool taken = false;
	int code;

	*out = NULL;
	code = open_cluster(ctx, &rc);
	if (code != PGR_EXIT_OK)
		goto out;
	/* a refresh (in its own words), the lock's holder, or a switchover marked by a process from before the lock */
	if (refresh_in_progress(&rc) || !rc.snap->have_lock || rc.snap->lock.lease == 0) /* no lease: taking removes it */
		code = refuse_if_busy(ctx, &rc, what);
	else
		code = refuse_locked(ctx, what, &rc.snap->lock);
	if (code != PGR_EXIT_OK)
		goto out;
	lock = calloc(1, sizeof(*lock));
	if (lock == NULL) {
		pgr_err_set(&ctx->err, "out of memory");
		code = PGR_EXIT_ERROR;
		goto out;
	}
	lock->etcd = rc.etcd;
	conf_etcd_prefix(&rc.conf, lock->prefix, sizeof(lock->prefix));
	if (etcd_lease_keeper_start(&lock->keeper, &rc.etcd, CLI_LOCK_TTL_S, &ctx->err) != 0) {
		free(lock);
		lock = NULL;
		pgr_err_prefix(&ctx->err, "%s: nothing changed", what);
		code = PGR_EXIT_UNREACHABLE;
		goto out;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(lock->held.operation, sizeof(lock->held.operation), "%s", what);
	snprintf(lock->held.owner, sizeof(lock->held.owner), "pgrefresh %s (pid %d on %s)", what, (int)getpid(),
		 host[0] ? host : "an unknown host");
	lock->held.since_ms = wall_ms();
	lock->held.lease = lock->keeper.lease;
	if (state_lock_take(&rc.etcd, lock->prefix, &lock->held, "refresh", &taken, &holder, &ctx->err) != 0) {
		code = PGR_EXIT_UNREACHABLE;
	} else if (!taken && holder.operation[0] != '\0') {
		code = refuse_locked(ctx, what, &holder);
	} else if (!taken) {
		/* a refresh was recorded meanwhile */
		if (reread(ctx, &rc) == 0)
			code = refuse_if_busy(ctx, &rc, what);
		if (code == PGR_EXIT_OK) {
			pgr_err_set(&ctx->err, "%s refused: a refresh was recorded meanwhile", what);
			pgr_err_hint(&ctx->err, "see `pgrefresh status`, then try again");
			code = PGR_EXIT_REFUSED;
		}
	}
	if (code != PGR_EXIT_OK) {
		etcd_lease_keeper_stop(&lock->keeper);
		free(lock);
		lock = NULL;
	}
out:
	close_cluster(&rc);
	*out = lock;
	return code;
}

void cli_lock_release(cli_op_lock *lock)
{
	pgr_err err;

	if (lock == NULL)
		return;
	if (state_lock_release(&lock->etcd, lock->prefix, &lock->held, &err) != 0)
		fprintf(stderr, "pgrefresh: warning: could not release the operation lock (it expires with its lease): %s\n",
			err.msg);
	etcd_lease_keeper_stop(&lock->keeper);
	free(lock);
}


/* The version every unit is linked to; -1 with err when they differ or nothing reports. */
static int cluster_version(cli_ctx *ctx, const refresh_cli *rc, char *version, size_t len)
{
	version[0] = '\0';
	for (int i = 0; i < rc->conf.unit_count; i++) {
		const char *v = rc->snap->have[i] ? rc->snap->records[i].linked_version : "";

		if (v[0] == '\0') {
			pgr_err_set(&ctx->err, "unit %s has not reported its version", rc->conf.units[i].name);
			pgr_err_hint(&ctx->err, "see `pgrefresh status`; start it with `pgrefresh cluster start`");
			return -1;
		}
		if (version[0] && strcmp(version, v) != 0) {
			pgr_err_set(&ctx->err, "units run different versions (%s and %s) and no refresh is in progress", version, v);
			pgr_err_hint(&ctx->err, "see `pgrefresh status`");
			return -1;
		}
		snprintf(version, len, "%s", v);
	}
	return 0;
}

/* The target: --version, else the highest of the same major in the catalog. */
static int choose_target(cli_ctx *ctx, const refresh_cli *rc, const char *asked, const char *from, char *to, size_t len)
{
	pg_version v;
	catalog_entry entry;

	if (asked != NULL) {
		if (pg_version_parse(asked, &v, &ctx->err) != 0) {
			pgr_err_hint(&ctx->err, "give a version like 15.20; see `pgrefresh versions`");
			return -1;
		}
		snprintf(to, len, "%s", asked);
		return 0;
	}
	if (pg_version_parse(from, &v, &ctx->err) != 0)
		return -1;
	if (catalog_highest_of_major(rc->conf.catalog, v.major, &entry, &ctx->err) != 0)
		return -1;
	snprintf(to, len, "%s", entry.version);
	return 0;
}

/*
 * The versions the units' catalogs hold, as their agents report them, and the cluster's catalog as this
 * host sees it (a version added a moment ago may not be in the agents' reports yet). Returns how many.
 */
static int known_versions(const refresh_cli *rc, char (*out)[16], int max)
{
	int n = 0;
	catalog_entry *entries = NULL;
	int count = 0;
	pgr_err ignored;

	for (int i = 0; i < rc->conf.unit_count; i++) {
		if (!rc->snap->have[i])
			continue;
		for (int k = 0; k < rc->snap->records[i].catalog_count && n < max; k++)
			snprintf(out[n++], 16, "%s", rc->snap->records[i].catalog[k]);
	}
	if (catalog_list(rc->conf.catalog, &entries, &count, &ignored) != 0)
		return n;
	for (int i = 0; i < count && n < max; i++)
		snprintf(out[n++], 16, "%s", entries[i].version);
	free(entries);
	return n;
}

/* refresh_view_check_target against the versions the units' catalogs hold. */
static target_verdict check_target(cli_ctx *ctx, const refresh_cli *rc, const char *from, const char *to)
{
	char versions[CONF_MAX_UNITS * UNIT_RECORD_MAX_VERSIONS][16];
	int n = known_versions(rc, versions, (int)(sizeof(versions) / sizeof(versions[0])));

	return refresh_view_check_target(from, to, (const char(*)[16])versions, n, &ctx->err);
}

static void print_checks(const check_report *report)
{
	for (int i = 0; i < report->count; i++) {
		const check_result *r = &report->results[i];

		printf("  %-6s %-22s %s\n",
		       r->verdict == CHECK_PASS ? "ok" : r->verdict == CHECK_FAIL ? "FAIL" : "skip", r->name, r->detail);
	}
}

static json_t *checks_json(const check_report *report)
{
	json_t *arr = json_array();

	for (int i = 0; i < report->count; i++) {
		const check_result *r = &report->results[i];

		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "name", r->name, "group", check_group_name(r->group),
						     "verdict",
						     r->verdict == CHECK_PASS ? "pass" : r->verdict == CHECK_FAIL ? "fail" : "skipped",
						     "detail", r->detail));
	}
	return arr;
}

static void print_json(json_t *obj)
{
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (text != NULL) {
		puts(text);
		free(text);
	}
	json_decref(obj);
}

/* What the pause setting will do with plan (per unit, or per batch when max-parallel-units groups units). */
static const char *pause_sentence(pause_policy p, const refresh_record *planned)
{
	static char buf[400];
	char first[160];
	bool batches = record_batch_count(planned) < planned->unit_count;
	const char *what = batches ? "batch" : "unit";

	if (status_batch_units(planned, STEP_PENDING, first, sizeof(first)) < 0)
		snprintf(first, sizeof(first), "-");
	switch (p) {
	case PAUSE_ALL:
		snprintf(buf, sizeof(buf), "pause-after-unit-refresh=all: the refresh will pause after every %s; "
					   "run `pgrefresh resume-refresh` after checking each one.", what);
		break;
	case PAUSE_NONE:
		snprintf(buf, sizeof(buf), "pause-after-unit-refresh=none: the refresh will not pause; "
					   "`pgrefresh config set pause-after-unit-refresh=all` stops it after the current %s.", what);
		break;
	default:
		snprintf(buf, sizeof(buf), "pause-after-unit-refresh=first: the refresh will pause after the first %s (%s); "
					   "check %s, then `pgrefresh resume-refresh` lets the rest go.", what, first,
			 strchr(first, ',') ? "them" : "it");
		break;
	}
	return buf;
}

int cmd_pre_refresh_check(cli_ctx *ctx, int argc, char **argv)
{
	refresh_cli rc;
	const char *asked = cli_take_option(&argc, argv, "--version");
	check_request req;
	check_report report;
	char problems[CONF_MAX_UNITS + 40][260];
	int nproblems = 0;
	plan_input_unit units[CONF_MAX_UNITS];
	int count;
	refresh_record plan_rec;
	int code;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	code = open_cluster(ctx, &rc);
	if (code != PGR_EXIT_OK)
		goto out;
	memset(&req, 0, sizeof(req));
	memset(&report, 0, sizeof(report));
	if (refresh_in_progress(&rc)) {
		char desc[128];

		describe_refresh(&rc.snap->refresh, desc, sizeof(desc));
		snprintf(problems[nproblems++], sizeof(problems[0]), "a refresh is in progress (%s)", desc);
	}
	if (rc.snap->have_switchover) {
		char desc[128];

		describe_switchover(&rc, desc, sizeof(desc));
		snprintf(problems[nproblems++], sizeof(problems[0]), "a switchover is in progress (%s)", desc);
	}
	if (rc.snap->have_lock && !refresh_in_progress(&rc)) {
		char desc[200];

		state_lock_describe(&rc.snap->lock, wall_ms(), desc, sizeof(desc));
		snprintf(problems[nproblems++], sizeof(problems[0]), "another operation is in progress: %s", desc);
	}
	for (int i = 0; i < rc.conf.unit_count; i++) {
		if (!rc.snap->have[i] || !rc.snap->alive[i])
			snprintf(problems[nproblems++], sizeof(problems[0]), "%s: its agent does not report",
				 rc.conf.units[i].name);
	}
	if (cluster_version(ctx, &rc, req.from, sizeof(req.from)) != 0) {
		snprintf(problems[nproblems++], sizeof(problems[0]), "%s", ctx->err.msg);
	} else if (choose_target(ctx, &rc, asked, req.from, req.to, sizeof(req.to)) != 0) {
		snprintf(problems[nproblems++], sizeof(problems[0]), "no target: %s", ctx->err.msg);
	} else if (strcmp(req.from, req.to) == 0) {
		snprintf(problems[nproblems++], sizeof(problems[0]),
			 "the cluster already runs %s, the highest version of its major in the catalog", req.to);
	} else if (asked != NULL && check_target(ctx, &rc, req.from, req.to) != TARGET_OK) {
		snprintf(problems[nproblems++], sizeof(problems[0]), "%s", ctx->err.msg);
	} else {
		checks_run(&rc.conf, &rc.snap->settings, &req, rc.snap->records, rc.snap->have, &report);
		for (int i = 0; i < report.count && nproblems < (int)(sizeof(problems) / sizeof(problems[0])); i++)
			if (report.results[i].verdict == CHECK_FAIL)
				snprintf(problems[nproblems++], sizeof(problems[0]), "%s: %s", report.results[i].name,
					 report.results[i].detail);
	}
	pgr_err_clear(&ctx->err);
	refresh_plan_inputs(&rc.conf, rc.snap, units, &count);
	record_new_batched(0, req.from, req.to, units, count, rc.snap->settings.max_parallel_units, wall_ms(), &plan_rec);
	if (ctx->json) {
		json_t *obj = json_object();
		json_t *arr = json_array();
		char rollback[64];

		for (int i = 0; i < nproblems; i++)
			json_array_append_new(arr, json_string(problems[i]));
		snprintf(rollback, sizeof(rollback), "pgrefresh rollback");
		json_object_set_new(obj, "ready", json_boolean(nproblems == 0));
		json_object_set_new(obj, "from", json_string(req.from));
		json_object_set_new(obj, "to", json_string(req.to));
		json_object_set_new(obj, "problems", arr);
		json_object_set_new(obj, "checks", checks_json(&report));
		json_object_set_new(obj, "rollback_command", json_string(rollback));
		json_object_set_new(obj, "pause_after_unit_refresh", json_string(pause_policy_name(rc.snap->settings.pause)));
		json_object_set_new(obj, "max_parallel_units", json_integer(rc.snap->settings.max_parallel_units));
		json_object_set_new(obj, "batches", json_integer(record_batch_count(&plan_rec)));
		print_json(obj);
	} else if (nproblems > 0) {
		printf("NOT READY: cluster %s has %d problem(s):\n", rc.conf.name, nproblems);
		for (int i = 0; i < nproblems; i++)
			printf("  %s\n", problems[i]);
	} else {
		printf("ready: cluster %s is healthy and ready to refresh %s → %s (%d unit(s))\n", rc.conf.name, req.from,
		       req.to, plan_rec.unit_count);
		print_checks(&report);
		printf("to roll back during the refresh: pgrefresh rollback   (the same as: pgrefresh refresh --version %s)\n",
		       req.from);
		printf("%s\n", pause_sentence(rc.snap->settings.pause, &plan_rec));
	}
	code = nproblems ? PGR_EXIT_NOT_READY : PGR_EXIT_OK;
	if (nproblems) {
		pgr_err_set(&ctx->err, "cluster %s is not ready to refresh: %s%s", rc.conf.name, problems[0],
			    nproblems > 1 ? " (and more above)" : "");
		pgr_err_hint(&ctx->err, "fix the problems, then run `pgrefresh pre-refresh-check` again");
	}
out:
	close_cluster(&rc);
	return code;
}

/* Waits until the coordinator has run the checks of the record it was given; reports the outcome. */
static int await_checks(cli_ctx *ctx, refresh_cli *rc, const char *what)
{
	long long deadline = proc_now_ms() + CHECKS_WAIT_MS;
	long long lost_since = 0;

	for (;;) {
		if (reread(ctx, rc) != 0) {
			if (lost_since == 0)
				lost_since = proc_now_ms();
			if (proc_now_ms() - lost_since > CHECKS_ETCD_LOST_MS) {
				pgr_err_prefix(&ctx->err, "%s recorded, but its state cannot be read any more", what);
				pgr_err_hint(&ctx->err, "start etcd again (`pgrefresh cluster start` on a local cluster), then "
							"follow it with `pgrefresh status`");
				return PGR_EXIT_UNREACHABLE;
			}
		} else {
			const refresh_record *rec = &rc->snap->refresh;

			lost_since = 0;
			char msg[320];

			if (!rc->snap->have_refresh || rec->state == RS_DONE) {
				printf("%s done: nothing to refresh\n", what);
				return PGR_EXIT_OK;
			}
			if (rec->state == RS_INCOMPATIBLE) {
				pg_version vf, vt;
				pgr_err ignored;

				status_refresh_message(rec, "", msg, sizeof(msg));
				pgr_err_set(&ctx->err, "%s halted as incompatible: %s", what, rec->reason);
				if (pg_version_parse(rec->from, &vf, &ignored) == 0 && pg_version_parse(rec->to, &vt, &ignored) == 0 &&
				    vf.major != vt.major) {
					/* a change of major is never forced */
					pgr_err_hint(&ctx->err, "nothing changed; cancel it with `pgrefresh rollback`");
					return PGR_EXIT_HALTED;
				}
				pgr_err_hint(&ctx->err, "nothing changed; `pgrefresh rollback` cancels it, or `pgrefresh force-refresh-start %s` skips the check",
					     strncmp(rec->reason, "backup check", 12) == 0 ? "--check-backup=false"
					     : strstr(rec->reason, "compatibility") ? "--check-compatibility=false"
					     : strstr(rec->reason, "workload") ? "--check-workload=false"
										: "--run-pre-refresh-checks=false");
				return PGR_EXIT_HALTED;
			}
			if (rec->state == RS_FAILED) {
				pgr_err_set(&ctx->err, "%s failed: %s", what, rec->reason);
				pgr_err_hint(&ctx->err, "roll back with `pgrefresh rollback`");
				return PGR_EXIT_HALTED;
			}
			if (rec->state != RS_CHECKING) {
				bool batches = record_batch_count(rec) < rec->unit_count;

				printf("%s %s → %s started: %d unit(s), in this order", what, rec->from, rec->to, rec->unit_count);
				if (batches)
					printf(", in %d batches (the units of a batch at once)", record_batch_count(rec));
				printf(":");
				for (int i = 0; i < rec->unit_count; i++)
					printf("%s %s", batches && i > 0 && rec->units[i].batch != rec->units[i - 1].batch ? " |" : "",
					       rec->units[i].unit);
				printf("\nfollow it with `pgrefresh status --watch`; roll back with `pgrefresh rollback`\n");
				return PGR_EXIT_OK;
			}
		}
		if (proc_now_ms() > deadline) {
			printf("%s recorded; the coordinator has not run its checks yet (see `pgrefresh status`)\n", what);
			return PGR_EXIT_OK;
		}
		proc_sleep_ms(100);
	}
}

/* How long a command waits for the coordinator to take what it asks (it ticks every second or sooner). */
#define INTENT_WAIT_MS 30000

/* Asks the coordinator through an intent (state/intent.h) and waits until it took it or refused (*answer). */
static int ask_coordinator_answer(cli_ctx *ctx, refresh_cli *rc, const fsm_intent *ask, refresh_intent *answer)
{
	int r = intent_submit_and_wait(&rc->etcd, &rc->scope, ask, INTENT_WAIT_MS, answer, &ctx->err);

	if (r < 0)
		return PGR_EXIT_UNREACHABLE;
	if (r == 1)
		return PGR_EXIT_TIMEOUT;
	if (r == 2)
		return PGR_EXIT_REFUSED;
	if (answer->answer == INTENT_REFUSED) {
		pgr_err_set(&ctx->err, "the coordinator refused: %s", answer->result);
		pgr_err_hint(&ctx->err, "see `pgrefresh status`");
		return PGR_EXIT_REFUSED;
	}
	return PGR_EXIT_OK;
}

static int ask_coordinator(cli_ctx *ctx, refresh_cli *rc, const fsm_intent *ask)
{
	refresh_intent in;

	return ask_coordinator_answer(ctx, rc, ask, &in);
}

static int start_rollback(cli_ctx *ctx, refresh_cli *rc)
{
	fsm_intent ask = { .ask = ASK_ROLLBACK, .check_health = true };
	int code;

	if (!refresh_in_progress(rc)) {
		pgr_err_set(&ctx->err, "no refresh in progress to roll back");
		pgr_err_hint(&ctx->err, "after a completed refresh, going back is a downgrade: `pgrefresh refresh --version V` "
				       "is refused as incompatible unless forced");
		return PGR_EXIT_REFUSED;
	}
	code = ask_coordinator(ctx, rc, &ask);
	if (code != PGR_EXIT_OK)
		return code;
	return await_checks(ctx, rc, "rollback");
}

int cmd_refresh(cli_ctx *ctx, int argc, char **argv)
{
	refresh_cli rc;
	const char *asked = cli_take_option(&argc, argv, "--version");
	bool dry_run = cli_take_flag(&argc, argv, "--dry-run");
	char from[16], to[16];
	plan_input_unit units[CONF_MAX_UNITS];
	int count, code;
	refresh_record rec;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (argc > 0) {
		pgr_err_set(&ctx->err, "unexpected argument \"%s\"", argv[0]);
		pgr_err_hint(&ctx->err, "see `pgrefresh refresh --help`");
		return PGR_EXIT_USAGE;
	}
	if (asked != NULL && pg_version_parse(asked, &(pg_version){ 0 }, &ctx->err) != 0) {
		pgr_err_hint(&ctx->err, "give a version like 15.20; see `pgrefresh versions`");
		return PGR_EXIT_USAGE;
	}
	code = open_cluster(ctx, &rc);
	if (code != PGR_EXIT_OK)
		goto out;
	if (refresh_in_progress(&rc)) {
		char desc[128];

		if (asked != NULL && strcmp(asked, rc.snap->refresh.original) == 0 && !dry_run) {
			code = start_rollback(ctx, &rc);
			goto out;
		}
		describe_refresh(&rc.snap->refresh, desc, sizeof(desc));
		pgr_err_set(&ctx->err, "a refresh is already in progress (%s)", desc);
		pgr_err_hint(&ctx->err, "resume it with `pgrefresh resume-refresh`, or roll it back with `pgrefresh rollback`");
		code = PGR_EXIT_REFUSED;
		goto out;
	}
	if (rc.snap->have_switchover && !dry_run) {
		char desc[128];

		describe_switchover(&rc, desc, sizeof(desc));
		pgr_err_set(&ctx->err, "refresh refused: a switchover is in progress (%s)", desc);
		pgr_err_hint(&ctx->err, "wait until `pgrefresh status` shows it done (seconds), then try again");
		code = PGR_EXIT_REFUSED;
		goto out;
	}
	if (rc.snap->have_lock && !dry_run) {
		code = refuse_locked(ctx, "refresh", &rc.snap->lock);
		goto out;
	}
	if (cluster_version(ctx, &rc, from, sizeof(from)) != 0 || choose_target(ctx, &rc, asked, from, to, sizeof(to)) != 0) {
		code = PGR_EXIT_ERROR;
		goto out;
	}
	/* refused before anything is recorded: the same version, one no catalog has, another major */
	switch (check_target(ctx, &rc, from, to)) {
	case TARGET_OK:
		break;
	case TARGET_SAME:
		printf("%s\n", ctx->err.msg);
		pgr_err_clear(&ctx->err);
		code = PGR_EXIT_OK;
		goto out;
	default:
		code = PGR_EXIT_USAGE;
		goto out;
	}
	refresh_plan_inputs(&rc.conf, rc.snap, units, &count);
	record_new_batched(rc.snap->max_id + 1, from, to, units, count, rc.snap->settings.max_parallel_units, wall_ms(),
			   &rec); /* the id: given when recorded */
	if (dry_run) {
		check_request req;
		check_report report;
		bool ok;

		memset(&req, 0, sizeof(req));
		snprintf(req.from, sizeof(req.from), "%s", from);
		snprintf(req.to, sizeof(req.to), "%s", to);
		checks_run(&rc.conf, &rc.snap->settings, &req, rc.snap->records, rc.snap->have, &report);
		ok = checks_first_failure(&report) == NULL;
		if (ctx->json) {
			json_t *obj = json_object();
			json_t *steps = json_array();

			for (int i = 0; i < rec.unit_count; i++)
				json_array_append_new(steps, json_pack("{s:s,s:s,s:s,s:s,s:i}", "unit", rec.units[i].unit, "role",
								      rec.units[i].planned_role, "from", from, "to", to,
								      "batch", rec.units[i].batch + 1));
			json_object_set_new(obj, "from", json_string(from));
			json_object_set_new(obj, "to", json_string(to));
			json_object_set_new(obj, "plan", steps);
			json_object_set_new(obj, "batches", json_integer(record_batch_count(&rec)));
			json_object_set_new(obj, "max_parallel_units", json_integer(rc.snap->settings.max_parallel_units));
			json_object_set_new(obj, "checks", checks_json(&report));
			json_object_set_new(obj, "ok", json_boolean(ok));
			print_json(obj);
		} else {
			const char *primary = NULL;

			bool batches = record_batch_count(&rec) < rec.unit_count;

			if (batches)
				printf("plan: refresh cluster %s %s → %s in %d batches (max-parallel-units=%d; the units of a "
				       "batch at once):\n", rc.conf.name, from, to, record_batch_count(&rec),
				       rc.snap->settings.max_parallel_units);
			else
				printf("plan: refresh cluster %s %s → %s, one unit at a time:\n", rc.conf.name, from, to);
			for (int i = 0; i < rec.unit_count; i++) {
				char batch[32] = "";

				if (batches)
					snprintf(batch, sizeof(batch), "  batch %d", rec.units[i].batch + 1);
				printf("  %d. %-6s %-13s %s → %s%s\n", i + 1, rec.units[i].unit, rec.units[i].planned_role, from, to,
				       batch);
				if (strcmp(rec.units[i].planned_role, "primary") == 0)
					primary = rec.units[i].unit;
			}
			if (primary != NULL)
				printf("  before %s: switchover to the refreshed sync standby, PgBouncer paused around it\n", primary);
			printf("checks:\n");
			print_checks(&report);
			printf("%s\n", pause_sentence(rc.snap->settings.pause, &rec));
			printf("dry run: nothing changed\n");
		}
		code = ok ? PGR_EXIT_OK : PGR_EXIT_NOT_READY;
		if (!ok) {
			const check_result *bad = checks_first_failure(&report);

			pgr_err_set(&ctx->err, "check %s would fail: %s", bad->name, bad->detail);
		}
		goto out;
	}
	{
		/* the coordinator records it (the only writer of the refresh record) */
		fsm_intent ask = { .ask = ASK_REFRESH, .check_health = true, .id = rec.id };

		snprintf(ask.from, sizeof(ask.from), "%s", from);
		snprintf(ask.to, sizeof(ask.to), "%s", to);
		code = ask_coordinator(ctx, &rc, &ask);
		if (code != PGR_EXIT_OK)
			goto out;
	}
	if (reread(ctx, &rc) == 0 && rc.snap->have_refresh)
		rec.id = rc.snap->refresh.id; /* the id is handed out when the coordinator records it */
	fprintf(stderr, "refresh %d recorded: %s → %s; the coordinator checks before touching any unit ...\n", rec.id, from, to);
	code = await_checks(ctx, &rc, "refresh");
out:
	close_cluster(&rc);
	return code;
}

int cmd_rollback(cli_ctx *ctx, int argc, char **argv)
{
	refresh_cli rc;
	int code;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	code = open_cluster(ctx, &rc);
	if (code == PGR_EXIT_OK)
		code = start_rollback(ctx, &rc);
	close_cluster(&rc);
	return code;
}

static int parse_bool_option(cli_ctx *ctx, const char *name, const char *value, bool *out)
{
	if (value == NULL)
		return 0;
	if (strcmp(value, "true") == 0)
		*out = true;
	else if (strcmp(value, "false") == 0)
		*out = false;
	else {
		pgr_err_set(&ctx->err, "%s must be true or false, not \"%s\"", name, value);
		return -1;
	}
	return 0;
}

/* How long resume-refresh gives refreshed units to be healthy (e.g. reconnecting to the primary). */
#define RESUME_HEALTH_GRACE_MS 10000

/* The first refreshed unit that is not healthy now (*rec: its report, NULL if none), or NULL. */
static const record_unit *first_unhealthy_refreshed(const refresh_cli *rc, const unit_record **rec)
{
	for (int i = 0; i < rc->snap->refresh.unit_count; i++) {
		const record_unit *u = &rc->snap->refresh.units[i];
		const conf_unit *cu = conf_find_unit(&rc->conf, u->unit);
		int idx = cu ? (int)(cu - rc->conf.units) : -1;
		const unit_record *r = idx >= 0 && rc->snap->have[idx] ? &rc->snap->records[idx] : NULL;

		if (u->step != STEP_DONE)
			continue;
		if (r == NULL || !rc->snap->alive[idx] ||
		    strcmp(r->server_version, rc->snap->refresh.to) != 0 || strcmp(r->patroni_state, "running") != 0 ||
		    (strcmp(r->role, "primary") != 0 && !r->streaming)) {
			*rec = r;
			return u;
		}
	}
	*rec = NULL;
	return NULL;
}

int cmd_resume_refresh(cli_ctx *ctx, int argc, char **argv)
{
	refresh_cli rc;
	const char *check = cli_take_option(&argc, argv, "--check-health-of-refreshed-units");
	bool check_health = true;
	refresh_record next;
	int code;

	if (parse_bool_option(ctx, "--check-health-of-refreshed-units", check, &check_health) != 0 ||
	    cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	code = open_cluster(ctx, &rc);
	if (code != PGR_EXIT_OK)
		goto out;
	if (!refresh_in_progress(&rc) || (rc.snap->refresh.state != RS_PAUSED && rc.snap->refresh.state != RS_FAILED)) {
		pgr_err_set(&ctx->err, "nothing to resume: %s", !refresh_in_progress(&rc) ? "no refresh is in progress"
				       : rc.snap->refresh.state == RS_INCOMPATIBLE ? "the refresh is incompatible (use force-refresh-start or rollback)"
										     : "the refresh is not paused");
		pgr_err_hint(&ctx->err, "see `pgrefresh status`");
		code = PGR_EXIT_REFUSED;
		goto out;
	}
	if (rc.snap->refresh.state == RS_PAUSED && check_health) {
		/* the refreshed units must still be healthy; a unit reconnecting at the pause (its cascade
		 * undone) is given a few seconds */
		long long deadline = proc_now_ms() + RESUME_HEALTH_GRACE_MS;
		const record_unit *bad;
		const unit_record *r;

		while ((bad = first_unhealthy_refreshed(&rc, &r)) != NULL && proc_now_ms() < deadline) {
			proc_sleep_ms(200);
			if (reread(ctx, &rc) != 0) {
				code = PGR_EXIT_UNREACHABLE;
				goto out;
			}
		}
		if (bad != NULL) {
			pgr_err_set(&ctx->err, "refreshed unit %s is not healthy (runs %s, %s%s)", bad->unit,
				    r && r->server_version[0] ? r->server_version : "nothing", r ? r->patroni_state : "not reporting",
				    r && !r->streaming ? ", not streaming" : "");
			pgr_err_hint(&ctx->err, "roll back with `pgrefresh rollback`, or go on anyway with "
					       "`pgrefresh resume-refresh --check-health-of-refreshed-units=false`");
			code = PGR_EXIT_REFUSED;
			goto out;
		}
	}
	next = rc.snap->refresh;
	{
		/* returns once the coordinator has taken the resume on, so that `wait paused` waits for the next pause */
		fsm_intent ask = { .ask = ASK_RESUME, .check_health = check_health };

		code = ask_coordinator(ctx, &rc, &ask);
		if (code != PGR_EXIT_OK)
			goto out;
	}
	{
		int n = record_next_pending(&next);

		printf("resumed: %s\n", next.state == RS_FAILED && check_health
						? "the failed unit is gated again"
						: n >= 0 ? next.units[n].unit : "finishing");
	}
out:
	close_cluster(&rc);
	return code;
}

int cmd_force_refresh_start(cli_ctx *ctx, int argc, char **argv)
{
	refresh_cli rc;
	bool compat = true, pre = true, workload = true, backup = true;
	const char *c = cli_take_option(&argc, argv, "--check-compatibility");
	const char *p = cli_take_option(&argc, argv, "--run-pre-refresh-checks");
	const char *w = cli_take_option(&argc, argv, "--check-workload");
	const char *b = cli_take_option(&argc, argv, "--check-backup");
	int code;

	if (parse_bool_option(ctx, "--check-compatibility", c, &compat) != 0 ||
	    parse_bool_option(ctx, "--run-pre-refresh-checks", p, &pre) != 0 ||
	    parse_bool_option(ctx, "--check-workload", w, &workload) != 0 ||
	    parse_bool_option(ctx, "--check-backup", b, &backup) != 0 || cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (compat && pre && workload && backup) {
		pgr_err_set(&ctx->err, "force-refresh-start needs at least one check set to false");
		pgr_err_hint(&ctx->err, "e.g. `pgrefresh force-refresh-start --check-compatibility=false`");
		return PGR_EXIT_USAGE;
	}
	code = open_cluster(ctx, &rc);
	if (code != PGR_EXIT_OK)
		goto out;
	if (!refresh_in_progress(&rc) || rc.snap->refresh.state != RS_INCOMPATIBLE) {
		pgr_err_set(&ctx->err, "force-refresh-start applies to a refresh halted as incompatible, and there is none");
		pgr_err_hint(&ctx->err, "start one with `pgrefresh refresh`; see `pgrefresh status`");
		code = PGR_EXIT_REFUSED;
		goto out;
	}
	if (!compat)
		fprintf(stderr, "skipping the compatibility checks (same major, higher version, blocklist)\n");
	if (!pre)
		fprintf(stderr, "skipping the pre-refresh checks (health, backups)\n");
	if (!workload)
		fprintf(stderr, "skipping the workload checks (present and runnable on every unit, extensions)\n");
	if (!backup)
		fprintf(stderr, "skipping the backup checks (WAL archiving, the last full backup's age)\n");
	{
		fsm_intent ask = { .ask = ASK_FORCE, .check_health = true, .skip_compatibility = !compat,
				   .skip_prechecks = !pre, .skip_workload = !workload, .skip_backup = !backup };

		code = ask_coordinator(ctx, &rc, &ask);
		if (code != PGR_EXIT_OK)
			goto out;
	}
	code = await_checks(ctx, &rc, "forced refresh");
out:
	close_cluster(&rc);
	return code;
}

int cmd_config(cli_ctx *ctx, int argc, char **argv)
{
	refresh_cli rc;
	int code = open_cluster(ctx, &rc);

	if (code != PGR_EXIT_OK)
		goto out;
	if (argc >= 1 && strcmp(argv[0], "set") == 0) {
		/* checked here, so a malformed value writes nothing; then the coordinator applies and records it */
		refresh_settings s = rc.snap->settings;
		fsm_intent ask = { .ask = ASK_SETTINGS };
		refresh_intent answer = { 0 };
		const char *during;

		if (argc < 2 || argc - 1 > INTENT_MAX_SETTINGS) {
			pgr_err_set(&ctx->err, "config set needs 1 to %d KEY=VALUE", INTENT_MAX_SETTINGS);
			pgr_err_hint(&ctx->err, "e.g. `pgrefresh config set pause-after-unit-refresh=all`");
			code = PGR_EXIT_USAGE;
			goto out;
		}
		for (int i = 1; i < argc; i++) {
			char kv[256];
			char *eq;
			const setting_def *def;

			snprintf(kv, sizeof(kv), "%s", argv[i]);
			eq = strchr(kv, '=');
			if (eq == NULL) {
				pgr_err_set(&ctx->err, "\"%s\" is not KEY=VALUE", argv[i]);
				pgr_err_hint(&ctx->err, "e.g. `pgrefresh config set pause-after-unit-refresh=all`");
				code = PGR_EXIT_USAGE;
				goto out;
			}
			*eq = '\0';
			def = settings_find(kv);
			if (def != NULL && strlen(eq + 1) >= sizeof(ask.settings[0].value)) {
				pgr_err_set(&ctx->err, "the value of %s is too long (%zu characters)", kv, strlen(eq + 1));
				pgr_err_hint(&ctx->err, "see the settings with `pgrefresh config`");
				code = PGR_EXIT_USAGE;
				goto out;
			}
			if (def == NULL || settings_apply(&s, kv, eq + 1, &ctx->err) != 0) {
				if (def == NULL)
					pgr_err_set(&ctx->err, "unknown setting \"%s\"", kv);
				pgr_err_hint(&ctx->err, "see the settings with `pgrefresh config`");
				code = PGR_EXIT_USAGE;
				goto out;
			}
			if (!def->allowed_during_refresh && refresh_in_progress(&rc)) {
				pgr_err_set(&ctx->err, "%s cannot change while a refresh is in progress", kv);
				pgr_err_hint(&ctx->err, "finish or roll back the refresh first");
				code = PGR_EXIT_REFUSED;
				goto out;
			}
			snprintf(ask.settings[ask.setting_count].name, sizeof(ask.settings[0].name), "%s", kv);
			snprintf(ask.settings[ask.setting_count].value, sizeof(ask.settings[0].value), "%s", eq + 1);
			ask.setting_count++;
		}
		code = ask_coordinator_answer(ctx, &rc, &ask, &answer);
		if (code != PGR_EXIT_OK)
			goto out;
		for (int i = 1; i < argc; i++)
			printf("%s\n", argv[i]);
		during = strstr(answer.result, "; taken during ");
		if (during != NULL) /* where the refresh was when the coordinator took it */
			fprintf(stderr, "%s\n", during + 2);
		goto out;
	}
	if (argc > 1) {
		pgr_err_set(&ctx->err, "config takes one KEY, or set KEY=VALUE...");
		pgr_err_hint(&ctx->err, "see `pgrefresh config --help`");
		code = PGR_EXIT_USAGE;
		goto out;
	}
	if (argc == 1 && settings_find(argv[0]) == NULL) {
		pgr_err_set(&ctx->err, "unknown setting \"%s\"", argv[0]);
		pgr_err_hint(&ctx->err, "see the settings with `pgrefresh config`");
		code = PGR_EXIT_USAGE;
		goto out;
	}
	if (ctx->json) {
		json_t *obj = json_object();

		for (int i = 0; i < settings_count(); i++) {
			char value[64];

			if (argc == 1 && strcmp(argv[0], settings_def(i)->name) != 0)
				continue;
			settings_value_text(&rc.snap->settings, settings_def(i)->name, value, sizeof(value));
			json_object_set_new(obj, settings_def(i)->name, json_string(value));
		}
		print_json(obj);
		goto out;
	}
	if (argc == 1) {
		char value[64];

		settings_value_text(&rc.snap->settings, argv[0], value, sizeof(value));
		printf("%s\n", value);
		goto out;
	}
	printf("%-26s %-8s %-9s %-16s %s\n", "SETTING", "VALUE", "DEFAULT", "VALUES", "MEANING");
	for (int i = 0; i < settings_count(); i++) {
		const setting_def *d = settings_def(i);
		char value[64];

		settings_value_text(&rc.snap->settings, d->name, value, sizeof(value));
		printf("%-26s %-8s %-9s %-16s %s\n", d->name, value, d->default_text, d->type_help, d->help);
	}
out:
	close_cluster(&rc);
	return code;
}

static volatile sig_atomic_t wait_interrupted;

static void on_wait_signal(int sig)
{
	(void)sig;
	wait_interrupted = 1;
}

/* the refresh of history that ended last (refresh_view_last's order), read a page at a time */
typedef struct last_visit {
	refresh_record *last;
	bool *have;
} last_visit;

static int keep_last(const refresh_record *r, void *arg)
{
	last_visit *lv = arg;

	/* the order of refresh_view_last: the greatest ended_ms, then the greatest id */
	if (!*lv->have || r->ended_ms > lv->last->ended_ms || (r->ended_ms == lv->last->ended_ms && r->id > lv->last->id))
		*lv->last = *r;
	*lv->have = true;
	return 0;
}

static int last_in_history(cli_ctx *ctx, refresh_cli *rc, refresh_record *last, bool *have)
{
	last_visit lv = { last, have };

	*have = false;
	return store_history_foreach(&rc->etcd, &rc->scope, keep_last, &lv, &ctx->err);
}

int cmd_wait(cli_ctx *ctx, int argc, char **argv)
{
	refresh_cli rc;
	const char *timeout_text = cli_take_option(&argc, argv, "--timeout");
	long timeout_s = 600;
	long long deadline;
	int code;
	static const char *const known[] = { "idle", "refreshing", "paused", "incompatible", "failed", WAIT_ROLLED_BACK };
	static refresh_record last_rec; /* large: not on the stack */
	bool have_last = false;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (timeout_text != NULL) {
		char *end;

		errno = 0;
		timeout_s = strtol(timeout_text, &end, 10);
		if (errno != 0 || end == timeout_text || *end != '\0' || timeout_s < 1) {
			pgr_err_set(&ctx->err, "--timeout must be a number of seconds, not \"%s\"", timeout_text);
			pgr_err_hint(&ctx->err, "see `pgrefresh wait --help`");
			return PGR_EXIT_USAGE;
		}
	}
	if (argc == 0) {
		pgr_err_set(&ctx->err, "wait needs one or more states: idle refreshing paused incompatible failed rolled-back");
		pgr_err_hint(&ctx->err, "e.g. `pgrefresh wait paused idle`; see `pgrefresh wait --help`");
		return PGR_EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++) {
		bool ok = false;

		for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(argv[i], known[k]) == 0)
				ok = true;
		if (!ok) {
			pgr_err_set(&ctx->err,
				    "unknown state \"%s\" (expected idle, refreshing, paused, incompatible, failed, rolled-back)",
				    argv[i]);
			pgr_err_hint(&ctx->err, "see `pgrefresh wait --help`");
			return PGR_EXIT_USAGE;
		}
	}
	code = open_cluster(ctx, &rc);
	if (code != PGR_EXIT_OK)
		goto out;
	signal(SIGINT, on_wait_signal);
	signal(SIGTERM, on_wait_signal);
	deadline = proc_now_ms() + timeout_s * 1000;
	for (;;) {
		const char *state = "idle";

		if (reread(ctx, &rc) == 0) {
			/* history is read only once no refresh is in progress: the one that ended last decides */
			const refresh_record *last = NULL;

			if (!rc.snap->have_refresh && last_in_history(ctx, &rc, &last_rec, &have_last) == 0 && have_last)
				last = &last_rec;

			state = refresh_view_wait_state(rc.snap->have_refresh ? &rc.snap->refresh : NULL, last);
			for (int i = 0; i < argc; i++) {
				if (strcmp(argv[i], state) == 0) {
					printf("%s\n", state);
					code = PGR_EXIT_OK;
					goto out;
				}
			}
			if (strcmp(state, "failed") == 0 || strcmp(state, "incompatible") == 0) {
				pgr_err_set(&ctx->err, "the refresh is %s: %s", state, rc.snap->refresh.reason);
				pgr_err_hint(&ctx->err, "roll back with `pgrefresh rollback`; see `pgrefresh status`");
				code = PGR_EXIT_HALTED;
				goto out;
			}
			if (strcmp(state, WAIT_ROLLED_BACK) == 0) {
				const char *from, *to;

				refresh_view_asked(last, &from, &to);
				pgr_err_set(&ctx->err, "refresh %d %s→%s was rolled back: the cluster runs %s", last->id, from, to,
					    last->to);
				pgr_err_hint(&ctx->err, "see why with `pgrefresh history`; to accept the rollback, wait for "
						       "`rolled-back` (`pgrefresh wait idle rolled-back`)");
				code = PGR_EXIT_ROLLED_BACK;
				goto out;
			}
		}
		if (proc_now_ms() > deadline || wait_interrupted) {
			pgr_err_set(&ctx->err, "the refresh is still %s after %ld s", state, timeout_s);
			pgr_err_hint(&ctx->err, "see `pgrefresh status`");
			code = PGR_EXIT_TIMEOUT;
			goto out;
		}
		proc_sleep_ms(100); /* each poll one etcd read: the refresh's end is seen within 0.1 s */
	}
out:
	close_cluster(&rc);
	return code;
}

/* history --svg ID: the refresh with that id, from history or in progress, drawn (status/svg.h). */
typedef struct svg_find {
	int64_t id;
	refresh_record rec;
	bool found;
} svg_find;

static int svg_find_visit(const refresh_record *r, void *arg)
{
	svg_find *find = arg;

	if (r->id != find->id)
		return 0;
	find->rec = *r;
	find->found = true;
	return 1;
}

static int history_svg(cli_ctx *ctx, refresh_cli *rc, const char *id_text, const char *output)
{
	svg_find *find = calloc(1, sizeof(*find));
	char *end = NULL, *svg = NULL;
	bool found = false, parsed = false;
	int64_t rev = 0;
	int code = PGR_EXIT_OK;

	if (find == NULL) {
		pgr_err_set(&ctx->err, "out of memory");
		return PGR_EXIT_ERROR;
	}
	find->id = strtoll(id_text, &end, 10);
	if (end == id_text || *end != '\0' || find->id <= 0) {
		pgr_err_set(&ctx->err, "--svg wants a refresh id (a number), not \"%s\"", id_text);
		pgr_err_hint(&ctx->err, "the ids are in `pgrefresh history`");
		code = PGR_EXIT_USAGE;
		goto out;
	}
	if (store_history_foreach(&rc->etcd, &rc->scope, svg_find_visit, find, &ctx->err) < 0 ||
	    (!find->found && store_read_refresh(&rc->etcd, &rc->scope, &found, &rev, &find->rec, &parsed, &ctx->err) != 0)) {
		pgr_err_hint(&ctx->err, "see `pgrefresh status`");
		code = PGR_EXIT_UNREACHABLE;
		goto out;
	}
	if (!find->found && !(found && parsed && find->rec.id == find->id)) {
		pgr_err_set(&ctx->err, "no refresh %lld in history or in progress", (long long)find->id);
		pgr_err_hint(&ctx->err, "the ids are in `pgrefresh history`");
		code = PGR_EXIT_ERROR;
		goto out;
	}
	if (svg_render_refresh(&find->rec, &svg, &ctx->err) != 0) {
		code = PGR_EXIT_ERROR;
		goto out;
	}
	if (output == NULL)
		fputs(svg, stdout);
	else if (file_write_durable(output, svg, strlen(svg), 0644, &ctx->err) != 0) {
		pgr_err_hint(&ctx->err, "pgrefresh history --svg %lld --output FILE (a FILE in a directory you can write)",
			     (long long)find->id);
		code = PGR_EXIT_ERROR;
	}
out:
	free(svg);
	free(find);
	return code;
}

static void format_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* history's rows, one refresh a call (history is read a page at a time) */
typedef struct history_rows {
	json_t *arr; /* --format json */
	int count;
} history_rows;

static int history_row(const refresh_record *r, void *arg)
{
	history_rows *rows = arg;
	const char *outcome = r->rollback ? "rolled back" : "completed";
	const char *from, *to;
	char start[32], end[32], units[512] = "";

	refresh_view_asked(r, &from, &to);
	if (rows->arr == NULL && rows->count == 0)
		printf("%-4s %-8s %-8s %-19s %-19s %-12s %s\n", "ID", "FROM", "TO", "START", "END", "OUTCOME", "UNITS (seconds)");
	rows->count++;
	format_time(r->started_ms, start, sizeof(start));
	format_time(r->ended_ms, end, sizeof(end));
	for (int i = 0; i < r->unit_count; i++) {
		size_t l = strlen(units);

		snprintf(units + l, sizeof(units) - l, "%s%s %.1f", l ? ", " : "", r->units[i].unit,
			 r->units[i].done_ms > r->units[i].started_ms ? (double)(r->units[i].done_ms - r->units[i].started_ms) / 1000.0 : 0.0);
	}
	if (rows->arr != NULL) {
		json_t *u = json_array();

		for (int i = 0; i < r->unit_count; i++)
			json_array_append_new(u, json_pack("{s:s,s:s,s:I,s:I,s:i}", "unit", r->units[i].unit, "step",
							   unit_step_name(r->units[i].step), "started_ms",
							   (json_int_t)r->units[i].started_ms, "done_ms",
							   (json_int_t)r->units[i].done_ms, "batch", r->units[i].batch + 1));
		json_array_append_new(rows->arr, json_pack("{s:i,s:s,s:s,s:I,s:I,s:s,s:o}", "id", r->id, "from", from, "to",
							   to, "started_ms", (json_int_t)r->started_ms, "ended_ms",
							   (json_int_t)r->ended_ms, "outcome", outcome, "units", u));
		json_object_set_new(json_array_get(rows->arr, json_array_size(rows->arr) - 1), "cause",
				    r->cause[0] ? json_string(r->cause) : json_null());
	} else {
		printf("%-4d %-8s %-8s %-19s %-19s %-12s %s\n", r->id, from, to, start, end, outcome, units);
		if (r->cause[0])
			printf("     cause: %s\n", r->cause);
	}
	return 0;
}

int cmd_history(cli_ctx *ctx, int argc, char **argv)
{
	refresh_cli rc;
	int code;
	history_rows rows = { NULL, 0 };
	const char *svg = cli_take_option(&argc, argv, "--svg");
	const char *output = cli_take_option(&argc, argv, "--output");

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (output != NULL && svg == NULL) {
		pgr_err_set(&ctx->err, "--output goes with --svg ID");
		pgr_err_hint(&ctx->err, "pgrefresh history --svg ID --output FILE");
		return PGR_EXIT_USAGE;
	}
	code = open_cluster(ctx, &rc);
	if (code != PGR_EXIT_OK)
		goto out;
	if (svg != NULL) {
		code = history_svg(ctx, &rc, svg, output);
		goto out;
	}
	if (ctx->json)
		rows.arr = json_array();
	if (store_history_foreach(&rc.etcd, &rc.scope, history_row, &rows, &ctx->err) != 0) {
		json_decref(rows.arr);
		pgr_err_hint(&ctx->err, "see `pgrefresh status`");
		code = PGR_EXIT_UNREACHABLE;
		goto out;
	}
	if (rows.arr != NULL)
		print_json(rows.arr);
	else if (rows.count == 0)
		printf("no refresh has completed yet\n");
out:
	close_cluster(&rc);
	return code;
}

int cmd_debug_fsm(cli_ctx *ctx, int argc, char **argv)
{
	bool graphviz = cli_take_flag(&argc, argv, "--graphviz");

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	fsm_print(stdout, graphviz);
	return PGR_EXIT_OK;
}
