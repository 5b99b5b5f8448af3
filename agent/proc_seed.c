/* Seeding the process table from /proc when the agent starts: the processes that were running
 * before it get their executable and arguments (marked seeded), so their children's records
 * name them. Kernel threads are left out, as the sensor leaves them out. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proctrail.h"
#include "proctable.h"

#define PF_KTHREAD 0x00200000u

struct seed {
	uint32_t tgid, ppid;
	uint64_t ticks;
	struct pt_image *img;
};

static ssize_t read_file(int dirfd, const char *name, char *buf, size_t cap)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return (ssize_t)got;
}

/* "pid (comm) S ppid pgrp session tty tpgid flags ... starttime(22)": comm may hold spaces and
 * parentheses, so fields are counted from the last ')'. */
static int parse_stat(char *buf, size_t len, uint32_t *ppid, uint64_t *ticks, uint32_t *flags)
{
	char *p = memrchr(buf, ')', len), *save = NULL, *tok;
	unsigned field = 2;

	if (!p)
		return -EINVAL;
	buf[len] = '\0';
	for (tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 4)
			*ppid = (uint32_t)strtoul(tok, NULL, 10);
		else if (field == 9)
			*flags = (uint32_t)strtoul(tok, NULL, 10);
		else if (field == 22) {
			*ticks = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -EINVAL;
}

static struct pt_image *read_image(int dirfd)
{
	static char exe[PT_PATH_MAX + 1], argv[PT_K_ARGV_MAX + 1];
	ssize_t el = readlinkat(dirfd, "exe", exe, PT_PATH_MAX), al;
	uint32_t argc = 0;
	bool trunc;

	if (el <= 0)
		return NULL;   /* a zombie, or gone: unknown */
	al = read_file(dirfd, "cmdline", argv, PT_K_ARGV_MAX);
	if (al < 0)
		al = 0;
	trunc = al == PT_K_ARGV_MAX;
	if (al && argv[al - 1] != '\0')
		argv[al++] = '\0';
	for (ssize_t i = 0; i < al; i++)
		if (argv[i] == '\0' && ++argc == PT_ARGS_MAX) {
			al = i + 1;
			break;
		}
	return pt_image_new((struct pt_str){ exe, (uint32_t)el }, (struct pt_str){ argv, (uint32_t)al },
			    argc, trunc);
}

static int by_start(const void *a, const void *b)
{
	const struct seed *x = a, *y = b;

	if (x->ticks != y->ticks)
		return x->ticks < y->ticks ? -1 : 1;
	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

int pt_proctable_seed_from(struct pt_proctable *t, const char *proc_dir)
{
	DIR *d = opendir(proc_dir ? proc_dir : "/proc");
	struct seed *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	char stat[1024];
	int seeded = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		uint32_t ppid = 0, flags = 0;
		uint64_t ticks = 0;
		ssize_t sl;
		int dfd;

		if (*end || !pid || pid > UINT32_MAX)
			continue;
		dfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		sl = read_file(dfd, "stat", stat, sizeof(stat) - 1);
		if (sl > 0 && parse_stat(stat, (size_t)sl, &ppid, &ticks, &flags) == 0 &&
		    !(flags & PF_KTHREAD)) {
			if (n == cap) {
				size_t nc = cap ? 2 * cap : 1024;
				struct seed *nv = realloc(v, nc * sizeof(*v));

				if (!nv) {
					close(dfd);
					break;
				}
				v = nv;
				cap = nc;
			}
			v[n++] = (struct seed){ (uint32_t)pid, ppid, ticks, read_image(dfd) };
		}
		close(dfd);
	}
	closedir(d);
	/* parents before children, so entry leaders are inherited down (v is NULL when n is 0,
	 * which qsort may not be given) */
	if (n)
		qsort(v, n, sizeof(*v), by_start);
	for (size_t i = 0; i < n; i++)
		if (pt_proc_seed(t, v[i].tgid, v[i].ppid, v[i].ticks, v[i].img) == 0)
			seeded++;
	free(v);
	return seeded;
}
