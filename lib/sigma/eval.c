/* Compiling a set (the prefilter) and evaluating it on one event.
 *
 * For each rule the compiler derives a set of literals at least one of which every matching
 * event contains (in its folded fields): OR unions its sides' sets, AND keeps the smaller side,
 * NOT and values without a literal (regex, exists, null, cidr, fieldref) give "none known", and
 * such a rule is evaluated on every event. Per event, the automaton's hits mark the candidate
 * rules; only those are evaluated exactly. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sigma-int.h"

/* ---- necessary literals ---- */

static int need_add(struct sg_need *n, int lit)
{
	uint32_t i;

	for (i = 0; i < n->n; i++)
		if (n->v[i] == lit)
			return 0;
	if (n->n == n->cap) {
		uint32_t cap = n->cap ? n->cap * 2 : 8;
		int *v = reallocarray(n->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		n->v = v;
		n->cap = cap;
	}
	n->v[n->n++] = lit;
	return 0;
}

static int need_union(struct sg_need *dst, struct sg_need *src)
{
	uint32_t i;
	int ret = 0;

	if (src->any)
		dst->any = true;
	for (i = 0; i < src->n && !ret && !dst->any; i++)
		ret = need_add(dst, src->v[i]);
	free(src->v);
	memset(src, 0, sizeof(*src));
	return ret;
}

/* dst = the better of dst and src for an AND: a known set, the smaller one. */
static void need_pick(struct sg_need *dst, struct sg_need *src)
{
	if (!src->any && (dst->any || src->n < dst->n)) {
		free(dst->v);
		*dst = *src;
	} else {
		free(src->v);
	}
	memset(src, 0, sizeof(*src));
}

static int need_item(const struct sg_item *it, struct sg_need *n)
{
	uint32_t i;
	int ret = 0;

	memset(n, 0, sizeof(*n));
	if (it->all) {
		struct sg_need one = { .any = true };

		n->any = true;
		for (i = 0; i < it->n && !ret; i++) {
			struct sg_need t = { 0 };

			if (it->v[i].lit < 0)
				continue;
			if ((ret = need_add(&t, it->v[i].lit)))
				break;
			need_pick(&one, &t);
		}
		need_pick(n, &one);
		free(one.v);
		return ret;
	}
	for (i = 0; i < it->n && !ret && !n->any; i++) {
		if (it->v[i].lit < 0)
			n->any = true;
		else
			ret = need_add(n, it->v[i].lit);
	}
	return ret;
}

static int need_alt(const struct sg_alt *a, struct sg_need *n)
{
	uint32_t i;
	int ret = 0;

	memset(n, 0, sizeof(*n));
	n->any = true;
	for (i = 0; i < a->n && !ret; i++) {
		struct sg_need t;

		ret = need_item(&a->items[i], &t);
		need_pick(n, &t);
	}
	return ret;
}

static int need_sel(const struct sg_sel *s, struct sg_need *n)
{
	uint32_t i;
	int ret = 0;

	memset(n, 0, sizeof(*n));
	for (i = 0; i < s->n && !ret; i++) {
		struct sg_need t;

		if (!(ret = need_alt(&s->alts[i], &t)))
			ret = need_union(n, &t);
		else
			free(t.v);
	}
	return ret;
}

static int need_cond(const struct sg_rule *r, const struct sg_cond *c, struct sg_need *n)
{
	struct sg_need a = { 0 }, b = { 0 };
	uint32_t i;
	int ret = 0;

	memset(n, 0, sizeof(*n));
	switch (c->op) {
	case SG_OP_SEL:
		return need_sel(&r->sel[c->sel], n);
	case SG_OP_NOT:
		n->any = true;
		return 0;
	case SG_OP_OR:
	case SG_OP_AND:
		if (!(ret = need_cond(r, c->a, &a)) && !(ret = need_cond(r, c->b, &b))) {
			if (c->op == SG_OP_OR) {
				if (!(ret = need_union(n, &a)))
					ret = need_union(n, &b);
			} else {
				n->any = true;
				need_pick(n, &a);
				need_pick(n, &b);
			}
		}
		break;
	case SG_OP_ONE_OF:
		for (i = 0; i < c->nsels && !ret; i++)
			if (!(ret = need_sel(&r->sel[c->sels[i]], &a)))
				ret = need_union(n, &a);
		break;
	case SG_OP_ALL_OF:
		n->any = true;
		for (i = 0; i < c->nsels && !ret; i++)
			if (!(ret = need_sel(&r->sel[c->sels[i]], &a)))
				need_pick(n, &a);
		break;
	}
	free(a.v);
	free(b.v);
	return ret;
}

int pt_sigma_compile(struct pt_sigma_set *s)
{
	size_t i, j;
	int ret = -ENOMEM;

	if (s->compiled)
		return 0;
	if (!(s->lit_rules = calloc(s->nlits ? s->nlits : 1, sizeof(*s->lit_rules))) ||
	    !(s->lit_nrules = calloc(s->nlits ? s->nlits : 1, sizeof(*s->lit_nrules))) ||
	    !(s->unfiltered = calloc(s->n ? s->n : 1, sizeof(*s->unfiltered))) ||
	    !(s->lit_seen = calloc(s->nlits ? s->nlits : 1, sizeof(*s->lit_seen))) ||
	    !(s->rule_mark = calloc(s->n ? s->n : 1, sizeof(*s->rule_mark))) ||
	    !(s->cand = calloc(s->n ? s->n : 1, sizeof(*s->cand))) ||
	    !(s->md = pcre2_match_data_create(1, NULL)) ||
	    !(s->mctx = pcre2_match_context_create(NULL)))
		goto out;
	/* a regex that backtracks without end is stopped and counted, not waited for */
	pcre2_set_match_limit(s->mctx, 1000000);
	pcre2_set_depth_limit(s->mctx, 10000);
	for (i = 0; i < s->n; i++) {
		const struct sg_rule *r = &s->rules[i];
		uint32_t a, b, c, d;

		for (a = 0; a < r->nsel; a++)
			for (b = 0; b < r->sel[a].n; b++)
				for (c = 0; c < r->sel[a].alts[b].n; c++) {
					const struct sg_item *it = &r->sel[a].alts[b].items[c];

					s->field_used[it->field] = true;
					for (d = 0; d < it->n; d++) {
						if (it->v[d].lit >= 0)
							s->field_lit[it->field] = true;
						if (it->v[d].kind == SG_FIELDREF)
							s->field_used[it->v[d].ref] = true;
					}
				}
	}
	for (i = 0; i < s->n; i++) {
		struct sg_need n;

		if ((ret = need_cond(&s->rules[i], s->rules[i].cond, &n))) {
			free(n.v);
			goto out;
		}
		if (n.any || s->no_prefilter) {
			s->unfiltered[s->nunfiltered++] = (uint32_t)i;
		} else {
			for (j = 0; j < n.n; j++) {
				uint32_t l = (uint32_t)n.v[j], *v;

				v = reallocarray(s->lit_rules[l], s->lit_nrules[l] + 1, sizeof(*v));
				if (!v) {
					free(n.v);
					ret = -ENOMEM;
					goto out;
				}
				v[s->lit_nrules[l]++] = (uint32_t)i;
				s->lit_rules[l] = v;
			}
		}
		free(n.v);
	}
	if ((ret = sg_ac_build(&s->ac, s->lits, s->lit_len, s->nlits)))
		goto out;
	s->compiled = true;
out:
	return ret;
}

/* ---- evaluation ---- */

struct evctx {
	struct pt_sigma_set *s;
	const struct pt_sigma_event *ev;
	uint32_t len[PT_SF_MAX];
	size_t ncand;
};

static void on_hit(void *p, uint32_t lit)
{
	struct evctx *e = p;
	struct pt_sigma_set *s = e->s;
	uint32_t i;

	if (s->lit_seen[lit] == s->gen)
		return;
	s->lit_seen[lit] = s->gen;
	for (i = 0; i < s->lit_nrules[lit]; i++) {
		uint32_t r = s->lit_rules[lit][i];

		if (s->rule_mark[r] != s->gen) {
			s->rule_mark[r] = s->gen;
			s->cand[e->ncand++] = r;
		}
	}
}

static bool cidr_match(const struct sg_value *v, const char *p, uint32_t len)
{
	uint8_t a[16];
	char buf[64];
	unsigned full, rest;

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, p, len);
	buf[len] = 0;
	if (inet_pton(v->family == 4 ? AF_INET : AF_INET6, buf, a) != 1)
		return false;
	full = v->prefix / 8;
	rest = v->prefix % 8;
	if (memcmp(a, v->addr, full))
		return false;
	return !rest || !((a[full] ^ v->addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

static bool value_match(struct evctx *e, uint16_t f, const struct sg_value *v)
{
	struct pt_sigma_set *s = e->s;
	const char *raw = e->ev->f[f].ptr, *d;
	uint32_t len = e->len[f];
	int rc;

	if (!raw)
		return v->kind == SG_NULL || (v->kind == SG_EXISTS && !v->exists);
	d = v->cased ? raw : s->fold[f];
	switch (v->kind) {
	case SG_EQ:
		return len == v->len && !memcmp(d, v->s, len);
	case SG_CONTAINS:
		return !v->len || (len >= v->len && memmem(d, len, v->s, v->len));
	case SG_STARTS:
		return len >= v->len && !memcmp(d, v->s, v->len);
	case SG_ENDS:
		return len >= v->len && !memcmp(d + len - v->len, v->s, v->len);
	case SG_GLOB:
		return sg_glob(v->s, v->len, d, len);
	case SG_RE:
		rc = pcre2_match(v->re, (PCRE2_SPTR)raw, len, 0, 0, s->md, s->mctx);
		if (rc >= 0)
			return true;
		if (rc != PCRE2_ERROR_NOMATCH)
			s->st.regex_errors++;
		return false;
	case SG_EXISTS:
		return v->exists;
	case SG_NULL:
		return len == 0;
	case SG_CIDR:
		return cidr_match(v, raw, len);
	case SG_FIELDREF: {
		const char *o = e->ev->f[v->ref].ptr;
		uint32_t ol = e->len[v->ref];

		return o && ol == len && !memcmp(s->fold[f], s->fold[v->ref], len);
	}
	}
	return false;
}

static bool item_match(struct evctx *e, const struct sg_item *it)
{
	uint32_t i;

	for (i = 0; i < it->n; i++) {
		bool m = value_match(e, it->field, &it->v[i]);

		if (it->all && !m)
			return false;
		if (!it->all && m)
			return true;
	}
	return it->all;
}

static bool sel_match(struct evctx *e, const struct sg_sel *sel)
{
	uint32_t a, i;

	for (a = 0; a < sel->n; a++) {
		for (i = 0; i < sel->alts[a].n; i++)
			if (!item_match(e, &sel->alts[a].items[i]))
				break;
		if (i == sel->alts[a].n)
			return true;
	}
	return false;
}

static bool cond_match(struct evctx *e, const struct sg_rule *r, const struct sg_cond *c)
{
	uint32_t i;

	switch (c->op) {
	case SG_OP_SEL:
		return sel_match(e, &r->sel[c->sel]);
	case SG_OP_AND:
		return cond_match(e, r, c->a) && cond_match(e, r, c->b);
	case SG_OP_OR:
		return cond_match(e, r, c->a) || cond_match(e, r, c->b);
	case SG_OP_NOT:
		return !cond_match(e, r, c->a);
	case SG_OP_ONE_OF:
		for (i = 0; i < c->nsels; i++)
			if (sel_match(e, &r->sel[c->sels[i]]))
				return true;
		return false;
	case SG_OP_ALL_OF:
		for (i = 0; i < c->nsels; i++)
			if (!sel_match(e, &r->sel[c->sels[i]]))
				return false;
		return true;
	}
	return false;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int pt_sigma_eval(struct pt_sigma_set *s, const struct pt_sigma_event *ev, pt_sigma_match_fn fn,
		  void *ctx)
{
	struct evctx e = { .s = s, .ev = ev };
	size_t i, k;
	unsigned f;
	int ret;

	if (!s->compiled)
		return -EINVAL;
	if (++s->gen == 0) {    /* wrapped: old marks could equal the new generation */
		memset(s->lit_seen, 0, s->nlits * sizeof(*s->lit_seen));
		memset(s->rule_mark, 0, s->n * sizeof(*s->rule_mark));
		s->gen = 1;
	}
	s->st.events++;
	for (f = 0; f < PT_SF_MAX; f++) {
		uint32_t len = ev->f[f].len;

		/* a field no rule names is neither folded nor scanned */
		if (!ev->f[f].ptr || !s->field_used[f])
			continue;
		if (len > PT_SIGMA_FIELD_MAX)
			len = PT_SIGMA_FIELD_MAX;
		if (len > s->fold_cap[f] || !s->fold[f]) {
			uint32_t cap = len > 256 ? len : 256;
			char *p = realloc(s->fold[f], cap);

			if (!p)
				return -ENOMEM;
			s->fold[f] = p;
			s->fold_cap[f] = cap;
		}
		e.len[f] = len;
		sg_fold(s->fold[f], ev->f[f].ptr, len);
		if (s->ac && s->field_lit[f])
			sg_ac_scan(s->ac, s->fold[f], len, on_hit, &e);
	}
	s->st.candidates += e.ncand;
	for (i = 0; i < s->nunfiltered; i++)
		s->cand[e.ncand++] = s->unfiltered[i];
	if (e.ncand > 1)
		qsort(s->cand, e.ncand, sizeof(*s->cand), cmp_u32);
	for (k = 0; k < e.ncand; k++) {
		uint32_t r = s->cand[k];

		s->st.evaluated++;
		if (!cond_match(&e, &s->rules[r], s->rules[r].cond))
			continue;
		s->st.matches++;
		if ((ret = fn(ctx, r)))
			return ret;
	}
	return 0;
}

void pt_sigma_stats(const struct pt_sigma_set *s, struct pt_sigma_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (s)
		*st = s->st;
}
