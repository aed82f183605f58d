#include "cluster/conf_security.h"
#include "util/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum value_kind { KIND_PATH, KIND_USER, KIND_SECRET };

static const struct {
	const char *key;
	size_t offset;
	size_t size;
	enum value_kind kind;
} KEYS[] = {
#define KEY(name, kind) { #name, offsetof(conf_security, name), sizeof(((conf_security *)0)->name), kind }
	KEY(etcd_ca, KIND_PATH),
	KEY(etcd_cert, KIND_PATH),
	KEY(etcd_key, KIND_PATH),
	KEY(etcd_user, KIND_USER),
	KEY(etcd_password_secret, KIND_SECRET),
	KEY(patroni_ca, KIND_PATH),
	KEY(patroni_auth_secret, KIND_SECRET),
#undef KEY
};
#define NKEYS (sizeof(KEYS) / sizeof(KEYS[0]))

static int key_index(const char *key)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(KEYS[i].key, key) == 0)
			return (int)i;
	return -1;
}

bool conf_security_key(const char *key)
{
	return key_index(key) >= 0;
}

/* A user or secret name: letters, digits, '.', '_', '-', not starting with '.' (no path, no hidden file). */
static bool plain_name(const char *value)
{
	return secret_name_ok(value);
}

static bool has_control(const char *value)
{
	for (const char *c = value; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return true;
	return false;
}

int conf_security_set(conf_security *sec, const char *key, const char *value, const char *origin, int lineno,
		      pgr_err *err)
{
	int i = key_index(key);
	size_t n = strlen(value);

	if (i < 0)
		return pgr_err_set(err, "%s:%d: unknown key %s", origin, lineno, key);
	if (n >= KEYS[i].size)
		return pgr_err_set(err, "%s:%d: %s is longer than %zu bytes", origin, lineno, key, KEYS[i].size - 1);
	switch (KEYS[i].kind) {
	case KIND_PATH:
		if (value[0] != '/' || has_control(value))
			return pgr_err_set(err, "%s:%d: %s must be an absolute path", origin, lineno, key);
		break;
	case KIND_USER:
		if (!plain_name(value))
			return pgr_err_set(err, "%s:%d: %s \"%s\" is not a user name (letters, digits, . _ -)", origin,
					   lineno, key, has_control(value) ? "?" : value);
		break;
	case KIND_SECRET:
		if (!plain_name(value))
			return pgr_err_set(err,
					   "%s:%d: %s must name a file of secrets.d (letters, digits, . _ -; not a path)",
					   origin, lineno, key);
		break;
	}
	memcpy((char *)sec + KEYS[i].offset, value, n + 1);
	return 0;
}

int conf_security_check(const conf_security *sec, const char *origin, pgr_err *err)
{
	if ((sec->etcd_cert[0] != '\0') != (sec->etcd_key[0] != '\0'))
		return pgr_err_set(err, "%s: etcd_cert and etcd_key go together (%s given alone)", origin,
				   sec->etcd_cert[0] ? "etcd_cert" : "etcd_key");
	if ((sec->etcd_user[0] != '\0') != (sec->etcd_password_secret[0] != '\0'))
		return pgr_err_set(err, "%s: etcd_user and etcd_password_secret go together (%s given alone)", origin,
				   sec->etcd_user[0] ? "etcd_user" : "etcd_password_secret");
	if (sec->patroni_auth_secret[0] != '\0' && sec->patroni_ca[0] == '\0')
		return pgr_err_set(err, "%s: patroni_auth_secret needs patroni_ca (a password is not sent over plain http)",
				   origin);
	return 0;
}

int conf_security_format(const conf_security *sec, char *buf, size_t buflen, int *written, pgr_err *err)
{
	size_t used = 0;

	*written = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		const char *value = (const char *)sec + KEYS[i].offset;
		int n;

		if (value[0] == '\0')
			continue;
		if (has_control(value))
			return pgr_err_set(err, "a value of pgrefresh.conf holds a line break: refused");
		n = snprintf(buf + used, buflen - used, "%s = %s\n", KEYS[i].key, value);
		if (n < 0 || (size_t)n >= buflen - used)
			return pgr_err_set(err, "configuration too large");
		used += (size_t)n;
	}
	*written = (int)used;
	return 0;
}

/* A TLS file named by key must be readable now: a clear error before any request. */
static int check_readable(const char *key, const char *path, pgr_err *err)
{
	if (path[0] != '\0' && access(path, R_OK) != 0)
		return pgr_err_set(err, "%s %s unreadable: %s", key, path, strerror(errno));
	return 0;
}

int conf_etcd_client(const cluster_conf *conf, etcd_client *client, pgr_err *err)
{
	const conf_security *sec = &conf->security;
	char password[128];
	int rc;

	if (etcd_client_init(client, conf->etcd, err) != 0)
		return -1;
	if (check_readable("etcd_ca", sec->etcd_ca, err) != 0 || check_readable("etcd_cert", sec->etcd_cert, err) != 0 ||
	    check_readable("etcd_key", sec->etcd_key, err) != 0)
		return -1;
	if (etcd_client_set_tls(client, sec->etcd_ca, sec->etcd_cert, sec->etcd_key, err) != 0)
		return -1;
	if (sec->etcd_user[0] == '\0')
		return 0;
	if (secret_read(conf->dir, sec->etcd_password_secret, password, sizeof(password), err) != 0)
		return pgr_err_prefix(err, "etcd_password_secret");
	rc = etcd_client_set_auth(client, sec->etcd_user, password, err);
	explicit_bzero(password, sizeof(password));
	return rc;
}

void conf_patroni_client(const cluster_conf *conf, patroni_client *pc)
{
	memset(pc, 0, sizeof(*pc));
	snprintf(pc->ca_file, sizeof(pc->ca_file), "%s", conf->security.patroni_ca);
	snprintf(pc->secret, sizeof(pc->secret), "%s", conf->security.patroni_auth_secret);
	if (pc->secret[0] != '\0')
		snprintf(pc->secret_dir, sizeof(pc->secret_dir), "%s", conf->dir);
}

void conf_unit_patroni(const cluster_conf *conf, const conf_unit *unit, patroni_client *pc, char *url, size_t url_len)
{
	conf_patroni_client(conf, pc);
	conf_unit_api_url(conf, unit, url, url_len);
}
