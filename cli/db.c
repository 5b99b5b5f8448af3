#include <stdio.h>

#include "db.h"
#include "proctrail/log.h"

sqlite3 *cli_db_open(const struct cli_env *env)
{
	char path[CLI_PATH_MAX];
	sqlite3 *db = NULL;

	if (cli_path(env, path, sizeof(path), "proctrail.db")) {
		log_warnx("path too long");
		return NULL;
	}
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		log_warnx("%s: %s (is the collector deployed there? `sudo make run` creates it)",
			  path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}
