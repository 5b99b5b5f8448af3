#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proctrail/escape.h"
#include "json.h"
#include "proctrail/hex.h"
#include "proctrail/wire.h"

/* The formatter makes many small appends: copy directly while there is capacity (cap never
 * exceeds max), and let pt_buf_append grow and bound-check otherwise. */
static inline void put(struct pt_json *j, const void *p, size_t n)
{
	struct pt_buf *b = j->out;

	if (j->err)
		return;
	if (b->cap - b->len >= n) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		return;
	}
	j->err = pt_buf_append(b, p, n);
}

/* Decimal without printf, two digits per step: the formatter writes a dozen numbers per record. */
static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static size_t u64_dec(uint64_t v, char out[20])
{
	char tmp[20];
	size_t i = sizeof(tmp), n;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		i -= 2;
		memcpy(tmp + i, digit_pairs + 2 * r, 2);
	}
	if (v >= 10) {
		i -= 2;
		memcpy(tmp + i, digit_pairs + 2 * v, 2);
	} else {
		tmp[--i] = (char)('0' + v);
	}
	n = sizeof(tmp) - i;
	memcpy(out, tmp + i, n);
	return n;
}

static void put_dec(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

void pt_json_raw_n(struct pt_json *j, const char *s, size_t n)
{
	put(j, s, n);
}

void pt_json_comma(struct pt_json *j)
{
	if (j->need_comma)
		put(j, ",", 1);
	j->need_comma = true;
}

/* Bytes copied as they are: printable ASCII except the quote and the backslash. */
static const uint8_t plain[256] = {
	[0x20] = 1, [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7e] = 1,
};

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* How many bytes from p are plain[], eight at a time: paths and arguments are mostly plain
 * ASCII, and a branch per byte was the formatter's largest cost. A word has a byte that is not
 * plain when one is < 0x20, >= 0x7f, '"' or '\\' (each test below is exact about whether some
 * byte matches, which is all that is asked: such a word is finished byte by byte). */
static size_t plain_prefix(const unsigned char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v, q, b;

		memcpy(&v, p + i, 8);
		q = v ^ (ONES * '"');
		b = v ^ (ONES * '\\');
		if (((v | (v + ONES)) | ((v - ONES * 0x20) & ~v) | ((q - ONES) & ~q) |
		     ((b - ONES) & ~b)) & HIGHS)
			break;
	}
	while (i < n && plain[p[i]])
		i++;
	return i;
}

/* The inside of a string literal, without its quotes. */
static void string_body(struct pt_json *j, const unsigned char *p, size_t len)
{
	size_t i = 0, run = 0;

	while (i < len) {
		size_t l = plain_prefix(p + i, len - i);
		unsigned c;
		uint32_t cp;
		char esc[8];

		i += l;
		run += l;
		if (i == len)
			break;
		c = p[i];
		l = c >= 0x80 ? pt_utf8_decode(p + i, len - i, &cp) : 0;
		if (l && !pt_codepoint_is_hostile(cp)) {
			i += l;
			run += l;
			continue;
		}
		put(j, p + i - run, run);
		run = 0;
		if (l) {
			/* legal JSON, but a C1 control or a bidi override rewrites the terminal
			 * that shows it: written as an escape, which decodes to the same text */
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			put(j, esc, 6);
			i += l;
			continue;
		}
		if (c == '"')
			put(j, "\\\"", 2);
		else if (c == '\\')
			put(j, "\\\\", 2);
		else if (c == '\n')
			put(j, "\\n", 2);
		else if (c == '\t')
			put(j, "\\t", 2);
		else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(j, esc, 6);
		} else {
			put(j, "\\ufffd", 6);   /* a byte that is not UTF-8 */
		}
		i++;
	}
	put(j, p + i - run, run);
}

void pt_json_string(struct pt_json *j, const char *s, size_t len)
{
	put(j, "\"", 1);
	string_body(j, (const unsigned char *)s, len);
	put(j, "\"", 1);
}

/* Keys are the formatter's own constants (plain ASCII, nothing to escape): written as they are,
 * not scanned byte by byte like values. The fast path, when the buffer has room, is inline in
 * json.h; this is the rest (growth, bounds). */
void pt_json_key_slow(struct pt_json *j, const char *key, size_t n)
{
	pt_json_comma(j);
	put(j, "\"", 1);
	put(j, key, n);
	put(j, "\":", 2);
}

void pt_json_brace(struct pt_json *j, char brace)
{
	put(j, &brace, 1);
	j->need_comma = false;
}

void pt_json_close(struct pt_json *j, char brace)
{
	put(j, &brace, 1);
	j->need_comma = true;
}

void pt_json_u64(struct pt_json *j, uint64_t v)
{
	char num[20];

	put(j, num, u64_dec(v, num));
}

void pt_json_u64_str(struct pt_json *j, uint64_t v)
{
	char num[22];
	size_t n = u64_dec(v, num + 1);

	num[0] = '"';
	num[n + 1] = '"';
	put(j, num, n + 2);
}

void pt_json_bool(struct pt_json *j, bool v)
{
	if (v)
		put(j, "true", 4);
	else
		put(j, "false", 5);
}

void pt_json_hex(struct pt_json *j, const uint8_t *p, size_t len)
{
	char buf[2 * 64 + 2];

	if (len > 64) {
		j->err = j->err ? j->err : -EINVAL;
		return;
	}
	buf[0] = '"';
	pt_hex_encode(p, len, buf + 1);
	buf[2 * len + 1] = '"';
	put(j, buf, 2 * len + 2);
}

/* RFC 3339 in UTC with nanoseconds, "2026-11-25T08:27:32.406918762Z". The civil date comes
 * from H. Hinnant's days-to-civil algorithm: no gmtime_r/snprintf on the hot path. A u64 of
 * nanoseconds ends in 2554, so the year always has four digits. */
void pt_json_time(struct pt_json *j, uint64_t ns)
{
	/* the date of the last time written, per thread: a record's times are nearly always of
	 * one day, and the calendar arithmetic was most of the cost */
	static __thread uint64_t memo_days = UINT64_MAX;
	static __thread char memo_date[10];
	uint64_t secs = ns / 1000000000u, days = secs / 86400u, sod = secs % 86400u;
	char q[32], *buf = q + 1;

	if (days != memo_days) {
		uint64_t z = days + 719468u, era = z / 146097u, doe = z - era * 146097u;
		uint64_t yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
		uint64_t doy = doe - (365u * yoe + yoe / 4u - yoe / 100u), mp = (5u * doy + 2u) / 153u;
		unsigned d = (unsigned)(doy - (153u * mp + 2u) / 5u + 1u);
		unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
		unsigned y = (unsigned)(yoe + era * 400u + (m <= 2));

		put_dec(memo_date, y, 4);
		memo_date[4] = '-';
		put_dec(memo_date + 5, m, 2);
		memo_date[7] = '-';
		put_dec(memo_date + 8, d, 2);
		memo_days = days;
	}
	q[0] = '"';
	memcpy(buf, memo_date, 10);
	buf[10] = 'T';
	memcpy(buf + 11, digit_pairs + 2 * (sod / 3600u), 2);
	buf[13] = ':';
	memcpy(buf + 14, digit_pairs + 2 * (sod / 60u % 60u), 2);
	buf[16] = ':';
	memcpy(buf + 17, digit_pairs + 2 * (sod % 60u), 2);
	buf[19] = '.';
	put_dec(buf + 20, (unsigned)(ns % 1000000000u), 9);
	buf[29] = 'Z';
	q[31] = '"';
	put(j, q, sizeof(q));
}

void pt_json_elem_str(struct pt_json *j, const char *s, size_t len)
{
	pt_json_comma(j);
	pt_json_string(j, s, len);
}

void pt_json_argv(struct pt_json *j, const char *argv, size_t len)
{
	size_t i = 0;

	pt_json_brace(j, '[');
	while (argv && i < len) {
		const char *z = memchr(argv + i, '\0', len - i);
		size_t l = z ? (size_t)(z - (argv + i)) : len - i;

		pt_json_elem_str(j, argv + i, l);
		i += l + 1;
	}
	pt_json_close(j, ']');
}

/* Escaped entry by entry: a NUL is never part of a UTF-8 sequence, so the result is the escape
 * of the joined text (a sequence cut by a NUL is invalid either way). */
void pt_json_joined(struct pt_json *j, const char *argv, size_t len)
{
	size_t i = 0;

	if (!argv)
		len = 0;
	if (len > PT_ARGV_MAX)
		len = PT_ARGV_MAX;
	if (len && argv[len - 1] == '\0')
		len--;
	put(j, "\"", 1);
	while (i < len) {
		const char *z = memchr(argv + i, '\0', len - i);
		size_t l = z ? (size_t)(z - (argv + i)) : len - i;

		string_body(j, (const unsigned char *)argv + i, l);
		i += l;
		if (z) {
			put(j, " ", 1);
			i++;
		}
	}
	put(j, "\"", 1);
}
