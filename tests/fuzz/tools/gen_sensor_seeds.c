/* Writes seed inputs for fuzz_sensor: kernel ring records laid out as bpf/proctrail.h has them
 * (one of each shape the BPF program writes), and a boot id, so the fuzzer starts from records
 * the decoder accepts rather than from noise.
 * Build and run: cc -Ibpf tests/fuzz/tools/gen_sensor_seeds.c -o /tmp/gen_sensor &&
 *   /tmp/gen_sensor tests/fuzz/corpus/sensor */
#include <stdio.h>
#include <string.h>

#include "proctrail.h"
#include "seed_file.h"

static unsigned char buf[sizeof(struct pt_k_exec) + PT_K_DATA_MAX];


/* the cgroup part of the next exec_rec(): components leaf first */
static const char *cg_part = "";
static size_t cg_len;

/* parts: path components leaf first, cwd components leaf first, argv, fname; each given as
 * bytes with their NULs; then cg_part */
static size_t exec_rec(struct pt_k_exec *e, const char *path, size_t pl, const char *cwd,
		       size_t cl, const char *argv, size_t al, const char *fname, size_t fl)
{
	unsigned char *d = buf + sizeof(*e);

	e->h.type = PT_K_EXEC;
	e->path_len = (__u16)pl;
	e->cwd_len = (__u16)cl;
	e->argv_len = (__u16)al;
	e->fname_len = (__u16)fl;
	e->cgroup_len = (__u16)cg_len;
	memcpy(buf, e, sizeof(*e));
	memcpy(d, path, pl);
	memcpy(d + pl, cwd, cl);
	memcpy(d + pl + cl, argv, al);
	memcpy(d + pl + cl + al, fname, fl);
	memcpy(d + pl + cl + al + fl, cg_part, cg_len);
	return sizeof(*e) + pl + cl + al + fl + cg_len;
}

static struct pt_k_exec base(void)
{
	struct pt_k_exec e;

	memset(&e, 0, sizeof(e));
	e.h.tgid = 4242;
	e.h.time_boot_ns = 123456789000ull;
	e.h.start_boottime = 123456000000ull;
	e.parent_start_boottime = 1000000ull;
	e.cgroup_id = 77;
	e.ino = 131;
	e.size = 142312;
	e.mtime_sec = 1700000000;
	e.mtime_nsec = 5;
	e.ctime_sec = 1700000001;
	e.ctime_nsec = 0x80000007u;   /* the kernel's multigrain flag in bit 31 */
	e.dev = (8u << 20) | 1;
	e.mode = 0100755;
	e.nlink = 1;
	e.tid = 4242;
	e.ppid = 1;
	e.uid = e.euid = e.gid = e.egid = 1000;
	e.argc = 2;
	memcpy(e.comm, "ls", 3);
	e.pgid = e.sid = 4000;
	e.pgid_start = e.sid_start = 120000000000ull;
	e.loginuid = e.sessionid = 0xffffffffu;
	e.vpid = 4242;
	return e;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/sensor";
	struct pt_k_exec e;
	struct pt_k_exit x;
	size_t n;

	e = base();
	n = exec_rec(&e, "ls\0bin\0usr", 11, "u\0home", 7, "ls\0-l\0", 6, "", 0);
	save(dir, "exec_plain", buf, n);

	e = base();
	e.kflags = PT_K_F_SCRIPT;
	e.argc = 3;
	memcpy(e.comm, "run.sh", 7);
	n = exec_rec(&e, "bash\0bin\0usr", 13, "tmp", 4, "/bin/sh\0./run.sh\0a\0", 19,
		     "./run.sh", 9);
	save(dir, "exec_script_relative", buf, n);

	e = base();
	e.kflags = PT_K_F_INTERNAL_MNT | PT_K_F_UNLINKED | PT_K_F_CWD_TRUNC;
	e.euid = 0;
	n = exec_rec(&e, "memfd:payload (deleted)", 24, "c\0b", 4, "x", 1, "", 0);
	save(dir, "exec_memfd_cut_argv", buf, n);

	e = base();
	e.kflags = PT_K_F_PATH_TRUNC | PT_K_F_ARGV_TRUNC;
	n = exec_rec(&e, "deep\0d\0c", 9, "", 0, "", 0, "", 0);
	save(dir, "exec_path_cut_root_cwd", buf, n);

	/* every part at its maximum: 2048 one-letter arguments are more than the wire carries */
	{
		static char many[PT_K_ARGV_MAX], name[PT_K_NAME_MAX], comps[PT_K_PATH_MAX];
		size_t cl = 0;

		for (size_t i = 0; i < sizeof(many); i += 2)
			memcpy(many + i, "a", 2);
		memset(name, 'n', sizeof(name) - 1);
		while (cl + sizeof(name) <= sizeof(comps)) {
			memcpy(comps + cl, name, sizeof(name));
			cl += sizeof(name);
		}
		e = base();
		e.kflags = PT_K_F_ARGV_TRUNC | PT_K_F_SCRIPT;
		n = exec_rec(&e, comps, cl, comps, cl, many, sizeof(many), comps, cl);
		save(dir, "exec_all_at_max", buf, n);
	}

	/* context: a docker container's cgroup, a terminal, a login uid, a pid namespace */
	{
		static const char cg[] = "docker-0123456789abcdef0123456789abcdef0123456789abcdef"
					 "0123456789abcdef.scope\0system.slice";

		cg_part = cg;
		cg_len = sizeof(cg);
		e = base();
		e.tty = (136u << 20) | 2;
		e.loginuid = 1000;
		e.sessionid = 3;
		e.vpid = 2;
		e.sid_start = 0;   /* the session leader has exited */
		n = exec_rec(&e, "ls\0bin\0usr", 11, "u\0home", 7, "ls\0-l\0", 6, "", 0);
		save(dir, "exec_context_docker", buf, n);
		cg_part = "";
		cg_len = 0;
	}
	{
		struct pt_k_fork f;

		memset(&f, 0, sizeof(f));
		f.h.type = PT_K_FORK;
		f.h.tgid = 4243;
		f.h.time_boot_ns = 123456789500ull;
		f.h.start_boottime = 123456789400ull;
		f.ppid = 4242;
		f.parent_start_boottime = 123456000000ull;
		save(dir, "fork", &f, sizeof(f));
	}

	memset(&x, 0, sizeof(x));
	x.h.type = PT_K_EXIT;
	x.h.tgid = 4242;
	x.h.time_boot_ns = 123999999000ull;
	x.h.start_boottime = 123456000000ull;
	x.tid = 4242;
	x.exit_status = 3 << 8;
	memcpy(x.comm, "ls", 3);
	save(dir, "exit_code", &x, sizeof(x));
	x.exit_status = 9;
	save(dir, "exit_signal", &x, sizeof(x));

	save(dir, "boot_id", "8c2b1f0e-3a4d-4e5f-9a6b-7c8d9e0f1a2b\n", 37);
	return 0;
}
