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
