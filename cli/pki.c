/* The deployment's PKI with libcrypto: CA, collector certificate, agent enrollment and a CRL.
 * EC P-256 keys: small, and a handshake costs little when a thousand agents reconnect at once. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "proctrail/log.h"
#include "proctrail/tls.h"

#define CA_DAYS     3650
#define LEAF_DAYS   825
#define CRL_DAYS    3650   /* an expired CRL would refuse every agent; pki revoke re-signs it */

enum cert_kind { CERT_CA, CERT_SERVER, CERT_CLIENT };

static void tls_warn(const char *what)
{
	char e[256];

	pt_tls_errstr(e, sizeof(e));
	log_warnx("%s: %s", what, e);
}

static EVP_PKEY *gen_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (!k)
		tls_warn("generating key");
	return k;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EINVAL;
}

static int random_serial(X509 *cert)
{
	BIGNUM *bn = BN_new();
	int ret = -EINVAL;

	/* 127 random bits: unique without a serial file, positive as RFC 5280 wants. */
	if (bn && BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		ret = 0;
	BN_free(bn);
	return ret;
}

/* issuer == NULL: self-signed. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, enum cert_kind kind, X509 *issuer,
		       EVP_PKEY *issuer_key, const char *san)
{
	X509 *c = X509_new();
	X509_NAME *name;
	int ok = 0;

	if (!c)
		return NULL;
	name = X509_get_subject_name(c);
	if (!X509_set_version(c, 2) || random_serial(c) ||
	    !X509_gmtime_adj(X509_getm_notBefore(c), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c),
			     60L * 60 * 24 * (kind == CERT_CA ? CA_DAYS : LEAF_DAYS)) ||
	    !X509_set_pubkey(c, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name))
		goto out;
	if (!issuer)
		issuer = c;
	if (add_ext(c, issuer, NID_subject_key_identifier, "hash") ||
	    add_ext(c, issuer, NID_authority_key_identifier, "keyid:always"))
		goto out;
	switch (kind) {
	case CERT_CA:
		if (add_ext(c, issuer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		    add_ext(c, issuer, NID_key_usage, "critical,keyCertSign,cRLSign"))
			goto out;
		break;
	case CERT_SERVER:
		if (add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    add_ext(c, issuer, NID_key_usage, "critical,digitalSignature") ||
		    add_ext(c, issuer, NID_ext_key_usage, "serverAuth") ||
		    add_ext(c, issuer, NID_subject_alt_name, san))
			goto out;
		break;
	case CERT_CLIENT:
		if (add_ext(c, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
		    add_ext(c, issuer, NID_key_usage, "critical,digitalSignature") ||
		    add_ext(c, issuer, NID_ext_key_usage, "clientAuth"))
			goto out;
		break;
	}
	if (!X509_sign(c, issuer_key ? issuer_key : key, EVP_sha256()))
		goto out;
	ok = 1;
out:
	if (!ok) {
		tls_warn("building certificate");
		X509_free(c);
		c = NULL;
	}
	return c;
}

/* Writes through a temporary file and rename, so readers (the server reloading its CRL) never
 * see half a file; keys get mode 0600 from creation on. */
static int write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key, X509_CRL *crl)
{
	char tmp[CLI_PATH_MAX + 8];
	FILE *f = NULL;
	int fd, ok, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		ret = -errno;
		log_warn("%s", tmp);
		return ret;
	}
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		goto out;
	}
	if (cert)
		ok = PEM_write_X509(f, cert);
	else if (key)
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_X509_CRL(f, crl);
	if (!ok) {
		tls_warn(path);
		ret = -EIO;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ret = ret ? ret : -errno;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
out:
	if (ret) {
		log_warnx("writing %s failed: %s", path, strerror(-ret));
		unlink(tmp);
	}
	return ret;
}

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *c;

	if (!f) {
		log_warn("%s", path);
		return NULL;
	}
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!c)
		tls_warn(path);
	return c;
}

static EVP_PKEY *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f) {
		log_warn("%s", path);
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		tls_warn(path);
	return k;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[CLI_PATH_MAX];
	char *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int sign_crl(X509_CRL *crl, X509 *ca, EVP_PKEY *ca_key)
{
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
	ASN1_TIME *next = X509_gmtime_adj(NULL, 60L * 60 * 24 * CRL_DAYS);
	int ok = now && next && X509_CRL_set_version(crl, 1) &&
		 X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
		 X509_CRL_set1_lastUpdate(crl, now) && X509_CRL_set1_nextUpdate(crl, next) &&
		 X509_CRL_sort(crl) && X509_CRL_sign(crl, ca_key, EVP_sha256());

	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	if (!ok)
		tls_warn("signing CRL");
	return ok ? 0 : -EINVAL;
}

static int pki_init(const struct cli_env *env, const char *extra_san)
{
	char dir[CLI_PATH_MAX], p[CLI_PATH_MAX], san[1024];
	EVP_PKEY *ca_key = NULL, *srv_key = NULL;
	X509 *ca = NULL, *srv = NULL;
	X509_CRL *crl = NULL;
	unsigned char rnd[4];
	char cn[64];
	int ret = -EINVAL;

	if (cli_path(env, dir, sizeof(dir), "pki") || cli_path(env, p, sizeof(p), "pki/ca.crt"))
		return -ENAMETOOLONG;
	if (access(p, F_OK) == 0) {
		log_warnx("%s already exists: the deployment's CA is made once", p);
		return -EEXIST;
	}
	/* 0755: the unprivileged server re-reads ca.crt and crl.pem; the keys are 0600. */
	ret = mkdir_p(dir, 0755);
	if (ret) {
		log_warnx("%s: %s", dir, strerror(-ret));
		return ret;
	}
	snprintf(san, sizeof(san), "IP:127.0.0.1,DNS:localhost%s%s", extra_san ? "," : "",
		 extra_san ? extra_san : "");
	/* A distinct CA name per deployment keeps two deployments' certificates apart in logs. */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto out;
	snprintf(cn, sizeof(cn), "proctrail CA %02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	ret = -EINVAL;
	ca_key = gen_key();
	srv_key = gen_key();
	if (!ca_key || !srv_key)
		goto out;
	ca = make_cert(ca_key, cn, CERT_CA, NULL, NULL, NULL);
	srv = ca ? make_cert(srv_key, "proctrail-server", CERT_SERVER, ca, ca_key, san) : NULL;
	crl = X509_CRL_new();
	if (!ca || !srv || !crl || sign_crl(crl, ca, ca_key))
		goto out;
	if ((ret = cli_path(env, p, sizeof(p), "pki/ca.key")) || (ret = write_pem(p, 0600, NULL, ca_key, NULL)) ||
	    (ret = cli_path(env, p, sizeof(p), "pki/server.key")) || (ret = write_pem(p, 0600, NULL, srv_key, NULL)) ||
	    (ret = cli_path(env, p, sizeof(p), "pki/server.crt")) || (ret = write_pem(p, 0644, srv, NULL, NULL)) ||
	    (ret = cli_path(env, p, sizeof(p), "pki/crl.pem")) || (ret = write_pem(p, 0644, NULL, NULL, crl)) ||
	    (ret = cli_path(env, p, sizeof(p), "pki/ca.crt")) || (ret = write_pem(p, 0644, ca, NULL, NULL)))
		goto out;
	printf("created %s: ca.crt ca.key server.crt server.key crl.pem (collector names: %s)\n", dir,
	       san);
out:
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	X509_free(ca);
	X509_free(srv);
	X509_CRL_free(crl);
	return ret;
}

static int load_ca(const struct cli_env *env, X509 **ca, EVP_PKEY **key)
{
	char p[CLI_PATH_MAX];

	if (cli_path(env, p, sizeof(p), "pki/ca.crt"))
		return -ENAMETOOLONG;
	*ca = read_cert(p);
	if (cli_path(env, p, sizeof(p), "pki/ca.key"))
		return -ENAMETOOLONG;
	*key = *ca ? read_key(p) : NULL;
	if (!*ca || !*key) {
		log_warnx("no CA in %s/pki: run `proctrail pki init` first", env->home);
		return -ENOENT;
	}
	return 0;
}

static int enroll(const struct cli_env *env, const char *name)
{
	char dir[CLI_PATH_MAX], p[CLI_PATH_MAX + 16], rel[256];
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	int ret;

	if (!pt_tls_name_valid(name)) {
		log_warnx("invalid agent name '%s': 1 to %u of [A-Za-z0-9._-], not starting with . or -",
			  name, PT_TLS_CN_MAX);
		return -EINVAL;
	}
	ret = load_ca(env, &ca, &ca_key);
	if (ret)
		goto out;
	snprintf(rel, sizeof(rel), "agents/%s", name);
	if ((ret = cli_path(env, dir, sizeof(dir), rel)))
		goto out;
	if (mkdir_p(dir, 0700) < 0 || snprintf(p, sizeof(p), "%s/agent.crt", dir) < 0) {
		ret = -errno;
		log_warn("%s", dir);
		goto out;
	}
	if (access(p, F_OK) == 0) {
		log_warnx("%s already enrolled (%s)", name, p);
		ret = -EEXIST;
		goto out;
	}
	ret = -EINVAL;
	key = gen_key();
	cert = key ? make_cert(key, name, CERT_CLIENT, ca, ca_key, NULL) : NULL;
	if (!cert)
		goto out;
	snprintf(p, sizeof(p), "%s/agent.key", dir);
	if ((ret = write_pem(p, 0600, NULL, key, NULL)))
		goto out;
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	if ((ret = write_pem(p, 0644, ca, NULL, NULL)))
		goto out;
	snprintf(p, sizeof(p), "%s/agent.crt", dir);
	if ((ret = write_pem(p, 0644, cert, NULL, NULL)))
		goto out;
	printf("enrolled %s: %s/{agent.crt,agent.key,ca.crt}\n", name, dir);
out:
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(cert);
	return ret;
}

static int revoke_agent(const struct cli_env *env, const char *name)
{
	char p[CLI_PATH_MAX], rel[256];
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL, *cert = NULL;
	X509_CRL *crl = NULL;
	X509_REVOKED *rev = NULL, *found = NULL;
	ASN1_TIME *now = NULL;
	FILE *f;
	int ret;

	if (!pt_tls_name_valid(name)) {
		log_warnx("invalid agent name '%s'", name);
		return -EINVAL;
	}
	if ((ret = load_ca(env, &ca, &ca_key)))
		goto out;
	snprintf(rel, sizeof(rel), "agents/%s/agent.crt", name);
	if ((ret = cli_path(env, p, sizeof(p), rel)))
		goto out;
	ret = -ENOENT;
	if (!(cert = read_cert(p)))
		goto out;
	if ((ret = cli_path(env, p, sizeof(p), "pki/crl.pem")))
		goto out;
	f = fopen(p, "r");
	crl = f ? PEM_read_X509_CRL(f, NULL, NULL, NULL) : X509_CRL_new();
	if (f)
		fclose(f);
	ret = -EINVAL;
	if (!crl) {
		tls_warn(p);
		goto out;
	}
	if (X509_CRL_get0_by_serial(crl, &found, X509_get_serialNumber(cert)) == 1) {
		printf("%s is already revoked\n", name);
		ret = 0;
		goto out;
	}
	rev = X509_REVOKED_new();
	now = X509_gmtime_adj(NULL, 0);
	if (!rev || !now || !X509_REVOKED_set_serialNumber(rev, X509_get_serialNumber(cert)) ||
	    !X509_REVOKED_set_revocationDate(rev, now) || !X509_CRL_add0_revoked(crl, rev)) {
		tls_warn("adding to CRL");
		X509_REVOKED_free(rev);
		goto out;
	}
	if ((ret = sign_crl(crl, ca, ca_key)) || (ret = write_pem(p, 0644, NULL, NULL, crl)))
		goto out;
	printf("revoked %s; %s updated (the server reloads it at the next handshake)\n", name, p);
out:
	ASN1_TIME_free(now);
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	X509_free(cert);
	X509_CRL_free(crl);
	return ret;
}

int cmd_pki(const struct cli_env *env, int argc, char **argv)
{
	const char *san = NULL;

	if (argc >= 2 && !strcmp(argv[1], "init")) {
		if (argc == 4 && !strcmp(argv[2], "--san"))
			san = argv[3];
		else if (argc != 2)
			goto usage;
		return pki_init(env, san) ? 1 : 0;
	}
usage:
	fprintf(stderr, "usage: proctrail pki init [--san IP:ADDR,DNS:NAME,...]\n");
	return 2;
}

int cmd_enroll(const struct cli_env *env, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: proctrail enroll NAME\n");
		return 2;
	}
	return enroll(env, argv[1]) ? 1 : 0;
}

int cmd_revoke(const struct cli_env *env, int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: proctrail revoke NAME\n");
		return 2;
	}
	return revoke_agent(env, argv[1]) ? 1 : 0;
}
