#include "adopt/adopt_yml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/yaml.h"

/* A loaded document and the text it came from. */
typedef struct ydoc {
	yaml_document_t doc;
	const char *text;
	size_t len;
} ydoc;

static int ydoc_load(ydoc *d, const char *text, const char *origin, pgr_err *err)
{
	yaml_parser_t parser;
	yaml_node_t *root;

	d->text = text;
	d->len = strlen(text);
	if (!yaml_parser_initialize(&parser))
		return pgr_err_set(err, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, d->len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	if (!yaml_parser_load(&parser, &d->doc)) {
		pgr_err_set(err, "%s:%zu: not YAML: %s", origin, parser.problem_mark.line + 1,
			    parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return -1;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&d->doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		yaml_document_delete(&d->doc);
		return pgr_err_set(err, "%s: not a Patroni configuration (no top-level mapping)", origin);
	}
	return 0;
}

/* libyaml's marks count characters: the byte offset of character index i of the (UTF-8) text. */
static size_t byte_offset(const ydoc *d, size_t index)
{
	size_t b = 0, c = 0;

	while (b < d->len && c < index) {
		b++;
		while (b < d->len && ((unsigned char)d->text[b] & 0xC0) == 0x80)
			b++;
		c++;
	}
	return b;
}

/* The value node of key in mapping node map (NULL when absent or map is not a mapping); *key_node its key. */
static yaml_node_t *map_get_pair(yaml_document_t *doc, yaml_node_t *map, const char *key, yaml_node_t **key_node)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
		    memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0) {
			*key_node = k;
			return yaml_document_get_node(doc, p->value);
		}
	}
	return NULL;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_t *k;

	return map_get_pair(doc, map, key, &k);
}

static yaml_node_t *path_get(yaml_document_t *doc, const char *a, const char *b, const char *c)
{
	yaml_node_t *n = map_get(doc, yaml_document_get_root_node(doc), a);

	if (b != NULL)
		n = map_get(doc, n, b);
	if (c != NULL)
		n = map_get(doc, n, c);
	return n;
}

/* A scalar's value into buf ("" for a null or a missing node); -1 when it does not fit or is no scalar. */
static int scalar_copy(const yaml_node_t *n, const char *what, char *buf, size_t len, pgr_err *err)
{
	buf[0] = '\0';
	if (n == NULL)
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return pgr_err_set(err, "%s is not a single value", what);
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && n->data.scalar.length == 4 &&
	    memcmp(n->data.scalar.value, "null", 4) == 0)
		return 0;
	if (n->data.scalar.length >= len)
		return pgr_err_set(err, "%s is too long", what);
	memcpy(buf, n->data.scalar.value, n->data.scalar.length);
	buf[n->data.scalar.length] = '\0';
	return 0;
}

/* etcd hosts: a scalar "h:p,h:p" or a sequence of them, joined with ','. */
static int hosts_copy(yaml_document_t *doc, const yaml_node_t *n, char *buf, size_t len, pgr_err *err)
{
	size_t used = 0;

	buf[0] = '\0';
	if (n == NULL || n->type != YAML_SEQUENCE_NODE)
		return scalar_copy(n, "etcd hosts", buf, len, err);
	for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
		yaml_node_t *item = yaml_document_get_node(doc, *i);
		int w;

		if (item == NULL || item->type != YAML_SCALAR_NODE)
			return pgr_err_set(err, "etcd hosts: an entry is not a host:port");
		w = snprintf(buf + used, len - used, "%s%.*s", used ? "," : "", (int)item->data.scalar.length,
			     (const char *)item->data.scalar.value);
		if (w < 0 || (size_t)w >= len - used)
			return pgr_err_set(err, "etcd hosts: too long");
		used += (size_t)w;
	}
	return 0;
}

int adopt_yml_read(const char *text, const char *origin, adopt_patroni_conf *out, pgr_err *err)
{
	ydoc d;
	yaml_document_t *doc = &d.doc;
	yaml_node_t *etcd;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ydoc_load(&d, text, origin, err) != 0)
		return -1;
	etcd = path_get(doc, "etcd3", NULL, NULL);
	if (etcd == NULL) {
		etcd = path_get(doc, "etcd", NULL, NULL);
	}
	rc = scalar_copy(path_get(doc, "scope", NULL, NULL), "scope", out->scope, sizeof(out->scope), err) ||
	     scalar_copy(path_get(doc, "name", NULL, NULL), "name", out->name, sizeof(out->name), err) ||
	     scalar_copy(path_get(doc, "restapi", "listen", NULL), "restapi.listen", out->api_listen,
			 sizeof(out->api_listen), err) ||
	     scalar_copy(path_get(doc, "restapi", "connect_address", NULL), "restapi.connect_address", out->api_connect,
			 sizeof(out->api_connect), err) ||
	     scalar_copy(path_get(doc, "restapi", "authentication", "username"), "restapi.authentication.username",
			 out->api_user, sizeof(out->api_user), err) ||
	     scalar_copy(path_get(doc, "restapi", "authentication", "password"), "restapi.authentication.password",
			 out->api_password, sizeof(out->api_password), err) ||
	     scalar_copy(path_get(doc, "postgresql", "connect_address", NULL), "postgresql.connect_address",
			 out->pg_connect, sizeof(out->pg_connect), err) ||
	     scalar_copy(path_get(doc, "postgresql", "data_dir", NULL), "postgresql.data_dir", out->data_dir,
			 sizeof(out->data_dir), err) ||
	     scalar_copy(path_get(doc, "postgresql", "bin_dir", NULL), "postgresql.bin_dir", out->bin_dir,
			 sizeof(out->bin_dir), err) ||
	     scalar_copy(path_get(doc, "postgresql", "authentication", "superuser") ?
				 map_get(doc, path_get(doc, "postgresql", "authentication", "superuser"), "username") :
				 NULL,
			 "postgresql.authentication.superuser.username", out->superuser, sizeof(out->superuser), err) ||
	     scalar_copy(path_get(doc, "postgresql", "authentication", "superuser") ?
				 map_get(doc, path_get(doc, "postgresql", "authentication", "superuser"), "password") :
				 NULL,
			 "postgresql.authentication.superuser.password", out->superuser_password,
			 sizeof(out->superuser_password), err);
	if (rc == 0 && etcd != NULL) {
		yaml_node_t *hosts = map_get(doc, etcd, "hosts");

		if (hosts == NULL)
			hosts = map_get(doc, etcd, "host");
		rc = hosts_copy(doc, hosts, out->etcd_hosts, sizeof(out->etcd_hosts), err) ||
		     scalar_copy(map_get(doc, etcd, "protocol"), "etcd protocol", out->etcd_protocol,
				 sizeof(out->etcd_protocol), err) ||
		     scalar_copy(map_get(doc, etcd, "username"), "etcd username", out->etcd_user, sizeof(out->etcd_user),
				 err) ||
		     scalar_copy(map_get(doc, etcd, "password"), "etcd password", out->etcd_password,
				 sizeof(out->etcd_password), err) ||
		     scalar_copy(map_get(doc, etcd, "cacert"), "etcd cacert", out->etcd_cacert, sizeof(out->etcd_cacert),
				 err) ||
		     scalar_copy(map_get(doc, etcd, "cert"), "etcd cert", out->etcd_cert, sizeof(out->etcd_cert), err) ||
		     scalar_copy(map_get(doc, etcd, "key"), "etcd key", out->etcd_key, sizeof(out->etcd_key), err);
	}
	if (rc == 0)
		rc = scalar_copy(path_get(doc, "restapi", "cafile", NULL), "restapi.cafile", out->api_cafile,
				 sizeof(out->api_cafile), err) ||
		     scalar_copy(path_get(doc, "restapi", "verify_client", NULL), "restapi.verify_client",
				 out->api_verify_client, sizeof(out->api_verify_client), err) ||
		     scalar_copy(path_get(doc, "ctl", "cacert", NULL), "ctl.cacert", out->ctl_cacert,
				 sizeof(out->ctl_cacert), err) ||
		     scalar_copy(path_get(doc, "ctl", "certfile", NULL), "ctl.certfile", out->ctl_certfile,
				 sizeof(out->ctl_certfile), err) ||
		     scalar_copy(path_get(doc, "ctl", "keyfile", NULL), "ctl.keyfile", out->ctl_keyfile,
				 sizeof(out->ctl_keyfile), err);
	{
		char certfile[256];

		/* a certfile of null or "" is no certfile: Patroni serves http */
		if (rc == 0)
			rc = scalar_copy(path_get(doc, "restapi", "certfile", NULL), "restapi.certfile", certfile,
					 sizeof(certfile), err);
		out->api_tls = rc == 0 && certfile[0] != '\0';
	}
	yaml_document_delete(doc);
	if (rc != 0)
		return pgr_err_prefix(err, "%s", origin);
	if (out->scope[0] == '\0')
		return pgr_err_set(err, "%s: no scope", origin);
	if (out->name[0] == '\0')
		return pgr_err_set(err, "%s: no name (the member's)", origin);
	if (out->api_connect[0] == '\0')
		return pgr_err_set(err, "%s: no restapi.connect_address", origin);
	if (out->etcd_hosts[0] == '\0')
		return pgr_err_set(err, "%s: no etcd3 (or etcd) section with hosts: pgrefresh needs etcd", origin);
	if (out->etcd_protocol[0] == '\0')
		snprintf(out->etcd_protocol, sizeof(out->etcd_protocol), "http");
	if (out->data_dir[0] == '\0')
		return pgr_err_set(err, "%s: no postgresql.data_dir", origin);
	if (out->bin_dir[0] == '\0')
		return pgr_err_set(err, "%s: no postgresql.bin_dir (Patroni then runs PostgreSQL from PATH)", origin);
	if (out->superuser[0] == '\0')
		snprintf(out->superuser, sizeof(out->superuser), "postgres");
	return 0;
}

/* text with bytes [from, to) replaced by repl, into a heap string. */
static int splice(const char *text, size_t from, size_t to, const char *repl, char **out, pgr_err *err)
{
	size_t len = strlen(text), rlen = strlen(repl);
	char *s = malloc(len - (to - from) + rlen + 1);

	if (s == NULL)
		return pgr_err_set(err, "out of memory");
	memcpy(s, text, from);
	memcpy(s + from, repl, rlen);
	memcpy(s + from + rlen, text + to, len - to + 1);
	*out = s;
	return 0;
}

int adopt_yml_set_bin_dir(const char *text, const char *bin_dir, char **out, pgr_err *err)
{
	ydoc d;
	yaml_node_t *n;
	char quoted[PATH_MAX * 2 + 8], repl[PATH_MAX * 2 + 16];
	size_t from, to;
	int rc;

	if (yaml_quote("bin_dir", bin_dir, quoted, sizeof(quoted), err) != 0)
		return -1;
	if (ydoc_load(&d, text, "the Patroni configuration", err) != 0)
		return -1;
	n = path_get(&d.doc, "postgresql", "bin_dir", NULL);
	if (n == NULL || n->type != YAML_SCALAR_NODE) {
		yaml_document_delete(&d.doc);
		return pgr_err_set(err, "the Patroni configuration has no postgresql.bin_dir value to change");
	}
	from = byte_offset(&d, n->start_mark.index);
	to = byte_offset(&d, n->end_mark.index);
	yaml_document_delete(&d.doc);
	/* an empty value ("bin_dir:") has no room of its own after the colon */
	snprintf(repl, sizeof(repl), "%s%s", from > 0 && text[from - 1] == ':' ? " " : "", quoted);
	rc = splice(text, from, to, repl, out, err);
	return rc;
}

/*
 * A scalar of the user's tags as it goes into the flow mapping: its text as written (quoted scalars, and
 * plain ones of letters, digits, blanks and "_./+~-": true, 42, eu-west-1), an empty one as null, and any
 * other plain scalar double-quoted, so that a block scalar that flow style would read otherwise ("rep,x",
 * ":1h", "a]b": found by fuzz_adopt_yml) stays the one string it was.
 */
static int flow_scalar(const ydoc *d, const yaml_node_t *n, const char *what, char *buf, size_t len, pgr_err *err)
{
	size_t from = byte_offset(d, n->start_mark.index), to = byte_offset(d, n->end_mark.index);
	const char *v = (const char *)n->data.scalar.value;

	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (n->data.scalar.length == 0) {
			snprintf(buf, len, "null");
			return 0;
		}
		if (strlen(v) != n->data.scalar.length)
			return pgr_err_set(err, "%s holds a NUL byte", what);
		for (const char *c = v; *c != '\0'; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			      strchr(" _./+~-", *c) != NULL))
				return yaml_quote(what, v, buf, len, err);
	}
	if (to - from >= len)
		return pgr_err_set(err, "%s is too long", what);
	snprintf(buf, len, "%.*s", (int)(to - from), d->text + from);
	return 0;
}

static int set_tags_text(const char *text, const char *replicatefrom, bool nosync, char **out, pgr_err *err)
{
	ydoc d;
	yaml_node_t *root, *tags = NULL, *tags_key = NULL;
	char flow[2048], q[160];
	size_t used, from = 0, to = 0;
	bool have = false;
	int w;

	if (ydoc_load(&d, text, "the Patroni configuration", err) != 0)
		return -1;
	root = yaml_document_get_root_node(&d.doc);
	tags = map_get_pair(&d.doc, root, "tags", &tags_key);
	used = (size_t)snprintf(flow, sizeof(flow), "{");
	if (tags != NULL && tags->type == YAML_MAPPING_NODE) {
		/* the user's own tags, as written */
		for (yaml_node_pair_t *p = tags->data.mapping.pairs.start; p < tags->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&d.doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&d.doc, p->value);
			char key[512], value[1024];
			size_t vf, vt;

			if (k == NULL || v == NULL)
				continue;
			if (k->type != YAML_SCALAR_NODE) { /* "? {a: 1}": never dropped in silence (fuzz_adopt_yml) */
				yaml_document_delete(&d.doc);
				return pgr_err_set(err, "a tag's name is not a single value; pgrefresh cannot rewrite the tags");
			}
			if ((k->data.scalar.length == 6 && memcmp(k->data.scalar.value, "nosync", 6) == 0) ||
			    (k->data.scalar.length == 13 && memcmp(k->data.scalar.value, "replicatefrom", 13) == 0))
				continue;
			vf = byte_offset(&d, v->start_mark.index);
			vt = byte_offset(&d, v->end_mark.index);
			if (v->type != YAML_SCALAR_NODE || memchr(text + vf, '\n', vt - vf) != NULL) {
				/* the message first: the key is the document's (found by fuzz_adopt_yml) */
				pgr_err_set(err, "tag %.*s: a value of more than one line; pgrefresh cannot rewrite the tags",
					    (int)k->data.scalar.length, (const char *)k->data.scalar.value);
				yaml_document_delete(&d.doc);
				return -1;
			}
			if (flow_scalar(&d, k, "a tag's name", key, sizeof(key), err) != 0 ||
			    flow_scalar(&d, v, "a tag's value", value, sizeof(value), err) != 0) {
				yaml_document_delete(&d.doc);
				return -1;
			}
			w = snprintf(flow + used, sizeof(flow) - used, "%s%s: %s", have ? ", " : "", key, value);
			if (w < 0 || (size_t)w >= sizeof(flow) - used) {
				yaml_document_delete(&d.doc);
				goto too_long;
			}
			used += (size_t)w;
			have = true;
		}
	} else if (tags != NULL && !(tags->type == YAML_SCALAR_NODE && tags->data.scalar.length == 0)) {
		yaml_document_delete(&d.doc);
		return pgr_err_set(err, "tags is not a mapping");
	}
	if (tags != NULL) {
		/* from just after "tags:" to the end of its value (a block mapping's ends where the next key begins) */
		size_t k = byte_offset(&d, tags_key->end_mark.index);

		while (k < d.len && (text[k] == ' ' || text[k] == '\t'))
			k++;
		if (k >= d.len || text[k] != ':') {
			/* "? tags" (an explicit key): its ':' is not after it on its line (found by fuzz_adopt_yml) */
			yaml_document_delete(&d.doc);
			return pgr_err_set(err, "the tags key is written in a form pgrefresh cannot rewrite (write it "
						"as \"tags:\")");
		}
		from = k + 1;
		to = tags->type == YAML_SCALAR_NODE ? from : byte_offset(&d, tags->end_mark.index);
		if (to < from)
			to = from;
		if (tags->type == YAML_SCALAR_NODE) {
			/* an empty value, but written as nothing: "tags: !t" is one with a YAML tag (fuzz_adopt_yml) */
			for (size_t i = from; i < byte_offset(&d, tags->end_mark.index) && i < d.len; i++)
				if (!strchr(" \t\r\n", text[i])) {
					yaml_document_delete(&d.doc);
					return pgr_err_set(err, "tags is not a mapping");
				}
		}
	}
	yaml_document_delete(&d.doc);
	if (replicatefrom[0] != '\0') {
		if (yaml_quote("the replicatefrom tag", replicatefrom, q, sizeof(q), err) != 0)
			return -1;
		w = snprintf(flow + used, sizeof(flow) - used, "%sreplicatefrom: %s", have ? ", " : "", q);
		if (w < 0 || (size_t)w >= sizeof(flow) - used)
			goto too_long;
		used += (size_t)w;
		have = true;
	}
	if (nosync) {
		w = snprintf(flow + used, sizeof(flow) - used, "%snosync: true", have ? ", " : "");
		if (w < 0 || (size_t)w >= sizeof(flow) - used)
			goto too_long;
		used += (size_t)w;
	}
	w = snprintf(flow + used, sizeof(flow) - used, "}");
	if (w < 0 || (size_t)w >= sizeof(flow) - used)
		goto too_long;
	if (tags == NULL) {
		char line[sizeof(flow) + 16];
		size_t len = strlen(text);

		snprintf(line, sizeof(line), "%stags: %s\n", len > 0 && text[len - 1] != '\n' ? "\n" : "", flow);
		return splice(text, len, len, line, out, err);
	} else {
		char repl[sizeof(flow) + 4];
		const char *brk = ""; /* the line break the replaced value ended with, kept: "\r" is one too (fuzz_adopt_yml) */

		if (to >= from + 2 && text[to - 2] == '\r' && text[to - 1] == '\n')
			brk = "\r\n";
		else if (to > from && text[to - 1] == '\n')
			brk = "\n";
		else if (to > from && text[to - 1] == '\r')
			brk = "\r";
		snprintf(repl, sizeof(repl), " %s%s", flow, brk);
		return splice(text, from, to, repl, out, err);
	}
too_long:
	return pgr_err_set(err, "the tags are too long");
}

/*
 * The rewrite is textual (the user's comments and layout kept), so an odd document can defeat it: what it wrote
 * must read back as the file did before (adopt_yml_read, everything but the tags the same), or nothing is
 * written (found by fuzz_adopt_yml: a second tags key and an explicit "?" key made a result that was not YAML).
 */
int adopt_yml_set_tags(const char *text, const char *replicatefrom, bool nosync, char **out, pgr_err *err)
{
	adopt_patroni_conf *before = calloc(2, sizeof(*before));
	pgr_err ignored, rerr;
	int rc;

	if (before == NULL)
		return pgr_err_set(err, "out of memory");
	rc = set_tags_text(text, replicatefrom, nosync, out, err);
	if (rc == 0 && adopt_yml_read(text, "the Patroni configuration", &before[0], &ignored) == 0 &&
	    (adopt_yml_read(*out, "the Patroni configuration", &before[1], &rerr) != 0 ||
	     memcmp(&before[0], &before[1], sizeof(before[0])) != 0)) {
		free(*out);
		*out = NULL;
		rc = pgr_err_set(err, "pgrefresh cannot rewrite the tags of this file safely (the result would not read "
				      "back as it did); write them as a \"tags:\" mapping of plain values");
	}
	free(before);
	return rc;
}

int adopt_yml_security(const adopt_patroni_conf *pc, conf_security *sec, pgr_err *err)
{
	const char *ca = pc->ctl_cacert[0] != '\0' ? pc->ctl_cacert : pc->api_cafile;

	memset(sec, 0, sizeof(*sec));
	if (strcmp(pc->etcd_protocol, "https") == 0) {
		if ((pc->etcd_cert[0] != '\0') != (pc->etcd_key[0] != '\0'))
			return pgr_err_set(err, "etcd %s is set without etcd %s: Patroni's etcd client needs both",
					   pc->etcd_cert[0] ? "cert" : "key", pc->etcd_cert[0] ? "key" : "cert");
		snprintf(sec->etcd_ca, sizeof(sec->etcd_ca), "%s", pc->etcd_cacert);
		snprintf(sec->etcd_cert, sizeof(sec->etcd_cert), "%s", pc->etcd_cert);
		snprintf(sec->etcd_key, sizeof(sec->etcd_key), "%s", pc->etcd_key);
	} else if (strcmp(pc->etcd_protocol, "http") != 0) {
		return pgr_err_set(err, "etcd protocol \"%s\": Patroni takes http or https", pc->etcd_protocol);
	}
	if ((pc->etcd_user[0] != '\0') != (pc->etcd_password[0] != '\0'))
		return pgr_err_set(err, "etcd %s is set without etcd %s", pc->etcd_user[0] ? "username" : "password",
				   pc->etcd_user[0] ? "password" : "username");
	if (pc->etcd_user[0] != '\0') {
		snprintf(sec->etcd_user, sizeof(sec->etcd_user), "%s", pc->etcd_user);
		snprintf(sec->etcd_password_secret, sizeof(sec->etcd_password_secret), "%s", ADOPT_SECRET_ETCD);
	}
	if (pc->api_tls) {
		if (ca[0] == '\0')
			return pgr_err_set(err, "restapi.certfile is set but no CA is named to verify it: set ctl.cacert "
						"(or restapi.cafile) to the CA that signed it");
		/* Patroni then wants a client certificate on every unsafe request (restart, switchover, reload) */
		if (strcmp(pc->api_verify_client, "required") == 0 || strcmp(pc->api_verify_client, "optional") == 0)
			return pgr_err_set(err, "restapi.verify_client is %s: Patroni then wants a client certificate for "
						"a restart or a switchover, and pgrefresh has none for it; remove "
						"verify_client",
					   pc->api_verify_client);
		snprintf(sec->patroni_ca, sizeof(sec->patroni_ca), "%s", ca);
	}
	if ((pc->api_user[0] != '\0') != (pc->api_password[0] != '\0'))
		return pgr_err_set(err, "restapi.authentication has a %s but no %s", pc->api_user[0] ? "username" : "password",
				   pc->api_user[0] ? "password" : "username");
	if (pc->api_user[0] != '\0') {
		if (!pc->api_tls)
			return pgr_err_set(err, "restapi.authentication over plain http: pgrefresh sends no password in "
						"clear; give the REST API a certfile (and ctl.cacert)");
		if (strchr(pc->api_user, ':') != NULL)
			return pgr_err_set(err, "restapi.authentication.username holds a ':'");
		snprintf(sec->patroni_auth_secret, sizeof(sec->patroni_auth_secret), "%s", ADOPT_SECRET_API);
	}
	return 0;
}

void adopt_security_files(const conf_security *sec, const char *files[ADOPT_SECURITY_FILES],
			  const char *keys[ADOPT_SECURITY_FILES])
{
	files[0] = sec->etcd_ca;
	keys[0] = "etcd3.cacert";
	files[1] = sec->etcd_cert;
	keys[1] = "etcd3.cert";
	files[2] = sec->etcd_key;
	keys[2] = "etcd3.key";
	files[3] = sec->patroni_ca;
	keys[3] = "ctl.cacert (or restapi.cafile)";
}

int adopt_split_hostport(const char *hp, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(hp, ':');
	char *end;
	long v;

	if (colon == NULL || colon == hp)
		return -1;
	v = strtol(colon + 1, &end, 10);
	if (*end != '\0' || v <= 0 || v > 65535)
		return -1;
	snprintf(host, hostlen, "%.*s", (int)(colon - hp), hp);
	*port = (int)v;
	return 0;
}
