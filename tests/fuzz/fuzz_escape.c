/* libFuzzer harness for pt_escape: for any bytes and any output size, the result is
 * NUL-terminated within its buffer, valid UTF-8, free of every hostile code point, and, when
 * nothing was cut, decodes back to the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/escape.h"

/* Reverses pt_escape; returns the decoded length, or (size_t)-1 on a malformed escape. */
static size_t unescape(const char *s, uint8_t *out)
{
	size_t o = 0;

	while (*s) {
		if (*s != '\\') {
			out[o++] = (uint8_t)*s++;
			continue;
		}
		s++;
		switch (*s) {
		case '\\': out[o++] = '\\'; s++; break;
		case 'n': out[o++] = '\n'; s++; break;
		case 'r': out[o++] = '\r'; s++; break;
		case 't': out[o++] = '\t'; s++; break;
		case 'x': {
			char h[3] = { s[1], s[2], 0 };

			if (!h[0] || !h[1])
				return (size_t)-1;
			out[o++] = (uint8_t)strtoul(h, NULL, 16);
			s += 3;
			break;
		}
		case 'u': {
			char h[5] = { s[1], s[2], s[3], s[4], 0 };
			unsigned long cp = strtoul(h, NULL, 16);

			if (strlen(h) != 4)
				return (size_t)-1;
			if (cp < 0x80) {
				out[o++] = (uint8_t)cp;
			} else if (cp < 0x800) {
				out[o++] = (uint8_t)(0xc0 | cp >> 6);
				out[o++] = (uint8_t)(0x80 | (cp & 0x3f));
			} else {
				out[o++] = (uint8_t)(0xe0 | cp >> 12);
				out[o++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (uint8_t)(0x80 | (cp & 0x3f));
			}
			s += 5;
			break;
		}
		default:
			return (size_t)-1;
		}
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap, len, i;
	char *out;
	uint8_t *back;
	uint32_t cp;

	if (size < 1)
		return 0;
	cap = (size_t)data[0] * 4 + 5;    /* from tiny (5: the marker and NUL) to 1025 */
	data++, size--;
	out = malloc(cap);
	back = malloc(cap * 3 + 1);
	if (!out || !back)
		abort();
	pt_escape(out, cap, data, size);
	len = strnlen(out, cap);
	if (len == cap)
		abort();                       /* not terminated */
	for (i = 0; i < len;) {
		size_t l = pt_utf8_decode((const uint8_t *)out + i, len - i, &cp);

		if (!l || pt_codepoint_is_hostile(cp))
			abort();
		i += l;
	}
	if (!pt_str_is_clean(out, len))
		abort();
	if (len < sizeof(PT_ESCAPE_TRUNC) - 1 ||
	    strcmp(out + len - (sizeof(PT_ESCAPE_TRUNC) - 1), PT_ESCAPE_TRUNC)) {
		/* nothing was cut: it reads back to exactly the input */
		size_t n = unescape(out, back);

		if (n != size || (size && memcmp(back, data, size)))
			abort();
	}
	free(out);
	free(back);
	return 0;
}
