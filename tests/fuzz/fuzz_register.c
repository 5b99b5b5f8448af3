/* libFuzzer harness for the register of issued certificates: any bytes, never a crash or a
 * leak; whatever parses satisfies the format's limits and survives format + parse unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/register.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_register r, back;
	char *text = NULL;
	size_t i, len, bad;

	pt_register_init(&r);
	pt_register_init(&back);
	if (pt_register_parse(&r, (const char *)data, size, &bad) == 0) {
		if (r.n > PT_REG_ENTRIES_MAX)
			abort();
		for (i = 0; i < r.n; i++)
			if (strlen(r.v[i].serial) == 0 || strlen(r.v[i].serial) > PT_REG_SERIAL_MAX ||
			    (r.v[i].status != PT_REG_VALID && r.v[i].status != PT_REG_REVOKED) ||
			    r.v[i].not_after < r.v[i].not_before)
				abort();
		if (pt_register_format(&r, &text, &len) != 0 ||
		    pt_register_parse(&back, text, len, &bad) != 0 || back.n != r.n)
			abort();
		for (i = 0; i < r.n; i++)
			if (strcmp(back.v[i].serial, r.v[i].serial) ||
			    strcmp(back.v[i].name, r.v[i].name) ||
			    back.v[i].not_before != r.v[i].not_before ||
			    back.v[i].not_after != r.v[i].not_after ||
			    back.v[i].status != r.v[i].status ||
			    back.v[i].revoked_at != r.v[i].revoked_at)
				abort();
	} else if (r.n || r.v) {
		abort();                   /* a failed parse leaves the register empty */
	}
	free(text);
	pt_register_free(&back);
	pt_register_free(&r);
	return 0;
}
