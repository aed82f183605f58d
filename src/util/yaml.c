#include "util/yaml.h"

#include <stdio.h>

int yaml_quote(const char *what, const char *s, char *out, size_t len, pgr_err *err)
{
	size_t o = 0;

	if (len < 3)
		return pgr_err_set(err, "%s: no room to quote it", what);
	out[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		char esc = '\0';

		if (*p < 0x20 || *p == 0x7f)
			return pgr_err_set(err, "%s holds a %s (byte 0x%02x): refused", what,
					   *p == '\n' || *p == '\r' ? "line break" : "control character", *p);
		if (*p == '"' || *p == '\\')
			esc = (char)*p;
		if (o + (esc ? 2 : 1) + 2 > len)
			return pgr_err_set(err, "%s is too long to quote", what);
		if (esc) {
			out[o++] = '\\';
			out[o++] = esc;
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}
