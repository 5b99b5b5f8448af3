/* operators.tsv: parse, save, token generation and lookup (include/proctrail/operators.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "proctrail/buf.h"
#include "proctrail/file.h"
#include "proctrail/hex.h"
#include "proctrail/operators.h"
#include "proctrail/tls.h"

const char *pt_op_role_name(enum pt_op_role r)
{
	return r == PT_ROLE_ADMIN ? "admin" : "read";
}

enum pt_op_role pt_op_role_parse(const char *s)
{
	if (!strcmp(s, "read"))
		return PT_ROLE_READ;
	if (!strcmp(s, "admin"))
		return PT_ROLE_ADMIN;
	return 0;
}

int pt_op_name_valid(const char *name)
{
	/* The same alphabet as agent names, so one validator guards both kinds of name. */
	return strlen(name) <= PT_OP_NAME_MAX && pt_tls_name_valid(name);
}

void pt_operators_free(struct pt_operators *ops)
{
	if (!ops)
		return;
	free(ops->v);
	ops->v = NULL;
	ops->n = 0;
}

/* One line "NAME\tROLE\tHEX" (no newline) into o. */
static int parse_line(const char *p, size_t len, struct pt_operator *o)
{
	const char *t1 = memchr(p, '\t', len), *t2;
	char role[8];
	size_t nl, rl;

	if (!t1)
		return -EINVAL;
	t2 = memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - p));
	if (!t2)
		return -EINVAL;
	nl = (size_t)(t1 - p);
	rl = (size_t)(t2 - t1 - 1);
	if (nl == 0 || nl > PT_OP_NAME_MAX || rl >= sizeof(role))
		return -EINVAL;
	memcpy(o->name, p, nl);
	o->name[nl] = 0;
	memcpy(role, t1 + 1, rl);
	role[rl] = 0;
	if (!pt_op_name_valid(o->name) || !(o->role = pt_op_role_parse(role)))
		return -EINVAL;
	return pt_hex_decode(t2 + 1, len - (size_t)(t2 + 1 - p), o->token_sha, 32);
}

int pt_operators_parse(struct pt_operators *ops, const char *text, size_t len, size_t *bad_line)
{
	struct pt_operators t = { 0 };
	size_t off = 0, line = 0;
	int ret = 0;

	*bad_line = 0;
	if (len > PT_OP_FILE_MAX)
		return -EFBIG;
	while (off < len) {
		const char *p = text + off, *nl = memchr(p, '\n', len - off);
		size_t l = nl ? (size_t)(nl - p) : len - off;

		line++;
		off += l + (nl ? 1 : 0);
		if (l == 0 || p[0] == '#')
			continue;
		if (t.n >= PT_OP_MAX) {
			ret = -E2BIG;
			break;
		}
		if (!t.v && !(t.v = calloc(PT_OP_MAX, sizeof(*t.v)))) {
			ret = -ENOMEM;
			break;
		}
		if ((ret = parse_line(p, l, &t.v[t.n])) ||
		    pt_operators_find(&t, t.v[t.n].name)) {
			ret = -EINVAL;
			*bad_line = line;
			break;
		}
		t.n++;
	}
	if (ret) {
		pt_operators_free(&t);
		return ret;
	}
	*ops = t;
	return 0;
}

int pt_operators_load(struct pt_operators *ops, const char *path, size_t *bad_line)
{
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	*bad_line = 0;
	ops->v = NULL;
	ops->n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!(text = malloc(PT_OP_FILE_MAX + 1))) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, text + len, PT_OP_FILE_MAX + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > PT_OP_FILE_MAX)
			break;
	}
	ret = n < 0 ? -errno : pt_operators_parse(ops, text, len, bad_line);
	close(fd);
	free(text);
	return ret;
}

int pt_operators_save(const struct pt_operators *ops, const char *path)
{
	struct pt_buf text;
	struct stat old;
	mode_t mode = 0600;
	gid_t gid = (gid_t)-1;
	char hex[65];
	size_t i;
	int ret;

	pt_buf_init(&text, PT_OP_FILE_MAX);
	ret = pt_buf_append_str(&text, "# proctrail API operators: name, role, SHA-256 of the token\n");
	for (i = 0; i < ops->n && !ret; i++) {
		pt_hex_encode(ops->v[i].token_sha, 32, hex);
		ret = pt_buf_printf(&text, "%s\t%s\t%s\n", ops->v[i].name,
				    pt_op_role_name(ops->v[i].role), hex);
	}
	/* The file keeps the group it had: the collector, running as its service user, reads it
	 * through that group (0640, root's), so that user can read the operators but never add one. */
	if (!lstat(path, &old) && S_ISREG(old.st_mode) && (old.st_mode & 0040)) {
		mode = 0640;
		gid = old.st_gid;
	}
	if (!ret)
		ret = pt_file_replace(path, text.data, text.len, mode, gid);
	pt_buf_free(&text);
	return ret;
}

void pt_op_token_hash(const char *token, size_t len, uint8_t sha[32])
{
	SHA256((const unsigned char *)token, len, sha);
}

const struct pt_operator *pt_operators_find_token(const struct pt_operators *ops,
						   const char *token, size_t len)
{
	const struct pt_operator *hit = NULL;
	uint8_t sha[32];
	size_t i;

	if (len != PT_OP_TOKEN_LEN || memcmp(token, "pt_", 3))
		return NULL;
	pt_op_token_hash(token, len, sha);
	/* every entry compared, in constant time: the time says nothing of which one matched */
	for (i = 0; i < ops->n; i++)
		if (!CRYPTO_memcmp(sha, ops->v[i].token_sha, 32))
			hit = &ops->v[i];
	return hit;
}

const struct pt_operator *pt_operators_find(const struct pt_operators *ops, const char *name)
{
	size_t i;

	for (i = 0; i < ops->n; i++)
		if (!strcmp(ops->v[i].name, name))
			return &ops->v[i];
	return NULL;
}

int pt_op_token_new(char out[PT_OP_TOKEN_LEN + 1], uint8_t sha[32])
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t r[33] = { 0 };
	size_t i, o = 3;

	if (RAND_bytes(r, 32) != 1)
		return -EIO;
	memcpy(out, "pt_", 3);
	/* 32 bytes = 256 bits -> 43 characters (the last carries 4 bits) */
	for (i = 0; i < 33 && o < PT_OP_TOKEN_LEN; i += 3) {
		uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)(i + 1 < 33 ? r[i + 1] : 0) << 8 |
			     (i + 2 < 33 ? r[i + 2] : 0);

		out[o++] = b64[v >> 18 & 63];
		if (o < PT_OP_TOKEN_LEN)
			out[o++] = b64[v >> 12 & 63];
		if (o < PT_OP_TOKEN_LEN)
			out[o++] = b64[v >> 6 & 63];
		if (o < PT_OP_TOKEN_LEN)
			out[o++] = b64[v & 63];
	}
	out[PT_OP_TOKEN_LEN] = 0;
	pt_op_token_hash(out, PT_OP_TOKEN_LEN, sha);
	OPENSSL_cleanse(r, sizeof(r));
	return 0;
}
