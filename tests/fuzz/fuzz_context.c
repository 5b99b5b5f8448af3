/* libFuzzer: the agent's context parsers on arbitrary bytes: a cgroup path (container id and
 * runtime) and /etc/passwd or /etc/group text. A container id is a part of the path of bounded
 * length; every name found is a whole first field of a line, with no ':' or NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/container.h"
#include "../../agent/users.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct pt_container c;
	struct pt_idmap m = { 0 };

	if (pt_container_from_cgroup(p, size, &c)) {
		if (c.id < p || c.id + c.id_len > p + size || c.id_len == 0 ||
		    c.id_len > PT_CONTAINER_ID_MAX || memchr(c.id, '/', c.id_len) || !c.runtime)
			abort();
	}
	if (pt_idmap_parse(p, size, &m) != 0)
		return 0;
	for (size_t i = 0; i < m.n; i++) {
		size_t n;
		const char *name = pt_idmap_name(&m, m.v[i].id, &n);

		if (!name || n == 0 || n > PT_USER_NAME_MAX || memchr(name, ':', n) ||
		    memchr(name, '\0', n) || (i && m.v[i - 1].id >= m.v[i].id))
			abort();
	}
	pt_idmap_free(&m);
	return 0;
}
