/*
 * fileutil.h — files written durably (temp file, fsync, rename, fsync of the directory), read whole,
 * directories made and removed, symlinks swapped atomically.
 */
#ifndef PGR_UTIL_FILEUTIL_H
#define PGR_UTIL_FILEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

/* Writes data to path through a temp file of its own (path.tmp.XXXXXX) + fsync + rename + fsync(dir), with
 * the given mode: concurrent writers of one path each replace it whole. */
int file_write_durable(const char *path, const char *data, size_t len, mode_t mode, pgr_err *err)
	__attribute__((warn_unused_result));
/* Reads a whole file into *data (heap, NUL-terminated; caller frees). */
int file_read_all(const char *path, char **data, size_t *len, pgr_err *err) __attribute__((warn_unused_result));
int dir_make_all(const char *path, mode_t mode, pgr_err *err) __attribute__((warn_unused_result));
/* Removes path and everything below it (does not follow symlinks). Missing path is fine. */
int dir_remove_all(const char *path, pgr_err *err) __attribute__((warn_unused_result));
/* Makes link_path point at target, atomically (symlink to link_path.new, then rename over). */
int symlink_replace(const char *target, const char *link_path, pgr_err *err) __attribute__((warn_unused_result));
bool path_exists(const char *path);
bool path_is_dir(const char *path);
bool path_is_executable(const char *path);
/* Changes owner of path and everything below it (lchown; for the postgres user when run as root). */
int path_chown_all(const char *path, uid_t uid, gid_t gid, pgr_err *err) __attribute__((warn_unused_result));

#endif
