/*
 * text.h — copying text into fixed buffers without cutting a character in two.
 */
#ifndef PGR_UTIL_TEXT_H
#define PGR_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Copies src (UTF-8) into out (len > 0 bytes), cut at the last whole character that fits, so that what
 * was cut is still valid UTF-8 (a string jansson refuses to write back would vanish from a record).
 * Returns true when all of src fitted. Pure. */
bool text_copy(char *out, size_t len, const char *src);

#endif
