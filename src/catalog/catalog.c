#include "catalog/catalog.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fileutil.h"
#include "util/log.h"
#include "util/proc.h"

#define VERSION_TIMEOUT_MS 10000L
#define DPKG_TIMEOUT_MS 300000L
#define DPKG_PATH "/usr/bin/dpkg"
#define MAJOR_MAX 999
#define MINOR_MAX 9999

static const char *const tool_names[CATALOG_TOOL_COUNT] = {
	"postgres", "pg_ctl", "initdb", "pg_basebackup", "pg_controldata", "pg_rewind", "psql", "pg_isready",
};

const char *catalog_tool_name(int i)
{
	if (i < 0 || i >= CATALOG_TOOL_COUNT)
		return "";
	return tool_names[i];
}

/* Reads a decimal number at *p (no sign, no leading zero unless it is "0"), at most max. Advances *p. */
static int read_number(const char **p, int max, int *out)
{
	const char *s = *p;
	long value = 0;

	if (*s < '0' || *s > '9')
		return -1;
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		value = value * 10 + (*s - '0');
		if (value > max)
			return -1;
		s++;
	}
	*p = s;
	*out = (int)value;
	return 0;
}

int pg_version_parse(const char *text, pg_version *version, pgr_err *err)
{
	const char *p = text;
	pg_version v;

	if (text == NULL || text[0] == '\0')
		return pgr_err_set(err, "empty version: expected MAJOR.MINOR like 15.18");
	if (read_number(&p, MAJOR_MAX, &v.major) != 0 || *p != '.')
		return pgr_err_set(err, "\"%s\" is not a version: expected MAJOR.MINOR like 15.18", text);
	p++;
	if (read_number(&p, MINOR_MAX, &v.minor) != 0 || *p != '\0')
		return pgr_err_set(err, "\"%s\" is not a version: expected MAJOR.MINOR like 15.18", text);
	if (v.major < 10)
		return pgr_err_set(err, "version %s is not supported: only PostgreSQL 10 and later (MAJOR.MINOR)", text);
	*version = v;
	return 0;
}

int pg_version_compare(const pg_version *a, const pg_version *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	return 0;
}

void pg_version_format(const pg_version *version, char *buf, size_t len)
{
	snprintf(buf, len, "%d.%d", version->major, version->minor);
}

int pg_version_from_output(const char *output, pg_version *version, pgr_err *err)
{
	char line[256];
	const char *p;
	const char *close;
	size_t n;
	size_t prog_len;
	pg_version v;

	if (output == NULL || output[0] == '\0')
		return pgr_err_set(err, "postgres --version printed nothing");
	n = strcspn(output, "\r\n");
	if (n >= sizeof(line)) /* cut short, "16.1beta1" could read as 16.1 */
		return pgr_err_set(err, "not the output of postgres --version: a first line of %zu bytes \"%.60s...\"", n,
				   output);
	memcpy(line, output, n);
	line[n] = '\0';

	/* "PROGRAM (PRODUCT) VERSION[ anything]" */
	prog_len = strcspn(line, " ");
	if (!((prog_len == 8 && strncmp(line, "postgres", 8) == 0) ||
	      (prog_len == 10 && strncmp(line, "postmaster", 10) == 0) ||
	      (prog_len == 12 && strncmp(line, "edb-postgres", 12) == 0)))
		return pgr_err_set(err, "not the output of postgres --version: \"%s\"", line);
	p = line + prog_len;
	if (strncmp(p, " (", 2) != 0 || (close = strchr(p + 2, ')')) == NULL || close[1] != ' ')
		return pgr_err_set(err, "not the output of postgres --version: \"%s\"", line);
	p = close + 2;
	if (read_number(&p, MAJOR_MAX, &v.major) != 0)
		return pgr_err_set(err, "no version number in \"%s\"", line);
	if (*p != '.')
		return pgr_err_set(err, "\"%s\" is not a released MAJOR.MINOR version (pre-release or before 10?)", line);
	p++;
	if (read_number(&p, MINOR_MAX, &v.minor) != 0)
		return pgr_err_set(err, "\"%s\" is not a released MAJOR.MINOR version", line);
	/* After MAJOR.MINOR: the end, a space, or a vendor's ".patch" level. */
	if (*p == '.') {
		int patch;

		p++;
		if (read_number(&p, MINOR_MAX, &patch) != 0)
			return pgr_err_set(err, "\"%s\" is not a released MAJOR.MINOR version", line);
	}
	if (*p != '\0' && *p != ' ')
		return pgr_err_set(err, "\"%s\" is not a released MAJOR.MINOR version (pre-release?)", line);
	if (v.major < 10)
		return pgr_err_set(err, "\"%s\": only PostgreSQL 10 and later are supported", line);
	*version = v;
	return 0;
}

void catalog_default_dir(char *buf, size_t len)
{
	const char *env = getenv("PGREFRESH_CATALOG");

	snprintf(buf, len, "%s", env != NULL && env[0] != '\0' ? env : CATALOG_DEFAULT_DIR);
}

/* path = a + "/" + b, or -1 with err when too long. */
static int join(char *buf, size_t len, const char *a, const char *b, pgr_err *err)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= len)
		return pgr_err_set(err, "path too long: %s/%s", a, b);
	return 0;
}

/* The first line of out, for messages. */
static void first_line(const char *out, char *buf, size_t len)
{
	size_t n = strcspn(out, "\r\n");

	if (n >= len)
		n = len - 1;
	memcpy(buf, out, n);
	buf[n] = '\0';
}

int catalog_detect_version(const char *bin_dir, pg_version *version, pgr_err *err)
{
	char postgres[PATH_MAX];
	char out[1024];
	char line[256];
	char *argv[3];
	proc_user user;
	const proc_user *as = NULL;
	pgr_err ignored;
	int status;

	if (join(postgres, sizeof(postgres), bin_dir, "postgres", err) != 0)
		return -1;
	if (!path_is_executable(postgres))
		return pgr_err_set(err, "%s: no executable postgres there", bin_dir);
	/* As the user that will run the servers, so that a tree it cannot read is caught now. */
	if (proc_user_for_servers(&user, &ignored) == 0)
		as = &user;
	argv[0] = postgres;
	argv[1] = (char *)"--version";
	argv[2] = NULL;
	if (proc_run(argv, as, VERSION_TIMEOUT_MS, out, sizeof(out), &status, err) != 0)
		return pgr_err_prefix(err, "%s --version", postgres);
	first_line(out, line, sizeof(line));
	if (status != 0)
		return pgr_err_set(err, "%s --version failed (exit %d%s%s): %s", postgres, status, as ? ", as " : "",
				   as ? as->name : "", line[0] ? line : "no output");
	if (pg_version_from_output(out, version, err) != 0)
		return pgr_err_prefix(err, "%s --version", postgres);
	return 0;
}

/* Fills *entry from CATALOG/name (name already a valid version). */
static int entry_fill(const char *dir, const char *name, const pg_version *v, catalog_entry *entry, pgr_err *err)
{
	char tool[PATH_MAX];
	size_t used = 0;

	memset(entry, 0, sizeof(*entry));
	snprintf(entry->version, sizeof(entry->version), "%s", name);
	entry->major = v->major;
	entry->minor = v->minor;
	if (join(entry->link, sizeof(entry->link), dir, name, err) != 0 ||
	    join(entry->bin, sizeof(entry->bin), entry->link, "bin", err) != 0)
		return -1;
	if (realpath(entry->link, entry->root) == NULL) {
		/* Dangling: show where it points; every tool is then missing. */
		ssize_t n = readlink(entry->link, entry->root, sizeof(entry->root) - 1);

		entry->root[n > 0 ? n : 0] = '\0';
	}
	entry->complete = true;
	for (int i = 0; i < CATALOG_TOOL_COUNT; i++) {
		if (join(tool, sizeof(tool), entry->bin, tool_names[i], err) != 0)
			return -1;
		entry->tool_present[i] = path_is_executable(tool);
		if (!entry->tool_present[i]) {
			int n = snprintf(entry->missing + used, sizeof(entry->missing) - used, "%s%s", used ? "," : "",
					 tool_names[i]);

			entry->complete = false;
			if (n > 0 && used + (size_t)n < sizeof(entry->missing))
				used += (size_t)n;
		}
	}
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	const catalog_entry *x = a;
	const catalog_entry *y = b;
	pg_version vx = { x->major, x->minor };
	pg_version vy = { y->major, y->minor };

	return pg_version_compare(&vx, &vy);
}

int catalog_list(const char *dir, catalog_entry **entries, int *count, pgr_err *err)
{
	DIR *d;
	struct dirent *de;
	catalog_entry *list = NULL;
	int n = 0;
	int cap = 0;

	*entries = NULL;
	*count = 0;
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		return pgr_err_set(err, "could not read catalog %s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		pg_version v;
		pgr_err ignored;
		char path[PATH_MAX];
		struct stat st;

		if (de->d_name[0] == '.' || pg_version_parse(de->d_name, &v, &ignored) != 0)
			continue;
		if (join(path, sizeof(path), dir, de->d_name, err) != 0)
			goto fail;
		/* A link (the normal case) or a directory put there by hand. */
		if (lstat(path, &st) != 0 || !(S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)))
			continue;
		if (n == cap) {
			int newcap = cap ? cap * 2 : 8;
			catalog_entry *grown = realloc(list, (size_t)newcap * sizeof(*list));

			if (grown == NULL) {
				pgr_err_set(err, "out of memory listing catalog %s", dir);
				goto fail;
			}
			list = grown;
			cap = newcap;
		}
		if (entry_fill(dir, de->d_name, &v, &list[n], err) != 0)
			goto fail;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(list, (size_t)n, sizeof(*list), entry_cmp);
	if (n == 0) {
		free(list);
		list = NULL;
	}
	*entries = list;
	*count = n;
	return 0;
fail:
	closedir(d);
	free(list);
	return -1;
}

/* "15.18, 15.20" or "none" into buf. */
static void versions_text(const catalog_entry *list, int n, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "none");
	for (int i = 0; i < n; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", list[i].version);

		if (w < 0 || used + (size_t)w >= len)
			break;
		used += (size_t)w;
	}
}

int catalog_find(const char *dir, const char *version, catalog_entry *entry, pgr_err *err)
{
	catalog_entry *list;
	pg_version want;
	char have[256];
	int n;

	if (pg_version_parse(version, &want, err) != 0)
		return -1;
	if (catalog_list(dir, &list, &n, err) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (list[i].major == want.major && list[i].minor == want.minor) {
			*entry = list[i];
			free(list);
			return 0;
		}
	}
	versions_text(list, n, have, sizeof(have));
	free(list);
	return pgr_err_set(err, "version %s is not in the catalog %s (it has: %s)", version, dir, have);
}

int catalog_highest_of_major(const char *dir, int major, catalog_entry *entry, pgr_err *err)
{
	catalog_entry *list;
	char have[256];
	int n;

	if (catalog_list(dir, &list, &n, err) != 0)
		return -1;
	for (int i = n - 1; i >= 0; i--) {
		if (list[i].major == major) {
			*entry = list[i];
			free(list);
			return 0;
		}
	}
	versions_text(list, n, have, sizeof(have));
	free(list);
	return pgr_err_set(err, "no version of PostgreSQL %d in the catalog %s (it has: %s)", major, dir, have);
}

int catalog_check_runnable(const catalog_entry *entry, pgr_err *err)
{
	pg_version want = { entry->major, entry->minor };
	pg_version got;
	char gottext[CATALOG_VERSION_LEN];

	if (!entry->complete)
		return pgr_err_set(err, "%s at %s lacks %s in bin/", entry->version, entry->root, entry->missing);
	if (catalog_detect_version(entry->bin, &got, err) != 0)
		return pgr_err_prefix(err, "%s", entry->version);
	if (pg_version_compare(&want, &got) != 0) {
		pg_version_format(&got, gottext, sizeof(gottext));
		return pgr_err_set(err, "%s points at %s, whose postgres is %s, not %s", entry->link, entry->root, gottext,
				   entry->version);
	}
	return 0;
}

static void stat_text(const char *path, char *buf, size_t len)
{
	struct stat st;

	if (stat(path, &st) != 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

void catalog_entry_identity(const catalog_entry *entry, char *buf, size_t len)
{
	char path[PATH_MAX + 16], bin[128], ext[128];

	snprintf(path, sizeof(path), "%s/postgres", entry->bin);
	stat_text(path, bin, sizeof(bin));
	if (catalog_extension_dir(entry, path, sizeof(path)) == 0)
		stat_text(path, ext, sizeof(ext));
	else
		snprintf(ext, sizeof(ext), "-");
	snprintf(buf, len, "%s|%s|%s", entry->root, bin, ext);
}

int catalog_extension_dir(const catalog_entry *entry, char *buf, size_t len)
{
	struct stat st;

	snprintf(buf, len, "%s/share/extension", entry->root);
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	snprintf(buf, len, "%s/../../../share/postgresql/%d/extension", entry->root, entry->major);
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	buf[0] = '\0';
	return -1;
}

static int control_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 8 && strcmp(d->d_name + n - 8, ".control") == 0;
}

int catalog_extension_names(const catalog_entry *entry, void (*visit)(const char *name, void *arg), void *arg,
			    pgr_err *err)
{
	char dir[PATH_MAX + 64];
	struct dirent **names = NULL;
	int n;

	if (catalog_extension_dir(entry, dir, sizeof(dir)) != 0)
		return 0;
	n = scandir(dir, &names, control_file, alphasort);
	if (n < 0)
		return pgr_err_set(err, "could not list %s: %s", dir, strerror(errno));
	for (int i = 0; i < n; i++) {
		names[i]->d_name[strlen(names[i]->d_name) - 8] = '\0';
		visit(names[i]->d_name, arg);
		free(names[i]);
	}
	free(names);
	return 0;
}

/* The installation root for a directory given to catalog_add, into root (resolved). */
static int find_root(const char *path, char *root, size_t len, pgr_err *err)
{
	char probe[PATH_MAX];
	char copy[PATH_MAX];
	glob_t g;
	int rc;

	if (join(probe, sizeof(probe), path, "bin/postgres", err) != 0)
		return -1;
	if (path_is_executable(probe)) {
		snprintf(root, len, "%s", path);
		return 0;
	}
	if (join(probe, sizeof(probe), path, "postgres", err) != 0)
		return -1;
	if (path_is_executable(probe)) {
		snprintf(copy, sizeof(copy), "%s", path);
		if (strcmp(basename(copy), "bin") != 0)
			return pgr_err_set(err, "%s holds postgres but is not named bin: give the installation root (the "
						"directory whose bin/ has postgres)", path);
		snprintf(copy, sizeof(copy), "%s", path);
		snprintf(root, len, "%s", dirname(copy));
		return 0;
	}
	if (join(probe, sizeof(probe), path, "usr/lib/postgresql/*/bin/postgres", err) != 0)
		return -1;
	rc = glob(probe, 0, NULL, &g);
	if (rc == 0 && g.gl_pathc == 1) {
		size_t n = strlen(g.gl_pathv[0]) - strlen("/bin/postgres");

		if (n >= len) {
			globfree(&g);
			return pgr_err_set(err, "path too long: %s", g.gl_pathv[0]);
		}
		memcpy(root, g.gl_pathv[0], n);
		root[n] = '\0';
		globfree(&g);
		return 0;
	}
	if (rc == 0) {
		globfree(&g);
		return pgr_err_set(err, "%s holds several majors under usr/lib/postgresql: give one of them", path);
	}
	return pgr_err_set(err, "%s: no PostgreSQL installation there (no bin/postgres, postgres, nor "
				"usr/lib/postgresql/NN/bin/postgres)", path);
}

/* Makes CATALOG/<version> point at root (resolved), or finds it already does. */
static int link_entry(const char *dir, const pg_version *v, const char *root, catalog_entry *added, bool *already,
		      pgr_err *err)
{
	char name[CATALOG_VERSION_LEN];
	char link[PATH_MAX];
	char existing[PATH_MAX];
	struct stat st;

	*already = false;
	pg_version_format(v, name, sizeof(name));
	if (dir_make_all(dir, 0755, err) != 0)
		return -1;
	if (join(link, sizeof(link), dir, name, err) != 0)
		return -1;
	if (lstat(link, &st) == 0) {
		if (realpath(link, existing) == NULL)
			return pgr_err_set(err, "%s is already in the catalog but %s is broken (%s): remove it first", name,
					   link, strerror(errno));
		if (strcmp(existing, root) != 0)
			return pgr_err_set(err, "%s is already in the catalog %s at %s, not %s", name, dir, existing, root);
		*already = true;
	} else if (symlink_replace(root, link, err) != 0) {
		return -1;
	}
	if (entry_fill(dir, name, v, added, err) != 0)
		return -1;
	return 0; /* an incomplete entry (added->complete false) is the caller's to report, once */
}

/* dpkg -x deb dest */
static int dpkg_extract(const char *deb, const char *dest, pgr_err *err)
{
	char out[2048];
	char line[256];
	char *argv[5];
	int status;

	argv[0] = (char *)DPKG_PATH;
	argv[1] = (char *)"-x";
	argv[2] = (char *)deb;
	argv[3] = (char *)dest;
	argv[4] = NULL;
	if (proc_run(argv, NULL, DPKG_TIMEOUT_MS, out, sizeof(out), &status, err) != 0)
		return -1;
	if (status != 0) {
		first_line(out, line, sizeof(line));
		return pgr_err_set(err, "dpkg -x %s failed (exit %d): %s", deb, status, line);
	}
	return 0;
}

/* Adds a Debian postgresql-NN_<debversion>_<arch>.deb (path resolved). */
static int add_deb(const char *dir, const char *path, catalog_entry *added, bool *already, pgr_err *err)
{
	char copy[PATH_MAX];
	char base[NAME_MAX + 1];
	char major[8];
	char debversion[128];
	char installs[PATH_MAX];
	char stage[PATH_MAX];
	char final[PATH_MAX];
	char probe[PATH_MAX];
	char root[PATH_MAX];
	char resolved[PATH_MAX];
	char pattern[PATH_MAX];
	char vtext[CATALOG_VERSION_LEN];
	const char *p;
	size_t n;
	glob_t g;
	pg_version v;
	pgr_err ignored;

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(base, sizeof(base), "%s", basename(copy));
	if (strncmp(base, "postgresql-client-", 18) == 0)
		return pgr_err_set(err, "%s is the client package: add the server package postgresql-NN_*.deb (the "
					"client package next to it is taken along)", path);
	if (strncmp(base, "postgresql-", 11) != 0)
		return pgr_err_set(err, "%s is not a postgresql-NN_VERSION_ARCH.deb server package", path);
	p = base + 11;
	n = strspn(p, "0123456789");
	if (n == 0 || n >= sizeof(major) || p[n] != '_')
		return pgr_err_set(err, "%s is not a postgresql-NN_VERSION_ARCH.deb server package", path);
	memcpy(major, p, n);
	major[n] = '\0';
	p += n + 1;
	n = strcspn(p, "_");
	if (n == 0 || n >= sizeof(debversion) || p[n] != '_')
		return pgr_err_set(err, "%s is not a postgresql-NN_VERSION_ARCH.deb server package", path);
	memcpy(debversion, p, n);
	debversion[n] = '\0';
	if (!path_is_executable(DPKG_PATH))
		return pgr_err_set(err, "cannot unpack %s: %s is not installed", path, DPKG_PATH);

	if (join(installs, sizeof(installs), dir, ".installs", err) != 0 || dir_make_all(installs, 0755, err) != 0)
		return -1;
	if (snprintf(stage, sizeof(stage), "%s/.unpack-%ld", installs, (long)getpid()) >= (int)sizeof(stage))
		return pgr_err_set(err, "path too long: %s", installs);
	if (dir_remove_all(stage, err) != 0 || dir_make_all(stage, 0755, err) != 0)
		return -1;
	if (dpkg_extract(path, stage, err) != 0)
		goto fail;

	/* The client package of the same version, next to it: psql, pg_basebackup, pg_isready. */
	snprintf(copy, sizeof(copy), "%s", path);
	if (snprintf(pattern, sizeof(pattern), "%s/postgresql-client-%s_%s_*.deb", dirname(copy), major, debversion) >=
	    (int)sizeof(pattern)) {
		pgr_err_set(err, "path too long: %s", path);
		goto fail;
	}
	if (glob(pattern, 0, NULL, &g) == 0) {
		int rc = dpkg_extract(g.gl_pathv[0], stage, err);

		globfree(&g);
		if (rc != 0)
			goto fail;
	} else {
		log_warn("no postgresql-client-%s_%s_*.deb next to %s: client tools (psql, pg_basebackup, pg_isready) "
			 "are missing", major, debversion, path);
	}

	if (snprintf(probe, sizeof(probe), "%s/usr/lib/postgresql/%s/bin", stage, major) >= (int)sizeof(probe)) {
		pgr_err_set(err, "path too long: %s", stage);
		goto fail;
	}
	if (catalog_detect_version(probe, &v, err) != 0) {
		pgr_err_prefix(err, "%s", path);
		goto fail;
	}
	pg_version_format(&v, vtext, sizeof(vtext));
	if (join(final, sizeof(final), installs, vtext, err) != 0)
		goto fail;
	if (path_exists(final)) {
		/* Unpacked before (the same .deb added again): keep it if it still works. */
		pg_version old;

		if (snprintf(probe, sizeof(probe), "%s/usr/lib/postgresql/%s/bin", final, major) < (int)sizeof(probe) &&
		    catalog_detect_version(probe, &old, &ignored) == 0 && pg_version_compare(&old, &v) == 0) {
			if (dir_remove_all(stage, err) != 0)
				return -1;
		} else if (dir_remove_all(final, err) != 0) {
			goto fail;
		}
	}
	if (path_exists(stage) && rename(stage, final) != 0) {
		pgr_err_set(err, "could not rename %s to %s: %s", stage, final, strerror(errno));
		goto fail;
	}
	if (snprintf(root, sizeof(root), "%s/usr/lib/postgresql/%s", final, major) >= (int)sizeof(root) ||
	    realpath(root, resolved) == NULL)
		return pgr_err_set(err, "%s: unpacked, but %s is missing", path, root);
	return link_entry(dir, &v, resolved, added, already, err);
fail:
	if (dir_remove_all(stage, &ignored) != 0)
		log_warn("could not remove %s: %s", stage, ignored.msg);
	return -1;
}

int catalog_add(const char *dir, const char *path, catalog_entry *added, bool *already, pgr_err *err)
{
	char real[PATH_MAX];
	char root[PATH_MAX];
	char resolved[PATH_MAX];
	char bin[PATH_MAX];
	struct stat st;
	size_t n;
	pg_version v;

	*already = false;
	if (realpath(path, real) == NULL || stat(real, &st) != 0)
		return pgr_err_set(err, "%s: %s", path, strerror(errno));
	n = strlen(real);
	if (S_ISREG(st.st_mode) && n > 4 && strcmp(real + n - 4, ".deb") == 0)
		return add_deb(dir, real, added, already, err);
	if (!S_ISDIR(st.st_mode))
		return pgr_err_set(err, "%s is neither a directory nor a .deb file", path);
	if (find_root(real, root, sizeof(root), err) != 0)
		return -1;
	if (realpath(root, resolved) == NULL)
		return pgr_err_set(err, "%s: %s", root, strerror(errno));
	if (join(bin, sizeof(bin), resolved, "bin", err) != 0)
		return -1;
	if (catalog_detect_version(bin, &v, err) != 0)
		return pgr_err_prefix(err, "cannot add %s", path);
	return link_entry(dir, &v, resolved, added, already, err);
}

/* cp -a FROM TO (TO's parent made first), as ourselves: a copy that keeps modes, links and times. */
static int copy_tree(const char *from, const char *to, pgr_err *err)
{
	char parent[PATH_MAX], out[512];
	char *argv[] = { "/bin/cp", "-a", "--", (char *)from, (char *)to, NULL };
	char *slash;
	int status = 0;

	snprintf(parent, sizeof(parent), "%s", to);
	slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent) {
		*slash = '\0';
		if (dir_make_all(parent, 0755, err) != 0)
			return -1;
	}
	if (proc_run(argv, NULL, 600000, out, sizeof(out), &status, err) != 0)
		return pgr_err_prefix(err, "copying %s", from);
	if (status != 0) {
		char line[256];

		first_line(out, line, sizeof(line));
		return pgr_err_set(err, "copying %s to %s: cp exited %d: %s", from, to, status, line);
	}
	return 0;
}

int catalog_copy_installation(const char *dir, const char *bin_dir, catalog_entry *added, pgr_err *err)
{
	char bin[PATH_MAX], root[PATH_MAX], share[PATH_MAX], dest[PATH_MAX], to[PATH_MAX], version[CATALOG_VERSION_LEN];
	char major[16];
	const char *base;
	pg_version v;
	bool already = false;
	char *slash;

	if (realpath(bin_dir, bin) == NULL)
		return pgr_err_set(err, "%s: %s", bin_dir, strerror(errno));
	if (catalog_detect_version(bin, &v, err) != 0)
		return -1;
	pg_version_format(&v, version, sizeof(version));
	snprintf(major, sizeof(major), "%d", v.major);
	snprintf(root, sizeof(root), "%s", bin);
	slash = strrchr(root, '/');
	if (slash == NULL || slash == root || strcmp(slash, "/bin") != 0)
		return pgr_err_set(err, "%s is not a bin directory of an installation", bin_dir);
	*slash = '\0';
	if (snprintf(dest, sizeof(dest), "%s/.installs/%s-copy", dir, version) >= (int)sizeof(dest))
		return pgr_err_set(err, "catalog path too long: %s", dir);
	if (path_exists(dest))
		return pgr_err_set(err, "%s already exists: a copy of %s was begun before; remove it and try again", dest,
				   version);
	/* Debian's layout: ROOT = PREFIX/lib/postgresql/NN, its share files in PREFIX/share/postgresql/NN */
	base = strrchr(root, '/');
	if (base != NULL && strcmp(base + 1, major) == 0 && strstr(root, "/lib/postgresql/") != NULL) {
		char prefix[PATH_MAX];

		snprintf(prefix, sizeof(prefix), "%.*s", (int)(strstr(root, "/lib/postgresql/") - root), root);
		if (snprintf(share, sizeof(share), "%s/share/postgresql/%s", prefix, major) >= (int)sizeof(share))
			return pgr_err_set(err, "path too long: %s", prefix);
		if (!path_is_dir(share))
			return pgr_err_set(err, "%s: no %s beside it (Debian's layout)", root, share);
		snprintf(to, sizeof(to), "%s/usr/lib/postgresql/%s", dest, major);
		if (copy_tree(root, to, err) != 0)
			return -1;
		snprintf(to, sizeof(to), "%s/usr/share/postgresql/%s", dest, major);
		if (copy_tree(share, to, err) != 0)
			return -1;
	} else {
		snprintf(to, sizeof(to), "%s/root", dest);
		if (copy_tree(root, to, err) != 0)
			return -1;
	}
	if (catalog_add(dir, dest, added, &already, err) != 0)
		return pgr_err_prefix(err, "the copy of %s in %s", version, dest);
	return 0;
}
