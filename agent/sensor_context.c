/* Context from the process table and the user cache (see sensor_context.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/log.h"
#include "sensor_context.h"

struct pt_context {
	struct pt_proctable *t;
	struct pt_users *u;
	uint64_t parent_unknown;
};

int pt_context_new(uint32_t table_max, const char *passwd, const char *group,
		   struct pt_context **out)
{
	struct pt_context *c = calloc(1, sizeof(*c));
	int err, n;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	err = pt_proctable_new(table_max, &c->t);
	if (!err)
		err = pt_users_new(passwd, group, &c->u);
	if (err) {
		pt_context_free(c);
		return err;
	}
	n = pt_proctable_seed_from(c->t, NULL);
	if (n < 0)
		log_warnx("process table: reading /proc: %s", strerror(-n));
	else
		log_debug("process table: %d processes seeded from /proc", n);
	*out = c;
	return 0;
}

void pt_context_free(struct pt_context *c)
{
	if (!c)
		return;
	pt_proctable_free(c->t);
	pt_users_free(c->u);
	free(c);
}

void pt_context_release(struct pt_context_hold *h)
{
	for (unsigned i = 0; i < sizeof(h->img) / sizeof(h->img[0]); i++) {
		pt_image_unref(h->img[i]);
		h->img[i] = NULL;
	}
}

/* Copies a name: the user cache may be re-read before the record is emitted. */
static struct pt_str name(struct pt_context *c, struct pt_context_hold *h, unsigned slot,
			  uint32_t id, bool group)
{
	struct pt_str s = group ? pt_users_group(c->u, id) : pt_users_user(c->u, id);

	if (!s.ptr || !s.len || s.len > PT_USER_NAME_MAX)
		return (struct pt_str){ NULL, 0 };
	memcpy(h->names[slot], s.ptr, s.len);
	h->names[slot][s.len] = '\0';
	return (struct pt_str){ h->names[slot], s.len };
}

static void exec_context(struct pt_context *c, struct pt_sensor_decoded *d,
			 struct pt_context_hold *h)
{
	struct pt_exec *x = &d->rec.u.exec;
	struct pt_proc *parent, *self, *leader;
	struct pt_image *img;

	parent = pt_proc_find(c->t, x->ppid, d->parent_start_ns, x->parent_entity_id);
	if (parent && parent->img) {
		h->img[0] = pt_image_ref(parent->img);
		x->parent_path = pt_image_path(parent->img);
		x->parent_argv = pt_image_argv(parent->img);
		x->parent_args_count = parent->img->argc;
		x->ctx_flags |= PT_CTX_F_PARENT_KNOWN;
		if (parent->seeded)
			x->ctx_flags |= PT_CTX_F_PARENT_SEEDED;
		if (parent->img->argv_truncated)
			x->ctx_flags |= PT_CTX_F_PARENT_ARGV_TRUNCATED;
	} else {
		c->parent_unknown++;
	}
	img = pt_image_new(x->path, x->argv, x->args_count, x->flags & PT_EXEC_F_ARGV_TRUNCATED);
	self = img ? pt_proc_exec(c->t, x->pid, x->start_ns, x->entity_id, parent, img) : NULL;
	/* after the exec: a process that is its own session leader leads with its new image */
	leader = (x->ctx_flags & PT_CTX_F_SID_LEADER) ?
		pt_proc_find(c->t, x->sid, d->sid_start_ns, x->sid_entity_id) : NULL;
	if (leader && leader->img) {
		h->img[1] = pt_image_ref(leader->img);
		x->sid_path = pt_image_path(leader->img);
		x->ctx_flags |= PT_CTX_F_SID_KNOWN;
	}
	if (self && self->entry_known && self->entry.img) {
		h->img[2] = pt_image_ref(self->entry.img);
		x->entry_path = pt_image_path(self->entry.img);
		x->entry_type = self->entry.type;
		x->ctx_flags |= PT_CTX_F_ENTRY_KNOWN;
		if (self->entry.eid_known) {
			memcpy(x->entry_entity_id, self->entry.eid, PT_ENTITY_ID_LEN);
			x->ctx_flags |= PT_CTX_F_ENTRY_LEADER;
		}
	}
	x->user_name = name(c, h, 0, x->euid, false);
	x->real_user_name = name(c, h, 1, x->uid, false);
	x->group_name = name(c, h, 2, x->egid, true);
	x->real_group_name = name(c, h, 3, x->gid, true);
	if (x->ctx_flags & PT_CTX_F_LOGIN_UID)
		x->login_user_name = name(c, h, 4, x->login_uid, false);
}

static void exit_context(struct pt_context *c, struct pt_sensor_decoded *d,
			 struct pt_context_hold *h)
{
	struct pt_exit *x = &d->rec.u.exit;
	struct pt_proc *p = pt_proc_find(c->t, x->pid, x->start_ns, x->entity_id);

	if (p && p->img) {
		h->img[3] = pt_image_ref(p->img);
		x->path = pt_image_path(p->img);
		x->ctx_flags |= PT_EXIT_CTX_F_KNOWN;
		if (p->seeded)
			x->ctx_flags |= PT_EXIT_CTX_F_SEEDED;
	}
	pt_proc_exit(c->t, p);
}

void pt_context_apply(struct pt_context *c, struct pt_sensor_decoded *d,
		      struct pt_context_hold *h, uint64_t now_ns)
{
	memset(h->img, 0, sizeof(h->img));
	if (d->is_fork) {
		const struct pt_sensor_fork *f = &d->fork;
		struct pt_proc *parent = pt_proc_find(c->t, f->ppid, f->parent_start_ns, f->parent_eid);

		pt_proc_fork(c->t, f->tgid, f->start_ns, f->eid, parent);
		return;
	}
	if (d->rec.type == PT_REC_PROCESS_EXEC) {
		pt_users_refresh(c->u, now_ns);
		exec_context(c, d, h);
	} else if (d->rec.type == PT_REC_PROCESS_EXIT) {
		exit_context(c, d, h);
	}
}

void pt_context_stats(const struct pt_context *c, struct pt_context_stats *st)
{
	pt_proctable_stats(c->t, &st->table);
	st->parent_unknown = c->parent_unknown;
	st->user_reloads = pt_users_reloads(c->u);
}
