/* Read-only access to the collector's SQLite database for the CLI. */
#ifndef PROCTRAIL_CLI_DB_H
#define PROCTRAIL_CLI_DB_H

#include <sqlite3.h>

#include "cli.h"

/* Opens HOME/proctrail.db read-only; NULL (and a message) when it cannot. */
sqlite3 *cli_db_open(const struct cli_env *env);

#endif
