#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "db.h"
#include "proctrail/log.h"

/* Where `make run` keeps it (a directory only the collector's user may enter), then where
 * older deployments and a bare `proctrail-server --home` keep it. */
static const char *const DB_PLACES[] = { CLI_DB_DIR "/proctrail.db", "proctrail.db" };

/* The deployment's database file: the first of DB_PLACES that exists, else the first. */
static int find_place(const struct cli_env *env, char path[CLI_PATH_MAX])
{
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(DB_PLACES) / sizeof(DB_PLACES[0]); i++) {
		if (cli_path(env, path, CLI_PATH_MAX, DB_PLACES[i]))
			return -ENAMETOOLONG;
		if (stat(path, &st) == 0 || errno != ENOENT)
			return 0;
	}
	return cli_path(env, path, CLI_PATH_MAX, DB_PLACES[0]);
}

static sqlite3 *open_flags(const struct cli_env *env, int flags)
{
	char path[CLI_PATH_MAX];
	sqlite3 *db = NULL;

	/* --db FILE, else the deployment's */
	if (env->db[0] ? snprintf(path, sizeof(path), "%s", env->db) >= (int)sizeof(path) :
			 find_place(env, path) != 0) {
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
