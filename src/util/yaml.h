/*
 * yaml.h — writing values into the YAML files pgrefresh generates (patroni.yml): every text value is
 * emitted as a YAML double-quoted scalar, so a path with a quote, a colon, a '#', braces or a leading
 * dash stays one string. Line breaks and other control characters are refused: no file pgrefresh
 * writes needs them, and a path holding one is a mistake to report, not to encode.
 * Pure: no I/O. (A hand-written escaper: the only YAML pgrefresh writes is this one shape, and libyaml's
 * emitter would add a dependency for ~30 lines of escaping.)
 */
#ifndef PGR_UTIL_YAML_H
#define PGR_UTIL_YAML_H

#include <stddef.h>

#include "util/err.h"

/* Writes s as a double-quoted YAML scalar (with the quotes) into out. Fails when s holds a control
 * character (naming it and what) or when out is too small. */
int yaml_quote(const char *what, const char *s, char *out, size_t len, pgr_err *err) __attribute__((warn_unused_result));

#endif
