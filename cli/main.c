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
	{ "events", cmd_events, "events --json [--sha256 HEX] [--agent NAME] [--limit N]" },
	{ "agents", cmd_agents, "agents --json           agents with their health, losses and gaps" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: proctrail [--home DIR] COMMAND [ARGS]\n\n"
		   "The deployment directory is --home, else $PROCTRAIL_HOME, else ./var.\n\n"
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
	const char *home = getenv("PROCTRAIL_HOME");
	size_t i;
	int a = 1;

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
		if (!strcmp(argv[a], "--home") && a + 1 < argc) {
			home = argv[a + 1];
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
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[a], commands[i].name))
			return commands[i].fn(&env, argc - a, argv + a);
	fprintf(stderr, "proctrail: unknown command '%s'\n", argv[a]);
	usage(stderr);
	return 2;
}
