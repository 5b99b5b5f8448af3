/* The CLI's reads of the collector's database go through proctrail/dbq.h, the same on SQLite
 * and on PostgreSQL. */
#ifndef PROCTRAIL_CLI_DBQ_H
#define PROCTRAIL_CLI_DBQ_H

#include "cli.h"
#include "proctrail/dbq.h"

/* env->db when set (a PostgreSQL URL or a SQLite file), else the deployment's SQLite file,
 * read-only. NULL with a message when it cannot be opened. The caller closes it
 * (pt_qdb_close). */
struct pt_qdb *cli_qdb_open(const struct cli_env *env);

#endif
