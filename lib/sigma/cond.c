/* The condition language: `and`, `or`, `not`, parentheses, `1 of X*`, `all of X*`, `1 of them`,
 * `all of them`, selection names. Precedence (Sigma specification): not > and > or.
 * Aggregations (`| count() ...`) and `near` are refused. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/escape.h"
#include "sigma-int.h"

struct parser {
	const struct sg_rule *r;
	const char *p;
	char tok[256];
	size_t toklen;
	bool ident;             /* the token is a word (not a parenthesis) */
	bool eof;
	unsigned depth;
	char *reason;
};

static int fail(struct parser *ps, const char *what)
{
	struct pt_esc e;

	snprintf(ps->reason, PT_SIGMA_REASON_MAX, "condition: %s at '%s'", what,
		 pt_esc(&e, ps->tok, ps->toklen));
	return -EINVAL;
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == '*' || c == '?';
}

static int next(struct parser *ps)
{
	const char *p = ps->p;

	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	ps->ident = false;
	ps->eof = false;
	ps->toklen = 0;
	if (!*p) {
		ps->eof = true;
		ps->tok[0] = 0;
		ps->p = p;
		return 0;
	}
	if (*p == '(' || *p == ')') {
		ps->tok[0] = *p;
		ps->tok[1] = 0;
		ps->toklen = 1;
		ps->p = p + 1;
		return 0;
	}
	if (!word_char(*p)) {
		ps->tok[0] = *p;
		ps->tok[1] = 0;
		ps->toklen = 1;
		ps->p = p;
		return fail(ps, *p == '|' ? "aggregations are not supported" :
				"unexpected character");
	}
	while (word_char(*p)) {
		if (ps->toklen + 1 >= sizeof(ps->tok))
			return fail(ps, "name too long");
		ps->tok[ps->toklen++] = *p++;
	}
	ps->tok[ps->toklen] = 0;
	ps->ident = true;
	ps->p = p;
	return 0;
}

static bool is(const struct parser *ps, const char *kw)
{
	return ps->ident && !strcasecmp(ps->tok, kw);
}

static struct sg_cond *node(uint8_t op)
{
	struct sg_cond *c = calloc(1, sizeof(*c));

	if (c)
		c->op = op;
	return c;
}

void sg_cond_free(struct sg_cond *c)
{
	if (!c)
		return;
	sg_cond_free(c->a);
	sg_cond_free(c->b);
	free(c->sels);
	free(c);
}

static int parse_or(struct parser *ps, struct sg_cond **out);

static int parse_of(struct parser *ps, uint8_t op, struct sg_cond **out)
{
	struct sg_cond *c;
	uint32_t i;
	int ret;

	if ((ret = next(ps)))
		return ret;
	if (!is(ps, "of"))
		return fail(ps, "expected 'of'");
	if ((ret = next(ps)))
		return ret;
	if (!ps->ident)
		return fail(ps, "expected a selection pattern or 'them'");
	if (!(c = node(op)) || !(c->sels = calloc(ps->r->nsel ? ps->r->nsel : 1, sizeof(uint32_t)))) {
		sg_cond_free(c);
		return -ENOMEM;
	}
	for (i = 0; i < ps->r->nsel; i++) {
		const char *name = ps->r->sel[i].name;

		if (is(ps, "them") ? name[0] != '_' : !fnmatch(ps->tok, name, 0))
			c->sels[c->nsels++] = i;
	}
	if (!c->nsels) {
		sg_cond_free(c);
		return fail(ps, "no selection matches");
	}
	*out = c;
	return next(ps);
}

static int parse_primary(struct parser *ps, struct sg_cond **out)
{
	uint32_t i;
	int ret;

	if (ps->eof)
		return fail(ps, "unexpected end");
	if (ps->toklen == 1 && ps->tok[0] == '(') {
		if (++ps->depth > PT_SIGMA_DEPTH_MAX)
			return fail(ps, "nested too deep");
		if ((ret = next(ps)) || (ret = parse_or(ps, out)))
			return ret;
		if (!(ps->toklen == 1 && ps->tok[0] == ')')) {
			sg_cond_free(*out);
			*out = NULL;
			return fail(ps, "expected ')'");
		}
		ps->depth--;
		return next(ps);
	}
	if (!ps->ident)
		return fail(ps, "unexpected token");
	if (is(ps, "1") || is(ps, "any"))
		return parse_of(ps, SG_OP_ONE_OF, out);
	if (is(ps, "all"))
		return parse_of(ps, SG_OP_ALL_OF, out);
	if (is(ps, "near"))
		return fail(ps, "'near' is not supported");
	if (ps->tok[0] >= '0' && ps->tok[0] <= '9' && !strchr(ps->tok, '_'))
		return fail(ps, "only '1 of' and 'all of' are supported");
	if (is(ps, "and") || is(ps, "or") || is(ps, "not") || is(ps, "of") || is(ps, "them"))
		return fail(ps, "unexpected keyword");
	for (i = 0; i < ps->r->nsel; i++)
		if (!strcmp(ps->r->sel[i].name, ps->tok))
			break;
	if (i == ps->r->nsel)
		return fail(ps, "unknown selection");
	if (!(*out = node(SG_OP_SEL)))
		return -ENOMEM;
	(*out)->sel = i;
	return next(ps);
}

static int parse_not(struct parser *ps, struct sg_cond **out)
{
	struct sg_cond *c;
	int ret;

	if (!is(ps, "not"))
		return parse_primary(ps, out);
	if (++ps->depth > PT_SIGMA_DEPTH_MAX)
		return fail(ps, "nested too deep");
	if ((ret = next(ps)))
		return ret;
	if (!(c = node(SG_OP_NOT)))
		return -ENOMEM;
	if ((ret = parse_not(ps, &c->a))) {
		sg_cond_free(c);
		return ret;
	}
	ps->depth--;
	*out = c;
	return 0;
}

static int parse_bin(struct parser *ps, struct sg_cond **out, uint8_t op)
{
	struct sg_cond *l = NULL, *r = NULL, *c;
	int ret;

	ret = op == SG_OP_OR ? parse_bin(ps, &l, SG_OP_AND) : parse_not(ps, &l);
	while (!ret && is(ps, op == SG_OP_OR ? "or" : "and")) {
		if ((ret = next(ps)))
			break;
		r = NULL;
		ret = op == SG_OP_OR ? parse_bin(ps, &r, SG_OP_AND) : parse_not(ps, &r);
		if (ret)
			break;
		if (!(c = node(op))) {
			ret = -ENOMEM;
			break;
		}
		c->a = l;
		c->b = r;
		l = c;
		r = NULL;
	}
	if (ret) {
		sg_cond_free(l);
		sg_cond_free(r);
		return ret;
	}
	*out = l;
	return 0;
}

static int parse_or(struct parser *ps, struct sg_cond **out)
{
	return parse_bin(ps, out, SG_OP_OR);
}

int sg_cond_parse(const struct sg_rule *r, const char *cond, struct sg_cond **out,
		  char reason[PT_SIGMA_REASON_MAX])
{
	struct parser ps = { .r = r, .p = cond, .reason = reason };
	struct sg_cond *c = NULL;
	int ret;

	*out = NULL;
	if (strlen(cond) > PT_SIGMA_COND_MAX) {
		snprintf(reason, PT_SIGMA_REASON_MAX, "condition longer than %u bytes",
			 PT_SIGMA_COND_MAX);
		return -EINVAL;
	}
	if ((ret = next(&ps)) || (ret = parse_or(&ps, &c))) {
		sg_cond_free(c);
		return ret;
	}
	if (!ps.eof) {
		sg_cond_free(c);
		return fail(&ps, ps.toklen == 1 && ps.tok[0] == ')' ? "unbalanced ')'" :
			    "expected 'and' or 'or'");
	}
	*out = c;
	return 0;
}
