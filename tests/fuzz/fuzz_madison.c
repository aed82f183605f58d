/*
 * fuzz_madison.c — what `apt-cache madison postgresql-NN` prints, as `versions fetch` reads it
 * (catalog/fetch.h: fetch_madison_parse, fetch_pick, fetch_list). Seeds: tests/fuzz/seeds/madison/ (the
 * listing of tests/unit/test_adopt_fetch.c and odd lines).
 *
 * Properties besides memory safety: at most FETCH_MAX_CANDIDATES candidates, each a non-empty terminated
 * Debian version listed once, its upstream version terminated and no longer than it; each upstream
 * version is picked back (the first candidate of it); the list of upstream versions holds every one of
 * them, in version order when they all parse, and never overruns its buffer.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "catalog/catalog.h"
#include "catalog/fetch.h"

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

static void check(const fetch_candidates *c)
{
	char list[FETCH_MAX_CANDIDATES * (CATALOG_VERSION_LEN + 2) + 1], small[8];
	bool all_parse = true;

	FUZZ_CHECK(c->count >= 0 && c->count <= FETCH_MAX_CANDIDATES, "%d candidates", c->count);
	for (int i = 0; i < c->count; i++) {
		const char *picked;

		FUZZ_CHECK(TERMINATED(c->debian[i]) && TERMINATED(c->upstream[i]), "candidate %d not terminated", i);
		FUZZ_CHECK(c->debian[i][0] != '\0', "candidate %d has an empty Debian version", i);
		FUZZ_CHECK(strlen(c->upstream[i]) <= strlen(c->debian[i]), "upstream \"%s\" longer than \"%s\"",
			   c->upstream[i], c->debian[i]);
		for (int j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(c->debian[i], c->debian[j]) != 0, "\"%s\" listed twice", c->debian[i]);
		picked = fetch_pick(c, c->upstream[i]);
		FUZZ_CHECK(picked != NULL, "upstream \"%s\" is not picked back", c->upstream[i]);
		for (int j = 0; j < c->count; j++)
			if (strcmp(c->upstream[j], c->upstream[i]) == 0) {
				FUZZ_CHECK(picked == c->debian[j], "\"%s\": not the first candidate picked", c->upstream[i]);
				break;
			}
		{
			pg_version v;
			pgr_err ignored;

			all_parse = all_parse && pg_version_parse(c->upstream[i], &v, &ignored) == 0;
		}
	}
	fetch_list(c, list, sizeof(list));
	FUZZ_CHECK(TERMINATED(list), "the list is not terminated");
	{
		int items = c->count == 0 ? 0 : 1;
		pg_version prev = { 0, 0 };
		char copy[sizeof(list)], *save = NULL, *tok;

		for (const char *p = list; (p = strstr(p, ", ")) != NULL; p += 2)
			items++;
		/* upstream versions may hold ", " themselves: only when none does is the count exact */
		if (all_parse)
			FUZZ_CHECK(items == c->count, "%d items listed of %d: \"%s\"", items, c->count, list);
		snprintf(copy, sizeof(copy), "%s", list);
		for (tok = strtok_r(copy, ", ", &save); all_parse && tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
			pg_version v;
			pgr_err ignored;

			FUZZ_CHECK(pg_version_parse(tok, &v, &ignored) == 0, "\"%s\" listed, not a version", tok);
			FUZZ_CHECK(pg_version_compare(&prev, &v) <= 0, "\"%s\" out of order in \"%s\"", tok, list);
			prev = v;
		}
	}
	fetch_list(c, small, sizeof(small)); /* a buffer too small: cut, never overrun */
	FUZZ_CHECK(TERMINATED(small), "a cut list is not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstring(data, size);
	char package[64];
	size_t n;
	fetch_candidates c;

	memset(&c, 0x5a, sizeof(c)); /* nothing left over from before the call counts */
	fetch_madison_parse(s, "postgresql-15", &c);
	check(&c);
	/* the package the first line names, so that any package's lines are read too */
	n = strcspn(s, "|\n");
	snprintf(package, sizeof(package), "%.*s", (int)(n < sizeof(package) - 1 ? n : sizeof(package) - 1), s);
	while (strlen(package) > 0 && (package[strlen(package) - 1] == ' ' || package[strlen(package) - 1] == '\t'))
		package[strlen(package) - 1] = '\0';
	memset(&c, 0x5a, sizeof(c));
	fetch_madison_parse(s, package + strspn(package, " \t"), &c);
	check(&c);
	free(s);
	return 0;
}
