#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "db.h"
#include "proctrail/log.h"

/* Where `make run` keeps it (a directory only the collector's user may enter), then where
 * older deployments and a bare `proctrail-server --home` keep it. */
static const char *const DB_PLACES[] = { CLI_DB_DIR "/proctrail.db", "proctrail.db" };

static sqlite3 *open_flags(const struct cli_env *env, int flags)
{
	char path[CLI_PATH_MAX];
	sqlite3 *db = NULL;
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(DB_PLACES) / sizeof(DB_PLACES[0]); i++) {
		if (cli_path(env, path, sizeof(path), DB_PLACES[i])) {
			log_warnx("path too long");
			return NULL;
		}
		if (stat(path, &st) == 0 || errno != ENOENT)
			break;
	}
	if (i == sizeof(DB_PLACES) / sizeof(DB_PLACES[0]) &&
	    cli_path(env, path, sizeof(path), DB_PLACES[0])) {
		log_warnx("path too long");
		return NULL;
	}
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		log_warnx("%s: %s (is the collector deployed there? `sudo make run` creates it)",
			  path, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

sqlite3 *cli_db_open(const struct cli_env *env)
{
	return open_flags(env, SQLITE_OPEN_READONLY);
}

sqlite3 *cli_db_open_rw(const struct cli_env *env)
{
	return open_flags(env, SQLITE_OPEN_READWRITE);
}
