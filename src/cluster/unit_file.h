/*
 * unit_file.h — DIR/unit: which unit of the cluster this host runs, for an agent started by the
 * host's service manager (pgrefresh-agent@INSTANCE.service runs `pgrefresh agent --dir
 * /etc/pgrefresh/INSTANCE`, and `pgrefresh adopt` writes that directory's `unit`).
 *
 * The file's first line that is neither blank nor a comment (#) is the unit's name ("pg/0"), spaces
 * around it ignored; nothing else may follow it but blank lines and comments.
 */
#ifndef PGR_CLUSTER_UNIT_FILE_H
#define PGR_CLUSTER_UNIT_FILE_H

#include <stddef.h>

#include "util/err.h"

#define UNIT_FILE_NAME "unit"

/* text: the file's content; origin names it in errors. unit: len bytes, the name on success. */
int unit_file_parse(const char *text, const char *origin, char *unit, size_t len, pgr_err *err)
	__attribute__((warn_unused_result));
/* Reads DIR/unit. A missing file is an error naming --unit and the file. */
int unit_file_read(const char *dir, char *unit, size_t len, pgr_err *err) __attribute__((warn_unused_result));

#endif
