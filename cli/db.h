/* Read-only access to the collector's SQLite database for the CLI. */
#ifndef PROCTRAIL_CLI_DB_H
#define PROCTRAIL_CLI_DB_H

#include <sqlite3.h>

#include "cli.h"

#define CLI_DB_DIR "db"   /* under HOME; scripts/run-local.sh and docs/operations.md */

/* Opens HOME/db/proctrail.db, else HOME/proctrail.db, read-only; NULL (and a message naming
 * the first) when neither can be opened. */
sqlite3 *cli_db_open(const struct cli_env *env);

/* events --json and agents --json read from the database when no API is configured. */
int cli_local_events(const struct cli_env *env, int argc, char **argv);
int cli_local_agents(const struct cli_env *env, int argc, char **argv);

#endif
