/*
 * fetch.h — PostgreSQL versions from where Debian users get them: `pgrefresh versions fetch 15.20`
 * downloads postgresql-15 and postgresql-client-15 at that version with apt (the archives configured on
 * this machine), unpacks both with dpkg-deb into the cache (DIST/<version>, the layout of
 * scripts/fetch-versions) and adds the tree to the catalog.
 */
#ifndef PGR_CATALOG_FETCH_H
#define PGR_CATALOG_FETCH_H

#include <stddef.h>

#include "catalog/catalog.h"
#include "util/err.h"

#define FETCH_DEFAULT_CACHE "/var/cache/pgrefresh/dist"
#define FETCH_MAX_CANDIDATES 32

/* What `apt-cache madison postgresql-NN` offers: each package version and its PostgreSQL version. */
typedef struct fetch_candidates {
	char debian[FETCH_MAX_CANDIDATES][64]; /* "15.20-0+deb12u1" */
	char upstream[FETCH_MAX_CANDIDATES][CATALOG_VERSION_LEN]; /* "15.20" */
	int count;
} fetch_candidates;

/* Parses madison's output (lines "postgresql-15 | 15.20-0+deb12u1 | URL Packages"), for package. Pure;
 * a version listed twice (two archives) is kept once, in the order listed. */
void fetch_madison_parse(const char *output, const char *package, fetch_candidates *out);
/* The Debian version of upstream version among c, NULL when none. */
const char *fetch_pick(const fetch_candidates *c, const char *version);
/* "15.18, 15.20": the upstream versions of c, sorted, into buf. */
void fetch_list(const fetch_candidates *c, char *buf, size_t len);

/* The cache: $PGREFRESH_DIST, else FETCH_DEFAULT_CACHE. */
void fetch_default_cache(char *buf, size_t len);
/*
 * Fetches version into cache (unless DIST/<version> is there already) and adds it to catalog dir. A version
 * the archives do not have: -1, err saying so and listing those they have. *added: the catalog entry.
 */
int fetch_version(const char *catalog_dir, const char *cache, const char *version, catalog_entry *added,
		  pgr_err *err) __attribute__((warn_unused_result));

#endif
