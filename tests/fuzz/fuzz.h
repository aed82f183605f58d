/*
 * fuzz.h — what the libFuzzer harnesses of tests/fuzz/ share: the entry point's prototype, a
 * NUL-terminated copy of the input (every parser here reads C strings), and FUZZ_CHECK, which aborts
 * with a message when a property of a parser's result does not hold, so that libFuzzer records the
 * input as a crash just as it does for a sanitizer report.
 *
 * A harness is one .c file with LLVMFuzzerTestOneInput and no main(); it links against the library
 * objects (src/ without main.c), built with -fsanitize=fuzzer-no-link,address,undefined (make fuzz).
 */
#ifndef PGR_TESTS_FUZZ_FUZZ_H
#define PGR_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a heap C string (it ends at the first NUL byte, as a C caller would see it). */
static inline char *fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#define FUZZ_CHECK(cond, ...)                                                                                \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "fuzz: property failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
			fprintf(stderr, __VA_ARGS__);                                                        \
			fputc('\n', stderr);                                                                 \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

#endif
