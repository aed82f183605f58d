/*
 * fuzz_adopt_yml.c — a Patroni config pgrefresh did not write, as `adopt` reads and edits it
 * (adopt/adopt_yml.h: adopt_yml_read, adopt_yml_set_bin_dir, adopt_yml_set_tags). Seeds:
 * tests/fuzz/seeds/adopt_yml/ (Debian's shape from tests/unit/test_adopt_yml.c, flow style, anchors, tags).
 *
 * Properties besides memory safety: a failure has a message; a file read has every field it requires,
 * each terminated. An edit changes only what it says: the file with bin_dir set reads back the same but
 * for bin_dir, which is the one set; the file with tags set reads back the same, and setting the same
 * tags again changes nothing; tags cleared read back the same.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "adopt/adopt_yml.h"

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)
#define BIN "/var/lib/pgrefresh/units/pg-0/bin \"q\""

static void check_read(const adopt_patroni_conf *c)
{
	FUZZ_CHECK(TERMINATED(c->scope) && TERMINATED(c->name) && TERMINATED(c->api_listen) &&
			   TERMINATED(c->api_connect) && TERMINATED(c->api_user) && TERMINATED(c->api_password) &&
			   TERMINATED(c->etcd_hosts) && TERMINATED(c->etcd_protocol) && TERMINATED(c->etcd_user) &&
			   TERMINATED(c->etcd_password) && TERMINATED(c->pg_connect) && TERMINATED(c->data_dir) &&
			   TERMINATED(c->bin_dir) && TERMINATED(c->superuser) && TERMINATED(c->superuser_password),
		   "a field is not terminated");
	FUZZ_CHECK(c->scope[0] && c->name[0] && c->api_connect[0] && c->etcd_hosts[0] && c->data_dir[0] &&
			   c->bin_dir[0],
		   "read without a required field");
}

/* The same configuration, bin_dir aside. */
static void check_same(const adopt_patroni_conf *a, const adopt_patroni_conf *b, const char *what)
{
	FUZZ_CHECK(strcmp(a->scope, b->scope) == 0 && strcmp(a->name, b->name) == 0 &&
			   strcmp(a->api_listen, b->api_listen) == 0 && strcmp(a->api_connect, b->api_connect) == 0 &&
			   strcmp(a->api_user, b->api_user) == 0 && strcmp(a->api_password, b->api_password) == 0 &&
			   a->api_tls == b->api_tls && strcmp(a->etcd_hosts, b->etcd_hosts) == 0 &&
			   strcmp(a->etcd_protocol, b->etcd_protocol) == 0 && strcmp(a->etcd_user, b->etcd_user) == 0 &&
			   strcmp(a->etcd_password, b->etcd_password) == 0 && strcmp(a->pg_connect, b->pg_connect) == 0 &&
			   strcmp(a->data_dir, b->data_dir) == 0 && strcmp(a->superuser, b->superuser) == 0 &&
			   strcmp(a->superuser_password, b->superuser_password) == 0,
		   "%s changed what adopt reads", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size), *edited = NULL, *again = NULL;
	adopt_patroni_conf c, e;
	pgr_err err = { 0 };
	bool read;

	read = adopt_yml_read(s, "f.yml", &c, &err) == 0;
	if (read)
		check_read(&c);
	else
		FUZZ_CHECK(err.msg[0] != '\0', "refused without a message");

	err.msg[0] = '\0';
	if (adopt_yml_set_bin_dir(s, BIN, &edited, &err) == 0) {
		if (read) {
			FUZZ_CHECK(adopt_yml_read(edited, "f.yml", &e, &err) == 0, "with bin_dir set: %s", err.msg);
			check_same(&c, &e, "setting bin_dir");
			FUZZ_CHECK(strcmp(e.bin_dir, BIN) == 0, "bin_dir reads \"%s\"", e.bin_dir);
		}
		free(edited);
		edited = NULL;
	} else {
		FUZZ_CHECK(err.msg[0] != '\0' && edited == NULL, "set_bin_dir refused without a message");
	}

	err.msg[0] = '\0';
	if (adopt_yml_set_tags(s, "pg-1", true, &edited, &err) == 0) {
		if (read) {
			FUZZ_CHECK(adopt_yml_read(edited, "f.yml", &e, &err) == 0, "with tags set: %s", err.msg);
			check_same(&c, &e, "setting tags");
			FUZZ_CHECK(strcmp(e.bin_dir, c.bin_dir) == 0, "setting tags changed bin_dir");
			FUZZ_CHECK(adopt_yml_set_tags(edited, "pg-1", true, &again, &err) == 0, "tags set twice: %s",
				   err.msg);
			FUZZ_CHECK(strcmp(again, edited) == 0, "the same tags set again changed the file:\n%s\n---\n%s",
				   edited, again);
			free(again);
			again = NULL;
			FUZZ_CHECK(adopt_yml_set_tags(edited, "", false, &again, &err) == 0, "tags cleared: %s", err.msg);
			FUZZ_CHECK(adopt_yml_read(again, "f.yml", &e, &err) == 0, "with tags cleared: %s", err.msg);
			check_same(&c, &e, "clearing tags");
			free(again);
		}
		free(edited);
	} else {
		FUZZ_CHECK(err.msg[0] != '\0', "set_tags refused without a message");
	}
	free(s);
	return 0;
}
