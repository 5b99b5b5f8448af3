/* libFuzzer harness for enrollment bundles (lib/pki/bundle.c): any bytes, never a crash or a
 * leak; whatever is accepted has a valid name, 1..max collectors and PEM text of bounded size,
 * and formats back into a bundle that parses to the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/bundle.h"
#include "proctrail/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pt_bundle b, again;
	char err[512], *text = NULL;
	size_t len;

	if (pt_bundle_parse(&b, (const char *)data, size, err, sizeof(err)))
		return 0;
	if (!pt_tls_name_valid(b.name) || !b.n_collectors || b.n_collectors > PT_BUNDLE_COLLECTORS_MAX ||
	    strlen(b.ca_pem) > PT_BUNDLE_PEM_MAX || strlen(b.key_pem) > PT_BUNDLE_PEM_MAX)
		abort();
	if (pt_bundle_format(&b, &text, &len, err, sizeof(err)))
		abort();
	if (pt_bundle_parse(&again, text, len, err, sizeof(err)) || strcmp(again.name, b.name) ||
	    again.n_collectors != b.n_collectors || strcmp(again.cert_pem, b.cert_pem))
		abort();
	pt_bundle_free(&again);
	free(text);
	pt_bundle_free(&b);
	return 0;
}
