#include "catalog/fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fileutil.h"
#include "util/log.h"
#include "util/proc.h"

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

void fetch_madison_parse(const char *output, const char *package, fetch_candidates *out)
{
	char *copy = strdup(output), *save = NULL, *line;

	out->count = 0;
	if (copy == NULL)
		return;
	for (line = strtok_r(copy, "\n", &save); line && out->count < FETCH_MAX_CANDIDATES; line = strtok_r(NULL, "\n", &save)) {
		char *bar1 = strchr(line, '|'), *bar2, *ver, *dash;
		bool seen = false;

		if (bar1 == NULL || (bar2 = strchr(bar1 + 1, '|')) == NULL)
			continue;
		*bar1 = *bar2 = '\0';
		if (strcmp(trim(line), package) != 0)
			continue;
		ver = trim(bar1 + 1);
		if (ver[0] == '\0' || strlen(ver) >= sizeof(out->debian[0]))
			continue;
		for (int i = 0; i < out->count; i++)
			seen = seen || strcmp(out->debian[i], ver) == 0;
		if (seen)
			continue;
		snprintf(out->debian[out->count], sizeof(out->debian[0]), "%s", ver);
		/* upstream: after an epoch "N:", before the Debian revision "-..." */
		if (strchr(ver, ':') != NULL)
			ver = strchr(ver, ':') + 1;
		dash = strrchr(ver, '-');
		snprintf(out->upstream[out->count], sizeof(out->upstream[0]), "%.*s",
			 (int)(dash ? (size_t)(dash - ver) : strlen(ver)), ver);
		out->count++;
	}
	free(copy);
}

const char *fetch_pick(const fetch_candidates *c, const char *version)
{
	for (int i = 0; i < c->count; i++)
		if (strcmp(c->upstream[i], version) == 0)
			return c->debian[i];
	return NULL;
}

void fetch_list(const fetch_candidates *c, char *buf, size_t len)
{
	int order[FETCH_MAX_CANDIDATES];
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < c->count; i++)
		order[i] = i;
	for (int i = 1; i < c->count; i++) {
		for (int j = i; j > 0; j--) {
			pg_version a, b;
			pgr_err ignored;
			int cmp;

			if (pg_version_parse(c->upstream[order[j - 1]], &a, &ignored) == 0 &&
			    pg_version_parse(c->upstream[order[j]], &b, &ignored) == 0)
				cmp = pg_version_compare(&a, &b);
			else
				cmp = strcmp(c->upstream[order[j - 1]], c->upstream[order[j]]);
			if (cmp <= 0)
				break;
			int t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
	for (int i = 0; i < c->count && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", c->upstream[order[i]]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

void fetch_default_cache(char *buf, size_t len)
{
	const char *env = getenv("PGREFRESH_DIST");

	snprintf(buf, len, "%s", env != NULL && env[0] != '\0' ? env : FETCH_DEFAULT_CACHE);
}

/* Runs argv; its output's last line in err when it fails. */
static int run(char *const argv[], long timeout_ms, const char *what, pgr_err *err)
{
	char out[8192];
	int status = 0;

	if (proc_run(argv, NULL, timeout_ms, out, sizeof(out), &status, err) != 0)
		return pgr_err_prefix(err, "%s", what);
	if (status != 0) {
		char *last = out + strlen(out);

		while (last > out && (last[-1] == '\n' || last[-1] == '\r'))
			*--last = '\0';
		while (last > out && last[-1] != '\n')
			last--;
		return pgr_err_set(err, "%s exited %d: %s", what, status, last);
	}
	return 0;
}

/* The download directory, removed: a failure to is only worth a word (it is under /tmp). */
static void remove_download(const char *tmp)
{
	pgr_err e;

	if (dir_remove_all(tmp, &e) != 0)
		log_warn("could not remove %s: %s", tmp, e.msg);
}

int fetch_version(const char *catalog_dir, const char *cache, const char *version, catalog_entry *added, pgr_err *err)
{
	char pkg[32], client[32], out[16384], list[512], dest[4096], tmp[] = "/tmp/pgrefresh-fetch-XXXXXX";
	char spec_server[128], spec_client[128];
	pg_version v;
	fetch_candidates c;
	const char *debver;
	int status = 0;
	bool already = false;

	if (pg_version_parse(version, &v, err) != 0)
		return -1;
	snprintf(pkg, sizeof(pkg), "postgresql-%d", v.major);
	snprintf(client, sizeof(client), "postgresql-client-%d", v.major);
	if (snprintf(dest, sizeof(dest), "%s/%s", cache, version) >= (int)sizeof(dest))
		return pgr_err_set(err, "cache path too long: %s", cache);
	if (!path_is_dir(dest)) {
		char *madison[] = { "/usr/bin/apt-cache", "madison", pkg, NULL };
		char *dl[] = { "/bin/sh", "-c", "cd \"$1\" && shift && exec apt-get -q download \"$@\"", "sh", tmp,
			       spec_server, spec_client, NULL };

		if (proc_run(madison, NULL, 60000, out, sizeof(out), &status, err) != 0)
			return pgr_err_prefix(err, "apt-cache madison %s", pkg);
		fetch_madison_parse(out, pkg, &c);
		debver = fetch_pick(&c, version);
		if (debver == NULL) {
			fetch_list(&c, list, sizeof(list));
			return pgr_err_set(err, "%s %s is not in this machine's apt archives; they have: %s", pkg, version,
					   c.count ? list : "none");
		}
		snprintf(spec_server, sizeof(spec_server), "%s=%s", pkg, debver);
		snprintf(spec_client, sizeof(spec_client), "%s=%s", client, debver);
		if (mkdtemp(tmp) == NULL)
			return pgr_err_set(err, "mkdtemp: %m");
		if (run(dl, 600000, "apt-get download", err) != 0)
			goto fail;
		{
			char stage[4200], debs[2][4200];
			char *x0[] = { "/usr/bin/dpkg-deb", "-x", debs[0], stage, NULL };
			char *x1[] = { "/usr/bin/dpkg-deb", "-x", debs[1], stage, NULL };
			pgr_err ignored;

			snprintf(stage, sizeof(stage), "%s.partial", dest);
			if (path_exists(stage) && dir_remove_all(stage, &ignored) != 0) {
				pgr_err_set(err, "%s: a partial unpack that cannot be removed", stage);
				goto fail;
			}
			/* apt-get download names the files PACKAGE_VERSION_ARCH.deb, ':' of an epoch as %3a */
			snprintf(debs[0], sizeof(debs[0]), "%s/%s_", tmp, pkg);
			snprintf(debs[1], sizeof(debs[1]), "%s/%s_", tmp, client);
			for (int k = 0; k < 2; k++) {
				char found[4200] = "";
				char *ls[] = { "/bin/sh", "-c", "ls -1 \"$1\"*.deb | head -n 1", "sh", debs[k], NULL };
				int st2 = 0;

				if (proc_run(ls, NULL, 10000, found, sizeof(found), &st2, err) != 0 || st2 != 0 || !found[0]) {
					pgr_err_set(err, "apt-get download left no %s*.deb in %s", debs[k], tmp);
					goto fail;
				}
				found[strcspn(found, "\n")] = '\0';
				snprintf(debs[k], sizeof(debs[k]), "%s", found);
			}
			if (dir_make_all(stage, 0755, err) != 0 || run(x0, 300000, "dpkg-deb -x (server)", err) != 0 ||
			    run(x1, 300000, "dpkg-deb -x (client)", err) != 0)
				goto fail;
			if (rename(stage, dest) != 0) {
				pgr_err_set(err, "rename %s to %s: %m", stage, dest);
				goto fail;
			}
		}
		remove_download(tmp);
	}
	if (catalog_add(catalog_dir, dest, added, &already, err) != 0)
		return -1;
	return 0;
fail:
	remove_download(tmp);
	return -1;
}
