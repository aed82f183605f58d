#include "cli/refresh_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "refresh/fsm.h"

static int compare_versions(const void *a, const void *b)
{
	pg_version va, vb;
	pgr_err ignored;

	if (pg_version_parse(a, &va, &ignored) != 0 || pg_version_parse(b, &vb, &ignored) != 0)
		return strcmp(a, b);
	return pg_version_compare(&va, &vb);
}

/* "15.18, 15.20" (sorted, each once) or "none"; major > 0: only that major's. */
static void known_text(const char (*versions)[16], int count, int major, char *buf, size_t len)
{
	char sorted[64][16];
	int n = 0;
	size_t used = 0;

	for (int i = 0; i < count && n < 64; i++) {
		pg_version v;
		pgr_err ignored;
		bool dup = false;

		if (pg_version_parse(versions[i], &v, &ignored) != 0 || (major > 0 && v.major != major))
			continue;
		for (int k = 0; k < n; k++)
			dup = dup || strcmp(sorted[k], versions[i]) == 0;
		if (!dup)
			snprintf(sorted[n++], sizeof(sorted[0]), "%s", versions[i]);
	}
	qsort(sorted, (size_t)n, sizeof(sorted[0]), compare_versions);
	snprintf(buf, len, "none");
	for (int i = 0; i < n; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", sorted[i]);

		if (w < 0 || used + (size_t)w >= len)
			break;
		used += (size_t)w;
	}
}

target_verdict refresh_view_check_target(const char *from, const char *to, const char (*versions)[16], int count,
					 pgr_err *err)
{
	pg_version vf, vt;
	char known[512];
	bool in_catalog = false;

	if (pg_version_parse(to, &vt, err) != 0) {
		pgr_err_hint(err, "give a version like 15.20; see `pgrefresh versions`");
		return TARGET_BAD;
	}
	if (pg_version_parse(from, &vf, err) != 0)
		return TARGET_BAD;
	if (pg_version_compare(&vf, &vt) == 0) {
		pgr_err_set(err, "already on %s: nothing to refresh", from);
		pgr_err_hint(err, "see `pgrefresh status`");
		return TARGET_SAME;
	}
	for (int i = 0; i < count; i++) {
		pg_version v;
		pgr_err ignored;

		if (pg_version_parse(versions[i], &v, &ignored) == 0 && pg_version_compare(&v, &vt) == 0)
			in_catalog = true;
	}
	if (!in_catalog) {
		known_text(versions, count, 0, known, sizeof(known));
		pgr_err_set(err, "%s is in no unit's catalog (the catalogs have: %s)", to, known);
		pgr_err_hint(err, "add it with `pgrefresh versions add PATH`, or pick one of `pgrefresh versions`");
		return TARGET_NOT_IN_CATALOG;
	}
	if (vt.major != vf.major) {
		known_text(versions, count, vf.major, known, sizeof(known));
		pgr_err_set(err, "%s is another major version than %s: pgrefresh refreshes within a major only "
				 "(%d.x in the catalogs: %s)", to, from, vf.major, known);
		pgr_err_hint(err, "a major upgrade is pg_upgrade's work; for a minor refresh: `pgrefresh refresh --version %d.N`",
			     vf.major);
		return TARGET_OTHER_MAJOR;
	}
	return TARGET_OK;
}

const char *refresh_view_wait_state(const refresh_record *current, const refresh_record *last)
{
	if (current != NULL) {
		if (current->state == RS_DONE)
			return "refreshing"; /* done but not yet in history */
		return refresh_state_display(current->state);
	}
	if (last != NULL && last->rollback)
		return WAIT_ROLLED_BACK;
	return "idle";
}

const refresh_record *refresh_view_last(const refresh_record *history, int count)
{
	const refresh_record *last = NULL;

	for (int i = 0; i < count; i++)
		if (last == NULL || history[i].ended_ms > last->ended_ms ||
		    (history[i].ended_ms == last->ended_ms && history[i].id > last->id))
			last = &history[i];
	return last;
}

void refresh_view_asked(const refresh_record *r, const char **from, const char **to)
{
	if (r->rollback) {
		/* a rollback runs from the refresh's target back to its original version: the refresh asked
		 * for went from the original to the other one of from/to (whichever way the record has them) */
		if (r->original[0] == '\0') {
			*from = r->to;
			*to = r->from;
			return;
		}
		*from = r->original;
		*to = strcmp(r->from, r->original) != 0 ? r->from : r->to;
		return;
	}
	*from = r->from;
	*to = r->to;
}
