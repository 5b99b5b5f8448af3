/* Escaping peer strings for display (see proctrail/escape.h). Hand-written: the few lines
 * of strict UTF-8 decoding needed here are not worth a dependency (libunistring, ICU). */
#include <stdio.h>
#include <string.h>

#include "proctrail/escape.h"

size_t pt_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len;

	if (!n)
		return 0;
	c = p[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;   /* a continuation byte, 0xc0/0xc1 (always overlong), or over 0xf4 */
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

bool pt_codepoint_is_hostile(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

bool pt_str_is_clean(const void *in, size_t len)
{
	const uint8_t *p = in;
	uint32_t cp;

	for (size_t i = 0; i < len;) {
		size_t l = pt_utf8_decode(p + i, len - i, &cp);

		if (!l || pt_codepoint_is_hostile(cp))
			return false;
		i += l;
	}
	return true;
}

/* The escaped form of the unit at p (one byte, or one UTF-8 sequence) into unit[8];
 * returns its length and how many input bytes it stands for in *used. */
static size_t escape_unit(const uint8_t *p, size_t n, char unit[8], size_t *used)
{
	uint32_t cp;
	size_t l = pt_utf8_decode(p, n, &cp);

	if (!l) {
		*used = 1;
		return (size_t)snprintf(unit, 8, "\\x%02x", p[0]);
	}
	*used = l;
	if (cp == '\\')
		return (size_t)snprintf(unit, 8, "\\\\");
	if (cp == '\n')
		return (size_t)snprintf(unit, 8, "\\n");
	if (cp == '\r')
		return (size_t)snprintf(unit, 8, "\\r");
	if (cp == '\t')
		return (size_t)snprintf(unit, 8, "\\t");
	if (cp < 0x20 || cp == 0x7f)
		return (size_t)snprintf(unit, 8, "\\x%02x", (unsigned)cp);
	if (pt_codepoint_is_hostile(cp))
		return (size_t)snprintf(unit, 8, "\\u%04x", (unsigned)cp);
	memcpy(unit, p, l);
	return l;
}

static size_t escaped_len(const uint8_t *p, size_t len)
{
	size_t n = 0;

	for (size_t i = 0, used; i < len; i += used) {
		char unit[8];

		n += escape_unit(p + i, len - i, unit, &used);
	}
	return n;
}

const char *pt_escape(char *out, size_t cap, const void *in, size_t len)
{
	const uint8_t *p = in;
	const size_t trunc_len = sizeof(PT_ESCAPE_TRUNC) - 1;
	/* when the whole does not fit, the units stop early enough to leave room for the marker */
	size_t room, o = 0;
	bool cut;

	if (!cap)
		return out;
	cut = escaped_len(p, len) > cap - 1;
	room = cut ? (cap - 1 >= trunc_len ? cap - 1 - trunc_len : 0) : cap - 1;
	for (size_t i = 0, used; i < len; i += used) {
		char unit[8];
		size_t ul = escape_unit(p + i, len - i, unit, &used);

		if (o + ul > room)
			break;
		memcpy(out + o, unit, ul);
		o += ul;
	}
	if (cut && cap - 1 >= trunc_len) {
		memcpy(out + o, PT_ESCAPE_TRUNC, trunc_len);
		o += trunc_len;
	}
	out[o] = '\0';
	return out;
}
