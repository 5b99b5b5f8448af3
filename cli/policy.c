/* proctrail policy block|unblock|list: a thin layer over lib/policy (include/proctrail/policy.h).
 * It writes the collector's database directly, so it needs the database owner's rights
 * (root's, or the collector user's): the admin role of a local operator. The collector sees
 * a new version within a second and pushes it to every agent. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pwd.h>

#include "cli.h"
#include "db.h"
#include "../lib/ecs/json.h"
#include "proctrail/buf.h"
#include "proctrail/hex.h"
#include "proctrail/log.h"
#include "proctrail/policy.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: proctrail policy block SHA256 --reason TEXT [--agent NAME|--all] [--audit]\n"
		   "       proctrail policy unblock SHA256 [--agent NAME]\n"
		   "       proctrail policy list [--json]\n");
}

/* The local operator: the Unix user running the command. */
static const char *operator_name(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(getuid());
	snprintf(buf, len, "local:%s", pw && pw->pw_name ? pw->pw_name : "?");
	return buf;
}

static int print_rule(void *ctx, const struct pt_policy_rule_info *r)
{
	bool json = *(bool *)ctx;
	char hex[2 * PT_SHA256_LEN + 1];

	pt_hex_encode(r->sha256, PT_SHA256_LEN, hex);
	if (json) {
		struct pt_buf out;
		pt_buf_init(&out, 1u << 16);
		struct pt_json j = { .out = &out };
		pt_json_raw(&j, "{");
		pt_json_ku64(&j, "rule_id", r->id);
		pt_json_kcstr(&j, "sha256", hex);
		if (r->agent)
			pt_json_kcstr(&j, "agent", r->agent);
		else
			pt_json_kcstr(&j, "scope", "all");
		pt_json_kcstr(&j, "mode", r->audit ? "audit" : "block");
		pt_json_kcstr(&j, "reason", r->reason ? r->reason : "");
		if (r->operator_name)
			pt_json_kcstr(&j, "operator", r->operator_name);
		pt_json_ku64(&j, "added_version", r->added_version);
		pt_json_ktime(&j, "created", r->created_ns);
		pt_json_raw(&j, "}\n");
		if (!j.err)
			fwrite(out.data, 1, out.len, stdout);
		pt_buf_free(&out);
	} else {
		/* reason and agent were checked printable when stored */
		printf("%-6llu %s %-5s %-16s %s\n", (unsigned long long)r->id, hex,
		       r->audit ? "audit" : "block", r->agent ? r->agent : "(all)",
		       r->reason ? r->reason : "");
	}
	return 0;
}

int cmd_policy(const struct cli_env *env, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' }, { "agent", required_argument, NULL, 'a' },
		{ "all", no_argument, NULL, 'A' }, { "audit", no_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pt_policy_change ch = { 0 };
	const char *sub;
	char opname[300], err[512];
	bool all = false, json = false;
	uint64_t version = 0;
	sqlite3 *db = NULL;
	int c, rc, ret = 1;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': ch.reason = optarg; break;
		case 'a': ch.agent = optarg; break;
		case 'A': all = true; break;
		case 'u': ch.audit = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (all && ch.agent) {
		fprintf(stderr, "proctrail policy: --agent and --all exclude each other\n");
		return 2;
	}
	if (!strcmp(sub, "list")) {
		if (optind != argc) {
			usage(stderr);
			return 2;
		}
		if (!(db = cli_db_open(env)))
			return 1;
		ret = pt_policy_list(db, print_rule, &json) ? 1 : 0;
		if (ret)
			fprintf(stderr, "proctrail policy: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return ret;
	}
	if ((strcmp(sub, "block") && strcmp(sub, "unblock")) || optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	ch.sha256_hex = argv[optind];
	ch.operator_name = operator_name(opname, sizeof(opname));
	/* a malformed hash is refused before the database is touched */
	uint8_t sha[PT_SHA256_LEN];
	if (pt_policy_parse_sha256(ch.sha256_hex, sha, err, sizeof(err))) {
		fprintf(stderr, "proctrail policy: %s\n", err);
		return 2;
	}
	if (!(db = cli_db_open_rw(env)))
		return 1;
	sqlite3_busy_timeout(db, 10000);
	if (!strcmp(sub, "block"))
		rc = pt_policy_block(db, &ch, now_ns(), &version, err, sizeof(err));
	else
		rc = pt_policy_unblock(db, &ch, now_ns(), &version, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "proctrail policy: %s\n", err);
		ret = rc == -EINVAL || rc == -EPERM ? 2 : 1;
	} else {
		printf("policy version %llu\n", (unsigned long long)version);
		ret = 0;
	}
	sqlite3_close(db);
	return ret;
}
