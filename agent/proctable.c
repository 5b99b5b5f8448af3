/* The table of live processes (see proctable.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proctable.h"

struct pt_proctable {
	struct pt_proc **buckets;
	uint32_t nbuckets;          /* power of two */
	uint32_t max;
	struct pt_proc *lru_head, *lru_tail;   /* head: the next to be pushed out */
	struct pt_proctable_stats st;
	uint64_t ns_per_tick;
	/* Entries of exited processes, reused: a fork and an exit per process made a calloc and
	 * a free each, and bursts of exits went past malloc's per-thread cache. Linked by hnext. */
	struct pt_proc *spare;
	uint32_t nspare;
};

#define SPARE_MAX 256u

struct pt_image *pt_image_new(struct pt_str path, struct pt_str argv, uint32_t argc,
			      bool truncated)
{
	struct pt_image *i;

	if (path.len > PT_PATH_MAX || argv.len > PT_ARGV_MAX)
		return NULL;
	i = malloc(sizeof(*i) + path.len + 1 + argv.len);
	if (!i)
		return NULL;
	i->refs = 1;
	i->argc = argc;
	i->path_len = (uint16_t)path.len;
	i->argv_len = (uint16_t)argv.len;
	i->argv_truncated = truncated;
	i->entry_point = 0xff;
	if (path.len)
		memcpy(i->data, path.ptr, path.len);
	i->data[path.len] = '\0';
	if (argv.len)
		memcpy(i->data + path.len + 1, argv.ptr, argv.len);
	return i;
}

struct pt_image *pt_image_ref(struct pt_image *i)
{
	if (i)
		i->refs++;
	return i;
}

void pt_image_unref(struct pt_image *i)
{
	if (i && --i->refs == 0)
		free(i);
}

static uint32_t bucket(const struct pt_proctable *t, uint32_t tgid)
{
	return (tgid * 2654435761u) & (t->nbuckets - 1);
}

int pt_proctable_new(uint32_t max, struct pt_proctable **out)
{
	struct pt_proctable *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->max = max ? max : PT_PROCTABLE_MAX_DEFAULT;
	t->nbuckets = 1024;
	while (t->nbuckets < t->max && t->nbuckets < (1u << 22))
		t->nbuckets <<= 1;
	/* a table of pointers: NOLINTNEXTLINE(bugprone-sizeof-expression) */
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return -ENOMEM;
	}
	t->ns_per_tick = 10000000;   /* USER_HZ 100, what /proc/PID/stat counts in */
	*out = t;
	return 0;
}

static void lru_unlink(struct pt_proctable *t, struct pt_proc *p)
{
	if (p->lprev)
		p->lprev->lnext = p->lnext;
	else
		t->lru_head = p->lnext;
	if (p->lnext)
		p->lnext->lprev = p->lprev;
	else
		t->lru_tail = p->lprev;
	p->lprev = p->lnext = NULL;
}

static void lru_append(struct pt_proctable *t, struct pt_proc *p)
{
	p->lprev = t->lru_tail;
	p->lnext = NULL;
	if (t->lru_tail)
		t->lru_tail->lnext = p;
	else
		t->lru_head = p;
	t->lru_tail = p;
}

static void proc_free(struct pt_proctable *t, struct pt_proc *p)
{
	pt_image_unref(p->img);
	pt_image_unref(p->entry.img);
	if (t->nspare < SPARE_MAX) {
		p->hnext = t->spare;
		t->spare = p;
		t->nspare++;
		return;
	}
	free(p);
}

static struct pt_proc *proc_alloc(struct pt_proctable *t)
{
	struct pt_proc *p = t->spare;

	if (!p)
		return calloc(1, sizeof(*p));
	t->spare = p->hnext;
	t->nspare--;
	memset(p, 0, sizeof(*p));
	return p;
}

static void remove_entry(struct pt_proctable *t, struct pt_proc *p)
{
	struct pt_proc **pp = &t->buckets[bucket(t, p->tgid)];

	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	lru_unlink(t, p);
	t->st.live--;
	if (p->seeded)
		t->st.seeded--;
	proc_free(t, p);
}

void pt_proctable_free(struct pt_proctable *t)
{
	if (!t)
		return;
	while (t->lru_head)
		remove_entry(t, t->lru_head);
	while (t->spare) {
		struct pt_proc *p = t->spare;

		t->spare = p->hnext;
		free(p);
	}
	free(t->buckets);
	free(t);
}

static struct pt_proc *by_tgid(struct pt_proctable *t, uint32_t tgid)
{
	for (struct pt_proc *p = t->buckets[bucket(t, tgid)]; p; p = p->hnext)
		if (p->tgid == tgid)
			return p;
	return NULL;
}

static void make_exact(struct pt_proc *p, uint64_t start_ns, const uint8_t eid[PT_ENTITY_ID_LEN])
{
	p->start_ns = start_ns;
	memcpy(p->eid, eid, PT_ENTITY_ID_LEN);
	p->eid_known = true;
	if (p->entry_known && p->entry.pid == p->tgid && !p->entry.eid_known) {
		memcpy(p->entry.eid, eid, PT_ENTITY_ID_LEN);
		p->entry.eid_known = true;
	}
}

struct pt_proc *pt_proc_find(struct pt_proctable *t, uint32_t tgid, uint64_t start_ns,
			     const uint8_t eid[PT_ENTITY_ID_LEN])
{
	struct pt_proc *p = by_tgid(t, tgid);

	if (!p)
		return NULL;
	if (p->start_ns)
		return p->start_ns == start_ns ? p : NULL;
	/* seeded: /proc/PID/stat gives the start in ticks, start_ns / (1e9 / USER_HZ) */
	if (p->start_ticks != start_ns / t->ns_per_tick)
		return NULL;
	make_exact(p, start_ns, eid);
	return p;
}

/* A new entry for tgid; an older one with the same tgid is a process whose exit was not seen. */
static struct pt_proc *insert(struct pt_proctable *t, uint32_t tgid)
{
	struct pt_proc *p = by_tgid(t, tgid);
	uint32_t b;

	if (p)
		remove_entry(t, p);
	if (t->st.live >= t->max && t->lru_head) {
		remove_entry(t, t->lru_head);
		t->st.evicted++;
	}
	p = proc_alloc(t);
	if (!p)
		return NULL;
	p->tgid = tgid;
	b = bucket(t, tgid);
	p->hnext = t->buckets[b];
	t->buckets[b] = p;
	lru_append(t, p);
	t->st.live++;
	t->st.inserted++;
	return p;
}

static void set_entry(struct pt_proc *p, const struct pt_leader *l)
{
	struct pt_image *old = p->entry.img;

	p->entry = *l;
	pt_image_ref(p->entry.img);
	pt_image_unref(old);
	p->entry_known = true;
}

static bool base_is(struct pt_str path, const char *name, bool prefix)
{
	size_t n = strlen(name), i = path.len;

	while (i > 0 && path.ptr[i - 1] != '/')
		i--;
	if (prefix)
		return path.len - i >= n && !memcmp(path.ptr + i, name, n);
	return path.len - i == n && !memcmp(path.ptr + i, name, n);
}

unsigned pt_entry_point_type(const struct pt_proc *p)
{
	static const struct { const char *name; bool prefix; unsigned type; } points[] = {
		{ "sshd", true, PT_ENTRY_SSHD },   /* sshd, sshd-session */
		{ "login", false, PT_ENTRY_TERMINAL }, { "agetty", false, PT_ENTRY_TERMINAL },
		{ "getty", false, PT_ENTRY_TERMINAL },
		{ "cron", false, PT_ENTRY_CRON }, { "crond", false, PT_ENTRY_CRON },
		{ "atd", false, PT_ENTRY_CRON }, { "anacron", false, PT_ENTRY_CRON },
		{ "containerd-shim", true, PT_ENTRY_CONTAINER }, { "conmon", false, PT_ENTRY_CONTAINER },
		{ "runc", false, PT_ENTRY_CONTAINER }, { "crun", false, PT_ENTRY_CONTAINER },
		{ "systemd-nspawn", false, PT_ENTRY_CONTAINER },
	};
	struct pt_str path;
	unsigned type = PT_ENTRY_UNKNOWN;

	if (!p)
		return PT_ENTRY_UNKNOWN;
	if (p->tgid == 1)
		return PT_ENTRY_INIT;
	if (!p->img)
		return PT_ENTRY_UNKNOWN;
	if (p->img->entry_point != 0xff)
		return p->img->entry_point;
	path = pt_image_path(p->img);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++)
		if (base_is(path, points[i].name, points[i].prefix)) {
			type = points[i].type;
			break;
		}
	p->img->entry_point = (uint8_t)type;
	return type;
}

/* A leader recorded with a tick-precise start may have become exact since. */
static void resolve_leader(struct pt_proctable *t, struct pt_leader *l)
{
	struct pt_proc *p;

	if (l->eid_known)
		return;
	p = by_tgid(t, l->pid);
	if (p && p->eid_known && p->start_ticks == l->start_ticks) {
		memcpy(l->eid, p->eid, PT_ENTITY_ID_LEN);
		l->eid_known = true;
	}
}

/* The entry leader of p, whose parent is parent: p itself when the parent is an entry point,
 * else the parent's. */
static void choose_entry(struct pt_proctable *t, struct pt_proc *p, struct pt_proc *parent)
{
	unsigned type = pt_entry_point_type(parent);
	struct pt_leader l;

	if (type != PT_ENTRY_UNKNOWN && p->img) {
		l = (struct pt_leader){ p->tgid, p->start_ticks, { 0 }, p->eid_known, (uint8_t)type,
					p->img };
		memcpy(l.eid, p->eid, PT_ENTITY_ID_LEN);
		set_entry(p, &l);
		return;
	}
	if (parent && parent->entry_known) {
		resolve_leader(t, &parent->entry);
		set_entry(p, &parent->entry);
	}
}

int pt_proc_fork(struct pt_proctable *t, uint32_t tgid, uint64_t start_ns,
		 const uint8_t eid[PT_ENTITY_ID_LEN], struct pt_proc *parent)
{
	struct pt_proc *p;

	/* the parent may be the entry pushed out by this insert: take what is needed first */
	struct pt_image *img = parent ? pt_image_ref(parent->img) : NULL;
	struct pt_leader l = { 0 };
	bool has_entry = parent && parent->entry_known;

	if (has_entry) {
		resolve_leader(t, &parent->entry);
		l = parent->entry;
		pt_image_ref(l.img);
	}
	p = insert(t, tgid);
	if (!p) {
		pt_image_unref(img);
		pt_image_unref(l.img);
		return -ENOMEM;
	}
	p->start_ns = start_ns;
	p->start_ticks = start_ns / t->ns_per_tick;
	memcpy(p->eid, eid, PT_ENTITY_ID_LEN);
	p->eid_known = true;
	p->img = img;
	if (has_entry) {
		p->entry = l;
		p->entry_known = true;
	}
	return 0;
}

struct pt_proc *pt_proc_exec(struct pt_proctable *t, uint32_t tgid, uint64_t start_ns,
			     const uint8_t eid[PT_ENTITY_ID_LEN], struct pt_proc *parent,
			     struct pt_image *img)
{
	unsigned ptype = pt_entry_point_type(parent);
	struct pt_proc *p = pt_proc_find(t, tgid, start_ns, eid);
	bool found = p != NULL;

	if (p) {
		/* most recently exec'd is pushed out last */
		lru_unlink(t, p);
		lru_append(t, p);
	} else {
		/* a process whose fork was not seen (started before the agent, or its record
		 * lost): inherits from the parent as at fork; the insert may push the parent out,
		 * which must not be touched after it */
		if (pt_proc_fork(t, tgid, start_ns, eid, parent)) {
			pt_image_unref(img);
			return NULL;
		}
		p = by_tgid(t, tgid);
	}
	pt_image_unref(p->img);
	p->img = img;
	if (p->seeded) {
		p->seeded = false;   /* what it runs now is from the kernel */
		t->st.seeded--;
	}
	if (!p->eid_known)
		make_exact(p, start_ns, eid);
	if (ptype != PT_ENTRY_UNKNOWN) {
		/* started by an entry point (sshd, cron, init...): it begins the session */
		struct pt_leader l = { p->tgid, p->start_ticks, { 0 }, true, (uint8_t)ptype, img };

		memcpy(l.eid, p->eid, PT_ENTITY_ID_LEN);
		set_entry(p, &l);
	} else if (!p->entry_known && found && parent) {
		choose_entry(t, p, parent);
	}
	return p;
}

void pt_proc_exit(struct pt_proctable *t, struct pt_proc *p)
{
	if (p)
		remove_entry(t, p);
}

int pt_proc_seed(struct pt_proctable *t, uint32_t tgid, uint32_t ppid, uint64_t start_ticks,
		 struct pt_image *img)
{
	struct pt_proc *parent = ppid ? by_tgid(t, ppid) : NULL, *p;

	p = insert(t, tgid);
	if (!p) {
		pt_image_unref(img);
		return -ENOMEM;
	}
	if (parent == p)
		parent = NULL;
	p->start_ticks = start_ticks;
	p->seeded = true;
	p->img = img;
	t->st.seeded++;
	choose_entry(t, p, parent && by_tgid(t, ppid) == parent ? parent : NULL);
	return 0;
}

void pt_proctable_stats(const struct pt_proctable *t, struct pt_proctable_stats *st)
{
	*st = t->st;
}

void pt_proctable_count_unknown_parent(struct pt_proctable *t)
{
	t->st.unknown_parents++;
}
