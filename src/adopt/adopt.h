/*
 * adopt.h — taking a Patroni unit that pgrefresh did not create under pgrefresh (`pgrefresh adopt`), and
 * giving it back (`pgrefresh unadopt`). Run on the unit's host, once per unit.
 *
 * adopt: reads the unit's Patroni config (Debian: /etc/patroni/<version>-<cluster>.yml), checks that
 * Patroni answers, that etcd answers and that every member runs one version, which bin_dir holds;
 * copies that installation into the catalog (unless the catalog has the version), writes the unit's
 * conf dir (default /etc/pgrefresh/<scope>):
 *   CONFDIR/pgrefresh.conf        the cluster (every member Patroni lists), its etcd, the catalog,
 *                                 local = false (the host's service manager runs Patroni), the poolers
 *   CONFDIR/secrets               the superuser's password from the Patroni config (0600)
 *   CONFDIR/secrets.d/            the REST API's and etcd's passwords from it (0600; adopt_yml_security
 *                                 names them and the TLS keys pgrefresh.conf gets)
 *   CONFDIR/unit                  this host's unit ("15_main/0"): what `agent --dir CONFDIR` runs
 *   CONFDIR/libexec/pgrefresh     the agent's binary
 *   CONFDIR/units/<member>/bin    the unit's link into the catalog, where bin_dir now points
 *   CONFDIR/units/<member>/adopted  what unadopt needs: the config, its backup, the original bin_dir
 * then points bin_dir at the link (the config kept as <config>.pgrefresh-orig, the new one written
 * durably), has Patroni reload it, and starts the unit's agent (systemd's pgrefresh-agent@INSTANCE where
 * adopt_agent_decide says so). Passwords and TLS files are tried first: a refusal changes nothing.
 *
 * unadopt: stops the agent, puts the config back from the backup (bin_dir the original, or the catalog's
 * copy of the version the unit runs now), has Patroni reload it, removes the unit's record from etcd and
 * what adopt wrote in CONFDIR. The catalog keeps its entries.
 */
#ifndef PGR_ADOPT_ADOPT_H
#define PGR_ADOPT_ADOPT_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "cluster/conf.h"
#include "patroni/patroni_yml.h"
#include "util/err.h"

#define ADOPT_DEFAULT_CONFIG_DIR "/etc/patroni"
#define ADOPT_DEFAULT_CONF_ROOT "/etc/pgrefresh"

typedef struct adopt_opts {
	char config[PATH_MAX];  /* the Patroni config */
	char dir[PATH_MAX];     /* CONFDIR; "" = ADOPT_DEFAULT_CONF_ROOT/<scope> */
	char catalog[PATH_MAX]; /* "" = $PGREFRESH_CATALOG or the default */
	char name[32];          /* the cluster's name in pgrefresh; "" = the scope, '-' made '_' */
	char pgbouncer[128];    /* a PgBouncer's admin address, "" for none */
	char pgbouncer_config[PATH_MAX];
	const char *self_exe;
	bool dry_run;
} adopt_opts;

/* Adopts the unit; progress and the dry run's diff on out. Returns an exit code (util/exitcodes.h); on
 * failure err says why, with a hint. */
int adopt_run(const adopt_opts *opts, FILE *out, pgr_err *err);

typedef enum adopt_bin_choice {
	ADOPT_BIN_ORIGINAL, /* bin_dir back to what it was (Debian's path) */
	ADOPT_BIN_CATALOG,  /* bin_dir to the catalog's copy of the version the unit runs */
} adopt_bin_choice;

/* Unadopts the unit of CONFDIR dir. Returns an exit code; err on failure. */
int unadopt_run(const char *dir, adopt_bin_choice choice, FILE *out, pgr_err *err);

/*
 * For the unit's agent: when the unit is adopted, writes these tags into the user's Patroni config (the
 * one Patroni reads) and sets *adopted; else does nothing. 0, or -1 with err.
 */
int adopt_unit_write_tags(const cluster_conf *conf, const conf_unit *unit, const patroni_tags *tags, bool *adopted,
			  pgr_err *err) __attribute__((warn_unused_result));
/* For the unit's agent: the Patroni config of an adopted unit (the user's, which Patroni reads) into path, and
 * *adopted; a unit that is not adopted: *adopted false, path "". 0, or -1 with err. */
int adopt_unit_patroni_config(const cluster_conf *conf, const conf_unit *unit, char *path, size_t len, bool *adopted,
			      pgr_err *err) __attribute__((warn_unused_result));

#endif
