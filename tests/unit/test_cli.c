/*
 * test_cli.c — the command line (cli/cli.h): every command's options through getopt_long, usage errors
 * (one line, a hint naming `pgrefresh COMMAND --help`), --help and --version; and the CLI's pure
 * refresh decisions (cli/refresh_view.h): the target asked for, the state `wait` sees, history's FROM/TO.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/refresh_view.h"
#include "util/exitcodes.h"

#define MAXARGS 10

/* One command line and what cli_parse makes of it. */
typedef struct parse_case {
	const char *args[MAXARGS]; /* after the program name */
	int rc;
	cli_action action;
	const char *name;  /* the command's words, NULL: none */
	const char *argv;  /* the handler's arguments joined by "|" (OK and CLI_RUN only) */
	const char *dir;   /* --dir, NULL: not checked */
	bool json;
	const char *error; /* a part of the message (usage errors) */
	const char *hint;  /* a part of the hint (usage errors) */
} parse_case;

/* a case leaves out what it does not check */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const parse_case parse_cases[] = {
	/* the defect of issue 9: the next option taken as --version's value */
	{ { "refresh", "--version", "--dry-run" }, PGR_EXIT_USAGE, CLI_RUN, "refresh", NULL, NULL, false,
	  "option --version needs a value", "pgrefresh refresh --help" },
	{ { "refresh", "--version", "15.20", "--dry-run" }, PGR_EXIT_OK, CLI_RUN, "refresh", "--version=15.20|--dry-run" },
	{ { "refresh", "--dry-run", "--version=15.20" }, PGR_EXIT_OK, CLI_RUN, "refresh", "--version=15.20|--dry-run" },
	{ { "refresh", "--version=--dry-run" }, PGR_EXIT_OK, CLI_RUN, "refresh", "--version=--dry-run" },
	{ { "refresh", "--version", "15.18", "--version", "15.20" }, PGR_EXIT_OK, CLI_RUN, "refresh", "--version=15.20" },
	{ { "refresh", "--version" }, PGR_EXIT_USAGE, CLI_RUN, "refresh", NULL, NULL, false, "option --version needs a value",
	  "pgrefresh refresh --help" },
	{ { "refresh", "--dry-run=yes" }, PGR_EXIT_USAGE, CLI_RUN, "refresh", NULL, NULL, false,
	  "option --dry-run takes no value", "pgrefresh refresh --help" },
	{ { "refresh", "--graphviz" }, PGR_EXIT_USAGE, CLI_RUN, "refresh", NULL, NULL, false, "unknown option --graphviz",
	  "pgrefresh refresh --help" },
	{ { "rollback", "--dry-run" }, PGR_EXIT_USAGE, CLI_RUN, "rollback", NULL, NULL, false, "unknown option --dry-run",
	  "pgrefresh rollback --help" },
	{ { "status", "--bogus" }, PGR_EXIT_USAGE, CLI_RUN, "status", NULL, NULL, false, "unknown option --bogus",
	  "pgrefresh status --help" },
	{ { "status", "-x" }, PGR_EXIT_USAGE, CLI_RUN, "status", NULL, NULL, false, "unknown option -x",
	  "pgrefresh status --help" },
	{ { "status", "--format", "xml" }, PGR_EXIT_USAGE, CLI_RUN, "status", NULL, NULL, false, "unknown format \"xml\"",
	  "--format json" },
	{ { "status", "--dir", "--watch" }, PGR_EXIT_USAGE, CLI_RUN, "status", NULL, NULL, false, "option --dir needs a value",
	  "pgrefresh status --help" },
	{ { "wait", "--timeout" }, PGR_EXIT_USAGE, CLI_RUN, "wait", NULL, NULL, false, "option --timeout needs a value",
	  "pgrefresh wait --help" },
	/* the common options, before or after the command */
	{ { "--dir", "/x", "status", "--format", "json" }, PGR_EXIT_OK, CLI_RUN, "status", "", "/x", true },
	{ { "status", "--watch", "--dir=/y" }, PGR_EXIT_OK, CLI_RUN, "status", "--watch", "/y", false },
	{ { "-v", "status", "--format=tabular" }, PGR_EXIT_OK, CLI_RUN, "status", "", "", false },
	{ { "--dir" }, PGR_EXIT_USAGE, CLI_RUN, NULL, NULL, NULL, false, "option --dir needs a value", "pgrefresh --help" },
	{ { "--bogus", "status" }, PGR_EXIT_USAGE, CLI_RUN, NULL, NULL, NULL, false, "unknown option --bogus",
	  "pgrefresh --help" },
	/* arguments and options mixed; "--" ends the options */
	{ { "remove-unit", "pg/2", "--dir", "/d" }, PGR_EXIT_OK, CLI_RUN, "remove-unit", "pg/2", "/d" },
	{ { "wait", "idle", "--timeout", "5", "paused" }, PGR_EXIT_OK, CLI_RUN, "wait", "idle|paused|--timeout=5" },
	{ { "config", "set", "pause-after-unit-refresh=all" }, PGR_EXIT_OK, CLI_RUN, "config",
	  "set|pause-after-unit-refresh=all" },
	{ { "status", "--", "--watch" }, PGR_EXIT_OK, CLI_RUN, "status", "--watch" },
	{ { "cluster", "create", "--version", "15.18", "--units", "3", "--dir", "/c" }, PGR_EXIT_OK, CLI_RUN,
	  "cluster create", "--units=3|--version=15.18", "/c" },
	{ { "versions", "add", "/p", "--catalog", "/cat" }, PGR_EXIT_OK, CLI_RUN, "versions add", "/p|--catalog=/cat" },
	{ { "versions" }, PGR_EXIT_OK, CLI_RUN, "versions", "" },
	{ { "force-refresh-start", "--check-compatibility=false", "--check-workload", "false" }, PGR_EXIT_OK, CLI_RUN,
	  "force-refresh-start", "--check-compatibility=false|--check-workload=false" },
	{ { "resume-refresh", "--check-health-of-refreshed-units=false" }, PGR_EXIT_OK, CLI_RUN, "resume-refresh",
	  "--check-health-of-refreshed-units=false" },
	{ { "debug", "fsm", "--graphviz" }, PGR_EXIT_OK, CLI_RUN, "debug fsm", "--graphviz" },
	{ { "agent", "--dir", "/d", "--unit", "pg/0" }, PGR_EXIT_OK, CLI_RUN, "agent", "--unit=pg/0", "/d" },
	{ { "switchover", "--to", "pg/1" }, PGR_EXIT_OK, CLI_RUN, "switchover", "--to=pg/1" },
	{ { "pre-refresh-check", "--version", "15.20" }, PGR_EXIT_OK, CLI_RUN, "pre-refresh-check", "--version=15.20" },
	/* help and version */
	{ { "--version" }, PGR_EXIT_OK, CLI_VERSION },
	{ { "-V" }, PGR_EXIT_OK, CLI_VERSION },
	{ { "--help" }, PGR_EXIT_OK, CLI_HELP },
	{ { "refresh", "--help" }, PGR_EXIT_OK, CLI_HELP, "refresh" },
	{ { "refresh", "--version", "15.20", "-h" }, PGR_EXIT_OK, CLI_HELP, "refresh" },
	{ { "--help", "wait" }, PGR_EXIT_OK, CLI_HELP, "wait" },
	{ { "cluster", "create", "--help" }, PGR_EXIT_OK, CLI_HELP, "cluster create" },
	{ { "cluster", "--help" }, PGR_EXIT_OK, CLI_HELP, "cluster" },
	/* commands */
	{ {}, PGR_EXIT_USAGE, CLI_RUN, NULL, NULL, NULL, false, "no command given", "pgrefresh --help" },
	{ { "frobnicate" }, PGR_EXIT_USAGE, CLI_RUN, NULL, NULL, NULL, false, "unknown command \"frobnicate\"",
	  "pgrefresh --help" },
	{ { "cluster" }, PGR_EXIT_USAGE, CLI_RUN, "cluster", NULL, NULL, false, "`pgrefresh cluster` needs a subcommand",
	  "pgrefresh cluster --help" },
	{ { "cluster", "explode" }, PGR_EXIT_USAGE, CLI_RUN, "cluster", NULL, NULL, false, "not explode",
	  "pgrefresh cluster --help" },
};

static void join_args(const cli_parsed *p, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < p->argc; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? "|" : "", p->argv[i]);

		assert_true(n > 0 && used + (size_t)n < len);
		used += (size_t)n;
	}
	assert_null(p->argv[p->argc]);
}

static void test_parse(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof(parse_cases) / sizeof(parse_cases[0]); c++) {
		const parse_case *t = &parse_cases[c];
		char *argv[MAXARGS + 2];
		int argc = 0;
		cli_parsed p;
		pgr_err err;
		int rc;

		argv[argc++] = (char *)"pgrefresh";
		while (argc - 1 < MAXARGS && t->args[argc - 1] != NULL) {
			argv[argc] = (char *)t->args[argc - 1];
			argc++;
		}
		argv[argc] = NULL;
		rc = cli_parse(argc, argv, &p, &err);
		if (rc != t->rc)
			fail_msg("case %zu (%s ...): rc %d, expected %d (%s)", c, argv[1] ? argv[1] : "", rc, t->rc, err.msg);
		if (t->rc != PGR_EXIT_OK) {
			if (strstr(err.msg, t->error) == NULL || strstr(err.hint, t->hint) == NULL)
				fail_msg("case %zu: error \"%s\" hint \"%s\", expected \"%s\" / \"%s\"", c, err.msg, err.hint,
					 t->error, t->hint);
			assert_null(strchr(err.msg, '\n'));
		} else {
			assert_int_equal(p.action, t->action);
			if (t->name != NULL)
				assert_string_equal(p.name, t->name);
			else if (t->action != CLI_HELP)
				assert_null(p.command);
			if (t->action == CLI_RUN) {
				char joined[512];

				assert_non_null(p.command);
				join_args(&p, joined, sizeof(joined));
				if (strcmp(joined, t->argv) != 0)
					fail_msg("case %zu: handler arguments \"%s\", expected \"%s\"", c, joined, t->argv);
				if (t->dir != NULL)
					assert_string_equal(p.dir, t->dir);
				assert_int_equal(p.json, t->json);
			}
		}
		/* the caller's argv is left as it was */
		for (int i = 1; i < argc; i++)
			assert_string_equal(argv[i], t->args[i - 1]);
		cli_parsed_free(&p);
	}
}

/* Every command's --help: its usage, its own options, the common ones and an example; not the overview. */
static void test_help(void **state)
{
	static const char *const names[] = { "cluster create", "cluster start", "cluster stop", "cluster destroy",
					     "cluster env", "versions add", "versions", "status", "add-unit",
					     "remove-unit", "switchover", "pre-refresh-check", "refresh", "resume-refresh",
					     "force-refresh-start", "rollback", "config", "wait", "history", "debug fsm",
					     "agent" };
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *argv[6] = { (char *)"pgrefresh" };
		char words[64], usage[80], *text = NULL;
		size_t len = 0;
		int argc = 1;
		cli_parsed p;
		pgr_err err;
		FILE *out;

		snprintf(words, sizeof(words), "%s", names[i]);
		for (char *save, *w = strtok_r(words, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
			argv[argc++] = w;
		argv[argc++] = (char *)"--help";
		assert_int_equal(cli_parse(argc, argv, &p, &err), PGR_EXIT_OK);
		assert_int_equal(p.action, CLI_HELP);
		out = open_memstream(&text, &len);
		assert_non_null(out);
		cli_print_help(out, &p);
		fclose(out);
		snprintf(usage, sizeof(usage), "Usage: pgrefresh %s", names[i]);
		if (strstr(text, usage) != text || strstr(text, "\nExample:\n  ") == NULL || strstr(text, "--dir DIR") == NULL ||
		    strstr(text, "Exit codes: 0 ok") != NULL)
			fail_msg("help of %s:\n%s", names[i], text);
		free(text);
		cli_parsed_free(&p);
	}
}

static void test_help_lists_options(void **state)
{
	char *argv[] = { (char *)"pgrefresh", (char *)"wait", (char *)"--help", NULL };
	char *text = NULL;
	size_t len = 0;
	cli_parsed p;
	pgr_err err;
	FILE *out;

	(void)state;
	assert_int_equal(cli_parse(3, argv, &p, &err), PGR_EXIT_OK);
	out = open_memstream(&text, &len);
	cli_print_help(out, &p);
	fclose(out);
	assert_non_null(strstr(text, "--timeout SECONDS"));
	assert_non_null(strstr(text, "rolled-back"));
	assert_non_null(strstr(text, "9 rolled back"));
	free(text);
	cli_parsed_free(&p);
	/* the overview: every command once, the exit codes */
	argv[1] = (char *)"--help";
	assert_int_equal(cli_parse(2, argv, &p, &err), PGR_EXIT_OK);
	text = NULL;
	out = open_memstream(&text, &len);
	cli_print_help(out, &p);
	fclose(out);
	assert_non_null(strstr(text, "pgrefresh refresh [--version V] [--dry-run]"));
	assert_non_null(strstr(text, "pgrefresh cluster create"));
	assert_non_null(strstr(text, "9 rolled back"));
	free(text);
	cli_parsed_free(&p);
	assert_non_null(cli_version());
	assert_true(strchr(cli_version(), '.') != NULL);
}

/* refresh --version V, judged before anything is recorded. */
typedef struct target_case {
	const char *from, *to;
	target_verdict verdict;
	const char *error; /* a part of the message, NULL for TARGET_OK */
} target_case;

static void test_target(void **state)
{
	static const char catalog[][16] = { "16.14", "15.20", "15.18", "15.20" };
	static const target_case cases[] = {
		{ "15.18", "15.20", TARGET_OK, NULL },
		{ "15.20", "15.18", TARGET_OK, NULL }, /* a downgrade: the coordinator's compatibility check says so */
		{ "15.18", "15.18", TARGET_SAME, "already on 15.18: nothing to refresh" },
		{ "15.18", "15.18.0", TARGET_BAD, "15.18.0" },
		{ "15.18", "99.1", TARGET_NOT_IN_CATALOG, "99.1 is in no unit's catalog (the catalogs have: 15.18, 15.20, 16.14)" },
		{ "15.18", "15.19", TARGET_NOT_IN_CATALOG, "15.19 is in no unit's catalog" },
		{ "15.18", "16.14", TARGET_OTHER_MAJOR, "16.14 is another major version than 15.18" },
		{ "15.18", "16.14", TARGET_OTHER_MAJOR, "15.x in the catalogs: 15.18, 15.20)" },
		{ "15.18", "banana", TARGET_BAD, "banana" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pgr_err err;
		target_verdict v;

		pgr_err_clear(&err);
		v = refresh_view_check_target(cases[i].from, cases[i].to, catalog, 4, &err);
		if (v != cases[i].verdict || (cases[i].error != NULL && strstr(err.msg, cases[i].error) == NULL))
			fail_msg("%s -> %s: verdict %d \"%s\", expected %d \"%s\"", cases[i].from, cases[i].to, v, err.msg,
				 cases[i].verdict, cases[i].error ? cases[i].error : "");
		/* forcing is never offered here, and every refusal names the next command */
		assert_null(strstr(err.msg, "force"));
		assert_null(strstr(err.hint, "force"));
		if (v != TARGET_OK)
			assert_non_null(strstr(err.hint, "pgrefresh "));
	}
}

static refresh_record rec(refresh_state state, bool rollback, const char *from, const char *to, const char *original)
{
	refresh_record r;

	memset(&r, 0, sizeof(r));
	r.state = state;
	r.rollback = rollback;
	snprintf(r.from, sizeof(r.from), "%s", from);
	snprintf(r.to, sizeof(r.to), "%s", to);
	snprintf(r.original, sizeof(r.original), "%s", original);
	return r;
}

static void test_wait_state(void **state)
{
	refresh_record forward_done = rec(RS_DONE, false, "15.18", "15.20", "15.18");
	refresh_record rolled_back = rec(RS_DONE, true, "15.20", "15.18", "15.18");
	refresh_record paused = rec(RS_PAUSED, false, "15.18", "15.20", "15.18");
	refresh_record failed_rollback = rec(RS_FAILED, true, "15.20", "15.18", "15.18");
	refresh_record incompatible = rec(RS_INCOMPATIBLE, false, "15.18", "15.16", "15.18");
	refresh_record checking = rec(RS_CHECKING, false, "15.18", "15.20", "15.18");
	struct {
		const refresh_record *current, *last;
		const char *want;
	} cases[] = {
		{ NULL, NULL, "idle" },
		{ NULL, &forward_done, "idle" },
		{ NULL, &rolled_back, "rolled-back" },
		{ &paused, &rolled_back, "paused" },
		{ &forward_done, NULL, "refreshing" }, /* done, not yet moved to history */
		{ &rolled_back, NULL, "refreshing" },
		{ &failed_rollback, NULL, "failed" },
		{ &incompatible, NULL, "incompatible" },
		{ &checking, &rolled_back, "refreshing" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(refresh_view_wait_state(cases[i].current, cases[i].last), cases[i].want) != 0)
			fail_msg("case %zu: %s, expected %s", i, refresh_view_wait_state(cases[i].current, cases[i].last),
				 cases[i].want);
}

static void test_history(void **state)
{
	refresh_record h[4];
	const char *from, *to;

	(void)state;
	h[0] = rec(RS_DONE, false, "15.18", "15.20", "15.18");
	h[1] = rec(RS_DONE, true, "16.14", "15.18", "15.18");  /* 15.18→16.14 forced, rolled back */
	h[2] = rec(RS_DONE, true, "15.20", "15.18", "15.18");  /* 15.18→15.20 rolled back */
	h[3] = rec(RS_DONE, true, "15.20", "15.18", "");       /* an old record without original */
	refresh_view_asked(&(refresh_record){ .rollback = true, .from = "15.18", .to = "15.20", .original = "15.18" },
			   &from, &to); /* a rollback recorded with the refresh's own from/to */
	assert_string_equal(from, "15.18");
	assert_string_equal(to, "15.20");
	refresh_view_asked(&h[0], &from, &to);
	assert_string_equal(from, "15.18");
	assert_string_equal(to, "15.20");
	refresh_view_asked(&h[1], &from, &to);
	assert_string_equal(from, "15.18");
	assert_string_equal(to, "16.14");
	refresh_view_asked(&h[2], &from, &to);
	assert_string_equal(from, "15.18");
	assert_string_equal(to, "15.20");
	refresh_view_asked(&h[3], &from, &to);
	assert_string_equal(from, "15.18");
	assert_string_equal(to, "15.20");

	for (int i = 0; i < 4; i++) {
		h[i].id = i + 1;
		h[i].ended_ms = 1000 * (i + 1);
	}
	h[1].ended_ms = 9000; /* ended last, though not last in the array */
	assert_ptr_equal(refresh_view_last(h, 4), &h[1]);
	h[3].ended_ms = 9000; /* a tie: the higher id */
	assert_ptr_equal(refresh_view_last(h, 4), &h[3]);
	assert_null(refresh_view_last(h, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),	   cmocka_unit_test(test_help),	  cmocka_unit_test(test_help_lists_options),
		cmocka_unit_test(test_target),	   cmocka_unit_test(test_wait_state), cmocka_unit_test(test_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
