/* Loading one Sigma rule: YAML (libyaml's document API) -> selections of compiled values and a
 * condition tree. Every construct proctrail cannot evaluate exactly is refused with a reason;
 * nothing is approximated. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "proctrail/escape.h"
#include "sigma-int.h"

static const char *const FIELD_NAMES[PT_SF_MAX] = {
	[PT_SF_IMAGE] = "Image",
	[PT_SF_COMMAND_LINE] = "CommandLine",
	[PT_SF_PARENT_IMAGE] = "ParentImage",
	[PT_SF_PARENT_COMMAND_LINE] = "ParentCommandLine",
	[PT_SF_USER] = "User",
	[PT_SF_CWD] = "CurrentDirectory",
	[PT_SF_LOGON_ID] = "LogonId",
	[PT_SF_HASHES] = "Hashes",
	[PT_SF_SHA256] = "sha256",
};

const char *pt_sigma_field_name(unsigned field)
{
	return field < PT_SF_MAX ? FIELD_NAMES[field] : NULL;
}

struct ctx {
	struct pt_sigma_set *set;
	yaml_document_t *doc;
	char *reason;
	unsigned nodes;
};

__attribute__((format(printf, 2, 3)))
static int refuse(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->reason, PT_SIGMA_REASON_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *esc(struct pt_esc *e, const char *s)
{
	return pt_esc(e, s, strlen(s));
}

static yaml_node_t *node_at(struct ctx *c, int i)
{
	if (++c->nodes > PT_SIGMA_NODES_MAX)
		return NULL;
	return yaml_document_get_node(c->doc, i);
}

static bool scalar_is(const yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
	       !memcmp(n->data.scalar.value, s, n->data.scalar.length);
}

static bool is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!n->data.scalar.length || !strcmp(v, "null") || !strcmp(v, "Null") ||
		!strcmp(v, "NULL") || !strcmp(v, "~"));
}

/* The value under key in mapping m, NULL when absent; *dup set when the key repeats. */
static yaml_node_t *get(struct ctx *c, yaml_node_t *m, const char *key, bool *dup)
{
	yaml_node_pair_t *p;
	yaml_node_t *found = NULL;

	if (dup)
		*dup = false;
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key);

		if (scalar_is(k, key)) {
			if (found && dup)
				*dup = true;
			if (!found)
				found = node_at(c, p->value);
		}
	}
	return found;
}

/* A scalar as a NUL-terminated copy of at most max bytes, without NUL inside. */
static int scalar_dup(struct ctx *c, yaml_node_t *n, const char *what, size_t max, char **out)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return refuse(c, "%s is not a string", what);
	if (n->data.scalar.length > max)
		return refuse(c, "%s longer than %zu bytes", what, max);
	if (memchr(n->data.scalar.value, 0, n->data.scalar.length))
		return refuse(c, "%s holds a NUL byte", what);
	*out = strndup((const char *)n->data.scalar.value, n->data.scalar.length);
	return *out ? 0 : -ENOMEM;
}

/* ---- literals (the prefilter's alphabet) ---- */

int sg_lit_add(struct pt_sigma_set *s, const char *p, uint32_t len)
{
	size_t i;

	if (!len)
		return -1;
	for (i = 0; i < s->nlits; i++)   /* load time only; rules share few literals */
		if (s->lit_len[i] == len && !memcmp(s->lits[i], p, len))
			return (int)i;
	if (s->nlits == s->lits_cap) {
		size_t cap = s->lits_cap ? s->lits_cap * 2 : 256;
		char **l = reallocarray(s->lits, cap, sizeof(*l));
		uint32_t *ll;

		if (!l)
			return -ENOMEM;
		s->lits = l;
		ll = reallocarray(s->lit_len, cap, sizeof(*ll));
		if (!ll)
			return -ENOMEM;
		s->lit_len = ll;
		s->lits_cap = cap;
	}
	if (!(s->lits[s->nlits] = malloc(len)))
		return -ENOMEM;
	memcpy(s->lits[s->nlits], p, len);
	s->lit_len[s->nlits] = len;
	return (int)s->nlits++;
}

/* ---- modifiers ---- */

enum { M_NONE, M_CONTAINS, M_STARTS, M_ENDS };

struct mods {
	int match;
	bool all, re, re_i, re_m, re_s, windash, cidr, exists, fieldref, cased;
	int b64;            /* 1 base64, 2 base64offset */
};

static int parse_key(struct ctx *c, const char *key, uint16_t *field, struct mods *m)
{
	char buf[256], *save = NULL, *tok;
	struct pt_esc e;
	unsigned i;

	memset(m, 0, sizeof(*m));
	/* key is set when scalar_dup returned 0: the analyzer does not follow refuse(), a
	 * variadic function, to its -EINVAL
	 * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
	if (strlen(key) >= sizeof(buf))
		return refuse(c, "field name too long");
	strcpy(buf, key);
	tok = strtok_r(buf, "|", &save);
	if (!tok)
		return refuse(c, "a detection item without a field name (keyword search) is not supported");
	for (i = 0; i < PT_SF_MAX; i++)
		if (!strcmp(tok, FIELD_NAMES[i]))
			break;
	if (i == PT_SF_MAX)
		return refuse(c, "field '%s' is not recorded by proctrail", esc(&e, tok));
	*field = (uint16_t)i;
	while ((tok = strtok_r(NULL, "|", &save))) {
		int match = M_NONE;

		if (!strcmp(tok, "contains"))
			match = M_CONTAINS;
		else if (!strcmp(tok, "startswith"))
			match = M_STARTS;
		else if (!strcmp(tok, "endswith"))
			match = M_ENDS;
		else if (!strcmp(tok, "all"))
			m->all = true;
		else if (!strcmp(tok, "re"))
			m->re = true;
		else if (!strcmp(tok, "i") || !strcmp(tok, "ignorecase"))
			m->re_i = true;
		else if (!strcmp(tok, "m") || !strcmp(tok, "multiline"))
			m->re_m = true;
		else if (!strcmp(tok, "s") || !strcmp(tok, "dotall"))
			m->re_s = true;
		else if (!strcmp(tok, "base64"))
			m->b64 = m->b64 ? -1 : 1;
		else if (!strcmp(tok, "base64offset"))
			m->b64 = m->b64 ? -1 : 2;
		else if (!strcmp(tok, "windash"))
			m->windash = true;
		else if (!strcmp(tok, "cidr"))
			m->cidr = true;
		else if (!strcmp(tok, "exists"))
			m->exists = true;
		else if (!strcmp(tok, "fieldref"))
			m->fieldref = true;
		else if (!strcmp(tok, "cased"))
			m->cased = true;
		else if (!strcmp(tok, "wide") || !strncmp(tok, "utf16", 5))
			return refuse(c, "modifier '%s' (UTF-16 text) does not apply to Linux events",
				      esc(&e, tok));
		else
			return refuse(c, "modifier '%s' is not supported", esc(&e, tok));
		if (match) {
			if (m->match)
				return refuse(c, "two of contains/startswith/endswith on '%s'",
					      esc(&e, key));
			m->match = match;
		}
	}
	if ((m->re_i || m->re_m || m->re_s) && !m->re)
		return refuse(c, "regular expression flags without 're' on '%s'", esc(&e, key));
	if (m->b64 < 0)
		return refuse(c, "base64 twice on '%s'", esc(&e, key));
	if (m->re && (m->match || m->b64 || m->windash || m->cidr || m->exists || m->fieldref ||
		      m->cased))
		return refuse(c, "'re' combined with another value modifier on '%s'", esc(&e, key));
	if ((m->cidr || m->exists || m->fieldref) &&
	    (m->match || m->b64 || m->windash || m->cased || m->all ||
	     m->cidr + m->exists + m->fieldref > 1))
		return refuse(c, "cidr/exists/fieldref combined with another modifier on '%s'",
			      esc(&e, key));
	if (m->b64 && m->windash)
		return refuse(c, "base64 combined with windash on '%s'", esc(&e, key));
	if (m->b64 == 2 && m->match != M_CONTAINS)
		return refuse(c, "base64offset without contains on '%s'", esc(&e, key));
	return 0;
}

/* ---- values ---- */

static void value_free(struct sg_value *v)
{
	free(v->s);
	pcre2_code_free(v->re);
}

/* Sigma escapes: \* \? \\ are literal; any other backslash is itself. */
static int unescape_glob(const char *in, size_t len, char *out, uint32_t *olen, bool *glob)
{
	size_t i, o = 0;

	*glob = false;
	for (i = 0; i < len; i++) {
		char ch = in[i];

		if (ch == '\\' && i + 1 < len && (in[i + 1] == '*' || in[i + 1] == '?' ||
						  in[i + 1] == '\\')) {
			out[o++] = in[++i];
		} else if (ch == '*') {
			out[o++] = SG_STAR;
			*glob = true;
		} else if (ch == '?') {
			out[o++] = SG_QMARK;
			*glob = true;
		} else {
			out[o++] = ch;
		}
	}
	*olen = (uint32_t)o;
	return 0;
}

/* The longest wildcard-free run of a glob: some literal a match must contain. */
static void longest_run(const char *p, uint32_t len, uint32_t *off, uint32_t *rlen)
{
	uint32_t i, start = 0, best = 0, best_off = 0;

	for (i = 0; i <= len; i++)
		if (i == len || p[i] == SG_STAR || p[i] == SG_QMARK) {
			if (i - start > best) {
				best = i - start;
				best_off = start;
			}
			start = i + 1;
		}
	*off = best_off;
	*rlen = best;
}

/* A value item grows one value at a time. */
static int push(struct sg_item *it, struct sg_value **v)
{
	struct sg_value *nv = reallocarray(it->v, it->n + 1, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	it->v = nv;
	*v = &nv[it->n++];
	memset(*v, 0, sizeof(**v));
	(*v)->lit = -1;
	return 0;
}

/* One plain string (after windash/base64): literal or glob per the match modifier. */
static int add_string(struct ctx *c, struct sg_item *it, const struct mods *m, const char *str,
		      uint32_t len, bool no_wildcards)
{
	struct sg_value *v;
	uint32_t n = 0, off, rl;
	bool glob = false;
	char *buf;
	int ret, lit;

	if (memchr(str, SG_STAR, len) || memchr(str, SG_QMARK, len))
		return refuse(c, "a value holds the control byte 0x01 or 0x02");
	if (!(buf = malloc((size_t)len + 3)))
		return -ENOMEM;
	if (no_wildcards) {
		memcpy(buf + 1, str, len);
		n = len;
	} else {
		unescape_glob(str, len, buf + 1, &n, &glob);
	}
	if ((ret = push(it, &v))) {
		free(buf);
		return ret;
	}
	v->cased = m->cased || m->b64;
	if (glob) {
		uint32_t start = 1;

		if (m->match == M_CONTAINS || m->match == M_ENDS) {
			buf[0] = SG_STAR;
			start = 0;
			n++;
		}
		memmove(buf, buf + start, n);
		if (m->match == M_CONTAINS || m->match == M_STARTS)
			buf[n++] = SG_STAR;
		v->kind = SG_GLOB;
	} else {
		memmove(buf, buf + 1, n);
		v->kind = m->match == M_CONTAINS ? SG_CONTAINS : m->match == M_STARTS ? SG_STARTS :
			  m->match == M_ENDS ? SG_ENDS : SG_EQ;
	}
	buf[n] = 0;
	if (!v->cased)
		sg_fold(buf, buf, n);
	v->s = buf;
	v->len = n;
	if (glob) {
		longest_run(buf, n, &off, &rl);
	} else {
		off = 0;
		rl = n;
	}
	if (rl) {
		char *f = malloc(rl);

		if (!f)
			return -ENOMEM;
		sg_fold(f, buf + off, rl);
		lit = sg_lit_add(c->set, f, rl);
		free(f);
		if (lit < -1)
			return lit;
		v->lit = lit;
	}
	return 0;
}

static const char *const DASHES[] = { "-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95" };

/* windash: every '-' or '/' that starts a word, in each of the five dash forms. */
static int add_windash(struct ctx *c, struct sg_item *it, const struct mods *m, const char *str,
		       uint32_t len)
{
	size_t d, i;
	int ret = 0;

	for (d = 0; d < sizeof(DASHES) / sizeof(DASHES[0]) && !ret; d++) {
		char *buf = malloc((size_t)len * 3 + 1);
		uint32_t o = 0;

		if (!buf)
			return -ENOMEM;
		for (i = 0; i < len; i++) {
			if ((str[i] == '-' || str[i] == '/') && (i == 0 || str[i - 1] == ' ')) {
				memcpy(buf + o, DASHES[d], strlen(DASHES[d]));
				o += (uint32_t)strlen(DASHES[d]);
			} else {
				buf[o++] = str[i];
			}
		}
		ret = add_string(c, it, m, buf, o, false);
		free(buf);
	}
	return ret;
}

static int add_regex(struct ctx *c, struct sg_item *it, const struct mods *m, const char *str,
		     uint32_t len)
{
	uint32_t opts = (m->re_i ? PCRE2_CASELESS : 0) | (m->re_m ? PCRE2_MULTILINE : 0) |
			(m->re_s ? PCRE2_DOTALL : 0);
	PCRE2_UCHAR msg[120];
	PCRE2_SIZE eoff;
	struct sg_value *v;
	int err, ret;

	if ((ret = push(it, &v)))
		return ret;
	v->kind = SG_RE;
	v->cased = true;
	v->re = pcre2_compile((PCRE2_SPTR)str, len, opts, &err, &eoff, NULL);
	if (!v->re) {
		struct pt_esc e;

		pcre2_get_error_message(err, msg, sizeof(msg));
		return refuse(c, "regular expression '%s': %s at offset %zu",
			      pt_esc(&e, str, len), (const char *)msg, (size_t)eoff);
	}
	/* JIT where the platform has it; the interpreter otherwise (same results). */
	(void)pcre2_jit_compile(v->re, PCRE2_JIT_COMPLETE);
	return 0;
}

static int add_cidr(struct ctx *c, struct sg_item *it, const char *str)
{
	char addr[64], *slash;
	struct sg_value *v;
	unsigned long bits;
	struct pt_esc e;
	int ret;

	if (strlen(str) >= sizeof(addr))
		return refuse(c, "cidr '%s' is not an address/prefix", esc(&e, str));
	strcpy(addr, str);
	if ((ret = push(it, &v)))
		return ret;
	v->kind = SG_CIDR;
	slash = strchr(addr, '/');
	if (slash)
		*slash++ = 0;
	if (inet_pton(AF_INET, addr, v->addr) == 1)
		v->family = 4;
	else if (inet_pton(AF_INET6, addr, v->addr) == 1)
		v->family = 6;
	else
		return refuse(c, "cidr '%s' is not an address/prefix", esc(&e, str));
	bits = v->family == 4 ? 32 : 128;
	if (slash) {
		char *end;
		unsigned long b = strtoul(slash, &end, 10);

		if (*end || !*slash || b > bits)
			return refuse(c, "cidr '%s' has a bad prefix length", esc(&e, str));
		bits = b;
	}
	v->prefix = (uint8_t)bits;
	return 0;
}

static int add_value(struct ctx *c, struct sg_item *it, const struct mods *m, yaml_node_t *n)
{
	const char *str = (const char *)n->data.scalar.value;
	uint32_t len = (uint32_t)n->data.scalar.length;
	struct sg_value *v;
	struct pt_esc e;
	int ret;

	if (n->type != YAML_SCALAR_NODE)
		return refuse(c, "a value is a list or map, not a string");
	if (len > PT_SIGMA_VALUE_MAX)
		return refuse(c, "a value longer than %u bytes", PT_SIGMA_VALUE_MAX);
	if (memchr(str, 0, len))
		return refuse(c, "a value holds a NUL byte");
	if (m->exists) {
		if ((ret = push(it, &v)))
			return ret;
		v->kind = SG_EXISTS;
		if (scalar_is(n, "true") || scalar_is(n, "True"))
			v->exists = true;
		else if (!scalar_is(n, "false") && !scalar_is(n, "False"))
			return refuse(c, "exists takes true or false");
		return 0;
	}
	if (m->fieldref) {
		unsigned i;

		for (i = 0; i < PT_SF_MAX; i++)
			if (scalar_is(n, FIELD_NAMES[i]))
				break;
		if (i == PT_SF_MAX)
			return refuse(c, "fieldref: field '%s' is not recorded by proctrail",
				      esc(&e, str));
		if ((ret = push(it, &v)))
			return ret;
		v->kind = SG_FIELDREF;
		v->ref = (uint16_t)i;
		return 0;
	}
	if (is_null(n) && !m->match && !m->re && !m->b64 && !m->windash && !m->cidr) {
		if ((ret = push(it, &v)))
			return ret;
		v->kind = SG_NULL;
		return 0;
	}
	if (m->cidr)
		return add_cidr(c, it, str);
	if (m->re)
		return add_regex(c, it, m, str, len);
	if (m->windash)
		return add_windash(c, it, m, str, len);
	if (m->b64 == 1) {
		char *b;
		uint32_t bl;

		if ((ret = sg_base64((const uint8_t *)str, len, &b, &bl)))
			return ret;
		ret = add_string(c, it, m, b, bl, true);
		free(b);
		return ret;
	}
	if (m->b64 == 2) {
		char *b[3];
		uint32_t bl[3];
		int i;

		if ((ret = sg_base64offset((const uint8_t *)str, len, b, bl)))
			return ret;
		for (i = 0; i < 3 && !ret; i++)
			ret = add_string(c, it, m, b[i], bl[i], true);
		for (i = 0; i < 3; i++)
			free(b[i]);
		return ret;
	}
	return add_string(c, it, m, str, len, false);
}

static void item_free(struct sg_item *it)
{
	uint32_t i;

	for (i = 0; i < it->n; i++)
		value_free(&it->v[i]);
	free(it->v);
}

static void alt_free(struct sg_alt *a)
{
	uint32_t i;

	for (i = 0; i < a->n; i++)
		item_free(&a->items[i]);
	free(a->items);
}

static void sel_free(struct sg_sel *s)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		alt_free(&s->alts[i]);
	free(s->alts);
	free(s->name);
}

static int load_map(struct ctx *c, yaml_node_t *map, struct sg_alt *alt)
{
	yaml_node_pair_t *p;
	int ret;

	if (map->type != YAML_MAPPING_NODE)
		return refuse(c, "a selection list holds a value that is not a map "
			      "(keyword search is not supported)");
	if (map->data.mapping.pairs.top == map->data.mapping.pairs.start)
		return refuse(c, "an empty selection map");
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
		struct sg_item *items, *it;
		struct mods m;
		char *key = NULL;
		uint16_t field = 0;

		if (!k || !v)
			return refuse(c, "more than %u YAML nodes", PT_SIGMA_NODES_MAX);
		if ((ret = scalar_dup(c, k, "a field name", 255, &key)))
			return ret;
		ret = parse_key(c, key, &field, &m);
		if (!ret) {
			items = reallocarray(alt->items, alt->n + 1, sizeof(*items));
			if (!items) {
				free(key);
				return -ENOMEM;
			}
			alt->items = items;
			it = &items[alt->n++];
			memset(it, 0, sizeof(*it));
			it->field = field;
			it->all = m.all;
			if (v->type == YAML_SEQUENCE_NODE) {
				yaml_node_item_t *i;

				if (v->data.sequence.items.top == v->data.sequence.items.start)
					ret = refuse(c, "an empty value list");
				for (i = v->data.sequence.items.start;
				     !ret && i < v->data.sequence.items.top; i++) {
					yaml_node_t *e = node_at(c, *i);

					ret = e ? add_value(c, it, &m, e) :
						  refuse(c, "more than %u YAML nodes",
							 PT_SIGMA_NODES_MAX);
				}
			} else {
				ret = add_value(c, it, &m, v);
			}
		}
		free(key);
		if (ret)
			return ret;
	}
	return 0;
}

static int load_selection(struct ctx *c, const char *name, yaml_node_t *n, struct sg_sel *sel)
{
	struct pt_esc e;
	int ret;

	if (!(sel->name = strdup(name)))
		return -ENOMEM;
	if (n->type == YAML_MAPPING_NODE) {
		if (!(sel->alts = calloc(1, sizeof(*sel->alts))))
			return -ENOMEM;
		sel->n = 1;
		return load_map(c, n, &sel->alts[0]);
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *i;
		size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);

		if (!cnt)
			return refuse(c, "selection '%s' is empty", esc(&e, name));
		if (!(sel->alts = calloc(cnt, sizeof(*sel->alts))))
			return -ENOMEM;
		for (i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
			yaml_node_t *m = node_at(c, *i);

			if (!m)
				return refuse(c, "more than %u YAML nodes", PT_SIGMA_NODES_MAX);
			sel->n++;
			if ((ret = load_map(c, m, &sel->alts[sel->n - 1])))
				return ret;
		}
		return 0;
	}
	return refuse(c, "selection '%s' is a single keyword (keyword search is not supported)",
		      esc(&e, name));
}

static void rule_free(struct sg_rule *r)
{
	uint32_t i;

	free((char *)r->info.id);
	free((char *)r->info.title);
	free((char *)r->info.level);
	free((char *)r->info.file);
	for (i = 0; i < r->nsel; i++)
		sel_free(&r->sel[i]);
	free(r->sel);
	sg_cond_free(r->cond);
	memset(r, 0, sizeof(*r));
}

/* The condition: one string, or a list of strings (OR of them). */
static int load_condition(struct ctx *c, struct sg_rule *r, yaml_node_t *n)
{
	char *text = NULL;
	int ret;

	if (n->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *i;

		for (i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
			struct sg_cond *one, *or;

			if ((ret = scalar_dup(c, node_at(c, *i), "condition", PT_SIGMA_COND_MAX,
					      &text)))
				return ret;
			ret = sg_cond_parse(r, text, &one, c->reason);
			free(text);
			if (ret)
				return ret;
			if (!r->cond) {
				r->cond = one;
				continue;
			}
			if (!(or = calloc(1, sizeof(*or)))) {
				sg_cond_free(one);
				return -ENOMEM;
			}
			or->op = SG_OP_OR;
			or->a = r->cond;
			or->b = one;
			r->cond = or;
		}
		if (!r->cond)
			return refuse(c, "an empty condition list");
		return 0;
	}
	if ((ret = scalar_dup(c, n, "condition", PT_SIGMA_COND_MAX, &text)))
		return ret;
	ret = sg_cond_parse(r, text, &r->cond, c->reason);
	free(text);
	return ret;
}

static int load_rule(struct ctx *c, yaml_node_t *root, struct sg_rule *r)
{
	yaml_node_t *n, *ls, *det, *cond = NULL;
	yaml_node_pair_t *p;
	struct pt_esc e;
	bool dup;
	int ret;

	if (!root || root->type != YAML_MAPPING_NODE)
		return refuse(c, "the document is not a map");
	if (get(c, root, "action", NULL))
		return refuse(c, "rule collections ('action') are not supported");
	if ((ret = scalar_dup(c, get(c, root, "title", NULL), "title", 256,
			      (char **)&r->info.title)))
		return ret;
	n = get(c, root, "id", NULL);
	if ((ret = n ? scalar_dup(c, n, "id", 128, (char **)&r->info.id) :
		       ((r->info.id = strdup("")) ? 0 : -ENOMEM)))
		return ret;
	n = get(c, root, "level", NULL);
	if ((ret = n ? scalar_dup(c, n, "level", 32, (char **)&r->info.level) :
		       ((r->info.level = strdup("unknown")) ? 0 : -ENOMEM)))
		return ret;
	ls = get(c, root, "logsource", NULL);
	if (!ls || ls->type != YAML_MAPPING_NODE)
		return refuse(c, "no logsource map");
	n = get(c, ls, "category", NULL);
	if (!scalar_is(n, "process_creation"))
		return refuse(c, "logsource category is not process_creation");
	n = get(c, ls, "product", NULL);
	if (n && !scalar_is(n, "linux"))
		return refuse(c, "logsource product is not linux");
	det = get(c, root, "detection", NULL);
	if (!det || det->type != YAML_MAPPING_NODE)
		return refuse(c, "no detection map");
	for (p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(c, p->key), *v = node_at(c, p->value);
		struct sg_sel *sel;
		char *name = NULL;

		if (!k || !v)
			return refuse(c, "more than %u YAML nodes", PT_SIGMA_NODES_MAX);
		if ((ret = scalar_dup(c, k, "a selection name", 200, &name)))
			return ret;
		/* set when scalar_dup returned 0, as in parse_key
		 * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
		if (!strcmp(name, "condition")) {
			free(name);
			if (cond)
				return refuse(c, "two conditions");
			cond = v;
			continue;
		}
		if (!strcmp(name, "timeframe")) {
			free(name);
			return refuse(c, "'timeframe' (correlation) is not supported");
		}
		get(c, det, name, &dup);
		if (dup) {
			ret = refuse(c, "selection '%s' is defined twice", esc(&e, name));
			free(name);
			return ret;
		}
		sel = reallocarray(r->sel, r->nsel + 1, sizeof(*sel));
		if (!sel) {
			free(name);
			return -ENOMEM;
		}
		r->sel = sel;
		memset(&sel[r->nsel], 0, sizeof(*sel));
		r->nsel++;
		ret = load_selection(c, name, v, &sel[r->nsel - 1]);
		free(name);
		if (ret)
			return ret;
	}
	if (!cond)
		return refuse(c, "no condition");
	return load_condition(c, r, cond);
}

int pt_sigma_new(struct pt_sigma_set **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void pt_sigma_free(struct pt_sigma_set *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++)
		rule_free(&s->rules[i]);
	free(s->rules);
	for (i = 0; i < s->nlits; i++) {
		free(s->lits[i]);
		if (s->lit_rules)
			free(s->lit_rules[i]);
	}
	free(s->lits);
	free(s->lit_len);
	free(s->lit_rules);
	free(s->lit_nrules);
	free(s->unfiltered);
	free(s->lit_seen);
	free(s->rule_mark);
	free(s->cand);
	for (i = 0; i < PT_SF_MAX; i++)
		free(s->fold[i]);
	sg_ac_free(s->ac);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	free(s);
}

int pt_sigma_add(struct pt_sigma_set *s, const char *file, const void *yaml, size_t len,
		 char reason[PT_SIGMA_REASON_MAX])
{
	struct ctx c = { .set = s, .reason = reason };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	struct sg_rule r = { 0 };
	size_t nlits = s->nlits;
	int ret;

	reason[0] = 0;
	if (s->compiled)
		return -EBUSY;
	if (s->n >= PT_SIGMA_RULES_MAX)
		return -E2BIG;
	if (len > PT_SIGMA_FILE_MAX)
		return refuse(&c, "file larger than %u bytes", PT_SIGMA_FILE_MAX);
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ret = refuse(&c, "YAML: %s at line %zu", parser.problem ? parser.problem : "error",
			     parser.problem_mark.line + 1);
		yaml_parser_delete(&parser);
		return ret;
	}
	c.doc = &doc;
	ret = load_rule(&c, yaml_document_get_root_node(&doc), &r);
	if (!ret) {
		if (!yaml_parser_load(&parser, &extra)) {
			ret = refuse(&c, "YAML: %s after the first document",
				     parser.problem ? parser.problem : "error");
		} else {
			if (yaml_document_get_root_node(&extra))
				ret = refuse(&c, "more than one YAML document (rule collections are "
					     "not supported)");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (!ret && !(r.info.file = strdup(file ? file : "")))
		ret = -ENOMEM;
	if (!ret && s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct sg_rule *nr = reallocarray(s->rules, cap, sizeof(*nr));

		if (!nr)
			ret = -ENOMEM;
		else {
			s->rules = nr;
			s->cap = cap;
		}
	}
	if (ret) {
		rule_free(&r);
		/* literals only this rule added go with it */
		while (s->nlits > nlits)
			free(s->lits[--s->nlits]);
		if (ret == -ENOMEM)
			reason[0] = 0;
		return ret;
	}
	s->rules[s->n++] = r;
	return 0;
}

size_t pt_sigma_count(const struct pt_sigma_set *s)
{
	return s ? s->n : 0;
}

const struct pt_sigma_rule_info *pt_sigma_rule(const struct pt_sigma_set *s, size_t i)
{
	return s && i < s->n ? &s->rules[i].info : NULL;
}

size_t pt_sigma_unfiltered(const struct pt_sigma_set *s)
{
	return s ? s->nunfiltered : 0;
}
