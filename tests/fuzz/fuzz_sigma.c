/* libFuzzer harness for the Sigma rule loader: any bytes as a rule file, never a crash, a
 * leak or a refusal without a reason; a rule that loads compiles and evaluates (on an event
 * made of the input itself) without a crash. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/sigma.h"

static int count(void *ctx, size_t rule)
{
	(void)rule;
	(*(unsigned *)ctx)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[PT_SIGMA_REASON_MAX];
	struct pt_sigma_set *s;
	struct pt_sigma_event ev = { 0 };
	unsigned n = 0, f;
	int ret;

	if (pt_sigma_new(&s))
		return 0;
	ret = pt_sigma_add(s, "fuzz.yml", data, size, reason);
	if (ret == -EINVAL && !reason[0])
		abort();                      /* a refusal always says why */
	if (ret && ret != -EINVAL && ret != -ENOMEM)
		abort();
	if (!ret && pt_sigma_count(s) != 1)
		abort();
	if (!pt_sigma_compile(s)) {
		for (f = 0; f < PT_SF_MAX; f++) {
			ev.f[f].ptr = (const char *)data;
			ev.f[f].len = (uint32_t)(size > f ? size - f : 0);
		}
		if (pt_sigma_eval(s, &ev, count, &n) || n > pt_sigma_count(s))
			abort();
	}
	pt_sigma_free(s);
	return 0;
}
