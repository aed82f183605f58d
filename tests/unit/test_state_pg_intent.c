/*
 * test_state_pg_intent.c — what the fast switchover asks of a unit's PostgreSQL and its agent's answer
 * (state/pg_intent.h), as stored in etcd: they round-trip, and what is not one is refused naming the field.
 * The override the candidate's agent sets (agent/pg_action.h). The condition of every write of the progress
 * (its owner's lease still binds the owner key), as the transaction sent to etcd. The data directory the
 * agent stops and reads (postgresql.data_dir of the unit's Patroni config: the user's when adopted, else
 * pgrefresh's patroni.yml). Against a live etcd:
 * t_63_fast_switchover.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/pg_action.h"
#include "etcd/etcd_parse.h"
#include "patroni/patroni_yml.h"
#include "state/pg_intent.h"
#include "util/fileutil.h"

static void test_actions(void **state)
{
	(void)state;
	for (int i = 0; i < PG_ACTION_COUNT; i++) {
		pg_action back;

		assert_int_equal(pg_action_parse(pg_action_name((pg_action)i), &back), 0);
		assert_int_equal(back, i);
	}
	assert_string_equal(pg_action_name(PG_ACTION_STOP), "stop");
	assert_string_equal(pg_action_name(PG_ACTION_START), "start");
	assert_string_equal(pg_action_name(PG_ACTION_COUNT), "?");
	{
		pg_action a;

		assert_int_equal(pg_action_parse("Stop", &a), -1);
		assert_int_equal(pg_action_parse("", &a), -1);
	}
}

static void test_intent_round_trip(void **state)
{
	static const struct {
		pg_action action;
		const char *standby, *token, *by;
		int64_t at;
	} cases[] = {
		{ PG_ACTION_STOP, "", "pg/2:1764428400123", "coordinator pg/2", 0 },
		{ PG_ACTION_SYNC_OVERRIDE, "pg-2", "t1", "", 41 },
		{ PG_ACTION_PROMOTE, "", "t2", "coordinator \"pg/0\"", INT64_MAX },
		{ PG_ACTION_SYNC_RESET, "", "t3", "x", 1 },
		{ PG_ACTION_NONE, "", "t4", "x", 1 },
		{ PG_ACTION_START, "", "t5", "fast switchover pg-0 -> pg-1", 7 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pg_intent in = { .action = cases[i].action, .at_revision = cases[i].at }, out;
		pgr_err err;
		char *json = NULL;

		snprintf(in.standby, sizeof(in.standby), "%s", cases[i].standby);
		snprintf(in.token, sizeof(in.token), "%s", cases[i].token);
		snprintf(in.by, sizeof(in.by), "%s", cases[i].by);
		assert_int_equal(pg_intent_to_json(&in, &json, &err), 0);
		assert_int_equal(pg_intent_parse(json, &out, &err), 0);
		free(json);
		assert_int_equal(out.action, in.action);
		assert_string_equal(out.standby, in.standby);
		assert_string_equal(out.token, in.token);
		assert_string_equal(out.by, in.by);
		assert_true(out.at_revision == in.at_revision);
	}
}

static void test_intent_refused(void **state)
{
	static const struct {
		const char *json, *says;
	} cases[] = {
		{ "", "not a JSON object" },
		{ "[1]", "not a JSON object" },
		{ "{\"action\":\"restart\",\"token\":\"t\"}", "\"action\"" },
		{ "{\"action\":7,\"token\":\"t\"}", "\"action\"" },
		{ "{\"action\":\"stop\"}", "\"token\"" },
		{ "{\"action\":\"stop\",\"token\":\"a b\"}", "\"token\"" },
		{ "{\"action\":\"stop\",\"token\":\"\"}", "\"token\"" },
		{ "{\"action\":\"sync-override\",\"token\":\"t\"}", "\"standby\" is missing" },
		{ "{\"action\":\"sync-override\",\"standby\":\"\",\"token\":\"t\"}", "\"standby\" is missing" },
		{ "{\"action\":\"stop\",\"standby\":\"a\\nb\",\"token\":\"t\"}", "\"standby\"" },
		{ "{\"action\":\"stop\",\"token\":\"t\",\"by\":5}", "\"by\"" },
		{ "{\"action\":\"stop\",\"token\":\"t\",\"at_revision\":-1}", "\"at_revision\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pg_intent out;
		pgr_err err;

		if (pg_intent_parse(cases[i].json, &out, &err) != -1 || strstr(err.msg, cases[i].says) == NULL)
			fail_msg("'%s': want refused with '%s', got '%s'", cases[i].json, cases[i].says, err.msg);
	}
	{
		pg_intent in = { .action = PG_ACTION_SYNC_OVERRIDE };
		pgr_err err;
		char *json = NULL;

		snprintf(in.token, sizeof(in.token), "t");
		assert_int_equal(pg_intent_to_json(&in, &json, &err), -1);
		assert_null(json);
		in.action = PG_ACTION_STOP;
		in.token[0] = '\0';
		assert_int_equal(pg_intent_to_json(&in, &json, &err), -1);
		assert_null(json);
	}
}

static void test_answer(void **state)
{
	pg_answer in = { .ok = true, .timeline = 3 }, out;
	pgr_err err;
	char *json = NULL;

	(void)state;
	snprintf(in.token, sizeof(in.token), "pg/2:17");
	snprintf(in.state, sizeof(in.state), "shut down");
	snprintf(in.checkpoint_lsn, sizeof(in.checkpoint_lsn), "0/1511A68");
	assert_int_equal(pg_answer_to_json(&in, &json, &err), 0);
	assert_int_equal(pg_answer_parse(json, &out, &err), 0);
	free(json);
	assert_string_equal(out.token, in.token);
	assert_true(out.ok);
	assert_string_equal(out.error, "");
	assert_string_equal(out.state, "shut down");
	assert_string_equal(out.checkpoint_lsn, "0/1511A68");
	assert_int_equal(out.timeline, 3);

	assert_int_equal(pg_answer_parse("{\"token\":\"t\",\"ok\":false,\"error\":\"pg_ctl: server does not shut down\"}",
					 &out, &err),
			 0);
	assert_false(out.ok);
	assert_string_equal(out.error, "pg_ctl: server does not shut down");
	assert_int_equal(out.timeline, 0);
	assert_int_equal(pg_answer_parse("{\"token\":\"t\"}", &out, &err), -1);
	assert_non_null(strstr(err.msg, "\"ok\""));
	assert_int_equal(pg_answer_parse("{\"token\":\"t\",\"ok\":true,\"timeline\":-2}", &out, &err), -1);
	assert_non_null(strstr(err.msg, "timeline"));
	assert_int_equal(pg_answer_parse("{\"token\":\"t\",\"ok\":true,\"state\":3}", &out, &err), -1);
	assert_int_equal(pg_answer_parse("{\"ok\":true}", &out, &err), -1);
	assert_non_null(strstr(err.msg, "\"token\""));
}

/* The override the candidate's agent sets: exactly the standby named, nothing else reaches the SQL. */
static void test_sync_names(void **state)
{
	static const struct {
		const char *standby, *names;
	} cases[] = {
		{ "pg-2", "FIRST 1 (\"pg-2\")" },
		{ "pg_1.a", "FIRST 1 (\"pg_1.a\")" },
		{ "", NULL },
		{ "pg'2", NULL },
		{ "pg\"2", NULL },
		{ "pg 2", NULL },
		{ "*", NULL },
	};
	char buf[96];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = agent_pg_sync_names(cases[i].standby, buf, sizeof(buf));

		if (cases[i].names == NULL)
			assert_int_equal(rc, -1);
		else {
			assert_int_equal(rc, 0);
			assert_string_equal(buf, cases[i].names);
		}
	}
}

static void test_progress(void **state)
{
	fast_progress in = { .lease = 7587, .timeline = 2 }, out;
	pgr_err err;
	char *json = NULL;

	(void)state;
	snprintf(in.from, sizeof(in.from), "pg-0");
	snprintf(in.to, sizeof(in.to), "pg-1");
	snprintf(in.step, sizeof(in.step), "promote");
	snprintf(in.token, sizeof(in.token), "fast:17");
	snprintf(in.standby, sizeof(in.standby), "pg-2");
	snprintf(in.checkpoint_lsn, sizeof(in.checkpoint_lsn), "0/1511A68");
	assert_int_equal(fast_progress_to_json(&in, &json, &err), 0);
	assert_int_equal(fast_progress_parse(json, &out, &err), 0);
	free(json);
	assert_true(out.lease == 7587);
	assert_string_equal(out.from, "pg-0");
	assert_string_equal(out.to, "pg-1");
	assert_string_equal(out.step, "promote");
	assert_string_equal(out.token, "fast:17");
	assert_string_equal(out.standby, "pg-2");
	assert_string_equal(out.checkpoint_lsn, "0/1511A68");
	assert_int_equal(out.timeline, 2);
	/* refused, naming the field */
	assert_int_equal(fast_progress_parse("{\"from\":\"a\",\"to\":\"b\",\"step\":\"s\",\"token\":\"t\"}", &out, &err), -1);
	assert_non_null(strstr(err.msg, "\"lease\""));
	assert_int_equal(fast_progress_parse("{\"lease\":1,\"to\":\"b\",\"step\":\"s\",\"token\":\"t\"}", &out, &err), -1);
	assert_non_null(strstr(err.msg, "\"from\""));
	assert_int_equal(fast_progress_parse("{\"lease\":1,\"from\":\"a\",\"to\":\"b\",\"step\":\"s\",\"token\":\"t\","
					     "\"timeline\":\"1\"}",
					     &out, &err),
			 -1);
	assert_non_null(strstr(err.msg, "timeline"));
	in.step[0] = '\0';
	assert_int_equal(fast_progress_to_json(&in, &json, &err), -1);
	assert_null(json);
}

/* Every write of the progress is one transaction whose only compare is the owner key's lease; lease 0 writes nothing. */
static void test_progress_condition(void **state)
{
	static const char *const prefix = "/pgrefresh/pg/";
	static const struct {
		int64_t lease;
		fast_progress_op op;
		const char *json;
		int rc;
		int nops;
		etcd_op_type first, second;
		const char *first_leaf, *second_leaf;
	} cases[] = {
		{ 7587, FAST_PROGRESS_PUT, "{\"step\":\"promote\"}", 0, 1, ETCD_OP_PUT, 0, FAST_PROGRESS_LEAF, NULL },
		{ 7587, FAST_PROGRESS_REMOVE, NULL, 0, 2, ETCD_OP_DELETE, ETCD_OP_DELETE, FAST_PROGRESS_LEAF, FAST_OWNER_LEAF },
		{ 1, FAST_PROGRESS_RELEASE, NULL, 0, 1, ETCD_OP_DELETE, 0, FAST_OWNER_LEAF, NULL },
		{ INT64_MAX, FAST_PROGRESS_PUT, "{}", 0, 1, ETCD_OP_PUT, 0, FAST_PROGRESS_LEAF, NULL },
		{ 0, FAST_PROGRESS_PUT, "{}", -1, 0, 0, 0, NULL, NULL },     /* no lease: no write */
		{ 0, FAST_PROGRESS_REMOVE, NULL, -1, 0, 0, 0, NULL, NULL },
		{ 0, FAST_PROGRESS_RELEASE, NULL, -1, 0, 0, 0, NULL, NULL },
		{ 7587, FAST_PROGRESS_PUT, NULL, -1, 0, 0, 0, NULL, NULL }, /* a put without a value */
		{ 7587, (fast_progress_op)9, NULL, -1, 0, 0, 0, NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fast_progress_txn txn;
		char owner[256], want[256], lease_field[64], *body = NULL, *owner_b64;
		pgr_err err;

		assert_int_equal(fast_progress_txn_build(prefix, cases[i].lease, cases[i].op, cases[i].json, &txn, &err),
				 cases[i].rc);
		if (cases[i].rc != 0) {
			assert_int_equal(txn.nops, 0);
			continue;
		}
		snprintf(owner, sizeof(owner), "%s%s", prefix, FAST_OWNER_LEAF);
		assert_string_equal(txn.cmp.key, owner);
		assert_int_equal(txn.cmp.target, ETCD_CMP_LEASE);
		assert_true(txn.cmp.revision == cases[i].lease);
		assert_int_equal(txn.nops, cases[i].nops);
		assert_int_equal(txn.ops[0].type, cases[i].first);
		snprintf(want, sizeof(want), "%s%s", prefix, cases[i].first_leaf);
		assert_string_equal(txn.ops[0].key, want);
		assert_true(txn.ops[0].lease == 0); /* the progress outlives its owner */
		if (cases[i].first == ETCD_OP_PUT)
			assert_string_equal(txn.ops[0].value, cases[i].json);
		if (cases[i].nops > 1) {
			assert_int_equal(txn.ops[1].type, cases[i].second);
			snprintf(want, sizeof(want), "%s%s", prefix, cases[i].second_leaf);
			assert_string_equal(txn.ops[1].key, want);
		}
		/* as etcd receives it: the compare is the owner key's lease, EQUAL to the writer's */
		assert_int_equal(etcd_build_txn(&txn.cmp, 1, txn.ops, txn.nops, NULL, 0, &body, &err), 0);
		owner_b64 = etcd_b64_encode(owner, strlen(owner));
		assert_non_null(owner_b64);
		assert_non_null(strstr(body, owner_b64));
		snprintf(lease_field, sizeof(lease_field), "\"lease\":\"%lld\"", (long long)cases[i].lease);
		assert_non_null(strstr(body, lease_field));
		assert_non_null(strstr(body, "\"target\":\"LEASE\""));
		assert_non_null(strstr(body, "\"result\":\"EQUAL\""));
		free(owner_b64);
		free(body);
	}
}

/* the shape of Debian's /etc/patroni/15-main.yml (pg_createconfig_patroni), the data directory as it puts it */
#define DEBIAN_YML(data_dir)                                                                                  \
	"scope: \"15-main\"\nnamespace: \"/postgresql-common/\"\nname: db1\netcd3:\n  hosts: 127.0.0.1:2379\n" \
	"restapi:\n  listen: 10.0.0.5:8008\n  connect_address: 10.0.0.5:8008\npostgresql:\n"                   \
	"  listen: \"*:5432\"\n  connect_address: 10.0.0.5:5432\n" data_dir                                    \
	"  bin_dir: /etc/pgrefresh/15-main/units/db1/bin\n  config_dir: /etc/postgresql/15/main\n"

static void test_data_dir_parse(void **state)
{
	static const struct {
		const char *yml;
		const char *want; /* NULL: refused, with this in the error: */
		const char *error;
	} cases[] = {
		{ DEBIAN_YML("  data_dir: /var/lib/postgresql/15/main\n"), "/var/lib/postgresql/15/main", NULL },
		{ DEBIAN_YML("  data_dir: \"/srv/pg data/15: main\"\n"), "/srv/pg data/15: main", NULL },
		{ DEBIAN_YML("  data_dir: '/var/lib/postgresql/15/main/'\n"), "/var/lib/postgresql/15/main/", NULL },
		{ DEBIAN_YML("  data_dir: 15/main\n"), NULL, "not an absolute path" },
		{ DEBIAN_YML(""), NULL, "no postgresql.data_dir" },
		{ DEBIAN_YML("  data_dir: [a, b]\n"), NULL, "postgresql.data_dir" },
		{ "postgresql: [\n", NULL, "15-main.yml" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dir[256];
		pgr_err err;

		pgr_err_clear(&err);
		if (cases[i].want != NULL) {
			assert_int_equal(agent_pg_data_dir_parse(cases[i].yml, "15-main.yml", dir, sizeof(dir), &err), 0);
			assert_string_equal(dir, cases[i].want);
		} else {
			assert_int_equal(agent_pg_data_dir_parse(cases[i].yml, "15-main.yml", dir, sizeof(dir), &err), -1);
			assert_non_null(strstr(err.msg, cases[i].error));
			assert_string_equal(dir, "");
		}
	}
	{
		char small[8];
		pgr_err err;

		assert_int_equal(agent_pg_data_dir_parse(cases[0].yml, "15-main.yml", small, sizeof(small), &err), -1);
		assert_non_null(strstr(err.msg, "too long"));
	}
}

/* The agent's unit: pgrefresh's own patroni.yml (rendered as the cluster writes it), then an adopted unit's config */
static void test_data_dir_of_unit(void **state)
{
	char dir[] = "/tmp/pgr-test-datadir-XXXXXX", path[512], yml[512], want[512], got[512], *text = NULL;
	cluster_conf conf;
	cluster_secrets secrets;
	conf_unit *unit;
	size_t len = 0;
	pgr_err err;
	const char *debian = DEBIAN_YML("  data_dir: /var/lib/postgresql/15/main\n");

	(void)state;
	pgr_err_clear(&err);
	assert_non_null(mkdtemp(dir));
	memset(&conf, 0, sizeof(conf));
	memset(&secrets, 0, sizeof(secrets));
	snprintf(conf.dir, sizeof(conf.dir), "%s", dir);
	snprintf(conf.name, sizeof(conf.name), "pg");
	snprintf(conf.etcd, sizeof(conf.etcd), "http://127.0.0.1:2379");
	snprintf(conf.superuser, sizeof(conf.superuser), "postgres");
	snprintf(conf.catalog, sizeof(conf.catalog), "%s/catalog", dir);
	conf.local = true;
	unit = &conf.units[0];
	snprintf(unit->name, sizeof(unit->name), "pg/0");
	snprintf(unit->member, sizeof(unit->member), "pg-0");
	snprintf(unit->host, sizeof(unit->host), "127.0.0.1");
	unit->pg_port = 5440;
	unit->api_port = 8010;
	conf.unit_count = 1;
	snprintf(secrets.superuser_password, sizeof(secrets.superuser_password), "su");
	snprintf(secrets.replication_password, sizeof(secrets.replication_password), "rep");
	snprintf(secrets.rewind_password, sizeof(secrets.rewind_password), "rew");

	/* no config at all: refused, naming the file */
	assert_int_equal(agent_pg_data_dir(&conf, unit, got, sizeof(got), &err), -1);
	assert_non_null(strstr(err.msg, "patroni.yml"));
	/* a unit pgrefresh made: its patroni.yml says DIR/units/pg-0/data */
	snprintf(path, sizeof(path), "%s/units/pg-0", dir);
	assert_int_equal(dir_make_all(path, 0755, &err), 0);
	assert_int_equal(patroni_yml_render(&conf, &secrets, unit, NULL, &text, &len, &err), 0);
	snprintf(yml, sizeof(yml), "%s/units/pg-0/patroni.yml", dir);
	assert_int_equal(file_write_durable(yml, text, len, 0600, &err), 0);
	free(text);
	assert_int_equal(agent_pg_data_dir(&conf, unit, got, sizeof(got), &err), 0);
	snprintf(want, sizeof(want), "%s/units/pg-0/data", dir);
	assert_string_equal(got, want);
	/* adopted: the user's config, which the adopted file names, wins over any patroni.yml beside it */
	snprintf(yml, sizeof(yml), "%s/15-main.yml", dir);
	assert_int_equal(file_write_durable(yml, debian, strlen(debian), 0640, &err), 0);
	snprintf(path, sizeof(path), "config = %s\nbackup = %s.pgrefresh-orig\nbin_dir = /usr/lib/postgresql/15/bin\n"
				     "version = 15.18\n",
		 yml, yml);
	{
		char adopted[512];

		snprintf(adopted, sizeof(adopted), "%s/units/pg-0/adopted", dir);
		assert_int_equal(file_write_durable(adopted, path, strlen(path), 0644, &err), 0);
	}
	assert_int_equal(agent_pg_data_dir(&conf, unit, got, sizeof(got), &err), 0);
	assert_string_equal(got, "/var/lib/postgresql/15/main");
	/* the user's config gone: refused, naming it (never a guess at units/<member>/data) */
	assert_int_equal(unlink(yml), 0);
	assert_int_equal(agent_pg_data_dir(&conf, unit, got, sizeof(got), &err), -1);
	assert_non_null(strstr(err.msg, "15-main.yml"));
	assert_int_equal(dir_remove_all(dir, &err), 0);
}

/* The stop's wait ends when the postmaster is gone: exited and reaped, or a zombie its parent has not reaped yet */
static void test_postmaster_gone(void **state)
{
	pid_t kid;
	int status;

	(void)state;
	assert_false(agent_pg_postmaster_gone(0));
	assert_false(agent_pg_postmaster_gone(getpid()));
	kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		pause();
		_exit(0);
	}
	assert_false(agent_pg_postmaster_gone(kid)); /* running */
	assert_int_equal(kill(kid, SIGKILL), 0);
	for (int i = 0; i < 200 && !agent_pg_postmaster_gone(kid); i++)
		usleep(5000);
	assert_true(agent_pg_postmaster_gone(kid)); /* killed, not reaped: a zombie */
	assert_int_equal(waitpid(kid, &status, 0), kid);
	assert_true(agent_pg_postmaster_gone(kid)); /* reaped: no such process */
}

/* The stop judged from what pg_ctl did and what is left (the pidfile, its postmaster): a killed postmaster
 * leaves its pidfile and makes pg_ctl fail ("could not send stop signal"): done at once, not waited on */
static void test_stop_judge(void **state)
{
	static const struct {
		bool signalled, pidfile, gone;
		agent_pg_stop_verdict want;
	} cases[] = {
		{ true, true, false, AGENT_PG_STOP_WAIT },    /* signalled, still shutting down */
		{ true, false, false, AGENT_PG_STOP_DONE },   /* stopped: its pidfile removed as its last act */
		{ true, true, true, AGENT_PG_STOP_DONE },     /* killed after the signal (or a zombie): crashed */
		{ false, true, true, AGENT_PG_STOP_DONE },    /* killed before: "No such process", pidfile left */
		{ false, false, false, AGENT_PG_STOP_DONE },  /* it was stopping already: pidfile gone meanwhile */
		{ false, true, false, AGENT_PG_STOP_FAILED }, /* pg_ctl failed, the postmaster runs (or pid unknown) */
		{ true, false, true, AGENT_PG_STOP_DONE },
		{ false, false, true, AGENT_PG_STOP_DONE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu\n", i);
		assert_int_equal(agent_pg_stop_judge(cases[i].signalled, cases[i].pidfile, cases[i].gone), cases[i].want);
	}
}

/* /proc/<pid>/stat's state, after the last ')' (a command name may hold both ' ' and ')') */
static void test_stat_dead(void **state)
{
	static const struct {
		const char *stat;
		bool dead;
	} cases[] = {
		{ "2118 (postgres) S 2110 2118 2118 0 -1 4194560", false },
		{ "2118 (postgres) R 2110 2118 2118 0 -1", false },
		{ "2118 (postgres) D 2110", false },
		{ "2118 (postgres) Z 2110 2118 2118 0 -1 4227084", true },
		{ "2118 (postgres) X 2110", true },
		{ "2118 (a) Z (b) S 2110", false }, /* the state follows the last ')' */
		{ "2118 (a) S (b) Z 2110", true },
		{ "2118 (post gres) Z 1", true },
		{ "2118 postgres Z 1", false }, /* no ')': not known dead */
		{ "", false },
		{ "2118 (postgres)", false },
		{ "2118 (postgres)Z", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("case %zu: %s\n", i, cases[i].stat);
		assert_int_equal(agent_pg_stat_dead(cases[i].stat), cases[i].dead);
	}
}

/* An answer's error as one line: pg_ctl's output ends in a newline, which the answer's writer refuses (the
 * stop was then taken again every few ms, and never answered) */
static void test_one_line(void **state)
{
	static const struct {
		const char *msg;
		size_t len;
		const char *want;
	} cases[] = {
		{ "pg_ctl stop -m fast exited 1: pg_ctl: could not send stop signal (PID: 2118): No such process\n", 256,
		  "pg_ctl stop -m fast exited 1: pg_ctl: could not send stop signal (PID: 2118): No such process" },
		{ "a\nb\tc\rd", 64, "a b c d" },
		{ "x\x7fy", 64, "x y" },
		{ "", 64, "" },
		{ "\n\n", 64, "" },
		{ "abcdef", 4, "abc" },
		{ "ab\xc3\xa9", 4, "ab" }, /* é not cut in two */
		{ "caf\xc3\xa9\n", 64, "caf\xc3\xa9" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		pg_answer a;
		char *json = NULL;
		pgr_err err;

		print_message("case %zu\n", i);
		agent_pg_one_line(out, cases[i].len, cases[i].msg);
		assert_string_equal(out, cases[i].want);
		/* and the answer that carries it is written */
		memset(&a, 0, sizeof(a));
		snprintf(a.token, sizeof(a.token), "fast:1:2:stop");
		agent_pg_one_line(a.error, sizeof(a.error), cases[i].msg);
		assert_int_equal(pg_answer_to_json(&a, &json, &err), 0);
		free(json);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_intent_round_trip),
		cmocka_unit_test(test_intent_refused),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_sync_names),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_progress_condition),
		cmocka_unit_test(test_data_dir_parse),
		cmocka_unit_test(test_data_dir_of_unit),
		cmocka_unit_test(test_postmaster_gone),
		cmocka_unit_test(test_stop_judge),
		cmocka_unit_test(test_stat_dead),
		cmocka_unit_test(test_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
