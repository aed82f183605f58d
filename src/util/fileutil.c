#include "util/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	(void)fsync(fd);
	close(fd);
	return 0;
}

int file_write_durable(const char *path, const char *data, size_t len, mode_t mode, pgr_err *err)
{
	char tmp[PATH_MAX];
	size_t done = 0;
	int fd;

	/* a temp name of this writer's own: two processes writing the same file (the agents of one host
	 * leading its PgBouncer) must not rename each other's temp file away; the last rename wins whole */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return pgr_err_set(err, "path too long: %s", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return pgr_err_set(err, "could not create %s: %s", tmp, strerror(errno));
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pgr_err_set(err, "could not write %s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		done += (size_t)n;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		pgr_err_set(err, "could not sync %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		pgr_err_set(err, "could not rename %s to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	fsync_dir_of(path);
	return 0;
}

int file_read_all(const char *path, char **data, size_t *len, pgr_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, used = 0;

	*data = NULL;
	if (len)
		*len = 0;
	if (f == NULL)
		return pgr_err_set(err, "could not open %s: %s", path, strerror(errno));
	for (;;) {
		size_t n;

		if (used + 4097 > cap) {
			char *grown;

			cap = cap ? cap * 2 : 8192;
			grown = realloc(buf, cap);
			if (grown == NULL) {
				free(buf);
				fclose(f);
				return pgr_err_set(err, "out of memory reading %s", path);
			}
			buf = grown;
		}
		n = fread(buf + used, 1, 4096, f);
		used += n;
		if (n < 4096) {
			if (ferror(f)) {
				free(buf);
				fclose(f);
				return pgr_err_set(err, "could not read %s: %s", path, strerror(errno));
			}
			break;
		}
	}
	fclose(f);
	buf[used] = '\0';
	*data = buf;
	if (len)
		*len = used;
	return 0;
}

int dir_make_all(const char *path, mode_t mode, pgr_err *err)
{
	char copy[PATH_MAX];
	size_t n;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return pgr_err_set(err, "path too long: %s", path);
	n = strlen(copy);
	for (size_t i = 1; i <= n; i++) {
		if (copy[i] == '/' || copy[i] == '\0') {
			char saved = copy[i];

			copy[i] = '\0';
			if (mkdir(copy, mode) != 0 && errno != EEXIST)
				return pgr_err_set(err, "could not create directory %s: %s", copy, strerror(errno));
			copy[i] = saved;
		}
	}
	if (!path_is_dir(path))
		return pgr_err_set(err, "%s exists and is not a directory", path);
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int dir_remove_all(const char *path, pgr_err *err)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : pgr_err_set(err, "could not stat %s: %s", path, strerror(errno));
	if (nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
		return pgr_err_set(err, "could not remove %s: %s", path, strerror(errno));
	return 0;
}

int symlink_replace(const char *target, const char *link_path, pgr_err *err)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s.new", link_path) >= (int)sizeof(tmp))
		return pgr_err_set(err, "path too long: %s", link_path);
	unlink(tmp);
	if (symlink(target, tmp) != 0)
		return pgr_err_set(err, "could not create link %s: %s", tmp, strerror(errno));
	if (rename(tmp, link_path) != 0) {
		pgr_err_set(err, "could not rename link %s to %s: %s", tmp, link_path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	fsync_dir_of(link_path);
	return 0;
}

bool path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

bool path_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool path_is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* nftw offers no user pointer: the owner to set travels through this file-level pair, used only
 * for the duration of one path_chown_all call (single-threaded CLI). */
static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, chown_uid, chown_gid) != 0 ? -1 : 0;
}

int path_chown_all(const char *path, uid_t uid, gid_t gid, pgr_err *err)
{
	chown_uid = uid;
	chown_gid = gid;
	if (nftw(path, chown_one, 32, FTW_PHYS) != 0)
		return pgr_err_set(err, "could not change owner of %s: %s", path, strerror(errno));
	return 0;
}
