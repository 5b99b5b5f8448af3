// SPDX-License-Identifier: GPL-2.0
/* proctrail's kernel part: copy the facts of every exec and every process exit into a ring
 * buffer and return. Nothing here waits, allocates or decides; user space resolves and hashes.
 * Errors are counters (loss map), never logs. Layouts: bpf/proctrail.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "proctrail.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD          0x00200000
#define SIGNAL_GROUP_EXIT   0x00000004
#define DATA_MASK           (PT_K_DATA_MAX - 1)

/* Settings, fixed at load time. */
const volatile __u64 wakeup_bytes = 1 << 20;   /* force a wake-up when this much is unread */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PT_K_LOSS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} loss SEC(".maps");

/* An exec record is assembled here, then copied to the ring with its real length: reserving
 * the worst case (16 KiB) per exec would let a few hundred events fill the ring. */
struct scratch {
	struct pt_k_exec e;
	unsigned char data[PT_K_DATA_MAX + PT_K_PATH_MAX];   /* slack: masked offset + max read */
};

/* One slot per CPU, indexed by the CPU: a per-CPU array value is limited to 32 KiB, which this
 * is over. The program runs with migration disabled and does not nest on a CPU. The loader
 * sets max_entries to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline struct scratch *scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&scratch_map, &cpu);
}

static __always_inline void count_loss(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&loss, &which);

	if (v)
		*v += 1;
}

static __always_inline __u64 ring_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Kernel addresses are kept as plain numbers between bpf_loop steps and turned back into typed
 * (read-only, fault-safe) pointers with bpf_rdonly_cast() in each step: then every field is a
 * direct load instead of a bpf_probe_read_kernel() call, which halves the program's cost. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* task->comm is always NUL-terminated within its 16 bytes: two direct loads, no helper */
static __always_inline void copy_comm(char dst[16], struct task_struct *task)
{
	const __u64 *src = (const __u64 *)task->comm;
	__u64 *d = (__u64 *)dst;

	d[0] = src[0];
	d[1] = src[1];
}

struct walk {
	unsigned long dentry, vfsmnt;
	__u32 pos, start;
	__u32 trunc_flag, internal_flag;
	__u32 flags;
	int err;
};

static __always_inline struct dentry *as_dentry(unsigned long p)
{
	return bpf_rdonly_cast((void *)p, bpf_core_type_id_kernel(struct dentry));
}

static __always_inline int put_name(struct walk *w, struct scratch *s, struct dentry *d)
{
	const unsigned char *name = d->d_name.name;
	long n;

	if (w->pos - w->start + PT_K_NAME_MAX > PT_K_PATH_MAX) {
		w->flags |= w->trunc_flag;
		return -1;
	}
	n = bpf_probe_read_kernel_str(&s->data[w->pos & DATA_MASK], PT_K_NAME_MAX, name);
	if (n <= 0) {
		w->err = 1;
		return -1;
	}
	w->pos += n;
	return 0;
}

/* One step of the dentry/mount walk: a plain loop of this body over 128 components exceeds
 * the verifier's budget, bpf_loop does not. Returns 1 to stop. */
static long walk_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct scratch *s = scratch();
	struct dentry *d, *parent;
	struct vfsmount *vm;
	struct mount *m, *mp;
	unsigned long mnt_off = bpf_core_field_offset(struct mount, mnt);
	void *ns;

	if (!s || !w->dentry || !w->vfsmnt)
		return 1;
	d = as_dentry(w->dentry);
	vm = bpf_rdonly_cast((void *)w->vfsmnt, bpf_core_type_id_kernel(struct vfsmount));
	parent = d->d_parent;
	if (d == vm->mnt_root) {
		/* struct mount embeds the vfsmount: container_of */
		m = bpf_rdonly_cast((void *)(w->vfsmnt - mnt_off), bpf_core_type_id_kernel(struct mount));
		mp = m->mnt_parent;
		if (mp && mp != m) {
			w->dentry = (unsigned long)m->mnt_mountpoint;
			w->vfsmnt = (unsigned long)mp + mnt_off;
			return 0;
		}
		ns = m->mnt_ns;
		/* kern_mount() marks internal mounts with ERR_PTR(-EINVAL); detached ones have NULL */
		if (!ns || (unsigned long)ns >= (unsigned long)-4095)
			w->flags |= w->internal_flag;
		return 1;
	}
	if (d == parent) {
		/* a disconnected dentry (memfd, pipe, anon inode): its name is all there is */
		put_name(w, s, d);
		w->flags |= w->internal_flag;
		return 1;
	}
	if (put_name(w, s, d))
		return 1;
	w->dentry = (unsigned long)parent;
	return 0;
}

static __always_inline __u32 walk_path(struct walk *w, struct dentry *d, struct vfsmount *m,
				       __u32 trunc_flag, __u32 internal_flag)
{
	w->dentry = (unsigned long)d;
	w->vfsmnt = (unsigned long)m;
	w->start = w->pos;
	w->trunc_flag = trunc_flag;
	w->internal_flag = internal_flag;
	w->err = 0;
	if (bpf_loop(PT_K_DEPTH_MAX, walk_step, w, 0) == PT_K_DEPTH_MAX && w->dentry)
		w->flags |= trunc_flag;
	return w->pos - w->start;
}

/* One step of the cgroup walk: kernfs node names up to the root of the hierarchy (whose own
 * name is not part of a path). */
static long cgroup_step(__u32 i, void *ctx)
{
	struct walk *w = ctx;
	struct scratch *s = scratch();
	struct kernfs_node *kn, *parent;
	long n;

	if (!s || !w->dentry)
		return 1;
	kn = bpf_rdonly_cast((void *)w->dentry, bpf_core_type_id_kernel(struct kernfs_node));
	parent = kn->__parent;
	if (!parent) {
		w->dentry = 0;
		return 1;
	}
	if (w->pos - w->start + PT_K_NAME_MAX > PT_K_PATH_MAX) {
		w->flags |= w->trunc_flag;
		return 1;
	}
	n = bpf_probe_read_kernel_str(&s->data[w->pos & DATA_MASK], PT_K_NAME_MAX, kn->name);
	if (n <= 0) {
		w->err = 1;
		return 1;
	}
	w->pos += n;
	w->dentry = (unsigned long)parent;
	return 0;
}

/* The start time of the process whose tgid is the number of this struct pid (a process group's
 * or a session's id), 0 when that process is gone: the first task on the pid's TGID list is
 * the thread-group leader of that number, if it still lives. */
static __always_inline __u64 leader_start(struct pid *pid)
{
	struct hlist_node *first;
	struct task_struct *t;
	unsigned long off = bpf_core_field_offset(struct task_struct, pid_links) +
			    PIDTYPE_TGID * sizeof(struct hlist_node);

	if (!pid)
		return 0;
	first = pid->tasks[PIDTYPE_TGID].first;
	if (!first)
		return 0;
	t = bpf_rdonly_cast((void *)((unsigned long)first - off),
			    bpf_core_type_id_kernel(struct task_struct));
	return t->start_boottime;
}

static __always_inline void context(struct pt_k_exec *e, struct task_struct *task)
{
	struct signal_struct *sig = task->signal;
	struct pid *pg = sig->pids[PIDTYPE_PGID], *sid = sig->pids[PIDTYPE_SID];
	struct pid *tp = task->thread_pid;
	struct tty_struct *tty = sig->tty;
	unsigned long addr;
	unsigned int level;
	int nr = 0;

	e->pgid = pg ? pg->numbers[0].nr : 0;
	e->pgid_start = leader_start(pg);
	e->sid = sid ? sid->numbers[0].nr : 0;
	e->sid_start = leader_start(sid);
	e->tty = 0;
	if (tty) {
		struct tty_driver *drv = tty->driver;

		if (drv)
			e->tty = ((__u32)drv->major << 20) | (__u32)(drv->minor_start + tty->index);
	}
	e->loginuid = task->loginuid.val;
	e->sessionid = task->sessionid;
	e->vpid = task->tgid;
	if (tp) {
		level = tp->level;
		addr = (unsigned long)tp + bpf_core_field_offset(struct pid, numbers) +
		       (level & 31) * sizeof(struct upid);
		if (bpf_probe_read_kernel(&nr, sizeof(nr), (void *)addr) == 0)
			e->vpid = nr;
	}
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(pt_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct scratch *s = scratch();
	struct pt_k_exec *e;
	struct walk w = {};
	struct file *file;
	struct inode *inode;
	struct task_struct *parent, *leader;
	struct mm_struct *mm;
	const struct cred *cred;
	__u64 size;
	unsigned long a0, a1, len;
	const char *fname, *interp;
	__u32 n;
	long r;

	if (!s) {
		count_loss(PT_K_LOSS_KERNEL_ERROR);
		return 0;
	}
	e = &s->e;
	e->h.type = PT_K_EXEC;
	e->h.tgid = task->tgid;
	e->h.time_boot_ns = bpf_ktime_get_boot_ns();
	leader = task->group_leader;
	e->h.start_boottime = leader->start_boottime;
	parent = task->real_parent;
	e->ppid = parent->tgid;
	e->parent_start_boottime = parent->group_leader->start_boottime;
	e->tid = old_pid;   /* the thread that called exec; de_thread() gave it the tgid since */
	e->cgroup_id = bpf_get_current_cgroup_id();
	cred = task->cred;
	e->uid = cred->uid.val;
	e->euid = cred->euid.val;
	e->gid = cred->gid.val;
	e->egid = cred->egid.val;
	e->argc = bprm->argc;
	copy_comm(e->comm, task);
	e->kflags = 0;

	file = bprm->file;
	inode = file->f_inode;
	e->ino = inode->i_ino;
	e->size = inode->i_size;
	e->mtime_sec = inode->i_mtime_sec;
	e->mtime_nsec = inode->i_mtime_nsec;
	e->ctime_sec = inode->i_ctime_sec;
	e->ctime_nsec = inode->i_ctime_nsec;
	e->dev = inode->i_sb->s_dev;
	e->mode = inode->i_mode;
	e->nlink = inode->__i_nlink;
	if (!file->f_path.dentry->d_hash.pprev)
		e->kflags |= PT_K_F_UNLINKED;

	w.pos = 0;
	e->path_len = walk_path(&w, file->f_path.dentry, file->f_path.mnt,
				PT_K_F_PATH_TRUNC, PT_K_F_INTERNAL_MNT);
	if (w.err)
		count_loss(PT_K_LOSS_KERNEL_ERROR);
	e->cwd_len = walk_path(&w, task->fs->pwd.dentry,
			       task->fs->pwd.mnt, PT_K_F_CWD_TRUNC, PT_K_F_CWD_INTERNAL);
	if (w.err)
		count_loss(PT_K_LOSS_KERNEL_ERROR);

	mm = task->mm;
	a0 = mm->arg_start;
	a1 = mm->arg_end;
	len = a1 > a0 ? a1 - a0 : 0;
	if (len > PT_K_ARGV_MAX) {
		len = PT_K_ARGV_MAX;
		w.flags |= PT_K_F_ARGV_TRUNC;
	}
	n = 0;
	if (len && bpf_probe_read_user(&s->data[w.pos & DATA_MASK], len, (void *)a0) == 0) {
		n = len;
	} else if (len) {
		w.flags |= PT_K_F_ARGV_TRUNC;   /* the record goes out, without its argv */
		count_loss(PT_K_LOSS_KERNEL_ERROR);
	}
	e->argv_len = n;
	w.pos += n;

	fname = bprm->filename;
	interp = bprm->interp;
	e->fname_len = 0;
	if (fname != interp) {
		w.flags |= PT_K_F_SCRIPT;
		r = bpf_probe_read_kernel_str(&s->data[w.pos & DATA_MASK], PT_K_PATH_MAX, fname);
		if (r > 0) {
			e->fname_len = r;
			w.pos += r;
			if (r == PT_K_PATH_MAX)
				w.flags |= PT_K_F_FNAME_TRUNC;
		}
	}
	/* the cgroup path, for the container the process runs in */
	w.start = w.pos;
	w.trunc_flag = PT_K_F_CGROUP_TRUNC;
	w.err = 0;
	w.dentry = (unsigned long)task->cgroups->dfl_cgrp->kn;
	if (bpf_loop(PT_K_DEPTH_MAX, cgroup_step, &w, 0) == PT_K_DEPTH_MAX && w.dentry)
		w.flags |= PT_K_F_CGROUP_TRUNC;
	if (w.err)
		count_loss(PT_K_LOSS_KERNEL_ERROR);
	e->cgroup_len = w.pos - w.start;
	context(e, task);
	e->kflags |= w.flags;

	/* 64-bit and clamped right at the call: the verifier must see the bound on the very
	 * register passed as the size */
	size = w.pos;
	if (size > PT_K_DATA_MAX)
		size = PT_K_DATA_MAX;
	size += sizeof(*e);
	barrier_var(size);
	if (size > sizeof(*e) + PT_K_DATA_MAX) {
		count_loss(PT_K_LOSS_KERNEL_ERROR);   /* cannot happen; the verifier needs the check */
		return 0;
	}
	if (bpf_ringbuf_output(&events, e, size, ring_flags()))
		count_loss(PT_K_LOSS_RING_FULL);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(pt_exit, struct task_struct *task, bool group_dead)
{
	struct pt_k_exit *e;
	struct signal_struct *sig;
	__u32 status;

	if (task->flags & PF_KTHREAD)
		return 0;
	sig = task->signal;
	/* One record per process, not per thread: only the thread whose decrement of
	 * signal->live reached zero. Reading live here instead let two threads exiting together
	 * both see zero (the second decremented before the first got here): two exits. */
	if (!group_dead)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(PT_K_LOSS_RING_FULL);
		return 0;
	}
	e->h.type = PT_K_EXIT;
	e->h.tgid = task->tgid;
	e->h.time_boot_ns = bpf_ktime_get_boot_ns();
	e->h.start_boottime = task->group_leader->start_boottime;
	e->tid = task->pid;
	status = task->exit_code;
	if (sig->flags & SIGNAL_GROUP_EXIT)
		status = sig->group_exit_code;
	e->exit_status = status;
	copy_comm(e->comm, task);
	bpf_ringbuf_submit(e, ring_flags());
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(pt_fork, struct task_struct *parent, struct task_struct *child)
{
	struct pt_k_fork *e;
	struct task_struct *rp;

	/* a new thread is not a new process; kernel threads are not followed */
	if (child->pid != child->tgid || (child->flags & PF_KTHREAD))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(PT_K_LOSS_RING_FULL);
		return 0;
	}
	e->h.type = PT_K_FORK;
	e->h.tgid = child->tgid;
	e->h.time_boot_ns = bpf_ktime_get_boot_ns();
	e->h.start_boottime = child->start_boottime;
	/* CLONE_PARENT makes the caller's parent the child's: ask the child */
	rp = child->real_parent;
	e->ppid = rp->tgid;
	e->parent_start_boottime = rp->group_leader->start_boottime;
	e->pad = 0;
	bpf_ringbuf_submit(e, ring_flags());
	return 0;
}
