/* The register of issued certificates: a strict parser and an atomic writer (format in
 * include/proctrail/register.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/file.h"
#include "proctrail/register.h"
#include "proctrail/tls.h"

void pt_register_init(struct pt_register *r)
{
	memset(r, 0, sizeof(*r));
}

void pt_register_free(struct pt_register *r)
{
	if (!r)
		return;
	free(r->v);
	pt_register_init(r);
}

int pt_register_serial_canon(char out[PT_REG_SERIAL_MAX + 1], const char *hex)
{
	size_t i, n;

	while (*hex == '0' && hex[1])
		hex++;
	n = strlen(hex);
	if (n == 0 || n > PT_REG_SERIAL_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char c = hex[i];

		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return -EINVAL;
		out[i] = c;
	}
	out[n] = '\0';
	return 0;
}

struct pt_reg_entry *pt_register_find(const struct pt_register *r, const char *serial)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].serial, serial))
			return &r->v[i];
	return NULL;
}

static int entry_valid(const struct pt_reg_entry *e)
{
	char canon[PT_REG_SERIAL_MAX + 1];

	if (memchr(e->serial, '\0', sizeof(e->serial)) == NULL ||
	    memchr(e->name, '\0', sizeof(e->name)) == NULL)
		return 0;
	if (pt_register_serial_canon(canon, e->serial) || strcmp(canon, e->serial))
		return 0;
	if (!pt_tls_name_valid(e->name) || e->not_before < 0 || e->not_after < e->not_before)
		return 0;
	if (e->status == PT_REG_VALID)
		return e->revoked_at == 0;
	return e->status == PT_REG_REVOKED && e->revoked_at > 0;
}

int pt_register_add(struct pt_register *r, const struct pt_reg_entry *e)
{
	struct pt_reg_entry *v;
	size_t cap;

	if (!entry_valid(e))
		return -EINVAL;
	if (pt_register_find(r, e->serial))
		return -EEXIST;
	if (r->n >= PT_REG_ENTRIES_MAX)
		return -E2BIG;
	if (r->n == r->cap) {
		cap = r->cap ? r->cap * 2 : 16;
		v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = *e;
	return 0;
}

/* A decimal in [0, INT64_MAX], the whole field. */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > INT64_MAX)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

static int parse_line(const char *line, size_t len, struct pt_reg_entry *e)
{
	const char *f[6];
	size_t flen[6], i, nf = 0, start = 0;

	for (i = 0; i <= len && nf < 6; i++) {
		if (i == len || line[i] == '\t') {
			f[nf] = line + start;
			flen[nf++] = i - start;
			start = i + 1;
		}
	}
	if (nf != 6 || start != len + 1)
		return -EBADMSG;           /* fewer or more than six fields */
	memset(e, 0, sizeof(*e));
	if (flen[0] == 0 || flen[0] > PT_REG_SERIAL_MAX || flen[1] == 0 ||
	    flen[1] > PT_REG_NAME_MAX || flen[4] != 1)
		return -EBADMSG;
	memcpy(e->serial, f[0], flen[0]);
	memcpy(e->name, f[1], flen[1]);
	e->status = f[4][0];
	if (parse_i64(f[2], flen[2], &e->not_before) || parse_i64(f[3], flen[3], &e->not_after))
		return -EBADMSG;
	if (e->status == PT_REG_VALID) {
		if (flen[5] != 1 || f[5][0] != '-')
			return -EBADMSG;
	} else if (parse_i64(f[5], flen[5], &e->revoked_at)) {
		return -EBADMSG;
	}
	return entry_valid(e) ? 0 : -EBADMSG;
}

int pt_register_parse(struct pt_register *r, const char *buf, size_t len, size_t *bad_line)
{
	struct pt_reg_entry e;
	size_t off = 0, line = 0, n;
	const char *nl;
	int ret = 0;

	*bad_line = 0;
	if (len > PT_REG_FILE_MAX)
		return -E2BIG;
	if (memchr(buf, '\0', len))
		return -EBADMSG;
	while (off < len) {
		line++;
		nl = memchr(buf + off, '\n', len - off);
		n = nl ? (size_t)(nl - (buf + off)) : len - off;
		if (n > PT_REG_LINE_MAX) {
			ret = -EBADMSG;
			break;
		}
		if (n == 0 || buf[off] != '#') {
			ret = n ? parse_line(buf + off, n, &e) : -EBADMSG;
			if (!ret) {
				ret = pt_register_add(r, &e);
				if (ret == -EEXIST || ret == -EINVAL)
					ret = -EBADMSG;
			}
			if (ret)
				break;
		}
		off += n + (nl ? 1 : 0);
	}
	if (ret) {
		*bad_line = line;
		pt_register_free(r);
	}
	return ret;
}

int pt_register_format(const struct pt_register *r, char **out, size_t *len)
{
	size_t cap = sizeof(PT_REG_HEADER) + 1 + r->n * (PT_REG_LINE_MAX + 1), off;
	char *buf = malloc(cap);
	size_t i;
	int n;

	if (!buf)
		return -ENOMEM;
	off = (size_t)snprintf(buf, cap, "%s\n", PT_REG_HEADER);
	for (i = 0; i < r->n; i++) {
		const struct pt_reg_entry *e = &r->v[i];
		char rev[24] = "-";

		if (e->status == PT_REG_REVOKED)
			snprintf(rev, sizeof(rev), "%" PRId64, e->revoked_at);
		n = snprintf(buf + off, cap - off, "%s\t%s\t%" PRId64 "\t%" PRId64 "\t%c\t%s\n",
			     e->serial, e->name, e->not_before, e->not_after, e->status, rev);
		if (n < 0 || (size_t)n >= cap - off) {
			free(buf);
			return -EOVERFLOW;
		}
		off += (size_t)n;
	}
	*out = buf;
	*len = off;
	return 0;
}

int pt_register_load(struct pt_register *r, const char *path, size_t *bad_line)
{
	struct stat st;
	char *buf = NULL;
	ssize_t got;
	size_t off = 0;
	int fd, ret = 0;

	*bad_line = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (st.st_size > (off_t)PT_REG_FILE_MAX) {
		ret = -E2BIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		got = read(fd, buf + off, (size_t)st.st_size - off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			ret = got < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)got;
	}
	ret = pt_register_parse(r, buf, off, bad_line);
out:
	free(buf);
	close(fd);
	return ret;
}

int pt_register_save(const struct pt_register *r, const char *path, unsigned mode)
{
	char *text = NULL;
	size_t len;
	int ret;

	if ((ret = pt_register_format(r, &text, &len)))
		return ret;
	ret = pt_file_replace(path, text, len, (mode_t)mode, (gid_t)-1);
	free(text);
	return ret;
}
