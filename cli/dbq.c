/* The CLI's connection to the collector's database (cli/dbq.h). */
#include <stdlib.h>

#include <sqlite3.h>

#include "db.h"
#include "dbq.h"
#include "proctrail/store.h"

struct pt_qdb *cli_qdb_open(const struct cli_env *env)
{
	sqlite3 *lite;

	if (env->db[0] && pt_store_is_pg_url(env->db))
		return pt_qdb_pg(env->db);
	lite = cli_db_open(env);
	return lite ? pt_qdb_sqlite(lite) : NULL;
}
