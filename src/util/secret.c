#include "util/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool secret_name_ok(const char *name)
{
	if (name[0] == '\0' || name[0] == '.')
		return false;
	for (const char *c = name; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '_' || *c == '-'))
			return false;
	return true;
}

int secret_read(const char *dir, const char *name, char *out, size_t outlen, pgr_err *err)
{
	char path[4200];
	char buf[512];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd;

	out[0] = '\0';
	if (!secret_name_ok(name))
		return pgr_err_set(err, "secret name \"%s\" is not a file name of secrets.d", name);
	snprintf(path, sizeof(path), "%s/secrets.d/%s", dir, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return pgr_err_set(err, "secret %s: cannot open %s: %s", name, path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pgr_err_set(err, "secret %s: %s is not a regular file", name, path);
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return pgr_err_set(err, "secret %s: %s may be read by group or others (mode %04o): chmod 600 it", name,
				   path, (unsigned)(st.st_mode & 07777));
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return pgr_err_set(err, "secret %s: cannot read %s: %s", name, path, strerror(errno));
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (len == 0)
		return pgr_err_set(err, "secret %s: %s is empty", name, path);
	if (len >= outlen)
		return pgr_err_set(err, "secret %s: %s is longer than %zu bytes", name, path, outlen - 1);
	memcpy(out, buf, len + 1);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}
