/* proctrail CLI: one file per subcommand, a table in main.c. */
#ifndef PROCTRAIL_CLI_H
#define PROCTRAIL_CLI_H

#include <stddef.h>

#define CLI_PATH_MAX 4096

struct cli_env {
	char home[CLI_PATH_MAX];   /* deployment directory: --home, $PROCTRAIL_HOME, ./var */
	char db[CLI_PATH_MAX];     /* --db, $PROCTRAIL_DB: a SQLite file or a PostgreSQL URL; "" */
};

/* Joins home and a relative path into out; -ENAMETOOLONG if it does not fit. */
int cli_path(const struct cli_env *env, char *out, size_t outlen, const char *rel);

/* Enrolls NAME (pki.c) unless it is enrolled already: 0, -EEXIST, -errno. */
int cli_enroll(const struct cli_env *env, const char *name);
/* `pki bundle NAME --collector HOST:PORT ... -o FILE` (bundle.c); argv[0] is "bundle". */
int cli_pki_bundle(const struct cli_env *env, int argc, char **argv);
int cmd_pki(const struct cli_env *env, int argc, char **argv);
int cmd_enroll(const struct cli_env *env, int argc, char **argv);
int cmd_revoke(const struct cli_env *env, int argc, char **argv);
int cmd_events(const struct cli_env *env, int argc, char **argv);
/* pki operator ...: argv[0] is "operator" */
int cli_operator(const struct cli_env *env, int argc, char **argv);
int cmd_agents(const struct cli_env *env, int argc, char **argv);
int cmd_alerts(const struct cli_env *env, int argc, char **argv);
int cmd_tree(const struct cli_env *env, int argc, char **argv);
int cmd_binaries(const struct cli_env *env, int argc, char **argv);
int cmd_policy(const struct cli_env *env, int argc, char **argv);
int cmd_fetch(const struct cli_env *env, int argc, char **argv);

#endif
