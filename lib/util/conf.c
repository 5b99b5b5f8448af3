#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/conf.h"
#include "proctrail/file.h"

void pt_conf_init(struct pt_conf *c, const char *name)
{
	c->v = NULL;
	c->n = 0;
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "config");
}

void pt_conf_free(struct pt_conf *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static int is_key_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '.' || ch == '-';
}

/* Parses one line (no newline) into a new entry; blank and comment lines add nothing. */
static int parse_line(struct pt_conf *c, const char *p, size_t len, unsigned lineno, char *err,
		      size_t errlen)
{
	size_t i = 0, kstart, klen, vstart, vend;
	struct pt_conf_entry *e;
	char *key = NULL, *value = NULL;

	while (i < len && is_blank(p[i]))
		i++;
	if (i == len || p[i] == '#')
		return 0;
	kstart = i;
	while (i < len && is_key_char(p[i]))
		i++;
	klen = i - kstart;
	if (klen == 0) {
		snprintf(err, errlen, "%s:%u: expected a key", c->name, lineno);
		return -EINVAL;
	}
	if (klen > PT_CONF_KEY_MAX) {
		snprintf(err, errlen, "%s:%u: key longer than %u bytes", c->name, lineno,
			 PT_CONF_KEY_MAX);
		return -EMSGSIZE;
	}
	while (i < len && is_blank(p[i]))
		i++;
	if (i == len || p[i] != '=') {
		snprintf(err, errlen, "%s:%u: expected '=' after key", c->name, lineno);
		return -EINVAL;
	}
	i++;
	while (i < len && is_blank(p[i]))
		i++;
	vstart = i;
	vend = len;
	while (vend > vstart && is_blank(p[vend - 1]))
		vend--;
	if (vend > vstart && p[vstart] == '"') {
		if (vend - vstart < 2 || p[vend - 1] != '"') {
			snprintf(err, errlen, "%s:%u: unterminated quoted value", c->name, lineno);
			return -EINVAL;
		}
		vstart++;
		vend--;
		if (memchr(p + vstart, '"', vend - vstart)) {
			snprintf(err, errlen, "%s:%u: '\"' inside a quoted value", c->name, lineno);
			return -EINVAL;
		}
	}
	if (c->n >= PT_CONF_ENTRIES_MAX) {
		snprintf(err, errlen, "%s:%u: more than %u settings", c->name, lineno,
			 PT_CONF_ENTRIES_MAX);
		return -EMSGSIZE;
	}
	key = strndup(p + kstart, klen);
	value = strndup(p + vstart, vend - vstart);
	e = reallocarray(c->v, c->n + 1, sizeof(*c->v));
	if (!key || !value || !e) {
		if (e)
			c->v = e;
		free(key);
		free(value);
		snprintf(err, errlen, "%s:%u: out of memory", c->name, lineno);
		return -ENOMEM;
	}
	c->v = e;
	c->v[c->n].key = key;
	c->v[c->n].value = value;
	c->v[c->n].line = lineno;
	c->n++;
	return 0;
}

int pt_conf_parse(struct pt_conf *c, const char *data, size_t len, char *err, size_t errlen)
{
	size_t off = 0, llen;
	unsigned lineno = 0;
	const char *nl;
	int ret = 0;

	if (len > PT_CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", c->name, PT_CONF_FILE_MAX);
		return -EMSGSIZE;
	}
	if (memchr(data, '\0', len)) {
		snprintf(err, errlen, "%s: contains a NUL byte", c->name);
		return -EINVAL;
	}
	while (off < len) {
		lineno++;
		nl = memchr(data + off, '\n', len - off);
		llen = nl ? (size_t)(nl - (data + off)) : len - off;
		if (llen > PT_CONF_LINE_MAX) {
			snprintf(err, errlen, "%s:%u: line longer than %u bytes", c->name, lineno,
				 PT_CONF_LINE_MAX);
			ret = -EMSGSIZE;
			goto out;
		}
		ret = parse_line(c, data + off, llen, lineno, err, errlen);
		if (ret)
			goto out;
		off += llen + (nl ? 1 : 0);
	}
out:
	if (ret)
		pt_conf_free(c);
	return ret;
}

int pt_conf_load(struct pt_conf *c, const char *path, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	int ret;

	snprintf(c->name, sizeof(c->name), "%s", path);
	if ((ret = pt_file_read(path, 0, PT_CONF_FILE_MAX, &data, &len))) {
		if (ret == -EMSGSIZE)
			snprintf(err, errlen, "%s: larger than %u bytes", path, PT_CONF_FILE_MAX);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = pt_conf_parse(c, data, len, err, errlen);
	free(data);
	return ret;
}

const char *pt_conf_get(const struct pt_conf *c, const char *key)
{
	size_t i;

	for (i = c->n; i > 0; i--)
		if (!strcmp(c->v[i - 1].key, key))
			return c->v[i - 1].value;
	return NULL;
}

const char *pt_conf_next(const struct pt_conf *c, const char *key, size_t *pos)
{
	while (*pos < c->n) {
		const struct pt_conf_entry *e = &c->v[(*pos)++];

		if (!strcmp(e->key, key))
			return e->value;
	}
	return NULL;
}

int pt_conf_u64(const char *key, const char *s, uint64_t min, uint64_t max, uint64_t *out,
		char *err, size_t errlen)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ') {
		snprintf(err, errlen, "%s: expected a number", key);
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0') {
		snprintf(err, errlen, "%s: '%s' is not a number", key, s);
		return -EINVAL;
	}
	if (errno == ERANGE || v < min || v > max) {
		snprintf(err, errlen, "%s: %s is outside [%llu, %llu]", key, s,
			 (unsigned long long)min, (unsigned long long)max);
		return -ERANGE;
	}
	*out = v;
	return 0;
}

int pt_conf_bool(const char *key, const char *s, int *out, char *err, size_t errlen)
{
	if (s && (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))) {
		*out = 1;
		return 0;
	}
	if (s && (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))) {
		*out = 0;
		return 0;
	}
	snprintf(err, errlen, "%s: expected yes or no", key);
	return -EINVAL;
}
