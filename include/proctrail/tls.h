/* TLS contexts for the agent-collector channel: TLS 1.3 only, mutual authentication against
 * the deployment CA, CRL check on the collector side.
 *
 * Ownership: pt_tls_server owns its SSL_CTX (connections hold their own references through
 * SSL_CTX refcounts); a reload swaps the context's verification store (CA + CRL) only.
 * Contexts from pt_tls_client_ctx() belong to the caller (SSL_CTX_free).
 */
#ifndef PROCTRAIL_TLS_H
#define PROCTRAIL_TLS_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#define PT_TLS_CN_MAX 64u   /* agent names: [A-Za-z0-9._-], 1..64 bytes */
/* How often the collector looks at the CRL file for a change (and, while it cannot use it,
 * retries): the longest a revocation waits without a SIGHUP. */
#define PT_TLS_CRL_POLL_MS 2000u

struct pt_tls_server {
	SSL_CTX *ctx;
	char ca[4096], cert[4096], key[4096], crl[4096];   /* crl empty: no revocation check */
	X509_CRL *crl_obj;              /* the CRL in force, signature checked against the CA */
	int crl_failed;                 /* the last reload failed: nothing may be admitted */
	struct timespec crl_mtime, crl_ctime;
	dev_t crl_dev;
	ino_t crl_ino;
	off_t crl_size;
};

/* Builds the server context. crl may be NULL. Returns 0 or -errno with err filled. */
int pt_tls_server_init(struct pt_tls_server *s, const char *ca, const char *cert, const char *key,
		       const char *crl, char *err, size_t errlen);
/* Reloads the CA and CRL (a new verification store in the same SSL_CTX) when force, when the
 * file changed since the last load (inode, size, mtime or ctime: a chmod counts), or while the
 * last reload failed. The CRL must parse, be issued and signed by the CA and not be past its
 * nextUpdate. Returns 1 when reloaded, 0 when unchanged, -errno on error: then crl_failed is
 * set and stays until a reload succeeds (the caller fails closed; the old store stays in the
 * context only so that nothing dangles). */
int pt_tls_server_reload(struct pt_tls_server *s, int force, char *err, size_t errlen);
/* Whether a CRL is configured and the last load of it failed. */
int pt_tls_server_crl_failed(const struct pt_tls_server *s);
/* 1 when the connection's verified peer certificate is on the CRL in force, 0 when not (or no
 * CRL is configured), -EPERM when the peer has no certificate. *serial gets its serial in hex
 * (empty when unknown). */
int pt_tls_server_peer_revoked(const struct pt_tls_server *s, SSL *ssl, char *serial,
			       size_t seriallen);
void pt_tls_server_free(struct pt_tls_server *s);

/* Client context: pins ca (no system roots), presents cert/key. */
SSL_CTX *pt_tls_client_ctx(const char *ca, const char *cert, const char *key, char *err,
			   size_t errlen);
/* Sets SNI and the name or IP address the collector's certificate must carry. */
int pt_tls_client_expect_host(SSL *ssl, const char *host);

/* The verified peer's subject CN, checked against the agent-name charset. 0 or -EPERM. */
int pt_tls_peer_cn(SSL *ssl, char *out, size_t outlen);
/* 1 when name is [A-Za-z0-9._-], 1..PT_TLS_CN_MAX bytes, not starting with "." or "-". */
int pt_tls_name_valid(const char *name);

/* First queued OpenSSL error as text (drains the queue). */
void pt_tls_errstr(char *out, size_t outlen);

#endif
