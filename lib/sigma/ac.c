/* Aho-Corasick automaton over the folded literals of every rule: one pass over a field finds
 * every literal in it, whatever the number of rules. Transitions are a dense table over a
 * compressed alphabet (the bytes literals use, plus one class for every other byte), so a step
 * is one load; outputs are chained through dictionary suffix links. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sigma-int.h"

struct sg_ac {
	uint8_t cls[256];       /* byte -> class; 0 is "no literal uses it" */
	uint32_t nclass;
	uint32_t nstates;
	uint32_t *delta;        /* nstates * nclass */
	int32_t *out;           /* per state: literal ending here, -1 none */
	uint32_t *dict;         /* per state: next state on the fail chain with an output, 0 none */
};

/* Build-time trie with sparse children: a child list per state. */
struct node {
	uint32_t first_child, next_sibling;
	uint8_t cls;
};

static int child(const struct node *t, uint32_t s, uint8_t c, uint32_t *to)
{
	uint32_t k;

	for (k = t[s].first_child; k; k = t[k].next_sibling)
		if (t[k].cls == c) {
			*to = k;
			return 1;
		}
	return 0;
}

int sg_ac_build(struct sg_ac **out, char *const *lits, const uint32_t *lens, size_t n)
{
	struct sg_ac *ac = calloc(1, sizeof(*ac));
	struct node *t = NULL;
	uint32_t *fail = NULL, *queue = NULL;
	size_t total = 1, i, j;
	uint32_t ns = 1, qh = 0, qt = 0, c;
	int ret = -ENOMEM;

	if (!ac)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		total += lens[i];
		for (j = 0; j < lens[i]; j++)
			ac->cls[(uint8_t)lits[i][j]] = 1;
	}
	ac->nclass = 1;
	for (i = 0; i < 256; i++)
		if (ac->cls[i])
			ac->cls[i] = (uint8_t)ac->nclass++;
	if (total > UINT32_MAX / ac->nclass)
		goto out;
	t = calloc(total, sizeof(*t));
	ac->out = malloc(total * sizeof(*ac->out));
	if (!t || !ac->out)
		goto out;
	for (i = 0; i < total; i++)
		ac->out[i] = -1;
	for (i = 0; i < n; i++) {
		uint32_t s = 0, to;

		for (j = 0; j < lens[i]; j++) {
			uint8_t k = ac->cls[(uint8_t)lits[i][j]];

			if (!child(t, s, k, &to)) {
				to = ns++;
				t[to].cls = k;
				t[to].next_sibling = t[s].first_child;
				t[s].first_child = to;
			}
			s = to;
		}
		/* equal literals are deduplicated by the caller; keep the first */
		if (ac->out[s] < 0)
			ac->out[s] = (int32_t)i;
	}
	ac->nstates = ns;
	ac->delta = calloc((size_t)ns * ac->nclass, sizeof(*ac->delta));
	ac->dict = calloc(ns, sizeof(*ac->dict));
	fail = calloc(ns, sizeof(*fail));
	queue = malloc(ns * sizeof(*queue));
	if (!ac->delta || !ac->dict || !fail || !queue)
		goto out;
	/* BFS: delta(s, c) = child, or delta(fail(s), c). */
	for (c = 0; c < ac->nclass; c++) {
		uint32_t to;

		if (child(t, 0, (uint8_t)c, &to)) {
			ac->delta[c] = to;
			fail[to] = 0;
			queue[qt++] = to;
		}
	}
	while (qh < qt) {
		uint32_t s = queue[qh++], f = fail[s];

		ac->dict[s] = ac->out[f] >= 0 ? f : ac->dict[f];
		for (c = 0; c < ac->nclass; c++) {
			uint32_t to;

			if (child(t, s, (uint8_t)c, &to)) {
				fail[to] = ac->delta[(size_t)f * ac->nclass + c];
				ac->delta[(size_t)s * ac->nclass + c] = to;
				queue[qt++] = to;
			} else {
				ac->delta[(size_t)s * ac->nclass + c] =
					ac->delta[(size_t)f * ac->nclass + c];
			}
		}
	}
	*out = ac;
	ac = NULL;
	ret = 0;
out:
	free(t);
	free(fail);
	free(queue);
	sg_ac_free(ac);
	return ret;
}

void sg_ac_free(struct sg_ac *ac)
{
	if (!ac)
		return;
	free(ac->delta);
	free(ac->out);
	free(ac->dict);
	free(ac);
}

size_t sg_ac_states(const struct sg_ac *ac)
{
	return ac ? ac->nstates : 0;
}

void sg_ac_scan(const struct sg_ac *ac, const char *p, size_t len,
		void (*hit)(void *ctx, uint32_t lit), void *ctx)
{
	uint32_t s = 0, nc = ac->nclass, k;
	size_t i;

	for (i = 0; i < len; i++) {
		s = ac->delta[(size_t)s * nc + ac->cls[(uint8_t)p[i]]];
		if (ac->out[s] >= 0)
			hit(ctx, (uint32_t)ac->out[s]);
		for (k = ac->dict[s]; k; k = ac->dict[k])
			hit(ctx, (uint32_t)ac->out[k]);
	}
}
