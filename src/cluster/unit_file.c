#include "cluster/unit_file.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileutil.h"

/* One line without its surrounding blanks: [*start, *start + *n). */
static void trim(const char **start, size_t *n)
{
	while (*n > 0 && (**start == ' ' || **start == '\t')) {
		(*start)++;
		(*n)--;
	}
	while (*n > 0 && ((*start)[*n - 1] == ' ' || (*start)[*n - 1] == '\t' || (*start)[*n - 1] == '\r'))
		(*n)--;
}

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
	       c == '_' || c == '.';
}

int unit_file_parse(const char *text, const char *origin, char *unit, size_t len, pgr_err *err)
{
	int lineno = 0;

	unit[0] = '\0';
	for (const char *p = text; *p != '\0';) {
		const char *end = strchr(p, '\n');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *line = p;

		lineno++;
		p = end != NULL ? end + 1 : p + n;
		trim(&line, &n);
		if (n == 0 || line[0] == '#')
			continue;
		if (unit[0] != '\0')
			return pgr_err_set(err, "%s:%d: a second unit name (the file holds one: the unit this host runs)",
					   origin, lineno);
		for (size_t i = 0; i < n; i++)
			if (!name_char_ok(line[i]))
				return pgr_err_set(err, "%s:%d: \"%.*s\" is not a unit name (e.g. pg/0)", origin, lineno,
						   (int)(n > 64 ? 64 : n), line);
		if (n >= len)
			return pgr_err_set(err, "%s:%d: unit name longer than %zu characters", origin, lineno, len - 1);
		memcpy(unit, line, n);
		unit[n] = '\0';
	}
	if (unit[0] == '\0')
		return pgr_err_set(err, "%s: no unit name in it (its first line names the unit this host runs, e.g. pg/0)",
				   origin);
	return 0;
}

int unit_file_read(const char *dir, char *unit, size_t len, pgr_err *err)
{
	char path[4096];
	char *text = NULL;
	size_t size = 0;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, UNIT_FILE_NAME) >= (int)sizeof(path))
		return pgr_err_set(err, "%s/%s: path too long", dir, UNIT_FILE_NAME);
	if (!path_exists(path)) {
		pgr_err_set(err, "agent needs --unit UNIT, or the file %s naming it", path);
		pgr_err_hint(err, "run `pgrefresh agent --dir %s --unit pg/0`, or write the unit's name into %s", dir, path);
		return -1;
	}
	if (file_read_all(path, &text, &size, err) != 0)
		return -1;
	if (strlen(text) != size) {
		free(text);
		return pgr_err_set(err, "%s: holds a NUL byte (a text file with the unit's name expected)", path);
	}
	rc = unit_file_parse(text, path, unit, len, err);
	free(text);
	return rc;
}
