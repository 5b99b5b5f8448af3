/* An enrollment bundle: everything a fresh host needs to join, in one file.
 *
 *     # proctrail enrollment bundle (holds a private key: 0600, delete once joined)
 *     bundle-version = 1
 *     name = web1
 *     collector = 10.0.0.5:7443          (1 to PT_BUNDLE_COLLECTORS_MAX lines)
 *     ca = <base64 of the CA certificate's PEM>
 *     cert = <base64 of the agent certificate's PEM>
 *     key = <base64 of the agent key's PEM>
 *
 * The `key = value` syntax of lib/util/conf.c; base64 keeps each PEM on one line. Parsing
 * checks what a join needs before anything is written: the name is a valid agent name and the
 * certificate's CN, the certificate is signed by the CA and matches the key.
 *
 * Ownership: struct pt_bundle owns its strings; pt_bundle_free() is NULL-safe. */
#ifndef PROCTRAIL_BUNDLE_H
#define PROCTRAIL_BUNDLE_H

#include <stddef.h>

#define PT_BUNDLE_VERSION         1
#define PT_BUNDLE_COLLECTORS_MAX  16u
#define PT_BUNDLE_PEM_MAX         3000u   /* bytes of one decoded PEM (a base64 line is 4 KiB) */
#define PT_BUNDLE_ADDR_MAX        255u

struct pt_bundle {
	char name[65];
	char *collectors[PT_BUNDLE_COLLECTORS_MAX];
	unsigned n_collectors;
	char *ca_pem, *cert_pem, *key_pem;    /* NUL-terminated PEM text */
};

/* Parses and checks a bundle. 0, or -EINVAL / -EMSGSIZE / -ENOMEM with the reason in err.
 * On error b holds nothing. */
int pt_bundle_parse(struct pt_bundle *b, const char *data, size_t len, char *err, size_t errlen);
/* Formats b (ca_pem, cert_pem, key_pem, name, collectors) as a bundle into a malloc'ed string
 * (*out, *outlen). 0 or -errno with err. */
int pt_bundle_format(const struct pt_bundle *b, char **out, size_t *outlen, char *err,
		     size_t errlen);
void pt_bundle_free(struct pt_bundle *b);

#endif
