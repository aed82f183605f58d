#include "state/replace.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define REPLACE_TRIES 4 /* compare-and-swap rounds before giving up (another writer each time) */

int state_replace_put(const etcd_client *etcd, const char *key, state_replace_value value, void *arg, pgr_err *err)
{
	for (int tries = 0; tries < REPLACE_TRIES; tries++) {
		etcd_kv now, current;
		bool found = false, swapped = false;
		char *json = NULL;
		int64_t at;
		int rc;

		if (etcd_get(etcd, key, &now, &found, err) != 0)
			return -1;
		at = found ? now.mod_revision : 0;
		etcd_kv_free(&now);
		if (value(at, arg, &json, err) != 0)
			return -1;
		memset(&current, 0, sizeof(current));
		rc = etcd_put_if(etcd, key, json, at, 0, &swapped, &current, err);
		free(json);
		etcd_kv_free(&current);
		if (rc != 0)
			return -1;
		if (swapped)
			return 0;
	}
	return pgr_err_set(err, "%s: another writer changed it %d times in a row; not written", key, REPLACE_TRIES);
}
