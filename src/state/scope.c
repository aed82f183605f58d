#include "state/scope.h"

#include <stdio.h>
#include <string.h>

void state_scope_init(state_scope *scope, const char *cluster)
{
	memset(scope, 0, sizeof(*scope));
	snprintf(scope->prefix, sizeof(scope->prefix), "/pgrefresh/%s/", cluster);
}

void state_scope_add_member(state_scope *scope, const char *member)
{
	if (scope->member_count >= STATE_MAX_UNITS)
		return;
	snprintf(scope->members[scope->member_count], sizeof(scope->members[0]), "%s", member);
	scope->member_count++;
}

void state_scope_key(const state_scope *scope, const char *leaf, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", scope->prefix, leaf);
}

const etcd_cmp *state_scope_lease_guard(const state_scope *scope, int64_t lease, char *key, size_t keylen,
					etcd_cmp *cmp)
{
	if (lease == 0)
		return NULL;
	state_scope_key(scope, STATE_COORDINATOR_LEAF, key, keylen);
	*cmp = (etcd_cmp){ key, ETCD_CMP_LEASE, lease };
	return cmp;
}
