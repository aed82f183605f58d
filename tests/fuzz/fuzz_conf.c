/*
 * fuzz_conf.c — DIR/pgrefresh.conf (cluster/conf.h's conf_parse). Seeds: tests/fuzz/seeds/conf/ (the
 * files of tests/unit/test_cluster_conf.c and the one `cluster create` writes).
 *
 * Properties besides memory safety: a failure has a message naming the origin; a parsed file names
 * every unit after its cluster ("pg/N", member "pg-N"), each unit once and found again by its name,
 * ports in range; and what conf_format writes parses back to the same configuration.
 */
#include "fuzz.h"

#include "cluster/conf.h"

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static void check_conf(const cluster_conf *c)
{
	char want[64];

	FUZZ_CHECK(TERMINATED(c->name) && TERMINATED(c->etcd) && TERMINATED(c->catalog) && TERMINATED(c->superuser),
		   "a field is not terminated");
	FUZZ_CHECK(c->name[0] != '\0' && c->etcd[0] != '\0' && c->catalog[0] != '\0', "a required field is empty");
	FUZZ_CHECK(c->etcd_peer_port >= 0 && c->etcd_peer_port <= 65535, "etcd_peer_port %d", c->etcd_peer_port);
	FUZZ_CHECK(c->pgbouncer_count >= 0 && c->pgbouncer_count <= CONF_MAX_PGBOUNCERS, "%d pgbouncers",
		   c->pgbouncer_count);
	for (int i = 0; i < c->pgbouncer_count; i++)
		FUZZ_CHECK(c->pgbouncers[i].host[0] != '\0' && c->pgbouncers[i].port >= 1 &&
				   c->pgbouncers[i].port <= 65535,
			   "pgbouncer %d: \"%s\":%d", i, c->pgbouncers[i].host, c->pgbouncers[i].port);
	FUZZ_CHECK(c->unit_count >= 0 && c->unit_count <= CONF_MAX_UNITS, "%d units", c->unit_count);
	for (int i = 0; i < c->unit_count; i++) {
		const conf_unit *u = &c->units[i];

		snprintf(want, sizeof(want), "%s/%d", c->name, u->number);
		FUZZ_CHECK(strcmp(u->name, want) == 0, "unit %d is named \"%s\" in cluster \"%s\"", i, u->name, c->name);
		snprintf(want, sizeof(want), "%s-%d", c->name, u->number);
		FUZZ_CHECK(strcmp(u->member, want) == 0, "unit %s has member name \"%s\"", u->name, u->member);
		FUZZ_CHECK(conf_find_unit(c, u->name) == u, "unit %s is not found by its name", u->name);
		FUZZ_CHECK(u->pg_port >= 1 && u->pg_port <= 65535 && u->api_port >= 1 && u->api_port <= 65535,
			   "unit %s: ports %d %d", u->name, u->pg_port, u->api_port);
	}
}

/* The same configuration: every field that conf_format writes. */
static void check_same(const cluster_conf *a, const cluster_conf *b)
{
	FUZZ_CHECK(strcmp(a->name, b->name) == 0 && strcmp(a->etcd, b->etcd) == 0 &&
			   strcmp(a->catalog, b->catalog) == 0 && strcmp(a->superuser, b->superuser) == 0 &&
			   a->etcd_peer_port == b->etcd_peer_port && a->local == b->local,
		   "the [cluster] section changed in the round trip");
	FUZZ_CHECK(a->pgbouncer_count == b->pgbouncer_count, "pgbouncers %d, then %d", a->pgbouncer_count,
		   b->pgbouncer_count);
	for (int i = 0; i < a->pgbouncer_count; i++)
		FUZZ_CHECK(strcmp(a->pgbouncers[i].host, b->pgbouncers[i].host) == 0 &&
				   a->pgbouncers[i].port == b->pgbouncers[i].port,
			   "pgbouncer %d changed", i);
	FUZZ_CHECK(a->unit_count == b->unit_count, "units %d, then %d", a->unit_count, b->unit_count);
	for (int i = 0; i < a->unit_count; i++)
		FUZZ_CHECK(strcmp(a->units[i].name, b->units[i].name) == 0 && strcmp(a->units[i].host, b->units[i].host) == 0 &&
				   a->units[i].number == b->units[i].number && a->units[i].pg_port == b->units[i].pg_port &&
				   a->units[i].api_port == b->units[i].api_port,
			   "unit %d (%s) changed", i, a->units[i].name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static cluster_conf a, b; /* 8 KB of paths each: not on the fuzzer's stack */
	static char text[65536];
	char *s = fuzz_cstring(data, size);
	pgr_err err = { 0 };

	if (conf_parse(s, "f.conf", &a, &err) != 0) {
		FUZZ_CHECK(strncmp(err.msg, "f.conf", 6) == 0, "an error that does not name the file: \"%s\"", err.msg);
		free(s);
		return 0;
	}
	free(s);
	check_conf(&a);
	FUZZ_CHECK(conf_format(&a, text, sizeof(text), &err) == 0, "conf_format failed: %s", err.msg);
	if (conf_parse(text, "formatted", &b, &err) != 0)
		FUZZ_CHECK(0, "what conf_format wrote does not parse: %s\n%s", err.msg, text);
	check_same(&a, &b);
	return 0;
}
