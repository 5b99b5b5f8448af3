/* Internal form of compiled Sigma rules, shared by the loader, the condition parser, the
 * prefilter and the evaluator. */
#ifndef PROCTRAIL_SIGMA_INT_H
#define PROCTRAIL_SIGMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "proctrail/sigma.h"

/* Wildcards of a glob value, as bytes no accepted value contains. */
#define SG_STAR 0x01
#define SG_QMARK 0x02

enum sg_kind {
	SG_EQ, SG_CONTAINS, SG_STARTS, SG_ENDS, SG_GLOB, SG_RE, SG_EXISTS, SG_CIDR, SG_FIELDREF,
	SG_NULL,    /* `Field: null`: absent or empty */
};

struct sg_value {
	uint8_t kind;
	bool cased;         /* compare bytes as they are, not ASCII-folded */
	bool exists;        /* SG_EXISTS: true or false */
	uint8_t family;     /* SG_CIDR: 4 or 6 */
	uint8_t prefix;     /* SG_CIDR bits */
	uint8_t addr[16];
	uint16_t ref;       /* SG_FIELDREF: the other field */
	char *s;            /* pattern bytes (folded unless cased); glob uses SG_STAR/SG_QMARK */
	uint32_t len;
	pcre2_code *re;
	int lit;            /* prefilter literal id, -1 when none */
};

/* One `Field|mods: values` entry: OR over its values, AND with `all`. */
struct sg_item {
	uint16_t field;
	bool all;
	uint32_t n;
	struct sg_value *v;
};

/* A map of items (AND). */
struct sg_alt {
	uint32_t n;
	struct sg_item *items;
};

/* A named selection: a map, or a list of maps (OR). */
struct sg_sel {
	char *name;
	uint32_t n;
	struct sg_alt *alts;
};

enum sg_op { SG_OP_SEL, SG_OP_AND, SG_OP_OR, SG_OP_NOT, SG_OP_ONE_OF, SG_OP_ALL_OF };

/* Condition tree. SEL: sel; AND/OR: a, b; NOT: a; ONE_OF/ALL_OF: the selections in sels. */
struct sg_cond {
	uint8_t op;
	uint32_t sel;
	struct sg_cond *a, *b;
	uint32_t nsels;
	uint32_t *sels;
};

struct sg_rule {
	struct pt_sigma_rule_info info;
	uint32_t nsel;
	struct sg_sel *sel;
	struct sg_cond *cond;
};

/* Dynamic list of ints (literal ids), or "any" when a match needs no literal. */
struct sg_need {
	bool any;
	uint32_t n, cap;
	int *v;
};

struct sg_ac;

struct pt_sigma_set {
	struct sg_rule *rules;
	size_t n, cap;
	bool compiled;
	bool no_prefilter;
	bool field_lit[PT_SF_MAX];   /* some value on the field has a literal: scan it */
	bool field_used[PT_SF_MAX];  /* some value names the field: fold it */          /* every rule evaluated on every event (benchmarks) */
	/* literals of all values, folded; a value's lit indexes these */
	char **lits;
	uint32_t *lit_len;
	size_t nlits, lits_cap;
	/* prefilter */
	struct sg_ac *ac;
	uint32_t **lit_rules;       /* per literal: rules for which it is a candidate trigger */
	uint32_t *lit_nrules;
	uint32_t *unfiltered;       /* rules evaluated on every event */
	size_t nunfiltered;
	/* scratch of one evaluation */
	uint32_t gen;
	uint32_t *lit_seen, *rule_mark;
	uint32_t *cand;
	char *fold[PT_SF_MAX];
	uint32_t fold_cap[PT_SF_MAX];
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	struct pt_sigma_stats st;
};

/* load.c */
int sg_lit_add(struct pt_sigma_set *s, const char *p, uint32_t len);

/* cond.c: parses cond into *out against the rule's selections. */
int sg_cond_parse(const struct sg_rule *r, const char *cond, struct sg_cond **out,
		  char reason[PT_SIGMA_REASON_MAX]);
void sg_cond_free(struct sg_cond *c);

/* value.c */
int sg_base64(const uint8_t *in, size_t len, char **out, uint32_t *olen);
/* The three base64offset forms of in; out[i] NULL-able on failure. */
int sg_base64offset(const uint8_t *in, size_t len, char *out[3], uint32_t olen[3]);
bool sg_glob(const char *pat, size_t plen, const char *s, size_t slen);
void sg_fold(char *dst, const char *src, size_t len);

/* ac.c: Aho-Corasick over folded bytes. */
int sg_ac_build(struct sg_ac **out, char *const *lits, const uint32_t *lens, size_t n);
void sg_ac_free(struct sg_ac *ac);
/* Calls hit(ctx, literal) for every literal occurrence (repeats possible). */
void sg_ac_scan(const struct sg_ac *ac, const char *p, size_t len,
		void (*hit)(void *ctx, uint32_t lit), void *ctx);
size_t sg_ac_states(const struct sg_ac *ac);

#endif
