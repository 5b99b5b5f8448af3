/* Confinement of a process once its setup is done, in the manner of OpenSMTPD's pledge/unveil
 * after start-up: what the process opened stays usable, nothing new can be reached.
 *
 *   - no new privileges (setuid binaries and file capabilities stop working for it);
 *   - Landlock, where the kernel has it: the file system shrinks to the directories named
 *     (read-write or read-only); from ABI 4, no TCP bind or connect at all;
 *   - seccomp: the system calls a collector never makes after setup (exec, ptrace, mount, BPF,
 *     module and kexec loading, namespaces, keyrings, ...) fail with EPERM.
 *
 * Landlock binds the calling thread and the threads it creates later, so call it before
 * starting threads; the seccomp filter is synchronised to every thread. */
#ifndef PROCTRAIL_CONFINE_H
#define PROCTRAIL_CONFINE_H

#include <stdbool.h>
#include <stddef.h>

#define PT_CONFINE_PATHS_MAX 8

struct pt_confine {
	const char *read_write[PT_CONFINE_PATHS_MAX];   /* directories; NULL-terminated */
	const char *read_only[PT_CONFINE_PATHS_MAX];
	bool allow_tcp_connect;   /* a client (an agent's uplink, a PostgreSQL store) */
	bool no_files;            /* seccomp refuses open/openat/openat2/creat as well */
	bool no_sockets;          /* seccomp refuses socket, socketpair, connect, bind, listen,
				   * accept: only descriptors held before remain */
};

struct pt_confine_result {
	int landlock_abi;          /* 0 when the kernel has no Landlock */
	bool landlock_net;         /* TCP bind/connect restricted as well */
	bool seccomp;
};

/* Returns 0 with what was applied in *res, or -errno (with a reason in err) when a step the
 * kernel supports failed: then the caller must not go on unconfined by accident. */
int pt_confine_self(const struct pt_confine *c, struct pt_confine_result *res, char *err,
		    size_t errlen);

#endif
