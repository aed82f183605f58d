/*
 * fuzz_patroni.c — Patroni's REST replies (patroni/patroni.h): GET /cluster, GET /patroni, GET /config,
 * and the API URL a member advertises. Seeds: tests/fixtures/patroni/ (replies captured from Patroni 3.0.2).
 *
 * Properties besides memory safety: a failure has a message; a parsed cluster has at most
 * PATRONI_MAX_MEMBERS members, each named, each found again by its name, every string terminated inside
 * its field and equal to the reply's (read again with jansson: a name or an API URL cut short would
 * address another member); loop_wait is in its documented range; the API base never grows and never
 * ends in '/'.
 */
#include "fuzz.h"

#include <jansson.h>

#include "patroni/patroni.h"

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

/* What the parser kept of obj's string field key is the whole of it ("" when absent or null). */
static void check_same(json_t *obj, const char *key, const char *got, const char *what)
{
	json_t *v = json_object_get(obj, key);
	const char *want = json_is_string(v) ? json_string_value(v) : "";

	FUZZ_CHECK(strcmp(got, want) == 0, "%s: field %s is \"%s\", the reply says \"%.300s\"", what, key, got, want);
}

static void fuzz_cluster(const char *s)
{
	patroni_cluster c;
	pgr_err err = { 0 };

	if (patroni_cluster_parse(s, &c, &err) != 0) {
		FUZZ_CHECK(err.msg[0] != '\0', "patroni_cluster_parse failed without a message");
		return;
	}
	FUZZ_CHECK(c.member_count >= 0 && c.member_count <= PATRONI_MAX_MEMBERS, "%d members", c.member_count);
	for (int i = 0; i < c.member_count; i++) {
		const patroni_member *m = &c.members[i];

		FUZZ_CHECK(TERMINATED(m->name) && TERMINATED(m->state) && TERMINATED(m->host) &&
				   TERMINATED(m->api_url) && TERMINATED(m->tags_replicatefrom),
			   "member %d: a field is not terminated", i);
		FUZZ_CHECK(m->name[0] != '\0', "member %d has no name", i);
		FUZZ_CHECK(patroni_cluster_member(&c, m->name) != NULL, "member %s not found by its name", m->name);
		FUZZ_CHECK(strcmp(patroni_role_display(m->role), "") != 0, "member %s: no role text", m->name);
	}
	{
		json_t *root = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
		json_t *members = json_object_get(root, "members");

		FUZZ_CHECK(json_array_size(members) == (size_t)c.member_count, "%d members of %zu", c.member_count,
			   json_array_size(members));
		for (int i = 0; i < c.member_count; i++) {
			json_t *m = json_array_get(members, (size_t)i);

			check_same(m, "name", c.members[i].name, "member");
			check_same(m, "state", c.members[i].state, "member");
			check_same(m, "host", c.members[i].host, "member");
			check_same(m, "api_url", c.members[i].api_url, "member");
		}
		json_decref(root);
	}
	if (patroni_cluster_leader(&c) != NULL)
		FUZZ_CHECK(patroni_cluster_leader(&c)->role == PATRONI_ROLE_LEADER, "the leader is not a leader");
	if (patroni_cluster_sync_standby(&c) != NULL)
		FUZZ_CHECK(patroni_cluster_sync_standby(&c)->role == PATRONI_ROLE_SYNC_STANDBY,
			   "the sync standby is not one");
}

static void fuzz_node(const char *s)
{
	patroni_node n;
	pgr_err err = { 0 };

	if (patroni_node_parse(s, &n, &err) != 0) {
		FUZZ_CHECK(err.msg[0] != '\0', "patroni_node_parse failed without a message");
		return;
	}
	FUZZ_CHECK(TERMINATED(n.state) && TERMINATED(n.role) && TERMINATED(n.postmaster_start_time) &&
			   TERMINATED(n.system_identifier) && TERMINATED(n.patroni_version) &&
			   TERMINATED(n.tags_replicatefrom),
		   "a node field is not terminated");
	FUZZ_CHECK(n.replication_count >= 0 && n.replication_count <= PATRONI_MAX_MEMBERS, "%d replication entries",
		   n.replication_count);
	FUZZ_CHECK(n.is_primary == (strcmp(n.role, "master") == 0 || strcmp(n.role, "primary") == 0),
		   "is_primary %d for role \"%s\"", n.is_primary, n.role);
	{
		json_t *root = json_loads(s, JSON_REJECT_DUPLICATES, NULL);

		check_same(root, "state", n.state, "node");
		check_same(root, "role", n.role, "node");
		check_same(root, "postmaster_start_time", n.postmaster_start_time, "node");
		check_same(root, "database_system_identifier", n.system_identifier, "node");
		json_decref(root);
	}
	for (int i = 0; i < n.replication_count; i++)
		FUZZ_CHECK(TERMINATED(n.replication[i].application_name) && TERMINATED(n.replication[i].state) &&
				   TERMINATED(n.replication[i].sync_state) && TERMINATED(n.replication[i].client_addr),
			   "replication[%d]: a field is not terminated", i);
}

static void fuzz_config(const char *s)
{
	int loop_wait = -1;
	pgr_err err = { 0 };

	if (patroni_config_loop_wait_parse(s, &loop_wait, &err) == 0)
		FUZZ_CHECK(loop_wait > 0 && loop_wait <= 3600, "loop_wait %d", loop_wait);
	else
		FUZZ_CHECK(err.msg[0] != '\0' && loop_wait == 0, "a failed /config parse: loop_wait %d, \"%s\"",
			   loop_wait, err.msg);
}

static void fuzz_api_base(const char *s)
{
	char out[160], tiny[4];
	size_t n;

	if (patroni_api_base(s, out, sizeof(out)) == 0) {
		n = strlen(out);
		FUZZ_CHECK(n <= strlen(s) && strncmp(out, s, n) == 0, "base \"%s\" is not a prefix of \"%s\"", out, s);
		FUZZ_CHECK(n == 0 || out[n - 1] != '/', "base \"%s\" ends in '/'", out);
	}
	if (patroni_api_base(s, tiny, sizeof(tiny)) == 0)
		FUZZ_CHECK(strlen(tiny) < sizeof(tiny), "tiny base overflows");
	(void)patroni_role_from_string(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);

	fuzz_cluster(s);
	fuzz_node(s);
	fuzz_config(s);
	fuzz_api_base(s);
	free(s);
	return 0;
}
