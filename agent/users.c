/* /etc/passwd and /etc/group, cached (see users.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/log.h"
#include "users.h"

static int cmp_id(const void *a, const void *b)
{
	const struct pt_idname *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;   /* file order: the first line wins */
}

/* One line "name:pw:id:..." -> name and id; false when it is not one. */
static bool parse_line(const char *l, size_t n, size_t *name_len, uint32_t *id)
{
	const char *c1 = memchr(l, ':', n), *c2, *p;
	uint64_t v = 0;

	if (!c1 || c1 == l || (size_t)(c1 - l) > PT_USER_NAME_MAX || memchr(l, '\0', n))
		return false;
	c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - l));
	if (!c2)
		return false;
	p = c2 + 1;
	if (p >= l + n || *p < '0' || *p > '9')
		return false;
	for (; p < l + n && *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
	}
	if (p < l + n && *p != ':')
		return false;
	/* a NIS "+" or "-" line names no user */
	if (l[0] == '+' || l[0] == '-')
		return false;
	*name_len = (size_t)(c1 - l);
	*id = (uint32_t)v;
	return true;
}

int pt_idmap_parse(const char *text, size_t len, struct pt_idmap *m)
{
	struct pt_idmap t = { 0 };
	size_t lines = 0, i, w = 0, names = 0;

	if (len > PT_USERS_FILE_MAX)
		len = PT_USERS_FILE_MAX;
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';
	lines++;
	if (lines > PT_USERS_ENTRIES_MAX)
		lines = PT_USERS_ENTRIES_MAX;
	t.v = calloc(lines, sizeof(*t.v));
	t.names = malloc(len + 1);
	if (!t.v || !t.names) {
		pt_idmap_free(&t);
		return -ENOMEM;
	}
	for (i = 0; i < len;) {
		const char *l = text + i, *nl = memchr(l, '\n', len - i);
		size_t n = nl ? (size_t)(nl - l) : len - i, nlen;
		uint32_t id;

		i += n + 1;
		if (n == 0 || l[0] == '#')
			continue;
		if (t.n == lines || !parse_line(l, n, &nlen, &id)) {
			t.skipped++;
			continue;
		}
		memcpy(t.names + names, l, nlen);
		t.v[t.n++] = (struct pt_idname){ id, (uint32_t)names, (uint16_t)nlen };
		names += nlen;
	}
	qsort(t.v, t.n, sizeof(*t.v), cmp_id);
	for (i = 0; i < t.n; i++)
		if (w == 0 || t.v[w - 1].id != t.v[i].id)
			t.v[w++] = t.v[i];
	t.n = w;
	pt_idmap_free(m);
	*m = t;
	return 0;
}

void pt_idmap_free(struct pt_idmap *m)
{
	free(m->v);
	free(m->names);
	*m = (struct pt_idmap){ 0 };
}

const char *pt_idmap_name(const struct pt_idmap *m, uint32_t id, size_t *len)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].id == id) {
			*len = m->v[mid].len;
			return m->names + m->v[mid].off;
		}
		if (m->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*len = 0;
	return NULL;
}

struct users_file {
	char path[256];
	struct stat st;        /* of the version read; st_ino 0: never read */
	struct pt_idmap map;
};

struct pt_users {
	struct users_file f[2];   /* passwd, group */
	uint64_t next_check_ns;
	uint64_t reloads;
};

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Reads the file when it changed. A file that cannot be read keeps the names read before. */
static void load(struct pt_users *u, struct users_file *f)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || same_file(&st, &f->st))
		goto out;
	buf = malloc(PT_USERS_FILE_MAX);
	if (!buf)
		goto out;
	while (got < PT_USERS_FILE_MAX) {
		ssize_t r = read(fd, buf + got, PT_USERS_FILE_MAX - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (pt_idmap_parse(buf, got, &f->map) == 0) {
		f->st = st;
		u->reloads++;
		if (f->map.skipped)
			log_debug("%s: %llu lines not understood, skipped", f->path,
				  (unsigned long long)f->map.skipped);
	}
out:
	free(buf);
	close(fd);
}

int pt_users_new(const char *passwd, const char *group, struct pt_users **out)
{
	struct pt_users *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		return -ENOMEM;
	snprintf(u->f[0].path, sizeof(u->f[0].path), "%s", passwd ? passwd : "/etc/passwd");
	snprintf(u->f[1].path, sizeof(u->f[1].path), "%s", group ? group : "/etc/group");
	load(u, &u->f[0]);
	load(u, &u->f[1]);
	*out = u;
	return 0;
}

void pt_users_free(struct pt_users *u)
{
	if (!u)
		return;
	pt_idmap_free(&u->f[0].map);
	pt_idmap_free(&u->f[1].map);
	free(u);
}

void pt_users_refresh(struct pt_users *u, uint64_t now_ns)
{
	if (now_ns < u->next_check_ns)
		return;
	u->next_check_ns = now_ns + 1000000000ull;
	load(u, &u->f[0]);
	load(u, &u->f[1]);
}

static struct pt_str lookup(const struct pt_idmap *m, uint32_t id)
{
	size_t n;
	const char *p = pt_idmap_name(m, id, &n);

	return (struct pt_str){ p, (uint32_t)n };
}

struct pt_str pt_users_user(const struct pt_users *u, uint32_t uid) { return lookup(&u->f[0].map, uid); }
struct pt_str pt_users_group(const struct pt_users *u, uint32_t gid) { return lookup(&u->f[1].map, gid); }
uint64_t pt_users_reloads(const struct pt_users *u) { return u->reloads; }
