/* Container ids from cgroup paths (see container.h). */
#include <stdbool.h>
#include <string.h>

#include "container.h"
#include "proctrail/wire.h"

#define HEX_ID_LEN 64

static bool all_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static bool starts(const char *p, size_t n, const char *prefix, size_t *plen)
{
	*plen = strlen(prefix);
	return n >= *plen && !memcmp(p, prefix, *plen);
}

static bool ends(const char *p, size_t n, const char *suffix)
{
	size_t l = strlen(suffix);

	return n >= l && !memcmp(p + n - l, suffix, l);
}

/* "<prefix><64 hex>" optionally followed by ".scope" */
static bool hex_unit(const char *c, size_t n, const char *prefix, struct pt_container *out,
		     const char *runtime)
{
	size_t pl;

	if (!starts(c, n, prefix, &pl))
		return false;
	c += pl;
	n -= pl;
	if (ends(c, n, ".scope"))
		n -= 6;
	if (n != HEX_ID_LEN || !all_hex(c, n))
		return false;
	*out = (struct pt_container){ c, n, runtime };
	return true;
}

/* "<prefix><name><suffix>", a machine name: not empty, bounded, no '/' (a component) */
static bool named_unit(const char *c, size_t n, const char *prefix, const char *suffix,
		       struct pt_container *out)
{
	size_t pl, sl = strlen(suffix);

	if (!starts(c, n, prefix, &pl) || !ends(c + pl, n - pl, suffix) || n - pl - sl == 0 ||
	    n - pl - sl > PT_CONTAINER_ID_MAX)
		return false;
	*out = (struct pt_container){ c + pl, n - pl - sl, "systemd-nspawn" };
	return true;
}

static bool component(const char *c, size_t n, const char *prev, size_t prev_n,
		      struct pt_container *out)
{
	if (hex_unit(c, n, "docker-", out, "docker") ||
	    hex_unit(c, n, "cri-containerd-", out, "containerd") ||
	    hex_unit(c, n, "crio-", out, "cri-o") ||
	    hex_unit(c, n, "libpod-", out, "podman"))
		return true;
	/* cgroupfs drivers: /docker/<id>, /libpod_parent/libpod-<id> (above) */
	if (prev && prev_n == 6 && !memcmp(prev, "docker", 6) && n == HEX_ID_LEN && all_hex(c, n)) {
		*out = (struct pt_container){ c, n, "docker" };
		return true;
	}
	return named_unit(c, n, "systemd-nspawn@", ".service", out) ||
	       named_unit(c, n, "machine-", ".scope", out);
}

int pt_container_from_cgroup(const char *path, size_t len, struct pt_container *out)
{
	const char *prev = NULL;
	size_t prev_n = 0, i = 0;
	int found = 0;

	while (i < len) {
		size_t j = i;
		struct pt_container c;

		while (j < len && path[j] != '/')
			j++;
		if (j > i && component(path + i, j - i, prev, prev_n, &c)) {
			*out = c;
			found = 1;
		}
		if (j > i) {
			prev = path + i;
			prev_n = j - i;
		}
		i = j + 1;
	}
	return found;
}
