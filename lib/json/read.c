/* A strict, bounded JSON tokenizer (see proctrail/jsonread.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/escape.h"
#include "proctrail/hex.h"
#include "proctrail/jsonread.h"

struct parser {
	struct pt_jr *doc;
	size_t pos;
	uint32_t max;
};

static void skip_ws(struct parser *p)
{
	while (p->pos < p->doc->len) {
		char c = p->doc->src[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int new_tok(struct parser *p, enum pt_jr_type t, uint32_t *idx)
{
	struct pt_jr *d = p->doc;

	if (d->ntok >= p->max)
		return -E2BIG;
	*idx = d->ntok++;
	d->tok[*idx] = (struct pt_jr_tok){ .type = (uint8_t)t, .start = (uint32_t)p->pos };
	return 0;
}

/* p->pos at the opening quote. Checks escapes and that the raw bytes are UTF-8 without
 * unescaped controls. */
static int parse_string(struct parser *p)
{
	const struct pt_jr *d = p->doc;
	uint32_t idx;
	int ret;

	p->pos++;
	if ((ret = new_tok(p, PT_JR_STRING, &idx)))
		return ret;
	while (p->pos < d->len) {
		unsigned char c = (unsigned char)d->src[p->pos];
		uint32_t cp;
		size_t l;

		if (c == '"') {
			p->doc->tok[idx].end = (uint32_t)p->pos;
			p->doc->tok[idx].next = d->ntok;
			p->pos++;
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c == '\\') {
			p->doc->tok[idx].escaped = 1;
			if (p->pos + 1 >= d->len)
				return -EINVAL;
			c = (unsigned char)d->src[p->pos + 1];
			if (c == 'u') {
				if (p->pos + 6 > d->len)
					return -EINVAL;
				for (int i = 2; i < 6; i++)
					if (pt_hex_digit(d->src[p->pos + i]) < 0)
						return -EINVAL;
				p->pos += 6;
			} else if (strchr("\"\\/bfnrt", c) && c) {
				p->pos += 2;
			} else {
				return -EINVAL;
			}
			continue;
		}
		if (c < 0x80) {
			p->pos++;
			continue;
		}
		l = pt_utf8_decode((const uint8_t *)d->src + p->pos, d->len - p->pos, &cp);
		if (!l)
			return -EINVAL;
		p->pos += l;
	}
	return -EINVAL;
}

static int parse_number(struct parser *p)
{
	const struct pt_jr *d = p->doc;
	uint32_t idx;
	size_t s;
	int ret;

	if ((ret = new_tok(p, PT_JR_NUMBER, &idx)))
		return ret;
#define AT(i) ((i) < d->len ? d->src[i] : '\0')
#define DIGIT(c) ((c) >= '0' && (c) <= '9')
	if (AT(p->pos) == '-')
		p->pos++;
	if (AT(p->pos) == '0') {
		p->pos++;
	} else if (DIGIT(AT(p->pos))) {
		while (DIGIT(AT(p->pos)))
			p->pos++;
	} else {
		return -EINVAL;
	}
	if (AT(p->pos) == '.') {
		s = ++p->pos;
		while (DIGIT(AT(p->pos)))
			p->pos++;
		if (p->pos == s)
			return -EINVAL;
	}
	if (AT(p->pos) == 'e' || AT(p->pos) == 'E') {
		p->pos++;
		if (AT(p->pos) == '+' || AT(p->pos) == '-')
			p->pos++;
		s = p->pos;
		while (DIGIT(AT(p->pos)))
			p->pos++;
		if (p->pos == s)
			return -EINVAL;
	}
#undef DIGIT
#undef AT
	p->doc->tok[idx].end = (uint32_t)p->pos;
	p->doc->tok[idx].next = d->ntok;
	return 0;
}

static int parse_word(struct parser *p, const char *w, enum pt_jr_type t)
{
	size_t n = strlen(w);
	uint32_t idx;
	int ret;

	if (p->doc->len - p->pos < n || memcmp(p->doc->src + p->pos, w, n))
		return -EINVAL;
	if ((ret = new_tok(p, t, &idx)))
		return ret;
	p->pos += n;
	p->doc->tok[idx].end = (uint32_t)p->pos;
	p->doc->tok[idx].next = p->doc->ntok;
	return 0;
}

static int parse_value(struct parser *p, int depth);

static int parse_container(struct parser *p, int depth, bool object)
{
	const char close = object ? '}' : ']';
	uint32_t idx, count = 0;
	int ret;

	if (depth >= PT_JR_DEPTH_MAX)
		return -E2BIG;
	if ((ret = new_tok(p, object ? PT_JR_OBJECT : PT_JR_ARRAY, &idx)))
		return ret;
	p->pos++;
	skip_ws(p);
	if (p->pos < p->doc->len && p->doc->src[p->pos] == close) {
		p->pos++;
		goto done;
	}
	for (;;) {
		skip_ws(p);
		if (object) {
			if (p->pos >= p->doc->len || p->doc->src[p->pos] != '"')
				return -EINVAL;
			if ((ret = parse_string(p)))
				return ret;
			skip_ws(p);
			if (p->pos >= p->doc->len || p->doc->src[p->pos] != ':')
				return -EINVAL;
			p->pos++;
		}
		if ((ret = parse_value(p, depth + 1)))
			return ret;
		count++;
		skip_ws(p);
		if (p->pos >= p->doc->len)
			return -EINVAL;
		if (p->doc->src[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->doc->src[p->pos] != close)
			return -EINVAL;
		p->pos++;
		break;
	}
done:
	p->doc->tok[idx].end = (uint32_t)p->pos;
	p->doc->tok[idx].next = p->doc->ntok;
	p->doc->tok[idx].count = count;
	return 0;
}

static int parse_value(struct parser *p, int depth)
{
	skip_ws(p);
	if (p->pos >= p->doc->len)
		return -EINVAL;
	switch (p->doc->src[p->pos]) {
	case '{': return parse_container(p, depth, true);
	case '[': return parse_container(p, depth, false);
	case '"': return parse_string(p);
	case 't': return parse_word(p, "true", PT_JR_TRUE);
	case 'f': return parse_word(p, "false", PT_JR_FALSE);
	case 'n': return parse_word(p, "null", PT_JR_NULL);
	default: return parse_number(p);
	}
}

int pt_jr_parse(struct pt_jr *doc, const char *src, size_t len, uint32_t max_tokens)
{
	struct parser p = { .doc = doc, .max = max_tokens };
	size_t cap = max_tokens;
	int ret;

	*doc = (struct pt_jr){ .src = src, .len = len };
	if (len >= UINT32_MAX || !max_tokens)
		return -E2BIG;
	/* a token takes at least one input byte: no need to allocate more than the input */
	if (cap > len + 1)
		cap = len + 1;
	p.max = (uint32_t)cap;
	doc->tok = calloc(cap, sizeof(*doc->tok));
	if (!doc->tok)
		return -ENOMEM;
	ret = parse_value(&p, 0);
	if (!ret) {
		skip_ws(&p);
		if (p.pos != len)
			ret = -EINVAL;
	}
	if (ret) {
		pt_jr_free(doc);
		doc->src = src, doc->len = len;
	}
	return ret;
}

void pt_jr_free(struct pt_jr *doc)
{
	if (!doc)
		return;
	free(doc->tok);
	doc->tok = NULL;
	doc->ntok = 0;
}

static bool valid(const struct pt_jr *doc, int tok)
{
	return doc && tok >= 0 && (uint32_t)tok < doc->ntok;
}

int pt_jr_first(const struct pt_jr *doc, int tok)
{
	if (!valid(doc, tok) || doc->tok[tok].type < PT_JR_ARRAY || !doc->tok[tok].count)
		return -1;
	return tok + 1;
}

/* Whether the string at tok decodes to exactly key. */
static bool key_eq(const struct pt_jr *doc, int tok, const char *key, size_t klen)
{
	const struct pt_jr_tok *t = &doc->tok[tok];
	char buf[256];
	int n;

	if (!t->escaped)
		return t->end - t->start == klen && !memcmp(doc->src + t->start, key, klen);
	if (klen >= sizeof(buf))
		return false;
	n = pt_jr_text(doc, tok, buf, sizeof(buf));
	return n >= 0 && (size_t)n == klen && !memcmp(buf, key, klen);
}

static int get_n(const struct pt_jr *doc, int obj, const char *key, size_t klen)
{
	int k;
	uint32_t i;

	if (!valid(doc, obj) || doc->tok[obj].type != PT_JR_OBJECT)
		return -1;
	for (i = 0, k = obj + 1; i < doc->tok[obj].count; i++) {
		int v = k + 1;

		if (key_eq(doc, k, key, klen))
			return v;
		k = (int)doc->tok[v].next;
	}
	return -1;
}

int pt_jr_get(const struct pt_jr *doc, int obj, const char *key)
{
	return get_n(doc, obj, key, strlen(key));
}

int pt_jr_path(const struct pt_jr *doc, int obj, const char *path)
{
	int v = pt_jr_get(doc, obj, path);

	/* then each dotted prefix that names a member, with the rest looked up below it */
	for (const char *dot = strchr(path, '.'); v < 0 && dot; dot = strchr(dot + 1, '.')) {
		int o = get_n(doc, obj, path, (size_t)(dot - path));

		if (o >= 0)
			v = pt_jr_path(doc, o, dot + 1);
	}
	return v;
}

int pt_jr_index(const struct pt_jr *doc, int arr, uint32_t i)
{
	int e;

	if (!valid(doc, arr) || doc->tok[arr].type != PT_JR_ARRAY || i >= doc->tok[arr].count)
		return -1;
	for (e = arr + 1; i; i--)
		e = (int)doc->tok[e].next;
	return e;
}

const char *pt_jr_raw(const struct pt_jr *doc, int tok, size_t *len)
{
	const struct pt_jr_tok *t;
	uint32_t s, e;

	if (!valid(doc, tok)) {
		*len = 0;
		return NULL;
	}
	t = &doc->tok[tok];
	s = t->start, e = t->end;
	if (t->type == PT_JR_STRING)
		s--, e++;
	*len = e - s;
	return doc->src + s;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t hex4(const char *s)
{
	return (uint32_t)(pt_hex_digit(s[0]) << 12 | pt_hex_digit(s[1]) << 8 | pt_hex_digit(s[2]) << 4 | pt_hex_digit(s[3]));
}

int pt_jr_text(const struct pt_jr *doc, int tok, char *out, size_t cap)
{
	const struct pt_jr_tok *t;
	const char *s;
	size_t i, o = 0;

	if (!cap)
		return -EMSGSIZE;
	out[0] = '\0';
	if (!valid(doc, tok))
		return -ENOENT;
	t = &doc->tok[tok];
	if (t->type >= PT_JR_ARRAY)
		return -EINVAL;
	s = doc->src;
	for (i = t->start; i < t->end;) {
		char u[4];
		size_t ul, used;

		if (t->type != PT_JR_STRING || s[i] != '\\') {
			u[0] = s[i], ul = 1, used = 1;
		} else {
			char c = s[i + 1];

			used = 2, ul = 1;
			switch (c) {
			case 'b': u[0] = '\b'; break;
			case 'f': u[0] = '\f'; break;
			case 'n': u[0] = '\n'; break;
			case 'r': u[0] = '\r'; break;
			case 't': u[0] = '\t'; break;
			case 'u': {
				uint32_t cp = hex4(s + i + 2);

				used = 6;
				if (cp >= 0xd800 && cp <= 0xdbff && i + 12 <= t->end && s[i + 6] == '\\' &&
				    s[i + 7] == 'u') {
					uint32_t lo = hex4(s + i + 8);

					if (lo >= 0xdc00 && lo <= 0xdfff) {
						cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						used = 12;
					}
				}
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xfffd;   /* a lone surrogate */
				ul = put_utf8(u, cp);
				break;
			}
			default: u[0] = c; break;   /* " \ / */
			}
		}
		if (o + ul + 1 > cap) {
			out[o] = '\0';
			return -EMSGSIZE;
		}
		memcpy(out + o, u, ul);
		o += ul;
		i += used;
	}
	out[o] = '\0';
	return (int)o;
}

int pt_jr_u64(const struct pt_jr *doc, int tok, uint64_t *v)
{
	const struct pt_jr_tok *t;
	uint64_t x = 0;

	if (!valid(doc, tok))
		return -ENOENT;
	t = &doc->tok[tok];
	if (t->type != PT_JR_NUMBER || doc->src[t->start] == '-')
		return -EINVAL;
	for (uint32_t i = t->start; i < t->end; i++) {
		unsigned d = (unsigned char)doc->src[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int pt_jr_i64(const struct pt_jr *doc, int tok, int64_t *v)
{
	const struct pt_jr_tok *t;
	uint64_t x = 0, lim = INT64_MAX;
	uint32_t i;
	bool neg;

	if (!valid(doc, tok))
		return -ENOENT;
	t = &doc->tok[tok];
	if (t->type != PT_JR_NUMBER)
		return -EINVAL;
	neg = doc->src[t->start] == '-';
	if (neg)
		lim = (uint64_t)INT64_MAX + 1;
	for (i = t->start + neg; i < t->end; i++) {
		unsigned d = (unsigned char)doc->src[i] - '0';

		if (d > 9 || x > (lim - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*v = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 0;
}

int pt_jr_bool(const struct pt_jr *doc, int tok)
{
	if (!valid(doc, tok))
		return -EINVAL;
	if (doc->tok[tok].type == PT_JR_TRUE)
		return 1;
	return doc->tok[tok].type == PT_JR_FALSE ? 0 : -EINVAL;
}

size_t pt_jr_cell(const struct pt_jr *doc, int tok, char *out, size_t cap)
{
	int n;

	if (!cap)
		return 0;
	n = pt_jr_text(doc, tok, out, cap);
	if (n == -EMSGSIZE)
		return strlen(out);
	if (n < 0 || doc->tok[tok].type == PT_JR_NULL) {
		out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

size_t pt_jr_join(const struct pt_jr *doc, int arr, const char *sep, char *out, size_t cap)
{
	size_t n = 0, seplen = strlen(sep);

	if (!cap)
		return 0;
	out[0] = '\0';
	if (!valid(doc, arr) || doc->tok[arr].type != PT_JR_ARRAY)
		return 0;
	for (uint32_t i = 0, e = (uint32_t)pt_jr_first(doc, arr); i < doc->tok[arr].count;
	     e = doc->tok[e].next, i++) {
		int l;

		if (n && n + seplen < cap) {
			memcpy(out + n, sep, seplen);
			n += seplen;
		}
		l = pt_jr_text(doc, (int)e, out + n, cap - n);
		if (l < 0) {
			n = strlen(out);   /* what fitted */
			break;
		}
		n += (size_t)l;
	}
	out[n < cap ? n : cap - 1] = '\0';
	return strlen(out);
}
