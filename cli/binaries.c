/* proctrail binaries: executables by SHA-256 with how many hosts ran them, rarest first
 * (/api/v1/binaries); `proctrail binaries SHA256`: the hosts of one hash. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "proctrail/conf.h"
#include "proctrail/escape.h"
#include "proctrail/hex.h"
#include "proctrail/jsonread.h"
#include "table.h"

#define BIN_TOKENS   (4u << 20)
#define BIN_DEFAULT  100u

static const struct cli_col BIN_COLS[] = {
	{ "SHA256", 17, 0, 0 }, { "HOSTS", 6, 1, 0 }, { "EXECS", 8, 1, 0 }, { "SIZE", 7, 1, 0 },
	{ "FIRST SEEN", 23, 0, 0 }, { "LAST SEEN", 23, 0, 0 }, { "PATHS", 70, 0, 0 },
};
static const struct cli_col HOST_COLS[] = {
	{ "AGENT", 24, 0, 0 }, { "HOST", 32, 0, 0 }, { "FIRST SEEN", 23, 0, 0 },
	{ "LAST SEEN", 23, 0, 0 }, { "EXECS", 8, 1, 0 },
};

static int bin_row(const struct pt_jr *d, int b, struct cli_table *t)
{
	static char sha[80], hosts[32], execs[32], size[32], f_raw[64], l_raw[64], first[64];
	static char last[64], paths[8192];
	const char *vals[] = { sha, hosts, execs, size, first, last, paths };
	uint64_t v;

	pt_jr_cell(d, pt_jr_get(d, b, "sha256"), sha, sizeof(sha));
	pt_jr_cell(d, pt_jr_get(d, b, "hosts"), hosts, sizeof(hosts));
	pt_jr_cell(d, pt_jr_get(d, b, "execs"), execs, sizeof(execs));
	size[0] = '\0';
	if (!pt_jr_u64(d, pt_jr_get(d, b, "size"), &v))
		cli_human(size, sizeof(size), v);
	pt_jr_cell(d, pt_jr_get(d, b, "first_seen"), f_raw, sizeof(f_raw));
	pt_jr_cell(d, pt_jr_get(d, b, "last_seen"), l_raw, sizeof(l_raw));
	cli_local_time(first, sizeof(first), f_raw);
	cli_local_time(last, sizeof(last), l_raw);
	pt_jr_join(d, pt_jr_get(d, b, "paths"), ", ", paths, sizeof(paths));
	return cli_table_add(t, vals, NULL);
}

static int print_clean(const char *raw, size_t n)
{
	if (!pt_str_is_clean(raw, n))
		return -EINVAL;
	fwrite(raw, 1, n, stdout);
	fputc('\n', stdout);
	return 0;
}

static int one(struct cli_api *api, const char *sha, int json)
{
	struct pt_buf body;
	struct pt_jr d = { 0 };
	struct cli_table t;
	char path[128];
	int st, ret = 1, arr;

	pt_buf_init(&body, CLI_BODY_MAX);
	cli_table_init(&t, HOST_COLS, sizeof(HOST_COLS) / sizeof(HOST_COLS[0]));
	snprintf(path, sizeof(path), "/api/v1/binaries/%s", sha);
	st = cli_api_get(api, path, &body);
	if (st != 200) {
		cli_api_fail("binaries", st, &body);
		goto out;
	}
	if (pt_jr_parse(&d, (const char *)body.data, body.len, BIN_TOKENS) ||
	    d.tok[0].type != PT_JR_OBJECT) {
		fprintf(stderr, "proctrail binaries: the API's answer is not a binary\n");
		goto out;
	}
	if (json) {
		size_t n;
		const char *raw = pt_jr_raw(&d, 0, &n);

		if (print_clean(raw, n))
			fprintf(stderr, "proctrail binaries: the answer holds raw control characters\n");
		else
			ret = fflush(stdout) ? 1 : 0;
		goto out;
	}
	{
		struct cli_table s;

		cli_table_init(&s, BIN_COLS, sizeof(BIN_COLS) / sizeof(BIN_COLS[0]));
		s.cols[0].max = 64;
		bin_row(&d, 0, &s);
		cli_table_print(&s, stdout);
		cli_table_free(&s);
	}
	printf("\n");
	arr = pt_jr_get(&d, 0, "agents");
	for (int e = pt_jr_first(&d, arr); e >= 0 && e < (int)d.tok[arr].next;
	     e = (int)d.tok[e].next) {
		static char ag[256], host[256], f_raw[64], l_raw[64], first[64], last[64], ex[32];
		const char *vals[] = { ag, host, first, last, ex };

		pt_jr_cell(&d, pt_jr_get(&d, e, "agent"), ag, sizeof(ag));
		pt_jr_cell(&d, pt_jr_get(&d, e, "host"), host, sizeof(host));
		pt_jr_cell(&d, pt_jr_get(&d, e, "first_seen"), f_raw, sizeof(f_raw));
		pt_jr_cell(&d, pt_jr_get(&d, e, "last_seen"), l_raw, sizeof(l_raw));
		cli_local_time(first, sizeof(first), f_raw);
		cli_local_time(last, sizeof(last), l_raw);
		pt_jr_cell(&d, pt_jr_get(&d, e, "execs"), ex, sizeof(ex));
		if (cli_table_add(&t, vals, NULL) == -ENOMEM)
			goto out;
	}
	ret = cli_table_print(&t, stdout) || fflush(stdout) ? 1 : 0;
out:
	cli_table_free(&t);
	pt_jr_free(&d);
	pt_buf_free(&body);
	return ret;
}

int cmd_binaries(const struct cli_env *env, int argc, char **argv)
{
	struct cli_api_opts o = { 0 };
	struct cli_api api;
	struct cli_table t;
	struct pt_buf body;
	const char *sha = NULL;
	char query[CLI_QUERY_MAX] = "", cursor[1024] = "", err[256];
	uint64_t limit = BIN_DEFAULT, shown = 0, n;
	int json = 0, a, ret = 1;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			json = 1;
		} else if (cli_api_opt(&o, argc, argv, &a)) {
		} else if ((!strcmp(argv[a], "--max-hosts") || !strcmp(argv[a], "--since")) &&
			   a + 1 < argc) {
			if (cli_query_add(query, sizeof(query),
					  argv[a][2] == 'm' ? "max_hosts" : "since", argv[a + 1]))
				return 2;
			a++;
		} else if (!strcmp(argv[a], "--limit") && a + 1 < argc) {
			if (pt_conf_u64("--limit", argv[++a], 1, INT64_MAX, &limit, err, sizeof(err))) {
				fprintf(stderr, "proctrail binaries: %s\n", err);
				return 2;
			}
		} else if (!sha && argv[a][0] != '-') {
			uint8_t raw[32];

			sha = argv[a];
			if (pt_hex_decode(sha, strlen(sha), raw, sizeof(raw))) {
				fprintf(stderr, "proctrail binaries: SHA256 wants 64 hex digits\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: proctrail binaries [--json] [--max-hosts N] [--since T]"
					" [--limit N]\n       proctrail binaries [--json] SHA256\n");
			return 2;
		}
	}
	if (cli_api_open(&api, env, &o))
		return 1;
	if (sha) {
		ret = one(&api, sha, json);
		cli_api_close(&api);
		return ret;
	}
	pt_buf_init(&body, CLI_BODY_MAX);
	cli_table_init(&t, BIN_COLS, sizeof(BIN_COLS) / sizeof(BIN_COLS[0]));
	do {
		struct pt_jr d;
		char path[CLI_QUERY_MAX + 64], lim[24];
		int st, arr, c;

		snprintf(path, sizeof(path), "/api/v1/binaries%s", query);
		snprintf(lim, sizeof(lim), "%llu",
			 (unsigned long long)(limit - shown > 1000 ? 1000 : limit - shown));
		if (cli_query_add(path, sizeof(path), "limit", lim) ||
		    (cursor[0] && cli_query_add(path, sizeof(path), "cursor", cursor)))
			goto out;
		st = cli_api_get(&api, path, &body);
		if (st != 200) {
			cli_api_fail("binaries", st, &body);
			goto out;
		}
		if (pt_jr_parse(&d, (const char *)body.data, body.len, BIN_TOKENS) ||
		    (arr = pt_jr_get(&d, 0, "binaries")) < 0 || d.tok[arr].type != PT_JR_ARRAY) {
			pt_jr_free(&d);
			fprintf(stderr, "proctrail binaries: the API's answer is not a binary list\n");
			goto out;
		}
		n = 0;
		for (int e = pt_jr_first(&d, arr); e >= 0 && e < (int)d.tok[arr].next && shown < limit;
		     e = (int)d.tok[e].next, n++, shown++) {
			size_t rl;
			const char *raw = pt_jr_raw(&d, e, &rl);

			if (json ? print_clean(raw, rl) == -EIO : bin_row(&d, e, &t) == -ENOMEM) {
				pt_jr_free(&d);
				goto out;
			}
		}
		c = pt_jr_get(&d, 0, "next_cursor");
		if (c < 0 || d.tok[c].type != PT_JR_STRING ||
		    pt_jr_text(&d, c, cursor, sizeof(cursor)) <= 0)
			cursor[0] = '\0';
		pt_jr_free(&d);
	} while (cursor[0] && n && shown < limit);
	if (!json && cli_table_print(&t, stdout))
		goto out;
	ret = fflush(stdout) ? 1 : 0;
out:
	cli_table_free(&t);
	pt_buf_free(&body);
	cli_api_close(&api);
	return ret;
}
