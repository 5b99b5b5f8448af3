/* The agent's table of live processes, keyed by thread-group id and checked by start time (so
 * by entity id): what each process runs (executable, arguments) and its entry leader, so that
 * an exec can name its parent's executable and arguments, its session leader's executable and
 * its entry leader, and an exit its executable.
 *
 *   seeded from /proc at start (marked seeded: start time known in clock ticks only, made
 *   exact when a kernel record names the process) -> fork (inherits the parent's image and
 *   entry leader) -> exec (a new image) -> exit (evicted)
 *
 * Bounded: at most `max` entries; beyond, the least recently inserted or exec'd entry is
 * pushed out and counted (pt_proctable_stats().evicted). A lookup that finds nothing is
 * "unknown", never a guess: a tgid whose start time differs is another process.
 *
 * Images are immutable and reference-counted (forked children share their parent's), so a
 * record waiting in the sensor's queue keeps the strings it points to with pt_image_ref()
 * after the process exits. One thread (the sensor's).
 *
 * Ownership: pt_proctable_new() returns a table freed by pt_proctable_free() (NULL-safe).
 */
#ifndef PROCTRAIL_AGENT_PROCTABLE_H
#define PROCTRAIL_AGENT_PROCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail/wire.h"

#define PT_PROCTABLE_MAX_DEFAULT 65536u

struct pt_image {
	uint32_t refs;
	uint32_t argc;             /* the real count (more than argv holds when truncated) */
	uint16_t path_len, argv_len;
	bool argv_truncated;
	/* the entry-point type of the path (pt_entry_point_type), found once per image: every
	 * exec asks it of its parent. 0xff: not looked at yet. */
	uint8_t entry_point;
	char data[];               /* path, NUL, argv (NUL-terminated entries) */
};

static inline struct pt_str pt_image_path(const struct pt_image *i)
{
	return (struct pt_str){ i->data, i->path_len };
}
static inline struct pt_str pt_image_argv(const struct pt_image *i)
{
	return (struct pt_str){ i->data + i->path_len + 1, i->argv_len };
}
/* path: any bytes without NUL; argv: NUL-terminated entries. Returns NULL on ENOMEM. */
struct pt_image *pt_image_new(struct pt_str path, struct pt_str argv, uint32_t argc,
			      bool truncated);
struct pt_image *pt_image_ref(struct pt_image *i);   /* NULL-safe */
void pt_image_unref(struct pt_image *i);             /* NULL-safe */

/* The process that brought a session onto the machine (see docs/sensor.md, "Context"). */
struct pt_leader {
	uint32_t pid;
	uint64_t start_ticks;      /* to recognise a seeded leader that later became exact */
	uint8_t eid[PT_ENTITY_ID_LEN];
	bool eid_known;
	uint8_t type;              /* pt_entry_type */
	struct pt_image *img;      /* a reference */
};

struct pt_proc {
	uint32_t tgid;
	uint64_t start_ns;         /* ns since boot; 0: known only in ticks (seeded) */
	uint64_t start_ticks;
	uint8_t eid[PT_ENTITY_ID_LEN];
	bool eid_known, seeded, entry_known;
	struct pt_image *img;      /* NULL: unknown */
	struct pt_leader entry;
	struct pt_proc *hnext, *lprev, *lnext;
};

struct pt_proctable_stats {
	uint64_t live, seeded, evicted, inserted, unknown_parents;
};

struct pt_proctable;

/* max 0: PT_PROCTABLE_MAX_DEFAULT. */
int pt_proctable_new(uint32_t max, struct pt_proctable **out);
void pt_proctable_free(struct pt_proctable *t);

/* The live process tgid started at start_ns (eid its entity id): exact, or a seeded entry of
 * the same tick, which becomes exact. NULL when unknown. */
struct pt_proc *pt_proc_find(struct pt_proctable *t, uint32_t tgid, uint64_t start_ns,
			     const uint8_t eid[PT_ENTITY_ID_LEN]);
/* A new process; parent may be NULL (unknown). */
int pt_proc_fork(struct pt_proctable *t, uint32_t tgid, uint64_t start_ns,
		 const uint8_t eid[PT_ENTITY_ID_LEN], struct pt_proc *parent);
/* The process runs img now (the table takes the caller's reference). Returns the entry, NULL on
 * ENOMEM. parent (may be NULL) decides the entry leader when the process has none. */
struct pt_proc *pt_proc_exec(struct pt_proctable *t, uint32_t tgid, uint64_t start_ns,
			     const uint8_t eid[PT_ENTITY_ID_LEN], struct pt_proc *parent,
			     struct pt_image *img);
void pt_proc_exit(struct pt_proctable *t, struct pt_proc *p);
/* From /proc at start: tgid, ppid, start in clock ticks, the image (reference taken). Entries
 * must come parents first (by start time) for entry leaders to be found. */
int pt_proc_seed(struct pt_proctable *t, uint32_t tgid, uint32_t ppid, uint64_t start_ticks,
		 struct pt_image *img);
/* Reads /proc (proc_dir NULL: "/proc") into the table. Returns how many were seeded. */
int pt_proctable_seed_from(struct pt_proctable *t, const char *proc_dir);
void pt_proctable_stats(const struct pt_proctable *t, struct pt_proctable_stats *st);
void pt_proctable_count_unknown_parent(struct pt_proctable *t);

/* Entry points: a process whose parent is one of these starts a session of that type. */
unsigned pt_entry_point_type(const struct pt_proc *p);

#endif
