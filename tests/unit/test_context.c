/* The agent's context pieces without a kernel: container ids from cgroup paths, the
 * passwd/group parser, and the table of live processes (seeded entries made exact, entry
 * leaders, the bound and its counter, unknown parents never invented). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../agent/container.h"
#include "../../agent/proctable.h"
#include "../../agent/users.h"

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect_container(const char *path, const char *id, const char *runtime)
{
	struct pt_container c;
	int r = pt_container_from_cgroup(path, strlen(path), &c);

	if (!id) {
		if (r)
			fail_msg("%s: no container expected, got %s", path, c.runtime);
		return;
	}
	if (!r)
		fail_msg("%s: no container found", path);
	assert_int_equal(c.id_len, strlen(id));
	assert_memory_equal(c.id, id, c.id_len);
	assert_string_equal(c.runtime, runtime);
}

static void test_container_ids(void **state)
{
	(void)state;
	expect_container("/system.slice/docker-" HEX ".scope", HEX, "docker");
	expect_container("/docker/" HEX, HEX, "docker");
	expect_container("/docker/" HEX "/sub", HEX, "docker");
	expect_container("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/"
			 "cri-containerd-" HEX ".scope", HEX, "containerd");
	expect_container("/kubepods.slice/x.slice/crio-" HEX ".scope", HEX, "cri-o");
	expect_container("/kubepods.slice/x.slice/crio-conmon-" HEX ".scope", NULL, NULL);
	expect_container("/machine.slice/libpod-" HEX ".scope/container", HEX, "podman");
	expect_container("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" HEX
			 ".scope", NULL, NULL);
	expect_container("/machine.slice/systemd-nspawn@web.service/payload", "web", "systemd-nspawn");
	expect_container("/machine.slice/machine-web.scope/payload/system.slice/cron.service",
			 "web", "systemd-nspawn");
	/* the inner of two */
	expect_container("/machine.slice/machine-web.scope/payload/system.slice/docker-" HEX ".scope",
			 HEX, "docker");
	expect_container("/", NULL, NULL);
	expect_container("/user.slice/user-0.slice/session-3.scope", NULL, NULL);
	expect_container("/system.slice/docker-" HEX "0.scope", NULL, NULL);   /* 65 digits */
	expect_container("/system.slice/docker-" "0123456789ABCDEF0123456789abcdef0123456789abcdef"
			 "0123456789abcdef.scope", NULL, NULL);                  /* upper case */
	expect_container("/docker/short", NULL, NULL);
	expect_container("/machine.slice/machine-.scope", NULL, NULL);
}

static void test_idmap(void **state)
{
	static const char text[] =
		"root:x:0:0:root:/root:/bin/bash\n"
		"# a comment\n"
		"daemon:x:1:1::/:/usr/sbin/nologin\n"
		"toor:x:0:0:second root:/root:/bin/sh\n"      /* same uid: the first wins */
		"bad line\n"
		"+nis\n"
		"big:x:4294967296:1::/:/bin/sh\n"            /* over 32 bits */
		":x:5:5::/:\n"                               /* no name */
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin";   /* no newline */
	struct pt_idmap m = { 0 };
	size_t n;
	const char *p;

	(void)state;
	assert_int_equal(pt_idmap_parse(text, sizeof(text) - 1, &m), 0);
	p = pt_idmap_name(&m, 0, &n);
	assert_non_null(p);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "root", 4);
	p = pt_idmap_name(&m, 65534, &n);
	assert_int_equal(n, 6);
	assert_memory_equal(p, "nobody", 6);
	assert_non_null(pt_idmap_name(&m, 1, &n));
	assert_null(pt_idmap_name(&m, 5, &n));
	assert_null(pt_idmap_name(&m, 2, &n));
	assert_int_equal(m.skipped, 4);
	pt_idmap_free(&m);
}

static void test_users_reread(void **state)
{
	char dir[] = "/tmp/pt-users-XXXXXX", pw[64], gr[64];
	struct pt_users *u;
	struct pt_str s;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pw, sizeof(pw), "%s/passwd", dir);
	snprintf(gr, sizeof(gr), "%s/group", dir);
	f = fopen(pw, "w");
	fputs("alice:x:1000:1000::/home/alice:/bin/sh\n", f);
	fclose(f);
	f = fopen(gr, "w");
	fputs("staff:x:50:\n", f);
	fclose(f);
	assert_int_equal(pt_users_new(pw, gr, &u), 0);
	s = pt_users_user(u, 1000);
	assert_int_equal(s.len, 5);
	s = pt_users_group(u, 50);
	assert_int_equal(s.len, 5);
	/* renamed: seen at the next check, not before a second has passed */
	f = fopen(pw, "w");
	fputs("bob:x:1000:1000::/home/bob:/bin/sh\n", f);
	fclose(f);
	pt_users_refresh(u, 1);
	assert_int_equal(pt_users_user(u, 1000).len, 3);
	pt_users_refresh(u, 2);   /* within the second: not checked again */
	assert_int_equal(pt_users_reloads(u), 3);
	pt_users_free(u);
	unlink(pw);
	unlink(gr);
	rmdir(dir);
}

static struct pt_image *img(const char *path, const char *arg0)
{
	char argv[64];
	size_t n = strlen(arg0) + 1;

	memcpy(argv, arg0, n);
	return pt_image_new((struct pt_str){ path, (uint32_t)strlen(path) },
			    (struct pt_str){ argv, (uint32_t)n }, 1, false);
}

static const uint8_t *eid(uint8_t v)
{
	static uint8_t ids[256][PT_ENTITY_ID_LEN];

	memset(ids[v], v, PT_ENTITY_ID_LEN);
	return ids[v];
}

static void test_table(void **state)
{
	struct pt_proctable *t;
	struct pt_proctable_stats st;
	struct pt_proc *p, *sshd, *sh;

	(void)state;
	assert_int_equal(pt_proctable_new(4, &t), 0);
	/* seeded: init, then sshd (parent 1) started at tick 200 */
	assert_int_equal(pt_proc_seed(t, 1, 0, 100, img("/sbin/init", "init")), 0);
	assert_int_equal(pt_proc_seed(t, 50, 1, 200, img("/usr/sbin/sshd", "sshd")), 0);
	sshd = pt_proc_find(t, 50, 200 * 10000000ull + 12345, eid(50));   /* same tick: exact now */
	assert_non_null(sshd);
	assert_true(sshd->seeded && sshd->eid_known && sshd->start_ns == 200 * 10000000ull + 12345);
	assert_true(sshd->entry_known && sshd->entry.type == PT_ENTRY_INIT);
	assert_null(pt_proc_find(t, 50, 201 * 10000000ull, eid(51)));       /* another tick: another process */
	assert_null(pt_proc_find(t, 50, 200 * 10000000ull + 1, eid(50)));   /* exact now: exact match only */
	/* sshd forks, the child execs a shell: it leads the session, type sshd */
	assert_int_equal(pt_proc_fork(t, 60, 3000, eid(60), sshd), 0);
	p = pt_proc_find(t, 60, 3000, eid(60));
	assert_non_null(p);
	assert_string_equal(p->img->data, "/usr/sbin/sshd");   /* inherited at fork */
	sh = pt_proc_exec(t, 60, 3000, eid(60), sshd, img("/bin/bash", "-bash"));
	assert_non_null(sh);
	assert_false(sh->seeded);
	assert_true(sh->entry_known && sh->entry.type == PT_ENTRY_SSHD && sh->entry.eid_known);
	assert_memory_equal(sh->entry.eid, eid(60), PT_ENTITY_ID_LEN);
	/* the shell's child inherits its entry leader */
	p = pt_proc_exec(t, 70, 4000, eid(70), sh, img("/bin/ls", "ls"));
	assert_non_null(p);
	assert_true(p->entry_known && p->entry.pid == 60);
	assert_string_equal(p->entry.img->data, "/bin/bash");
	/* the bound: a fifth entry pushes out the least recent (init), and counts it */
	pt_proctable_stats(t, &st);
	assert_int_equal(st.live, 4);
	assert_int_equal(pt_proc_fork(t, 80, 5000, eid(80), NULL), 0);
	pt_proctable_stats(t, &st);
	assert_int_equal(st.live, 4);
	assert_int_equal(st.evicted, 1);
	assert_null(pt_proc_find(t, 1, 100 * 10000000ull, eid(1)));
	/* an unknown parent gives no image: nothing is invented */
	p = pt_proc_find(t, 80, 5000, eid(80));
	assert_non_null(p);
	assert_null(p->img);
	assert_false(p->entry_known);
	/* exit evicts; the image stays valid for whoever holds a reference */
	p = pt_proc_find(t, 70, 4000, eid(70));
	struct pt_image *held = pt_image_ref(p->img);
	pt_proc_exit(t, p);
	assert_null(pt_proc_find(t, 70, 4000, eid(70)));
	assert_string_equal(held->data, "/bin/ls");
	pt_image_unref(held);
	/* a reused tgid is another process: the stale entry is replaced */
	assert_int_equal(pt_proc_fork(t, 60, 9000, eid(61), NULL), 0);
	assert_null(pt_proc_find(t, 60, 3000, eid(60)));
	pt_proctable_free(t);
}

static void test_seed_from_proc(void **state)
{
	struct pt_proctable *t;
	struct pt_proctable_stats st;

	(void)state;
	assert_int_equal(pt_proctable_new(0, &t), 0);
	assert_true(pt_proctable_seed_from(t, NULL) > 0);
	pt_proctable_stats(t, &st);
	assert_true(st.live > 0 && st.seeded == st.live);
	pt_proctable_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_ids),
		cmocka_unit_test(test_idmap),
		cmocka_unit_test(test_users_reread),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_seed_from_proc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
