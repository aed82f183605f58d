/*
 * fuzz_version.c — version strings (catalog/catalog.h): pg_version_parse (versions typed by users and
 * named by catalog directories) and pg_version_from_output (the first line of `postgres --version`).
 * Seeds: tests/fuzz/seeds/version/ (the cases of tests/unit/test_catalog.c).
 *
 * Properties besides memory safety: a failure has a message and leaves the version untouched; a parsed
 * version is in range (major 10..999, minor 0..9999), formats back to exactly the text it came from
 * (the grammar is canonical: no sign, no blank, no leading zero) and fits CATALOG_VERSION_LEN; a version
 * read from --version output is a whole word of its first line; comparison is a total order.
 */
#include "fuzz.h"

#include "catalog/catalog.h"

static int sign(int v)
{
	return v < 0 ? -1 : v > 0;
}

static void check_range(const pg_version *v, const char *what)
{
	FUZZ_CHECK(v->major >= 10 && v->major <= 999 && v->minor >= 0 && v->minor <= 9999, "%s: %d.%d", what,
		   v->major, v->minor);
}

/*
 * The version read is in the first line as a word of its own: after a blank, and followed by the end of
 * the line, a blank, or a vendor's ".patch". (A line cut short could end in the middle of "16.1beta1".)
 */
static int version_in_line(const char *s, const char *version)
{
	size_t n = strcspn(s, "\r\n"), vlen = strlen(version);

	for (const char *p = s; (p = strstr(p, version)) != NULL && (size_t)(p - s) + vlen <= n; p++) {
		char after = (size_t)(p - s) + vlen == n ? '\0' : p[vlen];

		if (p > s && p[-1] == ' ' && (after == '\0' || after == ' ' || after == '.'))
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);
	pg_version a = { -1, -1 }, b = { -1, -1 }, c;
	char buf[CATALOG_VERSION_LEN];
	pgr_err err = { 0 };
	int parsed, read;

	parsed = pg_version_parse(s, &a, &err) == 0;
	if (parsed) {
		check_range(&a, "pg_version_parse");
		pg_version_format(&a, buf, sizeof(buf));
		FUZZ_CHECK(strlen(buf) + 1 < sizeof(buf), "\"%s\" fills the buffer", buf);
		FUZZ_CHECK(strcmp(buf, s) == 0, "\"%s\" parsed as %d.%d, formats as \"%s\"", s, a.major, a.minor, buf);
		FUZZ_CHECK(pg_version_parse(buf, &c, &err) == 0 && pg_version_compare(&a, &c) == 0,
			   "\"%s\" does not parse back", buf);
	} else {
		FUZZ_CHECK(err.msg[0] != '\0' && a.major == -1 && a.minor == -1, "a refused version: \"%s\", %d.%d",
			   err.msg, a.major, a.minor);
	}

	err.msg[0] = '\0';
	read = pg_version_from_output(s, &b, &err) == 0;
	if (read) {
		check_range(&b, "pg_version_from_output");
		pg_version_format(&b, buf, sizeof(buf));
		FUZZ_CHECK(version_in_line(s, buf), "%s is not a whole version in the first line of \"%s\"", buf, s);
	} else {
		FUZZ_CHECK(err.msg[0] != '\0' && b.major == -1 && b.minor == -1, "refused output: \"%s\", %d.%d",
			   err.msg, b.major, b.minor);
	}

	if (parsed && read) {
		FUZZ_CHECK(sign(pg_version_compare(&a, &b)) == -sign(pg_version_compare(&b, &a)), "compare not antisymmetric");
		FUZZ_CHECK(pg_version_compare(&a, &a) == 0 && pg_version_compare(&b, &b) == 0, "compare not reflexive");
	}
	free(s);
	return 0;
}
