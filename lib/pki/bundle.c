/* Enrollment bundles: formatting on the collector's host, parsing and checking on the agent's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "proctrail/bundle.h"
#include "proctrail/conf.h"
#include "proctrail/tls.h"

void pt_bundle_free(struct pt_bundle *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < b->n_collectors; i++)
		free(b->collectors[i]);
	free(b->ca_pem);
	free(b->cert_pem);
	free(b->key_pem);
	memset(b, 0, sizeof(*b));
}

/* HOST:PORT with a printable host of no blanks and a port 1..65535. */
static int addr_valid(const char *a)
{
	const char *colon = strrchr(a, ':');
	char *end;
	long port;

	if (!colon || colon == a || strlen(a) > PT_BUNDLE_ADDR_MAX)
		return 0;
	for (const char *p = a; p < colon; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return 0;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && colon[1] && port >= 1 && port <= 65535;
}

/* Decodes one base64 line into a NUL-terminated string that must hold no NUL itself. */
static int decode_pem(const char *key, const char *b64, char **out, char *err, size_t errlen)
{
	size_t len = strlen(b64), pad = 0;
	unsigned char *buf;
	int n;

	*out = NULL;
	if (!len || len % 4 || len / 4 * 3 > PT_BUNDLE_PEM_MAX) {
		snprintf(err, errlen, "%s: not base64 of at most %u bytes", key, PT_BUNDLE_PEM_MAX);
		return -EINVAL;
	}
	buf = malloc(len / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)len);
	if (b64[len - 1] == '=')
		pad = b64[len - 2] == '=' ? 2 : 1;
	if (n < 0 || (size_t)n < pad || memchr(buf, '\0', (size_t)n - pad)) {
		free(buf);
		snprintf(err, errlen, "%s: not base64 of PEM text", key);
		return -EINVAL;
	}
	buf[n - pad] = '\0';
	*out = (char *)buf;
	return 0;
}

static X509 *pem_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	return x;
}

static EVP_PKEY *pem_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	return k;
}

/* The certificate must be the name's, signed by the CA, and the key its own. */
static int check_pki(struct pt_bundle *b, char *err, size_t errlen)
{
	X509 *ca = pem_cert(b->ca_pem), *cert = pem_cert(b->cert_pem);
	EVP_PKEY *key = pem_key(b->key_pem), *ca_pub = NULL;
	char cn[PT_TLS_CN_MAX + 2] = "";
	int ret = -EINVAL;

	if (!ca || !cert || !key) {
		snprintf(err, errlen, "%s does not parse as PEM", !ca ? "ca" : !cert ? "cert" : "key");
		goto out;
	}
	ca_pub = X509_get_pubkey(ca);
	if (!ca_pub || X509_verify(cert, ca_pub) != 1) {
		snprintf(err, errlen, "cert is not signed by the bundle's CA");
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		snprintf(err, errlen, "key does not belong to cert");
		goto out;
	}
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
				      sizeof(cn)) <= 0 || strcmp(cn, b->name)) {
		snprintf(err, errlen, "cert is not issued to '%s'", b->name);
		goto out;
	}
	ret = 0;
out:
	EVP_PKEY_free(ca_pub);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(cert);
	return ret;
}

int pt_bundle_parse(struct pt_bundle *b, const char *data, size_t len, char *err, size_t errlen)
{
	struct pt_conf c;
	const char *v;
	size_t pos = 0;
	int ret;

	memset(b, 0, sizeof(*b));
	pt_conf_init(&c, "bundle");
	if ((ret = pt_conf_parse(&c, data, len, err, errlen)))
		return ret;
	ret = -EINVAL;
	for (size_t i = 0; i < c.n; i++) {
		static const char *const known[] = { "bundle-version", "name", "collector", "ca",
						     "cert", "key" };
		size_t k = 0;

		while (k < sizeof(known) / sizeof(known[0]) && strcmp(known[k], c.v[i].key))
			k++;
		if (k == sizeof(known) / sizeof(known[0])) {
			snprintf(err, errlen, "bundle:%u: unknown setting (a newer bundle?)",
				 c.v[i].line);
			goto out;
		}
	}
	v = pt_conf_get(&c, "bundle-version");
	if (!v || strcmp(v, "1")) {
		snprintf(err, errlen, "bundle-version: want 1");
		goto out;
	}
	v = pt_conf_get(&c, "name");
	if (!v || !pt_tls_name_valid(v)) {
		snprintf(err, errlen, "name: missing or not a valid agent name");
		goto out;
	}
	snprintf(b->name, sizeof(b->name), "%s", v);
	while ((v = pt_conf_next(&c, "collector", &pos))) {
		if (b->n_collectors == PT_BUNDLE_COLLECTORS_MAX || !addr_valid(v)) {
			snprintf(err, errlen, "collector: %s", b->n_collectors ==
				 PT_BUNDLE_COLLECTORS_MAX ? "too many" : "want HOST:PORT");
			goto out;
		}
		if (!(b->collectors[b->n_collectors] = strdup(v))) {
			ret = -ENOMEM;
			goto out;
		}
		b->n_collectors++;
	}
	if (!b->n_collectors) {
		snprintf(err, errlen, "collector: none");
		goto out;
	}
	if (!pt_conf_get(&c, "ca") || !pt_conf_get(&c, "cert") || !pt_conf_get(&c, "key")) {
		snprintf(err, errlen, "ca, cert and key are all needed");
		goto out;
	}
	if ((ret = decode_pem("ca", pt_conf_get(&c, "ca"), &b->ca_pem, err, errlen)) ||
	    (ret = decode_pem("cert", pt_conf_get(&c, "cert"), &b->cert_pem, err, errlen)) ||
	    (ret = decode_pem("key", pt_conf_get(&c, "key"), &b->key_pem, err, errlen)) ||
	    (ret = check_pki(b, err, errlen)))
		goto out;
	ret = 0;
out:
	pt_conf_free(&c);
	if (ret)
		pt_bundle_free(b);
	return ret;
}

static int append_b64(char **buf, size_t *len, size_t *cap, const char *key, const char *pem)
{
	size_t plen = strlen(pem), need = strlen(key) + 4 + (plen + 2) / 3 * 4 + 2;

	if (plen > PT_BUNDLE_PEM_MAX)
		return -EMSGSIZE;
	if (*len + need > *cap) {
		char *n = realloc(*buf, *len + need + 1);

		if (!n)
			return -ENOMEM;
		*buf = n;
		*cap = *len + need + 1;
	}
	*len += (size_t)snprintf(*buf + *len, *cap - *len, "%s = ", key);
	*len += (size_t)EVP_EncodeBlock((unsigned char *)*buf + *len, (const unsigned char *)pem,
					(int)plen);
	(*buf)[(*len)++] = '\n';
	(*buf)[*len] = '\0';
	return 0;
}

int pt_bundle_format(const struct pt_bundle *b, char **out, size_t *outlen, char *err,
		     size_t errlen)
{
	size_t cap = 1024 + b->n_collectors * (PT_BUNDLE_ADDR_MAX + 16), len;
	char *buf = malloc(cap);
	int ret = -EINVAL, n;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	n = snprintf(buf, cap, "# proctrail enrollment bundle for %s: it holds a private key;\n"
		     "# keep it 0600, join with `proctrail-agent --join FILE`, then delete it.\n"
		     "bundle-version = %d\nname = %s\n", b->name, PT_BUNDLE_VERSION, b->name);
	len = (size_t)n;
	for (unsigned i = 0; i < b->n_collectors; i++) {
		if (!addr_valid(b->collectors[i])) {
			snprintf(err, errlen, "collector '%s': want HOST:PORT", b->collectors[i]);
			goto fail;
		}
		len += (size_t)snprintf(buf + len, cap - len, "collector = %s\n", b->collectors[i]);
	}
	if ((ret = append_b64(&buf, &len, &cap, "ca", b->ca_pem)) ||
	    (ret = append_b64(&buf, &len, &cap, "cert", b->cert_pem)) ||
	    (ret = append_b64(&buf, &len, &cap, "key", b->key_pem))) {
		snprintf(err, errlen, "PEM too large or out of memory");
		goto fail;
	}
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	return ret;
}
