/* proctrail tree ENTITY_ID: a process's ancestors, itself and its descendants
 * (/api/v1/tree/ID), drawn with indentation; exec chains (the same process executing again)
 * listed under their process. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "proctrail/escape.h"
#include "proctrail/jsonread.h"
#include "table.h"

#define TREE_TOKENS (8u << 20)
#define EXE_COLS    60u
#define ARGS_COLS   80u

static void indent(int depth, const char *mark)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", stdout);
	fputs(mark, stdout);
}

static void node_line(const struct pt_jr *d, int node, int depth, int self)
{
	static char raw[8192], esc[CLI_CELL_MAX], t1[64], t2[64];
	char pid[32], code[32];
	size_t n;

	indent(depth, self ? "* " : depth ? "- " : "");
	pt_jr_cell(d, pt_jr_get(d, node, "pid"), pid, sizeof(pid));
	n = pt_jr_cell(d, pt_jr_get(d, node, "name"), raw, sizeof(raw));
	printf("%s [%s] ", cli_cell(esc, sizeof(esc), raw, n, 32), pid);
	n = pt_jr_cell(d, pt_jr_get(d, node, "executable"), raw, sizeof(raw));
	printf("%s", cli_cell(esc, sizeof(esc), raw, n, EXE_COLS));
	pt_jr_join(d, pt_jr_get(d, node, "args"), " ", raw, sizeof(raw));
	printf("  %s", cli_cell(esc, sizeof(esc), raw, strlen(raw), ARGS_COLS));
	pt_jr_cell(d, pt_jr_get(d, node, "start"), raw, sizeof(raw));
	printf("  %s", cli_local_time(t1, sizeof(t1), raw));
	if (pt_jr_cell(d, pt_jr_get(d, node, "end"), raw, sizeof(raw)))
		printf(" -> %s", cli_local_time(t2, sizeof(t2), raw));
	else
		printf(" -> running");
	if (pt_jr_cell(d, pt_jr_get(d, node, "exit_code"), code, sizeof(code)))
		printf("  exit %s", cli_cell(esc, sizeof(esc), code, strlen(code), 12));
	n = pt_jr_cell(d, pt_jr_get(d, node, "entity_id"), raw, sizeof(raw));
	printf("  %s\n", cli_cell(esc, sizeof(esc), raw, n, 40));
	/* an exec chain: every exec of this entity, in time order */
	{
		int ex = pt_jr_get(d, node, "execs");

		if (ex >= 0 && d->tok[ex].type == PT_JR_ARRAY && d->tok[ex].count > 1)
			for (int e = pt_jr_first(d, ex); e >= 0 && e < (int)d->tok[ex].next;
			     e = (int)d->tok[e].next) {
				indent(depth + 2, "exec ");
				pt_jr_cell(d, pt_jr_get(d, e, "time"), raw, sizeof(raw));
				printf("%s  ", cli_local_time(t1, sizeof(t1), raw));
				n = pt_jr_cell(d, pt_jr_get(d, e, "executable"), raw, sizeof(raw));
				printf("%s", cli_cell(esc, sizeof(esc), raw, n, EXE_COLS));
				pt_jr_join(d, pt_jr_get(d, e, "args"), " ", raw, sizeof(raw));
				printf("  %s\n", cli_cell(esc, sizeof(esc), raw, strlen(raw), ARGS_COLS));
			}
	}
}

/* JSON nesting bounds the recursion (PT_JR_DEPTH_MAX). */
static void descendants(const struct pt_jr *d, int arr, int depth)
{
	for (int e = pt_jr_first(d, arr); e >= 0 && e < (int)d->tok[arr].next;
	     e = (int)d->tok[e].next) {
		if (d->tok[e].type != PT_JR_OBJECT)
			continue;
		node_line(d, e, depth, 0);
		descendants(d, pt_jr_get(d, e, "children"), depth + 1);
	}
}

int cmd_tree(const struct cli_env *env, int argc, char **argv)
{
	struct cli_api_opts o = { 0 };
	struct cli_api api;
	struct pt_buf body;
	struct pt_jr d = { 0 };
	const char *id = NULL;
	char path[256];
	int json = 0, a, st, ret = 1, depth = 0, anc, self;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json"))
			json = 1;
		else if (cli_api_opt(&o, argc, argv, &a))
			;
		else if (!id && argv[a][0] != '-')
			id = argv[a];
		else
			id = NULL, a = argc + 1;
	}
	if (!id || a > argc || strlen(id) > 64 || strspn(id, "0123456789abcdefABCDEF") != strlen(id)) {
		fprintf(stderr, "usage: proctrail tree [--json] ENTITY_ID   (process.entity_id, hex)\n");
		return 2;
	}
	if (cli_api_open(&api, env, &o))
		return 1;
	pt_buf_init(&body, CLI_BODY_MAX);
	snprintf(path, sizeof(path), "/api/v1/tree/%s", id);
	st = cli_api_get(&api, path, &body);
	if (st != 200) {
		cli_api_fail("tree", st, &body);
		goto out;
	}
	if (pt_jr_parse(&d, (const char *)body.data, body.len, TREE_TOKENS) ||
	    d.tok[0].type != PT_JR_OBJECT ||
	    (self = pt_jr_get(&d, 0, "process")) < 0 || d.tok[self].type != PT_JR_OBJECT) {
		fprintf(stderr, "proctrail tree: the API's answer is not a tree\n");
		goto out;
	}
	if (json) {
		size_t n;
		const char *raw = pt_jr_raw(&d, 0, &n);

		if (!pt_str_is_clean(raw, n)) {
			fprintf(stderr, "proctrail tree: the answer holds raw control characters\n");
			goto out;
		}
		fwrite(raw, 1, n, stdout);
		fputc('\n', stdout);
		ret = fflush(stdout) ? 1 : 0;
		goto out;
	}
	if (pt_jr_bool(&d, pt_jr_get(&d, 0, "truncated")) == 1)
		printf("(ancestors above not shown: the walk stopped at its bound)\n");
	anc = pt_jr_get(&d, 0, "ancestors");
	for (int e = pt_jr_first(&d, anc); e >= 0 && e < (int)d.tok[anc].next;
	     e = (int)d.tok[e].next, depth++)
		node_line(&d, e, depth, 0);
	node_line(&d, self, depth, 1);
	descendants(&d, pt_jr_get(&d, 0, "descendants"), depth + 1);
	ret = fflush(stdout) ? 1 : 0;
out:
	pt_jr_free(&d);
	pt_buf_free(&body);
	cli_api_close(&api);
	return ret;
}
