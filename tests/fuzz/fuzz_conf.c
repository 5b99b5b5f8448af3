/* libFuzzer harness for the configuration parser: any bytes, never a crash or a leak, and
 * whatever parses must satisfy the parser's own limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_conf c;
	char err[512];
	size_t i, pos = 0;

	pt_conf_init(&c, "fuzz");
	if (pt_conf_parse(&c, (const char *)data, size, err, sizeof(err)) == 0) {
		if (c.n > PT_CONF_ENTRIES_MAX)
			abort();
		for (i = 0; i < c.n; i++) {
			if (strlen(c.v[i].key) == 0 || strlen(c.v[i].key) > PT_CONF_KEY_MAX)
				abort();
			if (strlen(c.v[i].value) > PT_CONF_LINE_MAX)
				abort();
		}
		if (c.n && !pt_conf_next(&c, c.v[0].key, &pos))
			abort();
	}
	pt_conf_free(&c);
	return 0;
}
