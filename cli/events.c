/* proctrail events: the collector's events through its API (/api/v1/events), oldest first,
 * as a table for people or with --json one ECS object per line exactly as the collector's
 * formatter wrote it; --follow reads /api/v1/events/stream. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "db.h"
#include "events.h"
#include "proctrail/conf.h"
#include "proctrail/escape.h"
#include "proctrail/hex.h"
#include "proctrail/jsonread.h"
#include "table.h"

#define PAGE_MAX        1000u       /* the API's limit maximum */
#define PAGE_TOKENS     (4u << 20)  /* tokens of one answer */
#define TABLE_DEFAULT   100u        /* rows a table shows without --limit */

static const struct {
	const char *flag, *param;
} FILTERS[] = {
	{ "--since", "from" }, { "--from", "from" }, { "--to", "to" }, { "--agent", "agent" },
	{ "--host", "host" }, { "--sha256", "sha256" }, { "--exe", "exe" },
	{ "--exe-prefix", "exe_prefix" }, { "--exe-glob", "exe_glob" }, { "--name", "name" },
	{ "--user", "user" }, { "--pid", "pid" }, { "--entity-id", "entity_id" },
	{ "--cmdline-contains", "cmdline" }, { "--action", "action" },
};

static const struct cli_col EVENT_COLS[] = {
	{ "TIME", 23, 0, 0 }, { "HOST", 20, 0, 0 }, { "ACTION", 12, 0, 0 }, { "PID", 8, 1, 0 },
	{ "USER", 8, 0, 0 }, { "ENTITY", 32, 0, 0 }, { "SHA256", 13, 0, 0 },
	{ "EXECUTABLE", 40, 0, 0 }, { "ARGS", 60, 0, 0 },
};
#define NCOLS (sizeof(EVENT_COLS) / sizeof(EVENT_COLS[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: proctrail events [--json] [--follow] [--wide] [--limit N] [FILTERS]\n"
		   "filters: --since AGE (as --from) --from AGE|TIME --to AGE|TIME --agent NAME --host NAME\n"
		   "         --sha256 HEX --exe PATH --exe-prefix PATH --exe-glob GLOB --name NAME\n"
		   "         --user NAME|UID --pid N --entity-id HEX --cmdline-contains TEXT\n"
		   "         --action exec|exit|...\n"
		   "API: --url https://HOST:PORT --token-file FILE --ca FILE\n");
}

static size_t text(const struct pt_jr *d, int obj, const char *path, char *out, size_t cap)
{
	int n = pt_jr_text(d, pt_jr_path(d, obj, path), out, cap);

	if (n == -EMSGSIZE)
		return strlen(out);
	return n < 0 ? 0 : (size_t)n;
}

int cli_event_row(const struct pt_jr *d, int ev, struct cli_table *t, FILE *stream)
{
	static char ts[64], host[256], action[64], pid[32], user[64], entity[80], sha[80];
	static char exe[4096], args[8192], when[64];
	const char *vals[NCOLS];
	size_t lens[NCOLS];
	size_t sl;

	text(d, ev, "@timestamp", ts, sizeof(ts));
	cli_local_time(when, sizeof(when), ts);
	vals[0] = when, lens[0] = strlen(when);
	lens[1] = text(d, ev, "host.name", host, sizeof(host)), vals[1] = host;
	lens[2] = text(d, ev, "event.action", action, sizeof(action)), vals[2] = action;
	lens[3] = text(d, ev, "process.pid", pid, sizeof(pid)), vals[3] = pid;
	lens[4] = text(d, ev, "process.user.name", user, sizeof(user));
	if (!lens[4])
		lens[4] = text(d, ev, "process.user.id", user, sizeof(user));
	if (!lens[4])
		lens[4] = text(d, ev, "user.id", user, sizeof(user));
	vals[4] = user;
	lens[5] = text(d, ev, "process.entity_id", entity, sizeof(entity)), vals[5] = entity;
	sl = text(d, ev, "process.hash.sha256", sha, sizeof(sha));
	vals[6] = sha, lens[6] = sl;
	lens[7] = text(d, ev, "process.executable", exe, sizeof(exe)), vals[7] = exe;
	pt_jr_join(d, pt_jr_path(d, ev, "process.args"), " ", args, sizeof(args));
	vals[8] = args, lens[8] = strlen(args);
	if (stream)
		return cli_table_print_row(t, vals, lens, stream);
	return cli_table_add(t, vals, lens);
}

int cli_event_cols(struct cli_table *t)
{
	return cli_table_init(t, EVENT_COLS, NCOLS);
}

/* A line for --json: the event's bytes as the collector wrote them. They are printed only
 * when they hold nothing a terminal would act on (the collector's formatter escapes every
 * such code point; anything else did not come from it). */
static int print_raw(const char *p, size_t n, uint64_t *refused)
{
	if (!pt_str_is_clean(p, n)) {
		(*refused)++;
		return 0;
	}
	if (fwrite(p, 1, n, stdout) != n || fputc('\n', stdout) == EOF)
		return -EIO;
	return 0;
}

struct page {
	long off;
	size_t len;
};

struct run {
	int json;
	uint64_t limit;          /* 0: all */
	uint64_t shown, refused;
	struct cli_table table;
};

/* The events of one page oldest first (the API answers newest first). */
static int emit_page(struct run *r, const char *body, size_t len, uint64_t skip)
{
	struct pt_jr d;
	int arr, e, ret;
	int idx[PAGE_MAX];
	uint32_t n = 0;

	if ((ret = pt_jr_parse(&d, body, len, PAGE_TOKENS)))
		return ret;
	arr = pt_jr_get(&d, 0, "events");
	for (e = pt_jr_first(&d, arr); e >= 0 && n < d.tok[arr].count && n < PAGE_MAX;
	     e = (int)d.tok[e].next)
		idx[n++] = e;
	/* skip: the oldest events of the last page beyond --limit */
	for (uint32_t i = n; i-- > 0;) {
		if (skip) {
			skip--;
			continue;
		}
		if (r->json) {
			size_t rl;
			const char *raw = pt_jr_raw(&d, idx[i], &rl);

			ret = print_raw(raw, rl, &r->refused);
		} else {
			ret = cli_event_row(&d, idx[i], &r->table, NULL);
			if (ret == -E2BIG)
				ret = 0;   /* counted in the table */
		}
		if (ret)
			break;
		r->shown++;
	}
	pt_jr_free(&d);
	return ret;
}

static int run_query(struct cli_api *api, const char *query, struct run *r)
{
	struct pt_buf body;
	struct page *pages = NULL;
	size_t npages = 0, cap = 0;
	uint64_t fetched = 0;
	char path[CLI_QUERY_MAX + 64], cursor[1024] = "";
	FILE *spill = tmpfile();   /* pages newest first, replayed backwards: bounded memory */
	int ret = 1, st;

	pt_buf_init(&body, CLI_BODY_MAX);
	if (!spill) {
		perror("proctrail events: tmpfile");
		goto out;
	}
	for (;;) {
		struct pt_jr d;
		uint64_t want = PAGE_MAX, got;
		char lim[24];
		int arr, nc;

		if (r->limit && r->limit - fetched < want)
			want = r->limit - fetched;
		snprintf(path, sizeof(path), "/api/v1/events%s", query);
		snprintf(lim, sizeof(lim), "%llu", (unsigned long long)want);
		if (cli_query_add(path, sizeof(path), "limit", lim) ||
		    (cursor[0] && cli_query_add(path, sizeof(path), "cursor", cursor))) {
			fprintf(stderr, "proctrail events: the filters are too long\n");
			goto out;
		}
		st = cli_api_get(api, path, &body);
		if (st != 200) {
			ret = cli_api_fail("events", st, &body);
			goto out;
		}
		if (pt_jr_parse(&d, (const char *)body.data, body.len, PAGE_TOKENS) ||
		    (arr = pt_jr_get(&d, 0, "events")) < 0 || d.tok[arr].type != PT_JR_ARRAY) {
			pt_jr_free(&d);
			fprintf(stderr, "proctrail events: the API's answer is not an event list\n");
			goto out;
		}
		got = d.tok[arr].count;
		nc = pt_jr_text(&d, pt_jr_get(&d, 0, "next_cursor"), cursor, sizeof(cursor));
		if (nc <= 0 || d.tok[pt_jr_get(&d, 0, "next_cursor")].type != PT_JR_STRING)
			cursor[0] = '\0';
		pt_jr_free(&d);
		if (got > want) {
			fprintf(stderr, "proctrail events: the API sent more events than asked\n");
			goto out;
		}
		if (npages == cap) {
			struct page *np = realloc(pages, (cap ? cap * 2 : 16) * sizeof(*np));

			if (!np)
				goto out;
			pages = np;
			cap = cap ? cap * 2 : 16;
		}
		pages[npages].off = ftell(spill);
		pages[npages].len = body.len;
		if (fwrite(body.data, 1, body.len, spill) != body.len) {
			perror("proctrail events: temporary file");
			goto out;
		}
		npages++;
		fetched += got;
		if (!cursor[0] || !got || (r->limit && fetched >= r->limit))
			break;
	}
	for (size_t p = npages; p-- > 0;) {
		if (fseek(spill, pages[p].off, SEEK_SET) || pt_buf_reserve(&body, pages[p].len + 1)) {
			fprintf(stderr, "proctrail events: temporary file\n");
			goto out;
		}
		pt_buf_reset(&body);
		if (fread(body.data, 1, pages[p].len, spill) != pages[p].len) {
			fprintf(stderr, "proctrail events: temporary file\n");
			goto out;
		}
		body.len = pages[p].len;
		if ((st = emit_page(r, (const char *)body.data, body.len, 0))) {
			fprintf(stderr, "proctrail events: %s\n", strerror(-st));
			goto out;
		}
	}
	ret = 0;
out:
	if (spill)
		fclose(spill);
	free(pages);
	pt_buf_free(&body);
	return ret;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct follow {
	int json;
	uint64_t refused;
	struct cli_table table;
	char last_id[PT_SSE_ID_MAX];
};

static int on_event(void *arg, const char *event, const char *id, const uint8_t *data,
		    size_t len)
{
	struct follow *f = arg;
	struct pt_jr d;
	int ret;

	if (stop)
		return -EINTR;
	snprintf(f->last_id, sizeof(f->last_id), "%s", id);
	if (strcmp(event, "event"))
		return 0;
	if (pt_jr_parse(&d, (const char *)data, len, PAGE_TOKENS) || d.tok[0].type != PT_JR_OBJECT) {
		f->refused++;
		fprintf(stderr, "proctrail events: an event of the stream is not a JSON object "
				"(%llu so far)\n", (unsigned long long)f->refused);
		pt_jr_free(&d);
		return 0;
	}
	if (f->json) {
		ret = print_raw((const char *)data, len, &f->refused);
		if (!ret)
			ret = fflush(stdout) ? -EIO : 0;
	} else {
		ret = cli_event_row(&d, 0, &f->table, stdout);
	}
	pt_jr_free(&d);
	return ret;
}

static int run_follow(struct cli_api *api, const char *query, int json)
{
	struct follow f = { .json = json };
	char path[CLI_QUERY_MAX + 64];
	struct sigaction sa = { .sa_handler = on_signal };
	int ret, tries = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	snprintf(path, sizeof(path), "/api/v1/events/stream%s", query);
	cli_event_cols(&f.table);
	if (!json)
		cli_table_print_head(&f.table, stdout);
	fflush(stdout);
	/* the stream ends when the collector restarts: go on from the last event seen */
	while (!stop) {
		ret = cli_api_stream(api, path, f.last_id[0] ? f.last_id : NULL, on_event, &f);
		if (stop || ret == -EINTR || ret == -EIO)
			break;
		if (ret >= 400) {
			cli_table_free(&f.table);
			return 1;
		}
		if (++tries > 1000)
			break;
		fprintf(stderr, "proctrail events: the stream ended; reconnecting\n");
		sleep(2);
	}
	if (f.refused)
		fprintf(stderr, "proctrail events: %llu events not shown (not clean JSON)\n",
			(unsigned long long)f.refused);
	cli_table_free(&f.table);
	return 0;
}

int cmd_events(const struct cli_env *env, int argc, char **argv)
{
	struct cli_api_opts o = { 0 };
	struct cli_api api;
	struct run r = { 0 };
	char query[CLI_QUERY_MAX] = "", err[256];
	int follow = 0, wide = 0, a, ret;
	size_t i;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			r.json = 1;
			continue;
		}
		if (!strcmp(argv[a], "--wide")) {
			wide = 1;
			continue;
		}
		if (!strcmp(argv[a], "--follow") || !strcmp(argv[a], "-f")) {
			follow = 1;
			continue;
		}
		if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			usage(stdout);
			return 0;
		}
		if (cli_api_opt(&o, argc, argv, &a))
			continue;
		if (!strcmp(argv[a], "--limit") && a + 1 < argc) {
			if (pt_conf_u64("--limit", argv[++a], 1, INT64_MAX, &r.limit, err,
					sizeof(err))) {
				fprintf(stderr, "proctrail events: %s\n", err);
				return 2;
			}
			continue;
		}
		for (i = 0; i < sizeof(FILTERS) / sizeof(FILTERS[0]); i++)
			if (!strcmp(argv[a], FILTERS[i].flag))
				break;
		if (i == sizeof(FILTERS) / sizeof(FILTERS[0]) || a + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(argv[a], "--sha256")) {
			uint8_t sha[32];
			const char *hex = argv[a + 1];

			if (pt_hex_decode(hex, strlen(hex), sha, sizeof(sha))) {
				fprintf(stderr, "proctrail events: --sha256 wants 64 hex digits\n");
				return 2;
			}
		}
		if (cli_query_add(query, sizeof(query), FILTERS[i].param, argv[++a])) {
			fprintf(stderr, "proctrail events: the filters are too long\n");
			return 2;
		}
	}
	if (!r.json && !r.limit && !follow)
		r.limit = TABLE_DEFAULT;
	/* no API anywhere: this is the collector host of a deployment without one */
	if (r.json && !follow && !cli_api_configured(env, &o))
		return cli_local_events(env, argc, argv);
	if (cli_api_open(&api, env, &o))
		return 1;
	if (follow) {
		ret = run_follow(&api, query, r.json);
		cli_api_close(&api);
		return ret;
	}
	if (!r.json) {
		cli_event_cols(&r.table);
		for (unsigned c = 0; wide && c < r.table.ncols; c++)
			r.table.cols[c].max = 0;   /* nothing shortened (still escaped) */
	}
	ret = run_query(&api, query, &r);
	if (!ret && !r.json) {
		if (cli_table_print(&r.table, stdout))
			ret = 1;
	}
	if (r.refused)
		fprintf(stderr, "proctrail events: %llu events not shown (not clean JSON)\n",
			(unsigned long long)r.refused);
	cli_table_free(&r.table);
	cli_api_close(&api);
	if (!ret && fflush(stdout))
		ret = 1;
	return ret;
}
