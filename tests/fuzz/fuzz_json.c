/* libFuzzer harness for the CLI's JSON reader: any bytes either parse or are refused; a parsed
 * document's tokens lie inside the input, nest properly, and every accessor stays in bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/escape.h"
#include "proctrail/jsonread.h"

static void walk(const struct pt_jr *d, int tok, int depth)
{
	char buf[64];
	uint64_t u;
	int64_t i;
	size_t n;
	const char *raw;

	if (depth > PT_JR_DEPTH_MAX + 1)
		abort();
	if (d->tok[tok].end > d->len || d->tok[tok].start > d->tok[tok].end ||
	    d->tok[tok].next <= (uint32_t)tok || d->tok[tok].next > d->ntok)
		abort();
	raw = pt_jr_raw(d, tok, &n);
	if (raw < d->src || raw + n > d->src + d->len)
		abort();
	pt_jr_text(d, tok, buf, sizeof(buf));
	pt_jr_u64(d, tok, &u);
	pt_jr_i64(d, tok, &i);
	pt_jr_bool(d, tok);
	if (d->tok[tok].type == PT_JR_OBJECT) {
		pt_jr_get(d, tok, "a");
		pt_jr_path(d, tok, "a.b.c");
	}
	if (d->tok[tok].type >= PT_JR_ARRAY) {
		uint32_t k = 0;
		int step = d->tok[tok].type == PT_JR_OBJECT ? 2 : 1;

		for (int e = pt_jr_first(d, tok); e >= 0 && e < (int)d->tok[tok].next; k++) {
			if (step == 2) {
				if (d->tok[e].type != PT_JR_STRING)
					abort();
				walk(d, e, depth + 1);
				e = (int)d->tok[e].next;
			}
			walk(d, e, depth + 1);
			e = (int)d->tok[e].next;
		}
		if (k != d->tok[tok].count || d->tok[tok].next != d->tok[tok].next)
			abort();
		pt_jr_index(d, tok, k ? k - 1 : 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_jr d;
	char *copy = malloc(size ? size : 1);

	if (!copy)
		abort();
	memcpy(copy, data, size);   /* an exact-size copy: ASan sees any read past the end */
	if (pt_jr_parse(&d, copy, size, 4096) == 0) {
		if (!d.ntok || d.tok[0].next != d.ntok)
			abort();
		walk(&d, 0, 0);
		pt_jr_free(&d);
	} else if (d.tok) {
		abort();
	}
	free(copy);
	return 0;
}
