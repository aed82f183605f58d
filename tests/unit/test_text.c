/* util/text: text_copy cuts at a whole character (a cut UTF-8 sequence made jansson drop the field: the
 * unit record fuzzer's "unit record has no \"unit\"", CI of integ3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "state/unit_record.h"
#include "util/text.h"

static void test_text_copy(void **state)
{
	static const struct {
		const char *src;
		size_t len;
		const char *want;
		bool fitted;
	} cases[] = {
		{ "pg/0", 8, "pg/0", true },
		{ "pg/0", 5, "pg/0", true },
		{ "pg/01", 5, "pg/0", false },
		{ "ab\xc3\xa9", 5, "ab\xc3\xa9", true },         /* é whole */
		{ "ab\xc3\xa9", 4, "ab", false },                /* é cut after its lead byte: dropped */
		{ "a\xe2\x82\xac", 4, "a", false },              /* € (3 bytes) cut after 2 */
		{ "a\xe2\x82\xac", 5, "a\xe2\x82\xac", true },
		{ "\xf0\x9f\x98\x80z", 5, "\xf0\x9f\x98\x80", false }, /* 4-byte character whole, z cut */
		{ "\xf0\x9f\x98\x80", 4, "", false },
		{ "", 1, "", true },
		{ "x", 1, "", false },
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool fitted = text_copy(out, cases[i].len, cases[i].src);

		assert_string_equal(out, cases[i].want);
		assert_int_equal(fitted, cases[i].fitted);
	}
}

/* the fuzzer's input: a unit name longer than the record holds, with a 2-byte character at the cut */
static void test_unit_record_long_name_round_trip(void **state)
{
	static const char input[] = "{\"unit\":\"pg/012345678912345678901234567\xc7\x88" "9\",\":\":5}";
	unit_record rec, again;
	char *json = NULL;
	pgr_err err;

	(void)state;
	memset(&err, 0, sizeof(err));
	assert_int_equal(unit_record_parse(input, &rec, &err), 0);
	assert_int_equal(unit_record_to_json(&rec, &json, &err), 0);
	assert_int_equal(unit_record_parse(json, &again, &err), 0);
	assert_string_equal(again.unit, rec.unit);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_copy),
		cmocka_unit_test(test_unit_record_long_name_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
