#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pgr_err_clear(pgr_err *err)
{
	if (err == NULL)
		return;
	err->msg[0] = '\0';
	err->hint[0] = '\0';
}

int pgr_err_set(pgr_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int pgr_err_prefix(pgr_err *err, const char *fmt, ...)
{
	char prefix[PGR_ERR_MAX];
	char old[PGR_ERR_MAX];
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -1;
}

void pgr_err_hint(pgr_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}
