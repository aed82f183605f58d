/*
 * cmd_versions.c — `pgrefresh versions` (what the catalog holds and which units run each version) and
 * `pgrefresh versions add PATH` (put an installation into the catalog).
 *
 * The catalog is --catalog DIR, else the cluster's (its pgrefresh.conf), else $PGREFRESH_CATALOG or
 * the default one.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/fetch.h"
#include "cli/cli.h"
#include "cluster/conf.h"
#include "cluster/conf_security.h"
#include "etcd/etcd.h"
#include "state/store.h"
#include "util/exitcodes.h"
#include "util/log.h"

#define ADD_HINT "pgrefresh versions add PATH  (PATH: a directory with bin/postgres, a bin dir, " \
		 "a Debian unpack tree, or a postgresql-NN_*.deb)"

/* True when a cluster is named: --dir or $PGREFRESH_DIR. */
static bool have_cluster(const cli_ctx *ctx)
{
	const char *env = getenv("PGREFRESH_DIR");

	return ctx->dir[0] != '\0' || (env != NULL && env[0] != '\0');
}

/*
 * Picks the catalog: option, else the cluster's, else the default. Loads the cluster's conf into
 * *conf when there is a cluster (*loaded says so). Returns an exit code.
 */
static int pick_catalog(cli_ctx *ctx, const char *option, cluster_conf *conf, bool *loaded, char *dir, size_t len)
{
	*loaded = false;
	if (have_cluster(ctx)) {
		if (conf_load(ctx->dir, conf, &ctx->err) != 0) {
			pgr_err_hint(&ctx->err, "pgrefresh cluster create --dir DIR, or name a catalog: pgrefresh versions "
						"--catalog DIR");
			return PGR_EXIT_ERROR;
		}
		*loaded = true;
	}
	if (option != NULL && option[0] != '\0')
		snprintf(dir, len, "%s", option);
	else if (*loaded && conf->catalog[0] != '\0')
		snprintf(dir, len, "%s", conf->catalog);
	else
		catalog_default_dir(dir, len);
	return PGR_EXIT_OK;
}

/*
 * The units of conf whose bin link points at version, as their agents report it (each reads its own
 * link, on its own host): "pg/0,pg/2", or "-" for none. Also into arr (may be NULL). snap NULL: no
 * cluster, or its etcd does not answer.
 */
static void units_using(const cluster_conf *conf, const store_snapshot *snap, const char *version, char *buf,
			size_t len, json_t *arr)
{
	size_t used = 0;

	snprintf(buf, len, "-");
	if (snap == NULL)
		return;
	for (int i = 0; i < conf->unit_count; i++) {
		int n;

		if (!snap->have[i] || strcmp(snap->records[i].linked_version, version) != 0)
			continue;
		if (arr != NULL)
			json_array_append_new(arr, json_string(conf->units[i].name));
		n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", conf->units[i].name);
		if (n > 0 && used + (size_t)n < len)
			used += (size_t)n;
	}
}

static bool str_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int print_json(json_t *doc, cli_ctx *ctx)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(doc);
	if (text == NULL) {
		pgr_err_set(&ctx->err, "could not render JSON");
		return PGR_EXIT_ERROR;
	}
	printf("%s\n", text);
	free(text);
	return PGR_EXIT_OK;
}

/* The cluster's state in etcd, for the units' reports: NULL (nothing said) when it does not answer. */
static store_snapshot *read_reports(const cluster_conf *conf)
{
	store_snapshot *snap = calloc(1, sizeof(*snap));
	etcd_client client;
	state_scope scope;
	pgr_err err;

	if (snap == NULL || conf_etcd_client(conf, &client, &err) != 0) {
		free(snap);
		return NULL;
	}
	client.timeout_ms = 2000;
	conf_state_scope(conf, &scope);
	if (store_read(&client, &scope, snap, &err) != 0) {
		log_warn("no units shown: %s", err.msg);
		free(snap);
		return NULL;
	}
	return snap;
}

int cmd_versions(cli_ctx *ctx, int argc, char **argv)
{
	const char *option = cli_take_option(&argc, argv, "--catalog");
	cluster_conf *conf;
	char dir[PATH_MAX];
	catalog_entry *entries = NULL;
	store_snapshot *snap = NULL;
	bool loaded;
	int count = 0;
	int rc;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (argc > 0) {
		pgr_err_set(&ctx->err, "unexpected argument '%s'", argv[0]);
		pgr_err_hint(&ctx->err, "pgrefresh versions [--catalog DIR] [--format json], or %s", ADD_HINT);
		return PGR_EXIT_USAGE;
	}
	conf = calloc(1, sizeof(*conf));
	if (conf == NULL) {
		pgr_err_set(&ctx->err, "out of memory");
		return PGR_EXIT_ERROR;
	}
	rc = pick_catalog(ctx, option, conf, &loaded, dir, sizeof(dir));
	if (rc != PGR_EXIT_OK)
		goto out;
	if (catalog_list(dir, &entries, &count, &ctx->err) != 0) {
		pgr_err_hint(&ctx->err, "pgrefresh versions --catalog DIR");
		rc = PGR_EXIT_ERROR;
		goto out;
	}
	if (loaded && count > 0)
		snap = read_reports(conf);

	if (ctx->json) {
		json_t *doc = json_object();
		json_t *arr = json_array();

		json_object_set_new(doc, "catalog", json_string(dir));
		for (int i = 0; i < count; i++) {
			const catalog_entry *e = &entries[i];
			json_t *item = json_object();
			json_t *units = json_array();
			json_t *missing = json_array();
			char text[512];

			units_using(conf, snap, e->version, text, sizeof(text), units);
			for (int t = 0; t < CATALOG_TOOL_COUNT; t++)
				if (!e->tool_present[t])
					json_array_append_new(missing, json_string(catalog_tool_name(t)));
			json_object_set_new(item, "version", json_string(e->version));
			json_object_set_new(item, "major", json_integer(e->major));
			json_object_set_new(item, "minor", json_integer(e->minor));
			json_object_set_new(item, "path", json_string(e->root));
			json_object_set_new(item, "bin", json_string(e->bin));
			json_object_set_new(item, "complete", json_boolean(e->complete));
			json_object_set_new(item, "missing", missing);
			json_object_set_new(item, "units", loaded ? units : json_null());
			if (!loaded)
				json_decref(units);
			json_array_append_new(arr, item);
		}
		json_object_set_new(doc, "versions", arr);
		rc = print_json(doc, ctx);
		goto out;
	}

	if (count == 0) {
		printf("no versions in the catalog %s\n", dir);
		printf("add one with: %s\n", ADD_HINT);
		rc = PGR_EXIT_OK;
		goto out;
	}
	{
		int vw = (int)strlen("VERSION");
		int pw = (int)strlen("PATH");

		for (int i = 0; i < count; i++) {
			if ((int)strlen(entries[i].version) > vw)
				vw = (int)strlen(entries[i].version);
			if ((int)strlen(entries[i].root) > pw)
				pw = (int)strlen(entries[i].root);
		}
		printf("%-*s  %-*s  %s\n", vw, "VERSION", pw, "PATH", "UNITS");
		for (int i = 0; i < count; i++) {
			char units[512];

			units_using(conf, snap, entries[i].version, units, sizeof(units), NULL);
			printf("%-*s  %-*s  %s\n", vw, entries[i].version, pw, entries[i].root, units);
		}
		for (int i = 0; i < count; i++)
			if (!entries[i].complete)
				log_warn("%s lacks %s in bin/: it cannot back a unit", entries[i].version, entries[i].missing);
	}
	rc = PGR_EXIT_OK;
out:
	free(snap);
	free(entries);
	free(conf);
	return rc;
}

/* The catalog a command that adds to it uses (pick_catalog, the cluster's conf not kept). */
static int pick_catalog_dir(cli_ctx *ctx, const char *option, char *dir, size_t len)
{
	cluster_conf *conf = calloc(1, sizeof(*conf));
	bool loaded;
	int rc;

	if (conf == NULL) {
		pgr_err_set(&ctx->err, "out of memory");
		return PGR_EXIT_ERROR;
	}
	rc = pick_catalog(ctx, option, conf, &loaded, dir, len);
	free(conf);
	return rc;
}

int cmd_versions_add(cli_ctx *ctx, int argc, char **argv)
{
	const char *option = cli_take_option(&argc, argv, "--catalog");
	catalog_entry added;
	char dir[PATH_MAX];
	bool already;
	int rc;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (argc != 1) {
		pgr_err_set(&ctx->err, argc == 0 ? "versions add needs a PATH" : "versions add takes one PATH");
		pgr_err_hint(&ctx->err, "%s", ADD_HINT);
		return PGR_EXIT_USAGE;
	}
	rc = pick_catalog_dir(ctx, option, dir, sizeof(dir));
	if (rc != PGR_EXIT_OK)
		return rc;
	if (catalog_add(dir, argv[0], &added, &already, &ctx->err) != 0) {
		pgr_err_hint(&ctx->err, "%s", ADD_HINT);
		return PGR_EXIT_ERROR;
	}
	/* once: for a .deb, catalog_add has already named the client package that is missing beside it */
	if (!added.complete && !str_ends_with(argv[0], ".deb"))
		log_warn("%s at %s lacks %s: it cannot back a unit until they are there", added.version, added.root,
			 added.missing);
	if (ctx->json) {
		json_t *doc = json_object();

		json_object_set_new(doc, "version", json_string(added.version));
		json_object_set_new(doc, "path", json_string(added.root));
		json_object_set_new(doc, "catalog", json_string(dir));
		json_object_set_new(doc, "added", json_boolean(!already));
		json_object_set_new(doc, "complete", json_boolean(added.complete));
		return print_json(doc, ctx);
	}
	if (already)
		printf("%s already in the catalog (%s)\n", added.version, added.root);
	else
		printf("added %s (%s)\n", added.version, added.root);
	return PGR_EXIT_OK;
}

int cmd_versions_fetch(cli_ctx *ctx, int argc, char **argv)
{
	const char *option = cli_take_option(&argc, argv, "--catalog");
	const char *cache_opt = cli_take_option(&argc, argv, "--cache");
	catalog_entry added;
	char dir[PATH_MAX], cache[PATH_MAX];
	int rc;

	if (cli_no_more_options(ctx, argc, argv) != 0)
		return PGR_EXIT_USAGE;
	if (argc != 1) {
		pgr_err_set(&ctx->err, argc == 0 ? "versions fetch needs a VERSION" : "versions fetch takes one VERSION");
		pgr_err_hint(&ctx->err, "pgrefresh versions fetch 15.20");
		return PGR_EXIT_USAGE;
	}
	rc = pick_catalog_dir(ctx, option, dir, sizeof(dir));
	if (rc != PGR_EXIT_OK)
		return rc;
	if (cache_opt != NULL)
		snprintf(cache, sizeof(cache), "%s", cache_opt);
	else
		fetch_default_cache(cache, sizeof(cache));
	if (fetch_version(dir, cache, argv[0], &added, &ctx->err) != 0) {
		if (strstr(ctx->err.msg, "is not in this machine's apt archives") != NULL)
			pgr_err_hint(&ctx->err, "apt-get update, or add the archive that has it (bookworm-security); then "
						"pgrefresh versions fetch VERSION with one of those listed");
		else
			pgr_err_hint(&ctx->err, "pgrefresh versions add PATH adds a tree or a .deb you have");
		return PGR_EXIT_ERROR;
	}
	printf("%s fetched into %s and in the catalog %s\n", added.version, added.root, dir);
	return PGR_EXIT_OK;
}
