/* Versioned block policies in SQLite: the logic behind `proctrail policy` and /api/v1/policy. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "proctrail/escape.h"
#include "proctrail/hex.h"
#include "proctrail/policy.h"
#include "proctrail/tls.h"

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS policy_versions(version INTEGER PRIMARY KEY,"
	"  created_ns INTEGER NOT NULL, operator TEXT, change TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS policy_rules(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL,"
	"  agent TEXT, audit INTEGER NOT NULL, reason TEXT NOT NULL, operator TEXT,"
	"  created_ns INTEGER NOT NULL, added_version INTEGER NOT NULL, removed_version INTEGER);"
	"CREATE INDEX IF NOT EXISTS policy_rules_active ON policy_rules(removed_version, sha256);"
	"CREATE TABLE IF NOT EXISTS agent_policy(agent TEXT PRIMARY KEY, version INTEGER,"
	"  since_ns INTEGER, result_version INTEGER, result_code INTEGER, result_message TEXT,"
	"  result_ns INTEGER);";

int pt_policy_schema(sqlite3 *db)
{
	return sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int pt_policy_parse_sha256(const char *hex, uint8_t out[PT_SHA256_LEN], char *err, size_t errlen)
{
	size_t len = hex ? strlen(hex) : 0;

	if (len != 2 * PT_SHA256_LEN ||
	    pt_hex_decode(hex, len, out, PT_SHA256_LEN) != 0) {
		snprintf(err, errlen, "malformed SHA-256: expected 64 hexadecimal digits, got %zu "
			 "character(s)%s", len, len == 2 * PT_SHA256_LEN ? " with a non-hex digit" : "");
		return -EINVAL;
	}
	return 0;
}

static int hash_file(const char *path, uint8_t out[PT_SHA256_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[65536];
	unsigned int n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -EIO;

	if (fd < 0 || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		if (!EVP_DigestUpdate(ctx, buf, (size_t)r))
			goto out;
	if (r == 0 && EVP_DigestFinal_ex(ctx, out, &n) && n == PT_SHA256_LEN)
		rc = 0;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* The protected files, hashed once by pt_policy_guardrail_init() in a process that is
 * confined afterwards (the collector cannot read /bin/sh once Landlock is on). */
#define PROTECTED_MAX 80
static struct protected {
	uint8_t sha[PT_SHA256_LEN];
	char what[96], shown[256];
} protected_tab[PROTECTED_MAX];
static unsigned protected_n;
static bool protected_ready, collecting;

static int refuse_if(const uint8_t sha[PT_SHA256_LEN], const char *path, const char *what,
		     char *err, size_t errlen)
{
	uint8_t h[PT_SHA256_LEN];
	char shown[256];
	ssize_t n;

	if (hash_file(path, h))
		return 0;
	n = readlink(path, shown, sizeof(shown) - 1);
	if (n > 0)
		shown[n] = 0;
	else
		snprintf(shown, sizeof(shown), "%s", path);
	if (collecting) {
		if (protected_n < PROTECTED_MAX) {
			struct protected *p = &protected_tab[protected_n++];
			memcpy(p->sha, h, PT_SHA256_LEN);
			snprintf(p->what, sizeof(p->what), "%s", what);
			snprintf(p->shown, sizeof(p->shown), "%s", shown);
		}
		return 0;
	}
	if (memcmp(h, sha, PT_SHA256_LEN))
		return 0;
	struct pt_esc e;
	snprintf(err, errlen, "refused: this hash is %s (%s); blocking it could stop the machine "
		 "or the agent", what, pt_esc(&e, shown, strlen(shown)));
	return -EPERM;
}

static int guardrail_walk(const uint8_t sha[PT_SHA256_LEN], char *err, size_t errlen);

int pt_policy_guardrail_init(void)
{
	uint8_t none[PT_SHA256_LEN] = { 0 };
	char err[8];

	collecting = true;
	protected_n = 0;
	guardrail_walk(none, err, sizeof(err));
	collecting = false;
	protected_ready = true;
	return protected_n ? 0 : -ENOENT;
}

int pt_policy_guardrail(const uint8_t sha[PT_SHA256_LEN], char *err, size_t errlen)
{
	if (protected_ready) {
		for (unsigned i = 0; i < protected_n; i++) {
			const struct protected *p = &protected_tab[i];
			struct pt_esc e;
			if (memcmp(p->sha, sha, PT_SHA256_LEN))
				continue;
			snprintf(err, errlen, "refused: this hash is %s (%s); blocking it could stop "
				 "the machine or the agent", p->what,
				 pt_esc(&e, p->shown, strlen(p->shown)));
			return -EPERM;
		}
		return 0;
	}
	return guardrail_walk(sha, err, errlen);
}

static int guardrail_walk(const uint8_t sha[PT_SHA256_LEN], char *err, size_t errlen)
{
	char link[64], self[4096], path[4200];
	unsigned pid = (unsigned)getpid();
	int rc;
	ssize_t n;

	if ((rc = refuse_if(sha, "/proc/1/exe", "init", err, errlen)) ||
	    (rc = refuse_if(sha, "/bin/sh", "the system shell", err, errlen)))
		return rc;
	/* the caller's ancestors: the shell it runs from, make, the service manager */
	for (int depth = 0; depth < 64 && pid > 1; depth++) {
		char stat[512], *r;
		unsigned ppid = 0;
		int fd;

		snprintf(link, sizeof(link), "/proc/%u/exe", pid);
		if ((rc = refuse_if(sha, link, depth ? "a parent of this command (its shell or "
				    "service manager)" : "this program", err, errlen)))
			return rc;
		snprintf(link, sizeof(link), "/proc/%u/stat", pid);
		if ((fd = open(link, O_RDONLY | O_CLOEXEC)) < 0)
			break;
		n = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		if (n <= 0)
			break;
		stat[n] = 0;
		if (!(r = strrchr(stat, ')')) || sscanf(r + 1, " %*c %u", &ppid) != 1)
			break;
		pid = ppid;
	}
	/* the proctrail programs installed beside this one */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		static const char *const progs[] = { "proctrail-agent", "proctrail-server",
						     "proctrail", NULL };
		self[n] = 0;
		char *dir = dirname(self);
		for (unsigned i = 0; progs[i]; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, progs[i]);
			if ((rc = refuse_if(sha, path, "a proctrail program", err, errlen)))
				return rc;
		}
	}
	return 0;
}

static int new_version(sqlite3 *db, const char *op, const char *change, uint64_t now_ns,
		       uint64_t *version)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;

	if (sqlite3_prepare_v2(db, "INSERT INTO policy_versions(version, created_ns, operator, change)"
			       " SELECT coalesce(max(version), 0) + 1, ?1, ?2, ?3 FROM policy_versions",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ns);
	sqlite3_bind_text(st, 2, op, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, change, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE) {
		*version = (uint64_t)sqlite3_last_insert_rowid(db);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int check_change(const struct pt_policy_change *c, bool block, uint8_t sha[PT_SHA256_LEN],
			char *err, size_t errlen)
{
	int rc;

	if ((rc = pt_policy_parse_sha256(c->sha256_hex, sha, err, errlen)))
		return rc;
	if (c->agent && !pt_tls_name_valid(c->agent)) {
		snprintf(err, errlen, "agent: not a valid agent name");
		return -EINVAL;
	}
	if (c->operator_name && (strlen(c->operator_name) > 255 ||
				 !pt_str_is_clean(c->operator_name, strlen(c->operator_name)))) {
		snprintf(err, errlen, "operator: not a valid name");
		return -EINVAL;
	}
	if (!block)
		return 0;
	if (!c->reason || !c->reason[0]) {
		snprintf(err, errlen, "reason: required");
		return -EINVAL;
	}
	if (strlen(c->reason) > PT_POLICY_REASON_MAX ||
	    !pt_str_is_clean(c->reason, strlen(c->reason))) {
		snprintf(err, errlen, "reason: at most %u bytes of printable UTF-8 text",
			 PT_POLICY_REASON_MAX);
		return -EINVAL;
	}
	return c->audit ? 0 : pt_policy_guardrail(sha, err, errlen);
}

static int exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Ends the active rules of sha (for agent, or every one when agent is NULL and all) at version. */
static int end_rules(sqlite3 *db, const uint8_t sha[PT_SHA256_LEN], const char *agent, bool all,
		     uint64_t version, int *changed)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;

	if (sqlite3_prepare_v2(db, "UPDATE policy_rules SET removed_version=?1 WHERE"
			       " removed_version IS NULL AND sha256=?2 AND"
			       " (?4 OR agent IS ?3)", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)version);
	sqlite3_bind_blob(st, 2, sha, PT_SHA256_LEN, SQLITE_STATIC);
	if (agent)
		sqlite3_bind_text(st, 3, agent, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int(st, 4, all);
	if (sqlite3_step(st) == SQLITE_DONE) {
		*changed = sqlite3_changes(db);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int pt_policy_block(sqlite3 *db, const struct pt_policy_change *c, uint64_t now_ns,
		    uint64_t *version, char *err, size_t errlen)
{
	uint8_t sha[PT_SHA256_LEN];
	sqlite3_stmt *st = NULL;
	int rc, changed = 0;
	char change[160];

	err[0] = 0;
	if ((rc = check_change(c, true, sha, err, errlen)))
		return rc;
	if ((rc = pt_policy_schema(db)) || (rc = exec_sql(db, "BEGIN IMMEDIATE"))) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(db));
		return rc;
	}
	snprintf(change, sizeof(change), "%s %s", c->audit ? "audit" : "block", c->sha256_hex);
	if ((rc = new_version(db, c->operator_name, change, now_ns, version)) ||
	    (rc = end_rules(db, sha, c->agent, false, *version, &changed)))
		goto fail;
	rc = -EIO;
	if (sqlite3_prepare_v2(db, "INSERT INTO policy_rules(sha256, agent, audit, reason, operator,"
			       " created_ns, added_version) VALUES(?,?,?,?,?,?,?)", -1, &st, NULL)
	    != SQLITE_OK)
		goto fail;
	sqlite3_bind_blob(st, 1, sha, PT_SHA256_LEN, SQLITE_STATIC);
	if (c->agent)
		sqlite3_bind_text(st, 2, c->agent, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int(st, 3, c->audit);
	sqlite3_bind_text(st, 4, c->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, c->operator_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now_ns);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)*version);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = exec_sql(db, "COMMIT")))
		goto fail;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	exec_sql(db, "ROLLBACK");
	return rc ? rc : -EIO;
}

int pt_policy_unblock(sqlite3 *db, const struct pt_policy_change *c, uint64_t now_ns,
		      uint64_t *version, char *err, size_t errlen)
{
	uint8_t sha[PT_SHA256_LEN];
	int rc, changed = 0;
	char change[160];

	err[0] = 0;
	if ((rc = check_change(c, false, sha, err, errlen)))
		return rc;
	if ((rc = pt_policy_schema(db)) || (rc = exec_sql(db, "BEGIN IMMEDIATE"))) {
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(db));
		return rc;
	}
	snprintf(change, sizeof(change), "unblock %s", c->sha256_hex);
	if ((rc = new_version(db, c->operator_name, change, now_ns, version)) ||
	    (rc = end_rules(db, sha, c->agent, c->agent == NULL, *version, &changed)))
		goto fail;
	if (!changed) {
		snprintf(err, errlen, "no active rule for %s%s%s", c->sha256_hex,
			 c->agent ? " on agent " : "", c->agent ? c->agent : "");
		rc = -ENOENT;
		goto fail;
	}
	if ((rc = exec_sql(db, "COMMIT")))
		goto fail;
	return 0;
fail:
	if (!err[0])
		snprintf(err, errlen, "database: %s", sqlite3_errmsg(db));
	exec_sql(db, "ROLLBACK");
	return rc;
}

int pt_policy_version(sqlite3 *db, uint64_t *version)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;

	*version = 0;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM policy_versions", -1, &st,
			       NULL) != SQLITE_OK)
		return pt_policy_schema(db) ? -EIO : 0;   /* no table yet: no version */
	if (sqlite3_step(st) == SQLITE_ROW) {
		*version = (uint64_t)sqlite3_column_int64(st, 0);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int pt_policy_list(sqlite3 *db, pt_policy_rule_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT id, sha256, agent, audit, reason, operator, created_ns,"
			       " added_version FROM policy_rules WHERE removed_version IS NULL"
			       " ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return pt_policy_schema(db) ? -EIO : 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct pt_policy_rule_info r = {
			.id = (uint64_t)sqlite3_column_int64(st, 0),
			.agent = (const char *)sqlite3_column_text(st, 2),
			.audit = sqlite3_column_int(st, 3) != 0,
			.reason = (const char *)sqlite3_column_text(st, 4),
			.operator_name = (const char *)sqlite3_column_text(st, 5),
			.created_ns = (uint64_t)sqlite3_column_int64(st, 6),
			.added_version = (uint64_t)sqlite3_column_int64(st, 7),
		};
		if (sqlite3_column_bytes(st, 1) != PT_SHA256_LEN)
			continue;
		memcpy(r.sha256, sqlite3_column_blob(st, 1), PT_SHA256_LEN);
		int u = fn(ctx, &r);
		if (u) {
			sqlite3_finalize(st);
			return u;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int pt_policy_rules_for(sqlite3 *db, const char *name, uint64_t version,
			struct pt_policy_rule **rules, uint32_t *n)
{
	sqlite3_stmt *st = NULL;
	struct pt_policy_rule *v = NULL;
	uint32_t cnt = 0, cap = 0;
	int rc;

	*rules = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, sha256, audit FROM policy_rules WHERE"
			       " added_version <= ?1 AND (removed_version IS NULL OR"
			       " removed_version > ?1) AND (agent IS NULL OR agent = ?2) ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)version);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 1) != PT_SHA256_LEN)
			continue;
		if (cnt == cap) {
			uint32_t nc = cap ? cap * 2 : 64;
			struct pt_policy_rule *nv = realloc(v, (size_t)nc * sizeof(*v));
			if (!nv) {
				free(v);
				sqlite3_finalize(st);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		v[cnt].rule_id = (uint64_t)sqlite3_column_int64(st, 0);
		memcpy(v[cnt].sha256, sqlite3_column_blob(st, 1), PT_SHA256_LEN);
		v[cnt].flags = sqlite3_column_int(st, 2) ? PT_RULE_F_AUDIT : 0;
		cnt++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return -EIO;
	}
	*rules = v;
	*n = cnt;
	return 0;
}

int pt_policy_result_store(sqlite3 *db, const char *agent, uint64_t version, uint32_t code,
			   const char *message, uint64_t now_ns)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;

	/* since_ns moves only when the enforced version changes */
	const char *sql = code == 0 ?
		"INSERT INTO agent_policy(agent, version, since_ns, result_version, result_code,"
		" result_message, result_ns) VALUES(?1,?2,?5,?2,?3,?4,?5) ON CONFLICT(agent) DO UPDATE"
		" SET since_ns=CASE WHEN version IS ?2 THEN since_ns ELSE ?5 END, version=?2,"
		" result_version=?2, result_code=?3, result_message=?4, result_ns=?5" :
		"INSERT INTO agent_policy(agent, result_version, result_code, result_message,"
		" result_ns) VALUES(?1,?2,?3,?4,?5) ON CONFLICT(agent) DO UPDATE SET"
		" result_version=?2, result_code=?3, result_message=?4, result_ns=?5";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)version);
	sqlite3_bind_int64(st, 3, code);
	sqlite3_bind_text(st, 4, message ? message : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now_ns);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}
