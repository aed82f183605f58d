/*
 * fixture.h — the unit tests' one loader of captured inputs (tests/fixtures/...): the whole file as a
 * NUL-terminated heap string (the caller frees it), or the test fails naming the path. Include after
 * cmocka.h. Paths are relative to the repository root, where `make unit` runs the tests.
 */
#ifndef PGR_TESTS_UNIT_FIXTURE_H
#define PGR_TESTS_UNIT_FIXTURE_H

#include <stdio.h>

#include "util/fileutil.h"

static inline char *fixture_load(const char *dir, const char *name)
{
	char path[1024];
	char *data = NULL;
	pgr_err err = { 0 };

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		fail_msg("fixture path too long: %s/%s", dir, name);
	if (file_read_all(path, &data, NULL, &err) != 0)
		fail_msg("fixture %s: %s (run from the repository root)", path, err.msg);
	return data;
}

#endif
