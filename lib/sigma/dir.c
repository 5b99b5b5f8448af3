/* Loading every rule file below a directory: sorted, recursive, symbolic links not followed,
 * each file loaded or reported refused (never skipped in silence). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigma-int.h"

#define DIR_DEPTH_MAX 16

struct walk {
	struct pt_sigma_set *s;
	pt_sigma_refused_fn fn;
	void *ctx;
	unsigned loaded, refused;
};

bool pt_sigma_rule_file_name(const char *n)
{
	size_t l = strlen(n);

	return (l > 4 && !strcmp(n + l - 4, ".yml")) || (l > 5 && !strcmp(n + l - 5, ".yaml"));
}

static int read_file(int dfd, const char *name, char **buf, size_t *len, char *reason)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		snprintf(reason, PT_SIGMA_REASON_MAX, "cannot open: %s", strerror(errno));
		return -EINVAL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(reason, PT_SIGMA_REASON_MAX, "not a regular file");
		return -EINVAL;
	}
	if (st.st_size > (off_t)PT_SIGMA_FILE_MAX) {
		close(fd);
		snprintf(reason, PT_SIGMA_REASON_MAX, "file larger than %u bytes", PT_SIGMA_FILE_MAX);
		return -EINVAL;
	}
	if (!(*buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size &&
	       (n = read(fd, *buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	*len = got;
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(struct walk *w, int dfd, const char *rel, unsigned depth)
{
	char **ents = NULL;
	char path[4096], reason[PT_SIGMA_REASON_MAX];
	int n, i, ret = 0;
	DIR *d;

	if (depth > DIR_DEPTH_MAX)
		return 0;
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return -errno;
	}
	{
		struct dirent *de;
		int cap = 0;

		n = 0;
		while ((de = readdir(d))) {
			char **ne;

			if (de->d_name[0] == '.')
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				if (!(ne = reallocarray(ents, (size_t)cap, sizeof(*ne)))) {
					ret = -ENOMEM;
					break;
				}
				ents = ne;
			}
			if (!(ents[n] = strdup(de->d_name))) {
				ret = -ENOMEM;
				break;
			}
			n++;
		}
	}
	if (!ret && n)
		qsort(ents, (size_t)n, sizeof(*ents), cmp_name);
	for (i = 0; i < n && !ret; i++) {
		const char *name = ents[i];
		struct stat st;

		snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", name);
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);

			if (sub >= 0)
				ret = walk_dir(w, sub, path, depth + 1);
			continue;
		}
		if (!pt_sigma_rule_file_name(name))
			continue;
		{
			char *buf = NULL;
			size_t len = 0;
			int r;

			reason[0] = 0;
			r = read_file(dirfd(d), name, &buf, &len, reason);
			if (!r)
				r = pt_sigma_add(w->s, path, buf, len, reason);
			free(buf);
			if (!r) {
				w->loaded++;
			} else if (r == -EINVAL) {
				w->refused++;
				if (w->fn)
					w->fn(w->ctx, path, reason);
			} else if (r == -E2BIG) {
				w->refused++;
				if (w->fn)
					w->fn(w->ctx, path, "too many rules");
			} else {
				ret = r;
			}
		}
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	closedir(d);
	return ret;
}

int pt_sigma_load_dir(struct pt_sigma_set *s, const char *dir, pt_sigma_refused_fn fn,
		      void *ctx, unsigned *loaded, unsigned *refused)
{
	struct walk w = { .s = s, .fn = fn, .ctx = ctx };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = walk_dir(&w, fd, "", 0);
	if (loaded)
		*loaded = w.loaded;
	if (refused)
		*refused = w.refused;
	return ret;
}
