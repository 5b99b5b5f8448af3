/* proctrail agents: the agents the collector knows, with their health, queue and spool,
 * losses, gaps and how long they have been silent (/api/v1/agents). --json prints each agent
 * object as the API wrote it, one per line. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "proctrail/escape.h"
#include "proctrail/jsonread.h"
#include "proctrail/wire.h"
#include "table.h"

#define AGENTS_TOKENS (4u << 20)

static const struct cli_col AGENT_COLS[] = {
	{ "NAME", 24, 0, 0 }, { "HOST", 24, 0, 0 }, { "VERSION", 10, 0, 0 },
	{ "CONNECTED", 9, 0, 0 }, { "LAST SEEN", 23, 0, 0 }, { "SILENT", 8, 1, 0 },
	{ "HEALTH", 12, 0, 0 }, { "QUEUE", 8, 1, 0 }, { "SPOOL", 7, 1, 0 },
	{ "LOST", 10, 1, 0 }, { "GAPS", 6, 1, 0 }, { "POLICY", 6, 1, 0 },
};
#define NCOLS (sizeof(AGENT_COLS) / sizeof(AGENT_COLS[0]))

/* The first of the keys the object has (the API's names, then the older CLI's). */
static int field(const struct pt_jr *d, int obj, const char *a, const char *b)
{
	int v = pt_jr_path(d, obj, a);

	return v >= 0 || !b ? v : pt_jr_path(d, obj, b);
}

/* Sum of every loss counter: {"name":n} or {"name":{"total":n,"reported":m}}. */
static uint64_t losses(const struct pt_jr *d, int obj)
{
	int c = field(d, obj, "counters", "loss");
	uint64_t sum = 0, v;

	for (int k = pt_jr_first(d, c); k >= 0 && k < (int)d->tok[c].next;
	     k = (int)d->tok[k + 1].next) {
		int val = k + 1;

		if (d->tok[val].type == PT_JR_OBJECT) {
			int t = pt_jr_get(d, val, "total"), r = pt_jr_get(d, val, "reported");
			uint64_t tv = 0, rv = 0;

			pt_jr_u64(d, t, &tv);
			pt_jr_u64(d, r, &rv);
			sum += tv > rv ? tv : rv;
		} else if (!pt_jr_u64(d, val, &v)) {
			sum += v;
		}
	}
	return sum;
}

static int row(const struct pt_jr *d, int ag, struct cli_table *t)
{
	char name[256], host[256], ver[64], conn[8], seen_raw[64], seen[64], silent[32];
	char health[64], queue[32], spool[32], lost[32], gaps[32], policy[32];
	const char *vals[NCOLS] = { name, host, ver, conn, seen, silent, health, queue, spool,
				    lost, gaps, policy };
	uint64_t v;
	int c, tok;

	pt_jr_cell(d, field(d, ag, "name", "agent.name"), name, sizeof(name));
	pt_jr_cell(d, field(d, ag, "host", "host.name"), host, sizeof(host));
	pt_jr_cell(d, field(d, ag, "version", "agent.version"), ver, sizeof(ver));
	c = pt_jr_bool(d, field(d, ag, "connected", NULL));
	snprintf(conn, sizeof(conn), "%s", c == 1 ? "yes" : c == 0 ? "no" : "?");
	pt_jr_cell(d, field(d, ag, "last_seen", NULL), seen_raw, sizeof(seen_raw));
	cli_local_time(seen, sizeof(seen), seen_raw);
	silent[0] = '\0';
	if (!pt_jr_u64(d, field(d, ag, "silent_seconds", NULL), &v))
		snprintf(silent, sizeof(silent), "%llus", (unsigned long long)v);
	pt_jr_cell(d, field(d, ag, "health", NULL), health, sizeof(health));
	queue[0] = spool[0] = gaps[0] = policy[0] = '\0';
	if (!pt_jr_u64(d, field(d, ag, "queue_depth", NULL), &v))
		cli_human(queue, sizeof(queue), v);
	if (!pt_jr_u64(d, field(d, ag, "spool_bytes", NULL), &v))
		cli_human(spool, sizeof(spool), v);
	snprintf(lost, sizeof(lost), "%llu", (unsigned long long)losses(d, ag));
	tok = field(d, ag, "gaps", NULL);
	if (tok >= 0 && d->tok[tok].type == PT_JR_ARRAY)
		tok = field(d, ag, "unexplained_gaps", NULL);
	if (!pt_jr_u64(d, tok, &v))
		snprintf(gaps, sizeof(gaps), "%llu", (unsigned long long)v);
	if (!pt_jr_u64(d, field(d, ag, "policy_version", NULL), &v))
		snprintf(policy, sizeof(policy), "%llu", (unsigned long long)v);
	return cli_table_add(t, vals, NULL);
}

/* Appends "key": and the raw JSON of token v (already clean JSON from the API). */
static void put_raw(struct pt_buf *o, bool *comma, const char *key, const struct pt_jr *d, int v)
{
	size_t n;
	const char *raw;

	if (v < 0)
		return;
	raw = pt_jr_raw(d, v, &n);
	pt_buf_printf(o, "%s\"%s\":", *comma ? "," : "", key);
	pt_buf_append(o, raw, n);
	*comma = true;
}

static bool is_loss_counter(const struct pt_jr *d, int key)
{
	char name[64];

	if (pt_jr_text(d, key, name, sizeof(name)) < 0)
		return false;
	for (unsigned i = 0; i <= PT_LOSS_COUNTER_MAX; i++) {
		const char *n = pt_loss_counter_name(i);

		if (n && !strcmp(n, name))
			return true;
	}
	return false;
}

/* The object `agents --json` has always printed, from the API's agent object: the same keys
 * (agent.id, host.name, loss.NAME.total/reported, collector.NAME, unexplained_gaps...) plus
 * the API's silent_seconds. The gap list and stream positions appear when the API gives them
 * (gap_list, stream_id, last_seq, agent_next_seq, agent_acked_seq). */
static int legacy_agent(const struct pt_jr *d, int ag, struct pt_buf *o)
{
	static const char *const same[] = { "address", "mode", "health", "connected", "stream_id",
		"last_seq", "first_seen", "last_seen", "last_pong", "queue_depth", "spool_bytes",
		"agent_next_seq", "agent_acked_seq", "events", "duplicates", "policy_version",
		"policy_since", "policy_result_version", "policy_result_code", "policy_result_message",
		"sequence_regressions" };
	int name = field(d, ag, "name", "agent.name"), c, rep, g;
	bool comma = false, inner;

	pt_buf_reset(o);
	pt_buf_append_str(o, "{");
	put_raw(o, &comma, "agent.id", d, name);
	put_raw(o, &comma, "agent.name", d, name);
	put_raw(o, &comma, "host.name", d, field(d, ag, "host", "host.name"));
	put_raw(o, &comma, "agent.version", d, field(d, ag, "version", "agent.version"));
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		int v = pt_jr_get(d, ag, same[i]);

		if (v >= 0 && d->tok[v].type != PT_JR_NULL)
			put_raw(o, &comma, same[i], d, v);
	}
	c = pt_jr_get(d, ag, "counters");
	rep = pt_jr_get(d, ag, "loss_reported");
	pt_buf_append_str(o, ",\"loss\":{");
	inner = false;
	for (int k = pt_jr_first(d, c); k >= 0 && k < (int)d->tok[c].next; k = (int)d->tok[k + 1].next) {
		char key[64];
		bool kc = false;

		if (!is_loss_counter(d, k) || pt_jr_text(d, k, key, sizeof(key)) < 0)
			continue;
		pt_buf_printf(o, "%s\"%s\":{", inner ? "," : "", key);
		put_raw(o, &kc, "total", d, k + 1);
		put_raw(o, &kc, "reported", d, pt_jr_get(d, rep, key));
		pt_buf_append_str(o, "}");
		inner = true;
	}
	/* a LOSS record of a counter the agent has not counted (yet) */
	for (int k = pt_jr_first(d, rep); k >= 0 && k < (int)d->tok[rep].next;
	     k = (int)d->tok[k + 1].next) {
		char key[64];
		bool kc = false;

		if (pt_jr_text(d, k, key, sizeof(key)) < 0 || pt_jr_get(d, c, key) >= 0)
			continue;
		pt_buf_printf(o, "%s\"%s\":{", inner ? "," : "", key);
		put_raw(o, &kc, "reported", d, k + 1);
		pt_buf_append_str(o, "}");
		inner = true;
	}
	pt_buf_append_str(o, "},\"collector\":{");
	inner = false;
	for (int k = pt_jr_first(d, c); k >= 0 && k < (int)d->tok[c].next; k = (int)d->tok[k + 1].next) {
		char key[64];

		if (is_loss_counter(d, k) || pt_jr_text(d, k, key, sizeof(key)) < 0)
			continue;
		put_raw(o, &inner, key, d, k + 1);
	}
	pt_buf_append_str(o, "}");
	g = pt_jr_get(d, ag, "gap_list");
	if (g >= 0 && d->tok[g].type == PT_JR_ARRAY)
		put_raw(o, &comma, "gaps", d, g);
	g = pt_jr_get(d, ag, "gaps");
	put_raw(o, &comma, "unexplained_gaps", d,
		g >= 0 && d->tok[g].type == PT_JR_NUMBER ? g : pt_jr_get(d, ag, "unexplained_gaps"));
	put_raw(o, &comma, "unexplained_missing", d, pt_jr_get(d, ag, "unexplained_missing"));
	put_raw(o, &comma, "silent_seconds", d, pt_jr_get(d, ag, "silent_seconds"));
	return pt_buf_append_str(o, "}\n") ? -EMSGSIZE : 0;
}

int cmd_agents(const struct cli_env *env, int argc, char **argv)
{
	struct cli_api_opts o = { 0 };
	struct cli_api api;
	struct cli_table t;
	struct pt_buf body, line;
	struct pt_jr d = { 0 };
	uint64_t refused = 0;
	int json = 0, a, st, arr, ret = 1;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json"))
			json = 1;
		else if (!cli_api_opt(&o, argc, argv, &a)) {
			fprintf(stderr, "usage: proctrail agents [--json] [--url URL] [--token-file F]"
					" [--ca F]\n");
			return 2;
		}
	}
	if (json && !cli_api_configured(env, &o))
		return cli_local_agents(env, argc, argv);
	if (cli_api_open(&api, env, &o))
		return 1;
	pt_buf_init(&body, CLI_BODY_MAX);
	pt_buf_init(&line, 1u << 20);
	cli_table_init(&t, AGENT_COLS, NCOLS);
	st = cli_api_get(&api, "/api/v1/agents", &body);
	if (st != 200) {
		cli_api_fail("agents", st, &body);
		goto out;
	}
	if (pt_jr_parse(&d, (const char *)body.data, body.len, AGENTS_TOKENS) ||
	    (arr = pt_jr_get(&d, 0, "agents")) < 0 || d.tok[arr].type != PT_JR_ARRAY) {
		fprintf(stderr, "proctrail agents: the API's answer is not an agent list\n");
		goto out;
	}
	for (int e = pt_jr_first(&d, arr); e >= 0 && e < (int)d.tok[arr].next;
	     e = (int)d.tok[e].next) {
		if (json) {
			size_t n;
			const char *raw = pt_jr_raw(&d, e, &n);

			if (!pt_str_is_clean(raw, n) || legacy_agent(&d, e, &line)) {
				refused++;
				continue;
			}
			fwrite(line.data, 1, line.len, stdout);
		} else if (row(&d, e, &t) == -ENOMEM) {
			goto out;
		}
	}
	if (!json && cli_table_print(&t, stdout))
		goto out;
	if (refused)
		fprintf(stderr, "proctrail agents: %llu agents not shown (not clean JSON)\n",
			(unsigned long long)refused);
	ret = fflush(stdout) ? 1 : 0;
out:
	pt_jr_free(&d);
	cli_table_free(&t);
	pt_buf_free(&body);
	pt_buf_free(&line);
	cli_api_close(&api);
	return ret;
}
