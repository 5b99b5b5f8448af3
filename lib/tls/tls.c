#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "proctrail/register.h"
#include "proctrail/tls.h"

void pt_tls_errstr(char *out, size_t outlen)
{
	unsigned long e = ERR_get_error();

	if (!e) {
		snprintf(out, outlen, "unknown TLS error");
		return;
	}
	ERR_error_string_n(e, out, outlen);
	ERR_clear_error();
}

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
	char tls[256];

	pt_tls_errstr(tls, sizeof(tls));
	snprintf(err, errlen, "%s %s: %s", what, path ? path : "", tls);
	return -EINVAL;
}

static int common_setup(SSL_CTX *ctx, const char *ca, const char *cert, const char *key,
			char *err, size_t errlen)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		return fail(err, errlen, "TLS 1.3 unavailable", NULL);
	if (!SSL_CTX_load_verify_locations(ctx, ca, NULL))
		return fail(err, errlen, "loading CA", ca);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return fail(err, errlen, "loading certificate", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		return fail(err, errlen, "loading key", key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(err, errlen, "key does not match certificate", cert);
	SSL_CTX_set_verify_depth(ctx, 2);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
	return 0;
}

/* The CRL file, accepted only when it is one the CA issued and signed and still current: a
 * garbage or foreign file must not silently revoke nothing. */
static X509_CRL *load_crl(const struct pt_tls_server *s, char *err, size_t errlen)
{
	FILE *f = NULL;
	X509 *ca = NULL;
	X509_CRL *crl = NULL;
	EVP_PKEY *pub;
	const ASN1_TIME *next;
	const char *why = NULL;

	if (!(f = fopen(s->ca, "r")) || !(ca = PEM_read_X509(f, NULL, NULL, NULL))) {
		if (f)
			fail(err, errlen, "loading CA", s->ca);
		else
			snprintf(err, errlen, "CA %s: %s", s->ca, strerror(errno));
		goto out;
	}
	fclose(f);
	if (!(f = fopen(s->crl, "r"))) {
		snprintf(err, errlen, "CRL %s: %s", s->crl, strerror(errno));
		goto out;
	}
	if (!(crl = PEM_read_X509_CRL(f, NULL, NULL, NULL))) {
		fail(err, errlen, "reading CRL", s->crl);
		goto out;
	}
	pub = X509_get0_pubkey(ca);
	next = X509_CRL_get0_nextUpdate(crl);
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0)
		why = "not issued by the CA";
	else if (!pub || X509_CRL_verify(crl, pub) != 1)
		why = "signature does not verify against the CA";
	else if (next && X509_cmp_current_time(next) <= 0)
		why = "past its nextUpdate (expired)";
	if (why) {
		ERR_clear_error();
		snprintf(err, errlen, "CRL %s: %s", s->crl, why);
		X509_CRL_free(crl);
		crl = NULL;
	}
out:
	if (f)
		fclose(f);
	X509_free(ca);
	return crl;
}

/* The verification store: the pinned CA and, when configured, the CRL (leaf checked only:
 * the CA is the root we pin, nothing above it could revoke it). Only world-readable files, so
 * a reload still works after the server dropped its privileges. */
static X509_STORE *server_store(const struct pt_tls_server *s, X509_CRL *crl, char *err,
				size_t errlen)
{
	X509_STORE *store = X509_STORE_new();

	if (!store) {
		fail(err, errlen, "X509_STORE_new", NULL);
		return NULL;
	}
	if (X509_STORE_load_file(store, s->ca) != 1) {
		fail(err, errlen, "loading CA", s->ca);
		goto bad;
	}
	if (crl) {
		if (X509_STORE_add_crl(store, crl) != 1) {
			fail(err, errlen, "loading CRL", s->crl);
			goto bad;
		}
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	}
	return store;
bad:
	X509_STORE_free(store);
	return NULL;
}

static SSL_CTX *server_ctx(const struct pt_tls_server *s, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509_STORE *store = NULL;

	if (!ctx) {
		fail(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	if (common_setup(ctx, s->ca, s->cert, s->key, err, errlen) ||
	    !(store = server_store(s, s->crl_obj, err, errlen))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_cert_store(ctx, store);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* No resumption: every connection proves its certificate against the current CRL. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	return ctx;
}

static void crl_stat(struct pt_tls_server *s, struct stat *st)
{
	s->crl_mtime = st->st_mtim;
	s->crl_ctime = st->st_ctim;
	s->crl_dev = st->st_dev;
	s->crl_ino = st->st_ino;
	s->crl_size = st->st_size;
}

static int crl_unchanged(const struct pt_tls_server *s, const struct stat *st)
{
	return st->st_mtim.tv_sec == s->crl_mtime.tv_sec &&
	       st->st_mtim.tv_nsec == s->crl_mtime.tv_nsec &&
	       st->st_ctim.tv_sec == s->crl_ctime.tv_sec &&
	       st->st_ctim.tv_nsec == s->crl_ctime.tv_nsec && st->st_dev == s->crl_dev &&
	       st->st_ino == s->crl_ino && st->st_size == s->crl_size;
}

int pt_tls_server_init(struct pt_tls_server *s, const char *ca, const char *cert, const char *key,
		       const char *crl, char *err, size_t errlen)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (snprintf(s->ca, sizeof(s->ca), "%s", ca) >= (int)sizeof(s->ca) ||
	    snprintf(s->cert, sizeof(s->cert), "%s", cert) >= (int)sizeof(s->cert) ||
	    snprintf(s->key, sizeof(s->key), "%s", key) >= (int)sizeof(s->key) ||
	    snprintf(s->crl, sizeof(s->crl), "%s", crl ? crl : "") >= (int)sizeof(s->crl)) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	if (s->crl[0]) {
		if (stat(s->crl, &st) < 0) {
			snprintf(err, errlen, "CRL %s: %s", s->crl, strerror(errno));
			return -errno;
		}
		crl_stat(s, &st);
		/* Start-up with a configured but unusable CRL is fatal: nothing would be revoked. */
		if (!(s->crl_obj = load_crl(s, err, errlen)))
			return -EINVAL;
	}
	s->ctx = server_ctx(s, err, errlen);
	if (!s->ctx) {
		X509_CRL_free(s->crl_obj);
		s->crl_obj = NULL;
		return -EINVAL;
	}
	return 0;
}

int pt_tls_server_reload(struct pt_tls_server *s, int force, char *err, size_t errlen)
{
	struct stat st;
	X509_STORE *store;
	X509_CRL *crl;
	int ret;

	if (!s->crl[0])
		return 0;
	if (stat(s->crl, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "CRL %s: %s", s->crl, strerror(errno));
		goto failed;
	}
	if (!force && !s->crl_failed && crl_unchanged(s, &st))
		return 0;
	crl = load_crl(s, err, errlen);
	if (!crl) {
		ret = -EINVAL;
		goto failed;
	}
	/* Replacing the store, not the context: the key is unreadable once privileges are
	 * dropped. Verification takes the store when a certificate arrives, on this thread. */
	store = server_store(s, crl, err, errlen);
	if (!store) {
		X509_CRL_free(crl);
		ret = -EINVAL;
		goto failed;
	}
	SSL_CTX_set_cert_store(s->ctx, store);
	X509_CRL_free(s->crl_obj);
	s->crl_obj = crl;
	s->crl_failed = 0;
	crl_stat(s, &st);
	return 1;
failed:
	s->crl_failed = 1;
	return ret;
}

int pt_tls_server_crl_failed(const struct pt_tls_server *s)
{
	return s->crl[0] && s->crl_failed;
}

int pt_tls_server_peer_revoked(const struct pt_tls_server *s, SSL *ssl, char *serial,
			       size_t seriallen)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	X509_REVOKED *rev = NULL;
	BIGNUM *bn;
	char *hex;

	if (seriallen)
		serial[0] = '\0';
	if (!peer)
		return -EPERM;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex && seriallen > PT_REG_SERIAL_MAX && pt_register_serial_canon(serial, hex))
		serial[0] = '\0';
	OPENSSL_free(hex);
	BN_free(bn);
	if (!s->crl_obj)
		return 0;
	return X509_CRL_get0_by_serial(s->crl_obj, &rev, X509_get0_serialNumber(peer)) == 1;
}

void pt_tls_server_free(struct pt_tls_server *s)
{
	if (!s)
		return;
	SSL_CTX_free(s->ctx);
	s->ctx = NULL;
	X509_CRL_free(s->crl_obj);
	s->crl_obj = NULL;
}

SSL_CTX *pt_tls_client_ctx(const char *ca, const char *cert, const char *key, char *err,
			   size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		fail(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	if (common_setup(ctx, ca, cert, key, err, errlen)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

int pt_tls_client_expect_host(SSL *ssl, const char *host)
{
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	unsigned char addr[16];

	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(vp, host) == 1 ? 0 : -EINVAL;
	if (SSL_set_tlsext_host_name(ssl, host) != 1)
		return -EINVAL;
	return SSL_set1_host(ssl, host) == 1 ? 0 : -EINVAL;
}

int pt_tls_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > PT_TLS_CN_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int pt_tls_peer_cn(SSL *ssl, char *out, size_t outlen)
{
	X509 *peer = NULL;
	X509_NAME *subj;
	unsigned char *utf8 = NULL;
	int idx, len, ret = -EPERM;

	if (SSL_get_verify_result(ssl) != X509_V_OK)
		goto out;
	peer = SSL_get1_peer_certificate(ssl);
	if (!peer)
		goto out;
	subj = X509_get_subject_name(peer);
	idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	/* Exactly one CN: two would make "the" name ambiguous. */
	if (idx < 0 || X509_NAME_get_index_by_NID(subj, NID_commonName, idx) >= 0)
		goto out;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
	if (len <= 0 || (size_t)len >= outlen || memchr(utf8, '\0', (size_t)len))
		goto out;
	memcpy(out, utf8, (size_t)len);
	out[len] = '\0';
	if (!pt_tls_name_valid(out))
		goto out;
	ret = 0;
out:
	OPENSSL_free(utf8);
	X509_free(peer);
	return ret;
}
