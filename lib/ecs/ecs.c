/* Records as ECS-shaped JSON (docs/ecs.md). Every ECS field written here is checked against
 * the ECS field list by tests/unit/test_ecs.c; what ECS lacks goes under "proctrail.". */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "proctrail/ecs.h"
#include "proctrail/hex.h"

void pt_entity_id_hex(const uint8_t id[PT_ENTITY_ID_LEN], char out[2 * PT_ENTITY_ID_LEN + 1])
{
	pt_hex_encode(id, PT_ENTITY_ID_LEN, out);
}

static void entity(struct pt_json *j, const char *key, const uint8_t id[PT_ENTITY_ID_LEN])
{
	char hex[2 * PT_ENTITY_ID_LEN + 1];

	pt_entity_id_hex(id, hex);
	pt_json_kstr(j, key, hex, 2 * PT_ENTITY_ID_LEN);
}

static void pstr(struct pt_json *j, const char *key, struct pt_str s)
{
	pt_json_kstr(j, key, s.ptr ? s.ptr : "", s.ptr ? s.len : 0);
}

static void status_name(struct pt_json *j, const char *key, unsigned status)
{
	const char *n = pt_hash_status_name(status);

	if (n)
		pt_json_kcstr(j, key, n);
	else
		pt_json_ku64(j, key, status);
}

/* "event": {...}; category and type are ECS arrays */
static void event(struct pt_json *j, const struct pt_ecs_context *ctx, const char *kind,
		  const char *action, const char *category, const char *type)
{
	pt_json_open(j, "event", '{');
	pt_json_kcstr(j, "kind", kind);
	pt_json_kcstr(j, "action", action);
	pt_json_open(j, "category", '[');
	pt_json_elem_str(j, category, strlen(category));
	pt_json_close(j, ']');
	pt_json_open(j, "type", '[');
	pt_json_elem_str(j, type, strlen(type));
	pt_json_close(j, ']');
	if (ctx && ctx->has_sequence)
		pt_json_ku64(j, "sequence", ctx->sequence);
	pt_json_close(j, '}');
}

static void who(struct pt_json *j, const struct pt_ecs_context *ctx)
{
	if (!ctx)
		return;
	if (ctx->agent_id || ctx->agent_name) {
		pt_json_open(j, "agent", '{');
		if (ctx->agent_id)
			pt_json_kcstr(j, "id", ctx->agent_id);
		if (ctx->agent_name)
			pt_json_kcstr(j, "name", ctx->agent_name);
		pt_json_close(j, '}');
	}
	if (ctx->host_name) {
		pt_json_open(j, "host", '{');
		pt_json_kcstr(j, "name", ctx->host_name);
		pt_json_close(j, '}');
	}
}

static void stream(struct pt_json *j, const struct pt_ecs_context *ctx)
{
	if (ctx && ctx->has_sequence)
		pt_json_ku64(j, "stream_id", ctx->stream_id);
	if (ctx && ctx->has_event_id)
		pt_json_ku64_str(j, "event_id", ctx->event_id);
}

static size_t base_name(struct pt_str p, const char **out)
{
	const char *s = p.ptr ? p.ptr : "";
	size_t n = p.ptr ? p.len : 0, i = n;

	while (i > 0 && s[i - 1] != '/')
		i--;
	*out = s + i;
	return n - i;
}

/* process.command_line: the arguments joined with single spaces, nothing quoted or escaped
 * (docs/ecs.md). Rules match on it as text; the args array keeps the exact boundaries. */
static void command_line(struct pt_json *j, const char *key, struct pt_str argv)
{
	pt_json_kjoined(j, key, argv.ptr, argv.ptr ? argv.len : 0);
}

static void names(struct pt_json *j, const char *key, const char *id_key, uint64_t id,
		  struct pt_str name)
{
	pt_json_open(j, key, '{');
	pt_json_ku64_str(j, id_key, id);
	if (name.ptr && name.len)
		pstr(j, "name", name);
	pt_json_close(j, '}');
}

/* The context an agent added (PT_EXEC_CONTEXT): parent, leaders, terminal, namespace. */
static void exec_context_process(struct pt_json *j, const struct pt_exec *x)
{
	const char *name;
	size_t name_len;

	if (!(x->ctx_flags & PT_CTX_F_PRESENT))
		return;
	pt_json_ku64(j, "vpid", x->vpid);
	pt_json_kbool(j, "interactive", x->ctx_flags & PT_CTX_F_TTY);
	if (x->ctx_flags & PT_CTX_F_TTY) {
		pt_json_open(j, "tty", '{');
		pt_json_open(j, "char_device", '{');
		pt_json_ku64(j, "major", x->tty_major);
		pt_json_ku64(j, "minor", x->tty_minor);
		pt_json_close(j, '}');
		pt_json_close(j, '}');
	}
	pt_json_open(j, "group_leader", '{');
	pt_json_ku64(j, "pid", x->pgid);
	if (x->ctx_flags & PT_CTX_F_PGID_LEADER)
		entity(j, "entity_id", x->pgid_entity_id);
	pt_json_close(j, '}');
	pt_json_open(j, "session_leader", '{');
	pt_json_ku64(j, "pid", x->sid);
	if (x->ctx_flags & PT_CTX_F_SID_LEADER)
		entity(j, "entity_id", x->sid_entity_id);
	if (x->ctx_flags & PT_CTX_F_SID_KNOWN) {
		name_len = base_name(x->sid_path, &name);
		pstr(j, "executable", x->sid_path);
		pt_json_kstr(j, "name", name, name_len);
	}
	pt_json_close(j, '}');
	if (x->ctx_flags & PT_CTX_F_ENTRY_KNOWN) {
		const char *type = pt_entry_type_name(x->entry_type);

		pt_json_open(j, "entry_leader", '{');
		if (x->ctx_flags & PT_CTX_F_ENTRY_LEADER)
			entity(j, "entity_id", x->entry_entity_id);
		pstr(j, "executable", x->entry_path);
		pt_json_open(j, "entry_meta", '{');
		if (type)
			pt_json_kcstr(j, "type", type);
		else
			pt_json_ku64_str(j, "type", x->entry_type);
		pt_json_close(j, '}');
		pt_json_close(j, '}');
	}
}

static void format_exec(struct pt_json *j, const struct pt_exec *x, const struct pt_ecs_context *ctx)
{
	const char *name;
	size_t name_len = base_name(x->path, &name);
	char mode[8];

	pt_json_ktime(j, "@timestamp", x->time_ns);
	event(j, ctx, "event", "exec", "process", "start");
	pt_json_open(j, "process", '{');
	pt_json_ku64(j, "pid", x->pid);
	entity(j, "entity_id", x->entity_id);
	pt_json_kstr(j, "name", name, name_len);
	pstr(j, "executable", x->path);
	pt_json_kargv(j, "args", x->argv.ptr, x->argv.len);
	pt_json_ku64(j, "args_count", x->args_count);
	command_line(j, "command_line", x->argv);
	pstr(j, "working_directory", x->cwd);
	if (x->hash_status == PT_HASH_OK) {
		pt_json_open(j, "hash", '{');
		pt_json_khex(j, "sha256", x->sha256, PT_SHA256_LEN);
		pt_json_close(j, '}');
	}
	pt_json_open(j, "thread", '{');
	pt_json_ku64(j, "id", x->tid);
	pt_json_close(j, '}');
	pt_json_open(j, "parent", '{');
	pt_json_ku64(j, "pid", x->ppid);
	entity(j, "entity_id", x->parent_entity_id);
	if (x->ctx_flags & PT_CTX_F_PARENT_KNOWN) {
		const char *pname;
		size_t pname_len = base_name(x->parent_path, &pname);

		pstr(j, "executable", x->parent_path);
		pt_json_kstr(j, "name", pname, pname_len);
		pt_json_kargv(j, "args", x->parent_argv.ptr, x->parent_argv.len);
		pt_json_ku64(j, "args_count", x->parent_args_count);
		command_line(j, "command_line", x->parent_argv);
	}
	pt_json_close(j, '}');
	exec_context_process(j, x);
	/* ECS: process.user is the effective user, real_user the real one */
	names(j, "user", "id", x->euid, x->user_name);
	names(j, "real_user", "id", x->uid, x->real_user_name);
	names(j, "group", "id", x->egid, x->group_name);
	names(j, "real_group", "id", x->gid, x->real_group_name);
	pt_json_close(j, '}');

	/* the user and group of the event: the process's effective ones */
	names(j, "user", "id", x->euid, x->user_name);
	names(j, "group", "id", x->egid, x->group_name);
	if (x->ctx_flags & PT_CTX_F_CONTAINER) {
		pt_json_open(j, "container", '{');
		pstr(j, "id", x->container_id);
		pstr(j, "runtime", x->container_runtime);
		pt_json_close(j, '}');
	}

	pt_json_open(j, "file", '{');
	pstr(j, "path", x->path);
	pt_json_kstr(j, "name", name, name_len);
	pt_json_ku64(j, "size", x->size);
	pt_json_ku64_str(j, "inode", x->ino);
	pt_json_ku64_str(j, "device", x->dev);
	pt_json_ktime(j, "mtime", x->mtime_ns);
	pt_json_ktime(j, "ctime", x->ctime_ns);
	/* "%04o" of 12 bits, without snprintf (once per exec; it showed in the agent's profile) */
	for (int i = 0; i < 4; i++)
		mode[i] = (char)('0' + ((x->mode >> (9 - 3 * i)) & 7));
	mode[4] = '\0';
	pt_json_kcstr(j, "mode", mode);
	if (x->hash_status == PT_HASH_OK) {
		pt_json_open(j, "hash", '{');
		pt_json_khex(j, "sha256", x->sha256, PT_SHA256_LEN);
		pt_json_close(j, '}');
	}
	pt_json_close(j, '}');

	pt_json_open(j, "proctrail", '{');
	stream(j, ctx);
	status_name(j, "hash_status", x->hash_status);
	pstr(j, "comm", x->comm);
	pt_json_ku64(j, "cgroup_id", x->cgroup_id);
	pt_json_ku64(j, "start_boot_ns", x->start_ns);
	pt_json_kbool(j, "setuid", x->flags & PT_EXEC_F_SETUID);
	pt_json_kbool(j, "setgid", x->flags & PT_EXEC_F_SETGID);
	pt_json_kbool(j, "memfd", x->flags & PT_EXEC_F_MEMFD);
	pt_json_kbool(j, "deleted", x->flags & PT_EXEC_F_DELETED);
	pt_json_kbool(j, "args_truncated", x->flags & PT_EXEC_F_ARGV_TRUNCATED);
	pt_json_kbool(j, "path_truncated", x->flags & PT_EXEC_F_PATH_TRUNCATED);
	pt_json_kbool(j, "cwd_truncated", x->flags & PT_EXEC_F_CWD_TRUNCATED);
	if (x->ctx_flags & PT_CTX_F_PRESENT) {
		/* an unknown parent is said so, never guessed */
		pt_json_open(j, "parent", '{');
		pt_json_kbool(j, "known", x->ctx_flags & PT_CTX_F_PARENT_KNOWN);
		pt_json_kbool(j, "seeded", x->ctx_flags & PT_CTX_F_PARENT_SEEDED);
		if (x->ctx_flags & PT_CTX_F_PARENT_KNOWN)
			pt_json_kbool(j, "args_truncated", x->ctx_flags & PT_CTX_F_PARENT_ARGV_TRUNCATED);
		pt_json_close(j, '}');
		if (x->ctx_flags & PT_CTX_F_LOGIN_UID) {
			pt_json_open(j, "login_user", '{');
			pt_json_ku64_str(j, "id", x->login_uid);
			if (x->login_user_name.ptr && x->login_user_name.len)
				pstr(j, "name", x->login_user_name);
			pt_json_close(j, '}');
		}
		if (x->ctx_flags & PT_CTX_F_SESSION_ID)
			pt_json_ku64(j, "audit_session_id", x->session_id);
	}
	if (x->cgroup_path.ptr && x->cgroup_path.len)
		pstr(j, "cgroup_path", x->cgroup_path);
	if (x->script_path.ptr && x->script_path.len) {
		pt_json_open(j, "script", '{');
		pstr(j, "path", x->script_path);
		if (x->script_hash_status == PT_HASH_OK)
			pt_json_khex(j, "sha256", x->script_sha256, PT_SHA256_LEN);
		status_name(j, "hash_status", x->script_hash_status);
		pt_json_close(j, '}');
	}
	pt_json_close(j, '}');
}

static void format_exit(struct pt_json *j, const struct pt_exit *x, const struct pt_ecs_context *ctx)
{
	pt_json_ktime(j, "@timestamp", x->time_ns);
	event(j, ctx, "event", "exit", "process", "end");
	pt_json_open(j, "process", '{');
	pt_json_ku64(j, "pid", x->pid);
	entity(j, "entity_id", x->entity_id);
	if (x->ctx_flags & PT_EXIT_CTX_F_KNOWN) {
		const char *name;
		size_t name_len = base_name(x->path, &name);

		pt_json_kstr(j, "name", name, name_len);
		pstr(j, "executable", x->path);
	} else {
		pstr(j, "name", x->comm);
	}
	/* a signalled process has no exit status; 128 + signal is what a shell reports */
	pt_json_ku64(j, "exit_code", x->signal ? 128u + x->signal : x->code);
	if (x->ctx_flags & PT_EXIT_CTX_F_PRESENT) {
		pt_json_ktime(j, "start", x->time_ns - x->lifetime_ns);
		pt_json_ku64(j, "uptime", x->lifetime_ns / 1000000000u);
	}
	pt_json_ktime(j, "end", x->time_ns);
	pt_json_close(j, '}');
	pt_json_open(j, "proctrail", '{');
	stream(j, ctx);
	pt_json_ku64(j, "signal", x->signal);
	pt_json_kbool(j, "signaled", x->signal != 0);
	pt_json_ku64(j, "start_boot_ns", x->start_ns);
	pstr(j, "comm", x->comm);
	if (x->ctx_flags & PT_EXIT_CTX_F_PRESENT) {
		pt_json_ku64(j, "lifetime_ns", x->lifetime_ns);
		pt_json_kbool(j, "executable_known", x->ctx_flags & PT_EXIT_CTX_F_KNOWN);
		pt_json_kbool(j, "seeded", x->ctx_flags & PT_EXIT_CTX_F_SEEDED);
	}
	pt_json_close(j, '}');
}

static void format_blocked(struct pt_json *j, const struct pt_exec_blocked *x,
			   const struct pt_ecs_context *ctx)
{
	bool audit = x->action == PT_BLOCKED_AUDIT, missed = x->action == PT_BLOCKED_NOT_STOPPED;

	pt_json_ktime(j, "@timestamp", x->time_ns);
	/* ECS: an audit rule's match is "allowed" and says it would have been denied. */
	event(j, ctx, "event", "exec_blocked", "process", audit || missed ? "allowed" : "denied");
	pt_json_open(j, "process", '{');
	pt_json_ku64(j, "pid", x->pid);
	if (memcmp(x->entity_id, (uint8_t[PT_ENTITY_ID_LEN]){ 0 }, PT_ENTITY_ID_LEN))
		entity(j, "entity_id", x->entity_id);
	if (x->comm.len)
		pstr(j, "name", x->comm);
	pstr(j, "executable", x->path);
	pt_json_open(j, "hash", '{');
	pt_json_khex(j, "sha256", x->sha256, PT_SHA256_LEN);
	pt_json_close(j, '}');
	pt_json_open(j, "user", '{');
	pt_json_ku64_str(j, "id", x->uid);
	pt_json_close(j, '}');
	if (x->ppid || x->parent_path.len) {
		pt_json_open(j, "parent", '{');
		pt_json_ku64(j, "pid", x->ppid);
		if (x->parent_path.len)
			pstr(j, "executable", x->parent_path);
		pt_json_close(j, '}');
	}
	pt_json_close(j, '}');
	pt_json_open(j, "file", '{');
	pstr(j, "path", x->path);
	pt_json_ku64(j, "size", x->size);
	pt_json_open(j, "hash", '{');
	pt_json_khex(j, "sha256", x->sha256, PT_SHA256_LEN);
	pt_json_close(j, '}');
	pt_json_close(j, '}');
	pt_json_open(j, "proctrail", '{');
	stream(j, ctx);
	pt_json_ku64(j, "policy_version", x->policy_version);
	pt_json_ku64(j, "rule_id", x->rule_id);
	pt_json_kcstr(j, "decision", audit ? "would_have_blocked" : missed ? "not_stopped" : "blocked");
	pt_json_close(j, '}');
}

static void counter_name(struct pt_json *j, const char *key, unsigned id)
{
	const char *n = pt_loss_counter_name(id);

	if (n)
		pt_json_kcstr(j, key, n);
	else
		pt_json_ku64(j, key, id);
}

static void format_loss(struct pt_json *j, const struct pt_loss *x, const struct pt_ecs_context *ctx)
{
	pt_json_ktime(j, "@timestamp", x->time_ns);
	event(j, ctx, "event", "loss", "host", "info");
	pt_json_open(j, "proctrail", '{');
	stream(j, ctx);
	pt_json_open(j, "loss", '{');
	counter_name(j, "counter", x->counter);
	pt_json_ku64(j, "count", x->count);
	if (x->has_seq_range) {
		pt_json_ku64(j, "first_seq", x->first_seq);
		pt_json_ku64(j, "last_seq", x->last_seq);
	}
	pt_json_close(j, '}');
	pt_json_close(j, '}');
}

static void format_status(struct pt_json *j, const struct pt_agent_status *x,
			  const struct pt_ecs_context *ctx)
{
	uint32_t n = x->n_counters < PT_COUNTERS_MAX ? x->n_counters : PT_COUNTERS_MAX;

	pt_json_ktime(j, "@timestamp", x->time_ns);
	event(j, ctx, "state", "agent_status", "host", "info");
	pt_json_open(j, "proctrail", '{');
	stream(j, ctx);
	pt_json_open(j, "status", '{');
	pt_json_ku64(j, "queue_depth", x->queue_depth);
	pt_json_ku64(j, "spool_bytes", x->spool_bytes);
	pt_json_ku64(j, "uptime_ns", x->uptime_ns);
	pt_json_ku64(j, "events", x->events);
	pt_json_open(j, "counters", '{');
	for (uint32_t i = 0; i < n; i++) {
		const char *name = pt_loss_counter_name(x->counters[i].id);
		char num[16];

		if (!name) {
			snprintf(num, sizeof(num), "%u", x->counters[i].id);
			name = num;
		}
		pt_json_ku64(j, name, x->counters[i].value);
	}
	pt_json_close(j, '}');
	pt_json_close(j, '}');
	pt_json_close(j, '}');
}

int pt_ecs_format(const struct pt_record *r, const struct pt_ecs_context *ctx, struct pt_buf *out)
{
	struct pt_json j = { .out = out };
	size_t start = out->len;

	if (r->type == PT_REC_UNKNOWN || r->type > PT_REC_AGENT_STATUS)
		return -EINVAL;
	pt_json_raw(&j, "{");
	switch (r->type) {
	case PT_REC_PROCESS_EXEC:
		format_exec(&j, &r->u.exec, ctx);
		break;
	case PT_REC_PROCESS_EXIT:
		format_exit(&j, &r->u.exit, ctx);
		break;
	case PT_REC_EXEC_BLOCKED:
		format_blocked(&j, &r->u.blocked, ctx);
		break;
	case PT_REC_LOSS:
		format_loss(&j, &r->u.loss, ctx);
		break;
	case PT_REC_AGENT_STATUS:
		format_status(&j, &r->u.status, ctx);
		break;
	}
	who(&j, ctx);
	pt_json_raw(&j, "}");
	if (j.err) {
		out->len = start;
		return j.err == -ENOMEM ? -ENOMEM : -EMSGSIZE;
	}
	return 0;
}
