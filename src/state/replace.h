/*
 * replace.h — "ask by replacing": a key whose value names the revision it replaced (at_revision) is
 * written by compare-and-swap over whatever is there now, read again and retried when another writer came
 * between. Used by state/pg_intent.h and state/unit_intent.h.
 */
#ifndef PGR_STATE_REPLACE_H
#define PGR_STATE_REPLACE_H

#include <stdint.h>

#include "etcd/etcd.h"
#include "util/err.h"

/* Makes the value to write over the revision at_revision (0: no key): a heap string (*json), or -1. */
typedef int (*state_replace_value)(int64_t at_revision, void *arg, char **json, pgr_err *err);

/*
 * Reads key's revision (the value is not parsed: what is not the caller's kind is replaced), writes
 * value(revision) if the key is still at that revision; a few rounds, then fails naming the key.
 */
int state_replace_put(const etcd_client *etcd, const char *key, state_replace_value value, void *arg, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
