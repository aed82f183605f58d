/*
 * err.h — one error message carried from where a failure happens to where it is shown.
 *
 * Fallible functions return 0 on success and -1 on failure, and fill a pgr_err with one line that
 * says what failed and why (errno text, HTTP status and the start of a body, SQLSTATE, the etcd key).
 * Callers may add context in front with pgr_err_prefix(); only main prints it.
 */
#ifndef PGR_UTIL_ERR_H
#define PGR_UTIL_ERR_H

#include <stddef.h>

#define PGR_ERR_MAX 1024

/* The message of the last failure; an empty msg means "no error". */
typedef struct pgr_err {
	char msg[PGR_ERR_MAX];
	char hint[256]; /* optional: the command to run next */
} pgr_err;

void pgr_err_clear(pgr_err *err);
/* Sets the message; always returns -1 so that "return pgr_err_set(...)" reads naturally. */
int pgr_err_set(pgr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Puts "context: " in front of the current message. Returns -1. */
int pgr_err_prefix(pgr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pgr_err_hint(pgr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
