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

struct pt_tls_server {
	SSL_CTX *ctx;
	char ca[4096], cert[4096], key[4096], crl[4096];   /* crl empty: no revocation check */
	struct timespec crl_mtime;
	ino_t crl_ino;
	off_t crl_size;
};

/* Builds the server context. crl may be NULL. Returns 0 or -errno with err filled. */
int pt_tls_server_init(struct pt_tls_server *s, const char *ca, const char *cert, const char *key,
		       const char *crl, char *err, size_t errlen);
/* Reloads the CA and CRL (a new verification store in the same SSL_CTX) when force or when the file changed since the last load.
 * Returns 1 when reloaded, 0 when unchanged, -errno on error (the old context stays). */
int pt_tls_server_reload(struct pt_tls_server *s, int force, char *err, size_t errlen);
void pt_tls_server_free(struct pt_tls_server *s);

/* Client context: pins ca (no system roots), presents cert/key. */
SSL_CTX *pt_tls_client_ctx(const char *ca, const char *cert, const char *key, char *err,
			   size_t errlen);
/* Sets SNI and the name or IP address the collector's certificate must carry. */
int pt_tls_client_expect_host(SSL *ssl, const char *host);

/* The verified peer's subject CN, checked against the agent-name charset. 0 or -EPERM. */
int pt_tls_peer_cn(SSL *ssl, char *out, size_t outlen);
int pt_tls_name_valid(const char *name);

/* First queued OpenSSL error as text (drains the queue). */
void pt_tls_errstr(char *out, size_t outlen);

#endif
