/* Types shared by the BPF programs (bpf/proctrail.bpf.c) and the agent's ring reader.
 * Types only: this header is compiled both by clang -target bpf and by gcc.
 *
 * Every ring record starts with struct pt_k_hdr. An exec record is followed by a variable
 * data area, laid out in this order, each part's length in the header:
 *
 *   +-------------------+-------------------+-----------+----------------+-------------------+
 *   | path components   | cwd components    | argv      | bprm->filename | cgroup components |
 *   | leaf first, each  | leaf first, each  | as in the | (scripts only) | (v2, default      |
 *   | NUL-terminated    | NUL-terminated    | process   | NUL-terminated | hierarchy), leaf  |
 *   |                   |                   |           |                | first, NUL-term.  |
 *   +-------------------+-------------------+-----------+----------------+-------------------+
 *
 * Components are written leaf first because the kernel walks from the file up to the root;
 * user space reverses them. Walking in that order lets the BPF side append with one cursor.
 *
 * A fork record (struct pt_k_fork) is fixed-size: a new process (not a thread) and its parent.
 * The agent uses it only to know the processes that never exec (a shell's subshell); it is not
 * an event of its own.
 */
#ifndef PROCTRAIL_BPF_SHARED_H
#define PROCTRAIL_BPF_SHARED_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Slots of the per-CPU loss map; the same numbers as enum pt_loss_counter in wire.h (the
 * agent asserts it), repeated because wire.h cannot be compiled for BPF. */
#define PT_K_LOSS_RING_FULL     1
#define PT_K_LOSS_KERNEL_ERROR  2
/* Slots 8..15 are written by the agent only: the totals it has already reported as loss
 * records, so that a restarted agent reports only what is new. */
#define PT_K_LOSS_REPORTED_BASE 8
/* Slot 16 holds PT_K_LAYOUT_VERSION, written by the agent that created the pins: a newer agent
 * must not read records laid out by older programs. Bump it with any change to the records. */
#define PT_K_LOSS_LAYOUT_SLOT   16
#define PT_K_LAYOUT_VERSION     2   /* 2: leaders, tty, login uid, vpid, cgroup path, fork */
#define PT_K_LOSS_SLOTS         24

#define PT_K_EXEC 1
#define PT_K_EXIT 2
#define PT_K_FORK 3

#define PT_K_PATH_MAX    4096    /* bytes of components for one path */
#define PT_K_ARGV_MAX    4096    /* argv bytes copied from the new process */
#define PT_K_NAME_MAX    256     /* one component, NUL included */
#define PT_K_DEPTH_MAX   128     /* components walked for one path */
#define PT_K_DATA_MAX    32768   /* the whole data area (>= 4 * PATH + ARGV), a power of two */

/* pt_k_exec.kflags */
#define PT_K_F_PATH_TRUNC   (1u << 0)
#define PT_K_F_CWD_TRUNC    (1u << 1)
#define PT_K_F_ARGV_TRUNC   (1u << 2)
#define PT_K_F_INTERNAL_MNT (1u << 3)   /* file's mount is kernel-internal (memfd, shm) */
#define PT_K_F_SCRIPT       (1u << 4)   /* bprm->interp differs from bprm->filename */
#define PT_K_F_UNLINKED     (1u << 5)   /* dentry unhashed at exec time */
#define PT_K_F_FNAME_TRUNC  (1u << 6)
#define PT_K_F_CWD_INTERNAL (1u << 7)
#define PT_K_F_CGROUP_TRUNC (1u << 8)

struct pt_k_hdr {
	__u32 type;                 /* PT_K_EXEC / PT_K_EXIT */
	__u32 tgid;
	__u64 time_boot_ns;         /* bpf_ktime_get_boot_ns(); user space converts to realtime */
	__u64 start_boottime;       /* thread-group leader's start_boottime */
};

struct pt_k_exec {
	struct pt_k_hdr h;
	__u64 parent_start_boottime;
	__u64 cgroup_id;
	__u64 ino, size;
	__s64 mtime_sec, ctime_sec;
	__u32 mtime_nsec, ctime_nsec;
	__u32 dev;                  /* kernel encoding: major << 20 | minor */
	__u32 mode;
	__u32 nlink;
	__u32 tid, ppid;
	__u32 uid, euid, gid, egid;
	__u32 argc;
	__u32 kflags;
	__u16 path_len, cwd_len, argv_len, fname_len;
	char comm[16];
	/* context: who leads the process group and the session (0 start: that leader is gone),
	 * the controlling terminal, who logged in, the pid inside the process's pid namespace */
	__u64 pgid_start, sid_start;
	__u32 pgid, sid;
	__u32 tty;                  /* kernel encoding major << 20 | minor; 0: no terminal */
	__u32 loginuid;             /* (u32)-1: not set (a daemon started before any login) */
	__u32 sessionid;            /* audit session id; (u32)-1: none */
	__u32 vpid;
	__u16 cgroup_len, pad16;
	__u32 pad32;
	/* the data area follows (see the diagram at the top) */
};

struct pt_k_fork {
	struct pt_k_hdr h;          /* the child: tgid, its start_boottime */
	__u64 parent_start_boottime;
	__u32 ppid;
	__u32 pad;
};

struct pt_k_exit {
	struct pt_k_hdr h;
	__u32 tid;
	__u32 exit_status;          /* wait status: code << 8 | signal */
	char comm[16];
};

#endif
