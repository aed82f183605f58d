#include "pooler/pooler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg/pgbouncer.h"
#include "util/fileutil.h"

/* ---- PgBouncer ---- */

static int pgb_pause(const pooler *p, long timeout_ms, bool *timed_out, pgr_err *err)
{
	if (pgbouncer_pause(p->host, p->port, p->admin_user, p->password, timeout_ms, timed_out, err) != 0)
		return pgr_err_prefix(err, "pooler %s", p->name);
	return 0;
}

static int pgb_resume(const pooler *p, long timeout_ms, pgr_err *err)
{
	bool was_paused;

	if (pgbouncer_resume(p->host, p->port, p->admin_user, p->password, timeout_ms, &was_paused, err) != 0)
		return pgr_err_prefix(err, "pooler %s: RESUME", p->name);
	return 0;
}

static int pgb_repoint(const pooler *p, const char *host, int port, long timeout_ms, bool *changed, pgr_err *err)
{
	char *text = NULL, *next = NULL, cur_host[256];
	int cur_port = 0, rc = -1;
	pgr_err ignored;

	*changed = false;
	if (file_read_all(p->config, &text, NULL, err) != 0)
		return pgr_err_prefix(err, "pooler %s", p->name);
	if (pgbouncer_ini_target(text, cur_host, sizeof(cur_host), &cur_port, &ignored) == 0 &&
	    strcmp(cur_host, host) == 0 && cur_port == port) {
		rc = 0; /* the file says so already: RELOAD all the same, PgBouncer may not have read it */
	} else if (pgbouncer_ini_retarget(text, host, port, &next, err) != 0 ||
		   file_write_durable(p->config, next, strlen(next), 0644, err) != 0) {
		pgr_err_prefix(err, "pooler %s: %s", p->name, p->config);
		goto out;
	} else {
		*changed = true;
	}
	rc = pgbouncer_admin_command(p->host, p->port, p->admin_user, p->password, "RELOAD", timeout_ms, err);
	if (rc != 0)
		pgr_err_prefix(err, "pooler %s", p->name);
out:
	free(text);
	free(next);
	return rc;
}

static int pgb_check_target(const pooler *p, const char *host, int port, long timeout_ms, pgr_err *err)
{
	pgbouncer_databases *dbs = malloc(sizeof(*dbs));
	int routed = 0, rc;

	if (dbs == NULL)
		return pgr_err_set(err, "out of memory");
	rc = pgbouncer_show_databases(p->host, p->port, p->admin_user, p->password, timeout_ms, dbs, err);
	if (rc == 0)
		rc = pgbouncer_databases_check(dbs->rows, dbs->count, host, port, &routed, err);
	free(dbs);
	if (rc != 0)
		return pgr_err_prefix(err, "pooler %s", p->name);
	return 0;
}

static const pooler_ops pgbouncer_ops = {
	.kind = "pgbouncer",
	.pause = pgb_pause,
	.resume = pgb_resume,
	.repoint = pgb_repoint,
	.check_target = pgb_check_target,
};

/* ---- the table of kinds ---- */

static const pooler_ops *const kinds[] = { &pgbouncer_ops };

const pooler_ops *pooler_ops_for(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i]->kind, kind[0] ? kind : "pgbouncer") == 0)
			return kinds[i];
	return NULL;
}

int pooler_open(const cluster_conf *conf, int i, pooler *p, pgr_err *err)
{
	const conf_pooler *c;

	memset(p, 0, sizeof(*p));
	if (i < 0 || i >= conf->pgbouncer_count)
		return pgr_err_set(err, "no pooler number %d", i);
	c = &conf->pgbouncers[i];
	p->ops = pooler_ops_for(c->kind);
	if (p->ops == NULL)
		return pgr_err_set(err, "pooler %s: unknown kind \"%s\"", c->name, c->kind);
	snprintf(p->name, sizeof(p->name), "%s", c->name);
	snprintf(p->host, sizeof(p->host), "%s", c->host);
	p->port = c->port;
	snprintf(p->config_host, sizeof(p->config_host), "%s", c->config_host[0] ? c->config_host : c->host);
	conf_pooler_config(conf, i, p->config, sizeof(p->config));
	snprintf(p->admin_user, sizeof(p->admin_user), "%s", conf_pooler_admin_user(conf, c));
	if (conf_secret_load(conf->dir, c->secret[0] ? c->secret : CONF_POOLER_DEFAULT_SECRET, p->password,
			     sizeof(p->password), err) != 0)
		return pgr_err_prefix(err, "pooler %s", c->name);
	return 0;
}

void pooler_close(pooler *p)
{
	/* volatile: the wipe is not optimised away */
	volatile char *v = p->password;

	for (size_t i = 0; i < sizeof(p->password); i++)
		v[i] = '\0';
}
