/*
 * json.c - what the JSON writers (plan_json.c, send.c) share about text:
 * which bytes are UTF-8 and may pass through.  Pure.
 */
#include <stdint.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
size_t
json_utf8_length(const unsigned char *s)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	n = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
	cp = s[0] & (0x7F >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}
