/*
 * test_cluster_hosts.c — the hosts of `cluster create --hosts N` (cluster/hosts.h): address blocks,
 * names, and pgrefresh.conf's hosts keys with the paths they lead to (cluster/conf.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/conf.h"
#include "cluster/hosts.h"
#include "patroni/patroni_yml.h"
#include "status/status.h"

#define A(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* The first free /28 block of 198.18.0.0/24, given the machine's addresses. */
static void test_pick_block(void **state)
{
	static const struct {
		uint32_t used[4];
		int n;
		int block;
	} cases[] = {
		{ { 0 }, 0, 0 },
		{ { A(127, 0, 0, 1), A(10, 0, 0, 5) }, 2, 0 },              /* other networks don't count */
		{ { A(198, 18, 0, 1) }, 1, 1 },                             /* a cluster's bridge in block 0 */
		{ { A(198, 18, 0, 15) }, 1, 1 },                            /* the block's last address */
		{ { A(198, 18, 0, 16) }, 1, 0 },                            /* the next block's first */
		{ { A(198, 18, 0, 1), A(198, 18, 0, 17) }, 2, 2 },          /* two clusters */
		{ { A(198, 18, 0, 1), A(198, 18, 0, 40) }, 2, 1 },          /* a hole is reused */
		{ { A(198, 18, 1, 1) }, 1, 0 },                             /* outside 198.18.0.0/24 */
		{ { A(198, 17, 255, 255), A(198, 18, 0, 255) }, 2, 0 },     /* block 15 taken only */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = hosts_pick_block(cases[i].used, cases[i].n);

		if (got != cases[i].block)
			fail_msg("case %zu: block %d, expected %d", i, got, cases[i].block);
	}
}

static void test_pick_block_full(void **state)
{
	uint32_t used[HOSTS_BLOCKS];

	(void)state;
	for (int b = 0; b < HOSTS_BLOCKS; b++)
		used[b] = A(198, 18, 0, 16 * b + 1);
	assert_int_equal(hosts_pick_block(used, HOSTS_BLOCKS), -1);
	assert_int_equal(hosts_pick_block(used, HOSTS_BLOCKS - 1), HOSTS_BLOCKS - 1);
}

/* Addresses and names of each block and host: within 198.18.0.0/24, names within IFNAMSIZ. */
static void test_addresses_and_names(void **state)
{
	static const struct {
		int block, host;
		const char *cidr, *bridge_addr, *addr;
	} cases[] = {
		{ 0, 0, "198.18.0.0/28", "198.18.0.1", "198.18.0.2" },
		{ 0, 4, "198.18.0.0/28", "198.18.0.1", "198.18.0.6" },
		{ 1, 2, "198.18.0.16/28", "198.18.0.17", "198.18.0.20" },
		{ 15, 4, "198.18.0.240/28", "198.18.0.241", "198.18.0.246" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hosts_net net;
		char buf[64];

		hosts_net_init(&net, "0123abcd", cases[i].block, 5);
		hosts_cidr(&net, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].cidr);
		assert_int_equal(hosts_block_of_cidr(buf), cases[i].block);
		hosts_bridge_addr(&net, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].bridge_addr);
		hosts_addr(&net, cases[i].host, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].addr);
		assert_string_equal(net.bridge, "pgr-0123abcd");
		assert_true(strlen(net.bridge) < IFNAMSIZ);
		hosts_netns_name(&net, cases[i].host, buf, sizeof(buf));
		assert_true(strncmp(buf, "pgr-0123abcd-h", 14) == 0);
		hosts_veth_name(&net, cases[i].host, buf, sizeof(buf));
		assert_true(strncmp(buf, "pgr0123abcdv", 12) == 0);
		assert_true(strlen(buf) < IFNAMSIZ);
	}
	/* not one of ours */
	assert_int_equal(hosts_block_of_cidr("198.18.0.17/28"), -1);
	assert_int_equal(hosts_block_of_cidr("10.0.0.0/28"), -1);
	assert_int_equal(hosts_block_of_cidr(""), -1);
}

/* A host's etcd endpoints: its own member first, when it runs one (create's hosts; add-unit's do not). */
static void test_etcd_own_first(void **state)
{
	static const struct {
		const char *etcd, *host, *out;
		bool has;
	} cases[] = {
		{ "https://198.18.0.2:2379,https://198.18.0.3:2379,https://198.18.0.4:2379", "198.18.0.3",
		  "https://198.18.0.3:2379,https://198.18.0.2:2379,https://198.18.0.4:2379", true },
		{ "https://198.18.0.2:2379,https://198.18.0.3:2379,https://198.18.0.4:2379", "198.18.0.2",
		  "https://198.18.0.2:2379,https://198.18.0.3:2379,https://198.18.0.4:2379", true },
		/* a 4th host (add-unit): no member of its own, the others in their order */
		{ "https://198.18.0.2:2379,https://198.18.0.3:2379,https://198.18.0.4:2379", "198.18.0.5",
		  "https://198.18.0.2:2379,https://198.18.0.3:2379,https://198.18.0.4:2379", false },
		/* .2 is not .21's prefix */
		{ "http://198.18.0.21:2379,http://198.18.0.2:2379", "198.18.0.2", "http://198.18.0.2:2379,http://198.18.0.21:2379",
		  true },
		{ "http://198.18.0.21:2379", "198.18.0.2", "http://198.18.0.21:2379", false },
		{ "", "198.18.0.2", "", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];

		assert_int_equal(hosts_etcd_own_first(cases[i].etcd, cases[i].host, out, sizeof(out)), 0);
		if (strcmp(out, cases[i].out) != 0)
			fail_msg("case %zu: \"%s\", expected \"%s\"", i, out, cases[i].out);
		if (hosts_etcd_has(cases[i].etcd, cases[i].host) != cases[i].has)
			fail_msg("case %zu: has %d", i, !cases[i].has);
	}
	{
		char small[20];

		assert_int_equal(hosts_etcd_own_first(cases[0].etcd, "198.18.0.3", small, sizeof(small)), -1);
	}
}

/* The hosts there are: create's h0 .. h(N-1); remove-unit and add-unit change the mask, not the count. */
static void test_net_mask(void **state)
{
	hosts_net net;

	(void)state;
	hosts_net_init(&net, "0123abcd", 1, 3);
	assert_int_equal(net.mask, 0x7u);
	hosts_net_init(&net, "0123abcd", 1, 0);
	assert_int_equal(net.mask, 0u);
	hosts_net_init(&net, "0123abcd", 1, HOSTS_SLOTS);
	assert_int_equal(net.mask, (1u << HOSTS_SLOTS) - 1u);
}

/* The tag: 8 hex digits, the same for the same directory, different for another. */
static void test_tag(void **state)
{
	char a[16], b[16], c[16];

	(void)state;
	hosts_tag("/tmp/one", a, sizeof(a));
	hosts_tag("/tmp/one", b, sizeof(b));
	hosts_tag("/tmp/two", c, sizeof(c));
	assert_int_equal(strlen(a), 8);
	assert_int_equal(strspn(a, "0123456789abcdef"), 8);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
}

/* hosts_net and hosts_bridge in pgrefresh.conf: read back as written; units' paths follow them. */
static void test_conf_hosts_keys(void **state)
{
	static const char text[] = "[cluster]\nname = pg\netcd = http://198.18.0.18:2379,http://198.18.0.19:2379\n"
				   "catalog = /c\nlocal = true\nhosts_net = 198.18.0.16/28\nhosts_bridge = pgr-0123abcd\n"
				   "[unit pg/1]\nhost = 198.18.0.19\npg_port = 5432\napi_port = 8008\n";
	cluster_conf *conf = test_calloc(1, sizeof(*conf)), *again = test_calloc(1, sizeof(*again));
	char buf[16384], path[PATH_MAX + 64];
	pgr_err err = { 0 };

	(void)state;
	assert_int_equal(conf_parse(text, "f.conf", conf, &err), 0);
	assert_string_equal(conf->hosts_net, "198.18.0.16/28");
	assert_string_equal(conf->hosts_bridge, "pgr-0123abcd");
	snprintf(conf->dir, sizeof(conf->dir), "/d");
	conf_unit_path(conf, &conf->units[0], "agent.pid", path, sizeof(path));
	assert_string_equal(path, "/d/hosts/h1/units/pg-1/agent.pid");
	assert_int_equal(conf_format(conf, buf, sizeof(buf), &err), 0);
	assert_int_equal(conf_parse(buf, "g.conf", again, &err), 0);
	assert_string_equal(again->hosts_net, conf->hosts_net);
	assert_string_equal(again->hosts_bridge, conf->hosts_bridge);
	/* a host's own file: no bridge, its units under its own directory */
	again->hosts_bridge[0] = '\0';
	snprintf(again->dir, sizeof(again->dir), "/d/hosts/h1");
	conf_unit_dir(again, &again->units[0], path, sizeof(path));
	assert_string_equal(path, "/d/hosts/h1/units/pg-1");
	assert_int_equal(conf_format(again, buf, sizeof(buf), &err), 0);
	assert_null(strstr(buf, "hosts_bridge"));
	assert_non_null(strstr(buf, "hosts_net = 198.18.0.16/28\n"));
	test_free(conf);
	test_free(again);
}

static void test_conf_hosts_bad(void **state)
{
	static const struct {
		const char *text, *error;
	} cases[] = {
		{ "[cluster]\nname = pg\nhosts_net = \n", "f.conf:3: bad hosts_net \"\"" },
		{ "[cluster]\nname = pg\nhosts_net = 198.18.0.0/28, 10.0.0.0/8\n", "f.conf:3: bad hosts_net" },
		{ "[cluster]\nname = pg\nhosts_bridge = ../x\n", "f.conf:3: bad hosts_bridge" },
		{ "[cluster]\nname = pg\nhosts_bridge = a b\n", "f.conf:3: bad hosts_bridge" },
		{ "[cluster]\nname = pg\nhosts_bridge = pgr-0123456789abcdef\n", "f.conf:3: hosts_bridge is longer than" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cluster_conf *conf = test_calloc(1, sizeof(*conf));
		pgr_err err = { 0 };

		if (conf_parse(cases[i].text, "f.conf", conf, &err) == 0)
			fail_msg("case %zu parsed", i);
		if (strncmp(err.msg, cases[i].error, strlen(cases[i].error)) != 0)
			fail_msg("case %zu: \"%s\", expected \"%s...\"", i, err.msg, cases[i].error);
		test_free(conf);
	}
}

/* patroni.yml lets the hosts' block in (replication and clients, scram), and only across hosts. */
static void test_patroni_hba(void **state)
{
	static const char text[] = "[cluster]\nname = pg\netcd = http://198.18.0.18:2379\ncatalog = /c\n"
				   "[unit pg/0]\nhost = 198.18.0.18\npg_port = 5432\napi_port = 8008\n";
	cluster_conf *conf = test_calloc(1, sizeof(*conf));
	cluster_secrets secrets = { "su", "repl", "rew" };
	pgr_err err = { 0 };
	char *yml = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(conf_parse(text, "f.conf", conf, &err), 0);
	snprintf(conf->dir, sizeof(conf->dir), "/d/hosts/h0");
	assert_int_equal(patroni_yml_render(conf, &secrets, &conf->units[0], NULL, &yml, &len, &err), 0);
	assert_null(strstr(yml, "198.18.0.16/28"));
	free(yml);
	snprintf(conf->hosts_net, sizeof(conf->hosts_net), "198.18.0.16/28");
	assert_int_equal(patroni_yml_render(conf, &secrets, &conf->units[0], NULL, &yml, &len, &err), 0);
	assert_non_null(strstr(yml, "  pg_hba:\n    - local all postgres peer\n"
				    "    - host replication replicator 198.18.0.16/28 scram-sha-256\n"
				    "    - host all all 198.18.0.16/28 scram-sha-256\ntags:"));
	assert_null(strstr(yml, "trust")); /* never trust across hosts */
	assert_null(strstr(yml, "127.0.0.1"));
	assert_non_null(strstr(yml, "listen: \"198.18.0.18:5432\""));
	free(yml);
	test_free(conf);
}

/* Patroni's etcd3.hosts: every endpoint of the conf, in its order (a host's own member first), no scheme. */
static void test_patroni_etcd_hosts(void **state)
{
	static const struct {
		const char *etcd, *hosts;
	} cases[] = {
		{ "http://127.0.0.1:2379", "etcd3: {hosts: \"127.0.0.1:2379\"}" },
		{ "https://198.18.0.19:2379,https://198.18.0.18:2379,https://198.18.0.20:2379",
		  "etcd3: {hosts: \"198.18.0.19:2379,198.18.0.18:2379,198.18.0.20:2379\"" },
		{ "http://198.18.0.18:2379/,198.18.0.19:2379", "etcd3: {hosts: \"198.18.0.18:2379,198.18.0.19:2379\"}" },
	};
	static const char text[] = "[cluster]\nname = pg\netcd = http://198.18.0.18:2379\ncatalog = /c\n"
				   "[unit pg/0]\nhost = 198.18.0.18\npg_port = 5432\napi_port = 8008\n";
	cluster_secrets secrets = { "su", "repl", "rew" };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cluster_conf *conf = test_calloc(1, sizeof(*conf));
		pgr_err err = { 0 };
		char *yml = NULL;
		size_t len = 0;

		assert_int_equal(conf_parse(text, "f.conf", conf, &err), 0);
		snprintf(conf->dir, sizeof(conf->dir), "/d");
		snprintf(conf->etcd, sizeof(conf->etcd), "%s", cases[i].etcd);
		assert_int_equal(patroni_yml_render(conf, &secrets, &conf->units[0], NULL, &yml, &len, &err), 0);
		if (strstr(yml, cases[i].hosts) == NULL)
			fail_msg("case %zu: no %s in:\n%s", i, cases[i].hosts, yml);
		free(yml);
		test_free(conf);
	}
}

/* status says so when a cluster of hosts was made with --insecure (table and JSON); nothing otherwise. */
static void test_status_insecure(void **state)
{
	static const struct {
		const char *hosts_net, *etcd_ca;
		bool said;
	} cases[] = {
		{ "198.18.0.16/28", "", true },
		{ "198.18.0.16/28", "/d/pki/ca.crt", false },
		{ "", "", false }, /* loopback: plain unless --secure, as always */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cluster_conf *conf = test_calloc(1, sizeof(*conf));
		status_view *view = test_calloc(1, sizeof(*view));
		pgr_err err = { 0 };
		char *table = NULL, *json = NULL;

		snprintf(conf->name, sizeof(conf->name), "pg");
		snprintf(conf->hosts_net, sizeof(conf->hosts_net), "%s", cases[i].hosts_net);
		snprintf(conf->security.etcd_ca, sizeof(conf->security.etcd_ca), "%s", cases[i].etcd_ca);
		status_build(conf, NULL, NULL, NULL, "", NULL, 0, view);
		assert_int_equal(status_render_table(view, &table, &err), 0);
		assert_int_equal(status_render_json(view, &json, &err), 0);
		if ((strstr(table, "\nSecurity insecure (made with --insecure)") != NULL) != cases[i].said ||
		    (strstr(json, "\"security\": \"insecure (made with --insecure)") != NULL) != cases[i].said)
			fail_msg("case %zu: table\n%s\njson\n%s", i, table, json);
		free(table);
		free(json);
		test_free(view);
		test_free(conf);
	}
}

/* status's table: a Host column when units are on several hosts; on 127.0.0.1 the table as it was. */
static void test_status_host_column(void **state)
{
	static const struct {
		const char *host;
		const char *header, *row;
	} cases[] = {
		{ "127.0.0.1", "Unit   Role          Version", "pg/0   primary       15.18" },
		{ "198.18.0.18", "Unit   Host            Role          Version", "pg/0   198.18.0.18     primary       15.18" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		status_view *view = test_calloc(1, sizeof(*view));
		pgr_err err = { 0 };
		char *out = NULL;

		snprintf(view->cluster, sizeof(view->cluster), "pg");
		snprintf(view->version, sizeof(view->version), "15.18");
		snprintf(view->refresh.state, sizeof(view->refresh.state), "idle");
		view->unit_count = 1;
		snprintf(view->units[0].name, sizeof(view->units[0].name), "pg/0");
		snprintf(view->units[0].host, sizeof(view->units[0].host), "%s", cases[i].host);
		snprintf(view->units[0].role, sizeof(view->units[0].role), "primary");
		snprintf(view->units[0].version, sizeof(view->units[0].version), "15.18");
		snprintf(view->units[0].state, sizeof(view->units[0].state), "active");
		assert_int_equal(status_render_table(view, &out, &err), 0);
		if (strstr(out, cases[i].header) == NULL || strstr(out, cases[i].row) == NULL)
			fail_msg("case %zu: no \"%s\" / \"%s\" in:\n%s", i, cases[i].header, cases[i].row, out);
		free(out);
		test_free(view);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_block),
		cmocka_unit_test(test_pick_block_full),
		cmocka_unit_test(test_addresses_and_names),
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_etcd_own_first),
		cmocka_unit_test(test_net_mask),
		cmocka_unit_test(test_conf_hosts_keys),
		cmocka_unit_test(test_conf_hosts_bad),
		cmocka_unit_test(test_patroni_hba),
		cmocka_unit_test(test_patroni_etcd_hosts),
		cmocka_unit_test(test_status_insecure),
		cmocka_unit_test(test_status_host_column),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
