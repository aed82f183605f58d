#include "util/text.h"

#include <string.h>

/* How many bytes the character that starts with byte lead takes (1 for a stray continuation byte). */
static size_t utf8_width(unsigned char lead)
{
	if ((lead & 0xE0) == 0xC0)
		return 2;
	if ((lead & 0xF0) == 0xE0)
		return 3;
	if ((lead & 0xF8) == 0xF0)
		return 4;
	return 1;
}

bool text_copy(char *out, size_t len, const char *src)
{
	size_t n = strlen(src), start;

	if (n < len) {
		memcpy(out, src, n + 1);
		return true;
	}
	n = len - 1;
	memcpy(out, src, n);
	/* the last character's first byte: back over continuation bytes (10xxxxxx) */
	start = n;
	while (start > 0 && ((unsigned char)out[start - 1] & 0xC0) == 0x80)
		start--;
	if (start > 0 && start - 1 + utf8_width((unsigned char)out[start - 1]) > n)
		n = start - 1; /* its lead byte's character does not fit whole: cut before it */
	out[n] = '\0';
	return false;
}
