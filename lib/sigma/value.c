/* Value transformations of Sigma modifiers (base64, base64offset), case folding, and the
 * glob matcher for values with `*` and `?` wildcards. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sigma-int.h"

void sg_fold(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = src[i];

		dst[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sg_base64(const uint8_t *in, size_t len, char **out, uint32_t *olen)
{
	size_t n = (len + 2) / 3 * 4, i, o = 0;
	char *p = malloc(n + 1);

	if (!p)
		return -ENOMEM;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		p[o++] = B64[v >> 18 & 63];
		p[o++] = B64[v >> 12 & 63];
		p[o++] = B64[v >> 6 & 63];
		p[o++] = B64[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		p[o++] = B64[v >> 18 & 63];
		p[o++] = B64[v >> 12 & 63];
		p[o++] = '=';
		p[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		p[o++] = B64[v >> 18 & 63];
		p[o++] = B64[v >> 12 & 63];
		p[o++] = B64[v >> 6 & 63];
		p[o++] = '=';
	}
	p[o] = 0;
	*out = p;
	*olen = (uint32_t)o;
	return 0;
}

/* The specification's algorithm: the value encoded at each of the three byte offsets in a
 * longer base64 text, keeping only the characters that do not depend on the bytes around it. */
int sg_base64offset(const uint8_t *in, size_t len, char *out[3], uint32_t olen[3])
{
	static const unsigned start[3] = { 0, 2, 3 };
	static const unsigned end_cut[3] = { 0, 3, 2 };
	int i, ret = 0;

	for (i = 0; i < 3; i++)
		out[i] = NULL;
	for (i = 0; i < 3 && !ret; i++) {
		uint8_t *buf = malloc(len + 2);
		char *e;
		uint32_t el, cut = end_cut[(len + (size_t)i) % 3];

		if (!buf)
			return -ENOMEM;
		memset(buf, ' ', (size_t)i);
		memcpy(buf + i, in, len);
		ret = sg_base64(buf, len + (size_t)i, &e, &el);
		free(buf);
		if (ret)
			break;
		if (el < start[i] + cut) {
			e[0] = 0;
			el = 0;
		} else {
			el -= cut;
			memmove(e, e + start[i], el - start[i]);
			el -= start[i];
			e[el] = 0;
		}
		out[i] = e;
		olen[i] = el;
	}
	if (ret)
		for (i = 0; i < 3; i++) {
			free(out[i]);
			out[i] = NULL;
		}
	return ret;
}

/* Iterative glob with one backtrack point: linear in practice, O(n*m) at worst, and every
 * length is bounded (PT_SIGMA_VALUE_MAX, PT_SIGMA_FIELD_MAX). */
bool sg_glob(const char *pat, size_t plen, const char *s, size_t slen)
{
	size_t p = 0, i = 0, star_p = (size_t)-1, star_i = 0;

	while (i < slen) {
		if (p < plen && pat[p] == SG_STAR) {
			star_p = ++p;
			star_i = i;
		} else if (p < plen && (pat[p] == SG_QMARK || pat[p] == s[i])) {
			p++;
			i++;
		} else if (star_p != (size_t)-1) {
			p = star_p;
			i = ++star_i;
		} else {
			return false;
		}
	}
	while (p < plen && pat[p] == SG_STAR)
		p++;
	return p == plen;
}
