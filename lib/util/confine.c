#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>

#include "proctrail/confine.h"

/* The build machine's headers may predate the running kernel's Landlock: the ABI is stable,
 * so the later rights are spelled here (values from the kernel's uapi/linux/landlock.h). */
#define LL_FS_REFER       (1ull << 13)   /* ABI 2 */
#define LL_FS_TRUNCATE    (1ull << 14)   /* ABI 3 */
#define LL_FS_IOCTL_DEV   (1ull << 15)   /* ABI 5 */
#define LL_NET_BIND_TCP    (1ull << 0)   /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ull << 1)

#define LL_FS_V1 ((1ull << 13) - 1)       /* execute .. make_sym */
#define LL_FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_FS_WRITE (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
		     LANDLOCK_ACCESS_FS_MAKE_REG | LL_FS_TRUNCATE)

/* struct landlock_ruleset_attr as of ABI 4 (handled_access_net added) */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};

static uint64_t fs_rights_of(int abi)
{
	uint64_t r = LL_FS_V1;

	if (abi >= 2)
		r |= LL_FS_REFER;
	if (abi >= 3)
		r |= LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= LL_FS_IOCTL_DEV;
	return r;
}

static int add_path(int ruleset, const char *path, uint64_t access, uint64_t handled, char *err,
		    size_t errlen)
{
	struct landlock_path_beneath_attr pb = { .allowed_access = access & handled };
	int rc = 0;

	pb.parent_fd = open(path, O_PATH | O_CLOEXEC | O_DIRECTORY);
	if (pb.parent_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "confine: %s: %s", path, strerror(errno));
		return rc;
	}
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "confine: landlock rule for %s: %s", path, strerror(errno));
	}
	close(pb.parent_fd);
	return rc;
}

static int landlock(const struct pt_confine *c, struct pt_confine_result *res, char *err,
		    size_t errlen)
{
	struct ll_ruleset_attr attr = { 0 };
	size_t attr_len = sizeof(attr);
	int abi, ruleset, rc = 0;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return 0;    /* not built in or disabled: seccomp and no-new-privs still apply */
	res->landlock_abi = abi;
	attr.handled_access_fs = fs_rights_of(abi);
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		if (c->allow_tcp_connect)
			attr.handled_access_net = LL_NET_BIND_TCP;
		res->landlock_net = true;
	} else {
		attr_len = offsetof(struct ll_ruleset_attr, handled_access_net);
	}
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_len, 0);
	if (ruleset < 0) {
		rc = -errno;
		snprintf(err, errlen, "confine: landlock ruleset: %s", strerror(errno));
		return rc;
	}
	for (size_t i = 0; !rc && i < PT_CONFINE_PATHS_MAX && c->read_write[i]; i++)
		rc = add_path(ruleset, c->read_write[i], LL_FS_READ | LL_FS_WRITE,
			      attr.handled_access_fs, err, errlen);
	for (size_t i = 0; !rc && i < PT_CONFINE_PATHS_MAX && c->read_only[i]; i++)
		rc = add_path(ruleset, c->read_only[i], LL_FS_READ, attr.handled_access_fs, err,
			      errlen);
	if (!rc && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "confine: landlock_restrict_self: %s", strerror(errno));
	}
	close(ruleset);
	return rc;
}

/* Calls no collector makes once it serves: a compromised process gets EPERM for them. */
static const int denied_syscalls[] = {
	SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
	SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_bpf, SYS_perf_event_open,
	SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load, SYS_kexec_file_load,
	SYS_reboot, SYS_swapon, SYS_swapoff, SYS_unshare, SYS_setns, SYS_keyctl, SYS_add_key,
	SYS_request_key, SYS_userfaultfd, SYS_open_by_handle_at, SYS_name_to_handle_at,
	SYS_io_uring_setup, SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setresuid,
	SYS_setresgid, SYS_setgroups, SYS_capset, SYS_personality, SYS_acct, SYS_quotactl,
	SYS_lookup_dcookie, SYS_fanotify_init, SYS_settimeofday, SYS_clock_settime, SYS_adjtimex,
	SYS_clock_adjtime, SYS_mknodat,
#ifdef SYS_mknod
	SYS_mknod,
#endif
#ifdef SYS_iopl
	SYS_iopl, SYS_ioperm,
#endif
};

/* For a process that has opened everything it will use (the agent's network child): no file,
 * no socket, whatever Landlock the kernel has. */
static const int file_syscalls[] = {
#ifdef SYS_open
	SYS_open, SYS_creat,
#endif
	SYS_openat, SYS_openat2,
};
static const int socket_syscalls[] = {
	SYS_socket, SYS_socketpair, SYS_connect, SYS_bind, SYS_listen, SYS_accept, SYS_accept4,
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__x86_64__)
#define PT_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PT_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static int seccomp_deny(const struct pt_confine *c, struct pt_confine_result *res, char *err,
			size_t errlen)
{
#ifdef PT_AUDIT_ARCH
	enum { NMAX = NELEM(denied_syscalls) + NELEM(file_syscalls) + NELEM(socket_syscalls) };
	struct sock_filter f[4 + 2 * NMAX + 1];
	struct sock_fprog prog = { .filter = f };
	int deny[NMAX];
	unsigned n = 0, ndeny = 0;

	for (size_t i = 0; i < NELEM(denied_syscalls); i++)
		deny[ndeny++] = denied_syscalls[i];
	for (size_t i = 0; c->no_files && i < NELEM(file_syscalls); i++)
		deny[ndeny++] = file_syscalls[i];
	for (size_t i = 0; c->no_sockets && i < NELEM(socket_syscalls); i++)
		deny[ndeny++] = socket_syscalls[i];

	/* another architecture's calls (x32, i386 on x86-64) would bypass the numbers below */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PT_AUDIT_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < ndeny; i++) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)deny[i], 0, 1);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	}
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)n;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
		int rc = errno ? -errno : -EINVAL;

		snprintf(err, errlen, "confine: seccomp: %s", strerror(-rc));
		return rc;
	}
	res->seccomp = true;
#else
	(void)c;
	(void)res;
	(void)err;
	(void)errlen;
#endif
	return 0;
}

int pt_confine_self(const struct pt_confine *c, struct pt_confine_result *res, char *err,
		    size_t errlen)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		rc = -errno;
		snprintf(err, errlen, "confine: no_new_privs: %s", strerror(errno));
		return rc;
	}
	if ((rc = landlock(c, res, err, errlen)))
		return rc;
	return seccomp_deny(c, res, err, errlen);
}
