#include <errno.h>
#include <string.h>

#include "proctrail/hex.h"

int pt_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void pt_hex_encode(const uint8_t *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

int pt_hex_decode(const char *text, size_t textlen, uint8_t *out, size_t outlen)
{
	if (textlen != 2 * outlen)
		return -EINVAL;
	for (size_t i = 0; i < textlen; i++)
		if (pt_hex_digit((unsigned char)text[i]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < outlen; i++) {
		unsigned hi = (unsigned)pt_hex_digit((unsigned char)text[2 * i]);
		unsigned lo = (unsigned)pt_hex_digit((unsigned char)text[2 * i + 1]);

		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
