/*
 * secret.h — the one reader of pgrefresh's secrets: DIR/secrets.d/NAME, a regular file of mode 0600 (no
 * group or other bit), its first line the secret. Never on a command line, never logged, never in an
 * error. Here, below every module that needs a secret (the Patroni client, the etcd client's setup, the
 * cluster's files), so that none of them reaches up into cluster/ for it.
 */
#ifndef PGR_UTIL_SECRET_H
#define PGR_UTIL_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* A user or secret name: letters, digits, '.', '_', '-', not starting with '.' (no path, no hidden file). */
bool secret_name_ok(const char *name);

/* Reads secret NAME of dir (DIR/secrets.d/NAME) into out; refuses a file group or others may read, a
 * symlink, an empty one, one longer than outlen - 1. The caller wipes out (explicit_bzero) after use. */
int secret_read(const char *dir, const char *name, char *out, size_t outlen, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
