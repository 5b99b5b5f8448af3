/* /api/v1/tree/{entity_id}: a process with its ancestors (up to the first process the agent
 * knew) and descendants, each node with its exec chain (docs/api.md). Walks are bounded;
 * "truncated" says a bound was reached. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api-int.h"
#include "proctrail/ecs.h"
#include "proctrail/hex.h"
#include "proctrail/store.h"

#define NODE_EXECS_MAX  16      /* execs of one entity listed */
#define NODE_EVENTS_MAX 64      /* events of one entity read */
#define ANCESTORS_MAX   64
#define DEPTH_MAX       16
#define CHILDREN_MAX    256     /* per node */
#define NODES_MAX       1000    /* descendants in one answer */

struct node {
	uint8_t entity[PT_ENTITY_ID_LEN], parent[PT_ENTITY_ID_LEN];
	int64_t agent;
	bool has_parent, found;
	unsigned nexec;
	uint64_t exec_id[NODE_EXECS_MAX], exec_time[NODE_EXECS_MAX];
	uint64_t first_exec_time;
	uint64_t exit_id;
	bool has_exit;
};

struct walk {
	struct pt_api *a;
	struct pt_json *j;
	struct pt_q *by_id;      /* one event by id */
	unsigned nodes;
	bool truncated;
};

static bool entity_match(const struct pt_record *r, const void *arg)
{
	const uint8_t *e = arg;

	switch (r->type) {
	case PT_REC_PROCESS_EXEC: return !memcmp(r->u.exec.entity_id, e, PT_ENTITY_ID_LEN);
	case PT_REC_PROCESS_EXIT: return !memcmp(r->u.exit.entity_id, e, PT_ENTITY_ID_LEN);
	default: return false;
	}
}

static bool parent_match(const struct pt_record *r, const void *arg)
{
	return r->type == PT_REC_PROCESS_EXEC &&
	       !memcmp(r->u.exec.parent_entity_id, arg, PT_ENTITY_ID_LEN);
}

/* Rows come newest first; the node keeps the newest NODE_EXECS_MAX execs, in time order. */
static int node_row(struct pt_q *st, void *arg)
{
	struct node *n = arg;
	struct pt_record r;
	uint64_t id = (uint64_t)pt_q_i64(st, 0);
	unsigned i;

	if (api_record(st, 2, &r) || !entity_match(&r, n->entity))
		return 0;     /* another entity under a colliding key */
	n->found = true;
	if (r.type == PT_REC_PROCESS_EXIT) {
		n->exit_id = id;
		n->has_exit = true;
		return 0;
	}
	if (!n->first_exec_time || r.u.exec.time_ns < n->first_exec_time) {
		/* the earliest exec names the parent: a later exec of the same process has it too */
		n->first_exec_time = r.u.exec.time_ns;
		memcpy(n->parent, r.u.exec.parent_entity_id, PT_ENTITY_ID_LEN);
		n->has_parent = true;
	}
	if (n->nexec < NODE_EXECS_MAX) {
		for (i = n->nexec; i > 0 && n->exec_time[i - 1] > r.u.exec.time_ns; i--) {
			n->exec_time[i] = n->exec_time[i - 1];
			n->exec_id[i] = n->exec_id[i - 1];
		}
		n->exec_time[i] = r.u.exec.time_ns;
		n->exec_id[i] = id;
		n->nexec++;
	}
	return 0;
}

static int node_load(struct walk *w, const uint8_t entity[PT_ENTITY_ID_LEN], int64_t agent,
		     struct node *n)
{
	memset(n, 0, sizeof(*n));
	memcpy(n->entity, entity, PT_ENTITY_ID_LEN);
	n->agent = agent;
	return api_key_rows(w->a, 'e', entity, PT_ENTITY_ID_LEN, agent, entity_match, entity,
			    NODE_EVENTS_MAX, node_row, n);
}

/* The event row `id` in w->by_id, decoded into r. */
static int fetch(struct walk *w, uint64_t id, struct pt_record *r)
{
	pt_q_reset(w->by_id);
	pt_q_bind_i64(w->by_id, 1, (int64_t)id);
	if (pt_q_step(w->by_id) != 1)
		return -ENOENT;
	return api_record(w->by_id, 2, r);
}

static void knull(struct pt_json *j, const char *key)
{
	pt_json_key(j, key);
	pt_json_raw(j, "null");
}

/* The context the agent knew at exec (docs/ecs.md): who, from which terminal, session entry and
 * container. Absent members are unknown, never guessed. */
static void context_json(struct pt_json *j, const struct pt_exec *x)
{
	if (!(x->ctx_flags & PT_CTX_F_PRESENT))
		return;
	if (x->user_name.len)
		pt_json_kstr(j, "user", x->user_name.ptr, x->user_name.len);
	else
		pt_json_ku64_str(j, "user", x->euid);
	if (x->ctx_flags & PT_CTX_F_LOGIN_UID && x->login_user_name.len)
		pt_json_kstr(j, "login_user", x->login_user_name.ptr, x->login_user_name.len);
	pt_json_kbool(j, "interactive", (x->ctx_flags & PT_CTX_F_TTY) != 0);
	if (x->ctx_flags & PT_CTX_F_ENTRY_KNOWN && x->entry_path.len)
		pt_json_kstr(j, "entry_executable", x->entry_path.ptr, x->entry_path.len);
	if (x->ctx_flags & PT_CTX_F_CONTAINER && x->container_id.len)
		pt_json_kstr(j, "container_id", x->container_id.ptr, x->container_id.len);
}

/* The node's members (without braces). */
static int node_json(struct walk *w, const struct node *n)
{
	struct pt_json *j = w->j;
	struct pt_record r;
	char hex[2 * PT_ENTITY_ID_LEN + 1];
	const char *s;
	unsigned i;

	pt_entity_id_hex(n->entity, hex);
	pt_json_kcstr(j, "entity_id", hex);
	if (n->nexec && !fetch(w, n->exec_id[n->nexec - 1], &r) && r.type == PT_REC_PROCESS_EXEC) {
		const struct pt_exec *x = &r.u.exec;
		size_t k = x->path.len;

		pt_json_ku64(j, "pid", x->pid);
		s = pt_q_text(w->by_id, 5, NULL);
		pt_json_kcstr(j, "agent", s ? s : "");
		s = pt_q_text(w->by_id, 6, NULL);
		pt_json_kcstr(j, "host", s ? s : "");
		pt_json_kstr(j, "executable", x->path.ptr ? x->path.ptr : "", x->path.len);
		/* a decoded string of len > 0 has a ptr
		 * NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		while (k > 0 && x->path.ptr[k - 1] != '/')
			k--;
		pt_json_kstr(j, "name", x->path.ptr ? x->path.ptr + k : "", x->path.len - k);
		pt_json_kargv(j, "args", x->argv.ptr, x->argv.len);
		pt_json_ktime(j, "start", n->first_exec_time);
		pt_json_ku64_str(j, "event_id", n->exec_id[n->nexec - 1]);
		context_json(j, x);
	} else if (n->has_exit && !fetch(w, n->exit_id, &r) && r.type == PT_REC_PROCESS_EXIT) {
		pt_json_ku64(j, "pid", r.u.exit.pid);
		s = pt_q_text(w->by_id, 5, NULL);
		pt_json_kcstr(j, "agent", s ? s : "");
		s = pt_q_text(w->by_id, 6, NULL);
		pt_json_kcstr(j, "host", s ? s : "");
		knull(j, "executable");
		pt_json_kstr(j, "name", r.u.exit.comm.ptr ? r.u.exit.comm.ptr : "", r.u.exit.comm.len);
		pt_json_open(j, "args", '[');
		pt_json_close(j, ']');
		knull(j, "start");
		pt_json_ku64_str(j, "event_id", n->exit_id);
	}
	if (n->has_exit && !fetch(w, n->exit_id, &r) && r.type == PT_REC_PROCESS_EXIT) {
		pt_json_ktime(j, "end", r.u.exit.time_ns);
		pt_json_ku64(j, "exit_code", r.u.exit.signal ? 128u + r.u.exit.signal : r.u.exit.code);
	} else {
		knull(j, "end");
		knull(j, "exit_code");
	}
	pt_json_open(j, "execs", '[');
	for (i = 0; i < n->nexec; i++) {
		if (fetch(w, n->exec_id[i], &r) || r.type != PT_REC_PROCESS_EXEC)
			continue;
		pt_json_open(j, NULL, '{');
		pt_json_kstr(j, "executable", r.u.exec.path.ptr ? r.u.exec.path.ptr : "",
			     r.u.exec.path.len);
		pt_json_kargv(j, "args", r.u.exec.argv.ptr, r.u.exec.argv.len);
		pt_json_ktime(j, "time", r.u.exec.time_ns);
		pt_json_ku64_str(j, "event_id", n->exec_id[i]);
		if (r.u.exec.hash_status == PT_HASH_OK)
			pt_json_khex(j, "sha256", r.u.exec.sha256, PT_SHA256_LEN);
		else
			knull(j, "sha256");
		pt_json_close(j, '}');
	}
	pt_json_close(j, ']');
	return j->err;
}

struct kids {
	uint8_t (*e)[PT_ENTITY_ID_LEN];
	unsigned n;
	const uint8_t *parent;
	bool truncated;
};

static int kid_row(struct pt_q *st, void *arg)
{
	struct kids *k = arg;
	struct pt_record r;
	unsigned i;

	if (api_record(st, 2, &r) || !parent_match(&r, k->parent))
		return 0;
	for (i = 0; i < k->n; i++)
		if (!memcmp(k->e[i], r.u.exec.entity_id, PT_ENTITY_ID_LEN))
			return 0;
	if (k->n == CHILDREN_MAX) {
		k->truncated = true;
		return 1;
	}
	memcpy(k->e[k->n++], r.u.exec.entity_id, PT_ENTITY_ID_LEN);
	return 0;
}

static int children(struct walk *w, const struct node *n, unsigned depth, const char *key)
{
	struct kids k = { .parent = n->entity };
	struct node c;
	int ret = 0;
	unsigned i;

	pt_json_open(w->j, key, '[');
	if (depth >= DEPTH_MAX || w->nodes >= NODES_MAX) {
		/* not looked at: said only if there may be any */
		w->truncated = true;
		pt_json_close(w->j, ']');
		return 0;
	}
	if (!(k.e = calloc(CHILDREN_MAX, sizeof(*k.e))))
		return -ENOMEM;
	/* each child's execs are keyed by this entity as parent; several per child (exec chain) */
	ret = api_key_rows(w->a, 'P', n->entity, PT_ENTITY_ID_LEN, n->agent, parent_match,
			   n->entity, CHILDREN_MAX * NODE_EXECS_MAX, kid_row, &k);
	if (k.truncated)
		w->truncated = true;
	/* oldest first reads like the process ran */
	for (i = k.n; i-- > 0 && !ret;) {
		if (w->nodes >= NODES_MAX) {
			w->truncated = true;
			break;
		}
		if ((ret = node_load(w, k.e[i], n->agent, &c)) || !c.found)
			continue;
		if (!memcmp(c.entity, n->entity, PT_ENTITY_ID_LEN))
			continue;
		w->nodes++;
		pt_json_open(w->j, NULL, '{');
		if ((ret = node_json(w, &c)) || (ret = children(w, &c, depth + 1, "children")))
			break;
		pt_json_close(w->j, '}');
	}
	free(k.e);
	pt_json_close(w->j, ']');
	return ret ? ret : w->j->err;
}

void api_tree(struct pt_api *a, struct evhttp_request *req, const char *hex)
{
	struct pt_json j = { .out = &a->out };
	struct walk w = { .a = a, .j = &j };
	struct evkeyvalq q;
	struct pt_api_filter f;
	uint8_t entity[PT_ENTITY_ID_LEN];
	struct node root, *anc = NULL;
	unsigned nanc = 0, i;
	bool anc_truncated = false;
	int64_t agent = 0;
	int ret;

	if (api_query(req, &q, PT_API_P_NONE, &f))
		goto out;
	if (pt_hex_decode(hex, strlen(hex), entity, sizeof(entity))) {
		api_error(req, 400, "entity_id: 32 hex digits");
		goto out;
	}
	pt_buf_reset(&a->out);
	if (api_begin(a) ||
	    !(w.by_id = pt_q_prepare(a->q, "SELECT e.id, e.time_ns, e.record, e.stream_id, e.seq,"
				     " a.name, h.name, e.agent FROM events e JOIN agents a"
				     " ON a.id = e.agent LEFT JOIN hosts h ON h.id = e.host"
				     " WHERE e.id = ?")) ||
	    !(anc = calloc(ANCESTORS_MAX, sizeof(*anc)))) {
		api_error(req, 500, "database error");
		goto out;
	}
	if ((ret = node_load(&w, entity, 0, &root)) || !root.found) {
		api_error(req, ret ? 500 : 404, ret ? "database error" : "no such entity");
		goto out;
	}
	/* the agent the entity id belongs to: the walk stays on it */
	if (fetch(&w, root.nexec ? root.exec_id[0] : root.exit_id, &(struct pt_record){ 0 }) == 0 ||
	    !pt_q_null(w.by_id, 7))
		agent = pt_q_i64(w.by_id, 7);
	if ((ret = node_load(&w, entity, agent, &root)))
		goto fail;
	for (struct node *cur = &root; cur->has_parent;) {
		if (nanc == ANCESTORS_MAX) {
			anc_truncated = true;
			break;
		}
		if ((ret = node_load(&w, cur->parent, agent, &anc[nanc])))
			goto fail;
		if (!anc[nanc].found)
			break;          /* the first process the agent knew */
		cur = &anc[nanc++];
		for (i = 0; i + 1 < nanc; i++)
			if (!memcmp(anc[i].entity, cur->entity, PT_ENTITY_ID_LEN))
				goto loop;   /* a cycle in hostile data */
	}
	if (0) {
loop:
		anc_truncated = true;
		nanc--;
	}
	pt_json_raw(&j, "{");
	{
		char h[2 * PT_ENTITY_ID_LEN + 1];

		pt_entity_id_hex(entity, h);
		pt_json_kcstr(&j, "entity_id", h);
	}
	pt_json_open(&j, "ancestors", '[');
	for (i = nanc; i-- > 0;) {
		pt_json_open(&j, NULL, '{');
		if ((ret = node_json(&w, &anc[i])))
			goto fail;
		pt_json_close(&j, '}');
	}
	pt_json_close(&j, ']');
	pt_json_open(&j, "process", '{');
	if ((ret = node_json(&w, &root)))
		goto fail;
	pt_json_close(&j, '}');
	/* descendants: the root's children, each with its own */
	if ((ret = children(&w, &root, 0, "descendants")))
		goto fail;
	pt_json_kbool(&j, "truncated", anc_truncated || w.truncated);
	pt_json_raw(&j, "}\n");
	if (j.err) {
		ret = j.err;
		goto fail;
	}
	api_reply(req, 200, &a->out);
	goto out;
fail:
	api_error(req, ret == -EMSGSIZE ? 413 : 500, ret == -EMSGSIZE ? "answer too large" :
		  "database error");
out:
	free(anc);
	pt_q_finalize(w.by_id);
	evhttp_clear_headers(&q);
}
