#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/escape.h"
#include "proctrail/hex.h"
#include "proctrail/log.h"
#include "../lib/ecs/json.h"
#include "detect.h"

/* A refused file, kept for the state list: pos is how many rules had loaded before it, so the
 * list comes out in the directory walk's order. */
struct refusal {
	char *file, *reason;
	size_t pos;
};

struct load_ctx {
	const char *dir;
	struct pt_sigma_set *s;
	struct refusal *v;
	size_t n, cap;
	int err;
};

static void log_refused(void *arg, const char *file, const char *reason)
{
	struct load_ctx *c = arg;
	struct pt_esc f;
	struct refusal *nv;

	log_warnx("rules %s: %s refused: %s", c->dir, pt_esc(&f, file, strlen(file)), reason);
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;

		if (!(nv = reallocarray(c->v, cap, sizeof(*nv)))) {
			c->err = -ENOMEM;
			return;
		}
		c->v = nv;
		c->cap = cap;
	}
	c->v[c->n].pos = pt_sigma_count(c->s);
	c->v[c->n].file = strdup(file);
	c->v[c->n].reason = strdup(reason);
	if (!c->v[c->n].file || !c->v[c->n].reason) {
		free(c->v[c->n].file);
		free(c->v[c->n].reason);
		c->err = -ENOMEM;
		return;
	}
	c->n++;
}

static void refused_json(struct pt_json *j, const struct refusal *r)
{
	pt_json_open(j, NULL, '{');
	pt_json_kcstr(j, "file", r->file);
	pt_json_kcstr(j, "state", "refused");
	pt_json_kcstr(j, "reason", r->reason);
	pt_json_close(j, '}');
}

/* Every file of the load, loaded or refused, as a JSON array (docs/api.md, /api/v1/rules). */
static int state_json(const struct load_ctx *c, struct pt_buf *out)
{
	struct pt_json j = { .out = out };
	size_t i, k = 0, n = pt_sigma_count(c->s);

	pt_json_raw(&j, "[");
	for (i = 0; i <= n; i++) {
		const struct pt_sigma_rule_info *r;

		for (; k < c->n && c->v[k].pos <= i; k++)
			refused_json(&j, &c->v[k]);
		if (i == n || !(r = pt_sigma_rule(c->s, i)))
			continue;
		pt_json_open(&j, NULL, '{');
		pt_json_kcstr(&j, "file", r->file);
		pt_json_kcstr(&j, "state", "loaded");
		pt_json_kcstr(&j, "id", r->id);
		pt_json_kcstr(&j, "title", r->title);
		pt_json_kcstr(&j, "level", r->level);
		pt_json_close(&j, '}');
	}
	pt_json_raw(&j, "]");
	return j.err ? -ENOMEM : 0;
}

int pt_detect_load(const char *dir, struct pt_sigma_set **out, unsigned *loaded,
		   unsigned *refused, struct pt_buf *state)
{
	struct load_ctx c = { .dir = dir };
	size_t i;
	int ret;

	*out = NULL;
	*loaded = *refused = 0;
	if ((ret = pt_sigma_new(&c.s)))
		return ret;
	ret = pt_sigma_load_dir(c.s, dir, log_refused, &c, loaded, refused);
	if (!ret)
		ret = c.err;
	if (!ret)
		ret = pt_sigma_compile(c.s);
	if (!ret && state)
		ret = state_json(&c, state);
	for (i = 0; i < c.n; i++) {
		free(c.v[i].file);
		free(c.v[i].reason);
	}
	free(c.v);
	if (ret) {
		pt_sigma_free(c.s);
		return ret;
	}
	*out = c.s;
	return 0;
}

int pt_detect_rules_new(struct pt_sigma_set *set, struct pt_detect_rules **out)
{
	struct pt_detect_rules *r = malloc(sizeof(*r));

	*out = NULL;
	if (!r) {
		pt_sigma_free(set);
		return -ENOMEM;
	}
	r->set = set;
	atomic_init(&r->refs, 1);
	*out = r;
	return 0;
}

struct pt_detect_rules *pt_detect_rules_ref(struct pt_detect_rules *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

void pt_detect_rules_unref(struct pt_detect_rules *r)
{
	if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	pt_sigma_free(r->set);
	free(r);
}

/* process.command_line as the ECS formatter prints it: the arguments joined with single
 * spaces (docs/ecs.md), so a rule sees the text an analyst sees. */
static uint32_t join_args(char *dst, struct pt_str argv)
{
	size_t n = argv.ptr ? argv.len : 0, i;

	if (n > PT_ARGV_MAX)
		n = PT_ARGV_MAX;
	if (n)
		memcpy(dst, argv.ptr, n);
	if (n && dst[n - 1] == '\0')
		n--;
	for (i = 0; i < n; i++)
		if (dst[i] == '\0')
			dst[i] = ' ';
	return (uint32_t)n;
}

static void set(struct pt_detect_view *v, unsigned f, const char *p, uint32_t len)
{
	v->ev.f[f].ptr = p;
	v->ev.f[f].len = len;
}

void pt_detect_view_fill(struct pt_detect_view *v, const struct pt_exec *x)
{
	memset(&v->ev, 0, sizeof(v->ev));
	if (x->path.ptr)
		set(v, PT_SF_IMAGE, x->path.ptr, x->path.len);
	set(v, PT_SF_COMMAND_LINE, v->cmd, join_args(v->cmd, x->argv));
	if (x->cwd.ptr)
		set(v, PT_SF_CWD, x->cwd.ptr, x->cwd.len);
	if (x->hash_status == PT_HASH_OK) {
		pt_hex_encode(x->sha256, PT_SHA256_LEN, v->sha256);
		set(v, PT_SF_SHA256, v->sha256, 2 * PT_SHA256_LEN);
		memcpy(v->hashes, "SHA256=", 7);
		memcpy(v->hashes + 7, v->sha256, 2 * PT_SHA256_LEN);
		set(v, PT_SF_HASHES, v->hashes, 7 + 2 * PT_SHA256_LEN);
	}
	/* the context (PT_EXEC_CONTEXT): absent parts stay absent, so a rule naming them cannot
	 * match rather than match on a guess */
	if ((x->ctx_flags & PT_CTX_F_PARENT_KNOWN) && x->parent_path.ptr) {
		set(v, PT_SF_PARENT_IMAGE, x->parent_path.ptr, x->parent_path.len);
		set(v, PT_SF_PARENT_COMMAND_LINE, v->parent_cmd,
		    join_args(v->parent_cmd, x->parent_argv));
	}
	if (x->user_name.ptr && x->user_name.len)
		set(v, PT_SF_USER, x->user_name.ptr, x->user_name.len);
	if (x->ctx_flags & PT_CTX_F_LOGIN_UID)
		set(v, PT_SF_LOGON_ID, v->logon,
		    (uint32_t)snprintf(v->logon, sizeof(v->logon), "%u", x->login_uid));
}

struct report {
	FILE *out;
	unsigned n;
};

static void report_refused(void *ctx, const char *file, const char *reason)
{
	struct report *r = ctx;
	struct pt_esc f;

	fprintf(r->out, "| `%s` | %s |\n", pt_esc(&f, file, strlen(file)), reason);
	r->n++;
}

int pt_detect_report(const char *dir, FILE *out)
{
	struct pt_sigma_set *s;
	struct report r = { .out = out };
	unsigned loaded = 0, refused = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *tmp;
	int ret;

	if ((ret = pt_sigma_new(&s)))
		return ret;
	if (!(tmp = open_memstream(&buf, &len))) {
		pt_sigma_free(s);
		return -ENOMEM;
	}
	r.out = tmp;
	ret = pt_sigma_load_dir(s, dir, report_refused, &r, &loaded, &refused);
	fclose(tmp);
	if (!ret)
		ret = pt_sigma_compile(s);
	if (!ret) {
		fprintf(out, "%u rule files: **%u load**, %u refused. %zu of the loaded rules have "
			"no literal every match contains (evaluated on every event); the others "
			"only when the prefilter finds one of their literals.\n\n",
			loaded + refused, loaded, refused, pt_sigma_unfiltered(s));
		if (refused)
			fprintf(out, "| refused file | reason |\n| --- | --- |\n%s\n", buf);
	}
	free(buf);
	pt_sigma_free(s);
	return ret;
}
