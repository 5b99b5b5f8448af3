#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "proctrail/log.h"
#include "proctrail/version.h"

static const struct {
	const char *name;
	int (*fn)(const struct cli_env *env, int argc, char **argv);
	const char *help;
} commands[] = {
	{ "pki", cmd_pki, "pki init [--san LIST]   create the CA, collector certificate and CRL\n"
			  "  pki list                the register of issued certificates\n"
			  "  pki operator NAME [--role read|admin] [--token-file FILE]\n"
			  "                          an HTTP API operator and its token (printed once)\n"
			  "  pki operator NAME --revoke" },
	{ "enroll", cmd_enroll, "enroll [--renew] NAME   issue an agent's certificate bundle" },
	{ "revoke", cmd_revoke, "revoke NAME             revoke every certificate issued to NAME (CRL)\n"
				"  revoke --serial HEX     revoke one certificate" },
	{ "events", cmd_events, "events [--json] [--follow] [--limit N] [FILTERS]   events, oldest first\n"
				"                          (events --help lists the filters)" },
	{ "tree", cmd_tree, "tree [--json] ENTITY_ID  a process with its ancestors and descendants" },
	{ "binaries", cmd_binaries, "binaries [--json] [--max-hosts N] [--since T]   rarest binaries\n"
				    "  binaries [--json] SHA256   the hosts that ran one binary" },
	{ "agents", cmd_agents, "agents [--json]         agents with their health, losses and gaps" },
	{ "policy", cmd_policy, "policy block SHA256 --reason TEXT [--agent NAME|--all] [--audit]\n"
	  "                          policy unblock SHA256 [--agent NAME]; policy list [--json]" },
	{ "fetch", cmd_fetch, "fetch SHA256 --agent NAME -o FILE [--timeout SEC]   a sample of a binary\n"
	  "                          from an agent that executed it (admin; fetch --help)" },
	{ "alerts", cmd_alerts, "alerts [--json] [--rule ID] [--level L] [--agent NAME] [--limit N]\n"
				"                          Sigma matches, with the event that matched" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: proctrail [--home DIR] [--db FILE|URL] COMMAND [ARGS]\n\n"
		   "The deployment directory is --home, else $PROCTRAIL_HOME, else ./var.\n"
		   "events, tree, binaries and agents ask the collector's HTTP API: its address is\n"
		   "--url, else $PROCTRAIL_URL, else HOME/api.url; the operator token --token-file,\n"
		   "else $PROCTRAIL_TOKEN, else HOME/operators/local.token; the CA --ca, else\n"
		   "HOME/pki/ca.crt. Each of them may also follow the command.\n"
		   "--db FILE|URL (else $PROCTRAIL_DB): events --json and agents --json read that\n"
		   "database instead, a SQLite file or a PostgreSQL URL (postgresql://...).\n\n"
		   "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].help);
}

int cli_path(const struct cli_env *env, char *out, size_t outlen, const char *rel)
{
	if (snprintf(out, outlen, "%s/%s", env->home, rel) >= (int)outlen)
		return -ENAMETOOLONG;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_env env;
	const char *home = getenv("PROCTRAIL_HOME"), *db = getenv("PROCTRAIL_DB");
	char *api_opts[6], **sub = NULL;
	size_t i;
	int a = 1, nopt = 0, ret;

	log_init("proctrail", 0);
	while (a < argc && argv[a][0] == '-') {
		if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[a], "--version")) {
			printf("proctrail %s\n", PROCTRAIL_VERSION);
			return 0;
		}
		/* API options before the command are handed to it as if they followed it */
		if ((!strcmp(argv[a], "--url") || !strcmp(argv[a], "--token-file") ||
		     !strcmp(argv[a], "--ca")) && a + 1 < argc && nopt + 2 <= 6) {
			api_opts[nopt++] = argv[a];
			api_opts[nopt++] = argv[a + 1];
			a += 2;
			continue;
		}
		if (!strcmp(argv[a], "--home") && a + 1 < argc) {
			home = argv[a + 1];
			a += 2;
			continue;
		}
		if (!strcmp(argv[a], "--db") && a + 1 < argc) {
			db = argv[a + 1];
			a += 2;
			continue;
		}
		usage(stderr);
		return 2;
	}
	if (a >= argc) {
		usage(stderr);
		return 2;
	}
	if (snprintf(env.home, sizeof(env.home), "%s", home && *home ? home : "./var") >=
	    (int)sizeof(env.home)) {
		fprintf(stderr, "proctrail: home directory path too long\n");
		return 2;
	}
	if (snprintf(env.db, sizeof(env.db), "%s", db ? db : "") >= (int)sizeof(env.db)) {
		fprintf(stderr, "proctrail: --db too long\n");
		return 2;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		int n = argc - a;

		if (strcmp(argv[a], commands[i].name))
			continue;
		if (!nopt)
			return commands[i].fn(&env, n, argv + a);
		sub = calloc((size_t)n + (size_t)nopt + 1, sizeof(*sub));
		if (!sub)
			return 1;
		sub[0] = argv[a];
		memcpy(sub + 1, api_opts, (size_t)nopt * sizeof(*sub));
		memcpy(sub + 1 + nopt, argv + a + 1, (size_t)(n - 1) * sizeof(*sub));
		ret = commands[i].fn(&env, n + nopt, sub);
		free(sub);
		return ret;
	}
	fprintf(stderr, "proctrail: unknown command '%s'\n", argv[a]);
	usage(stderr);
	return 2;
}
