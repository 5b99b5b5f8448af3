/* The deployment's PKI with libcrypto: CA, collector certificate, agent enrollment and a CRL.
 * EC P-256 keys: small, and a handshake costs little when a thousand agents reconnect at once. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "proctrail/file.h"
#include "proctrail/log.h"
#include "proctrail/register.h"
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

/* Replaced atomically, so readers (the server reloading its CRL) never see half a file; keys
 * get mode 0600 from creation on and pass only through secure memory. The mode is exact, not
 * filtered by the umask: the unprivileged server must read a CRL that an operator with umask
 * 077 wrote. */
static int write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key, X509_CRL *crl)
{
	BIO *mem = BIO_new(key ? BIO_s_secmem() : BIO_s_mem());
	char *data;
	long len;
	int ok, ret = 0;

	if (!mem)
		return -ENOMEM;
	if (cert)
		ok = PEM_write_bio_X509(mem, cert);
	else if (key)
		ok = PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_X509_CRL(mem, crl);
	if (!ok || (len = BIO_get_mem_data(mem, &data)) <= 0) {
		tls_warn(path);
		ret = -EIO;
	} else {
		ret = pt_file_replace(path, data, (size_t)len, mode, (gid_t)-1);
	}
	if (ret)
		log_warnx("writing %s failed: %s", path, strerror(-ret));
	BIO_free(mem);
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

static int register_cert(struct pt_register *reg, const char *path, X509 *cert, const char *name);

static int pki_init(const struct cli_env *env, const char *extra_san)
{
	char dir[CLI_PATH_MAX], p[CLI_PATH_MAX], san[1024];
	EVP_PKEY *ca_key = NULL, *srv_key = NULL;
	X509 *ca = NULL, *srv = NULL;
	X509_CRL *crl = NULL;
	struct pt_register reg;
	unsigned char rnd[4];
	char cn[64];
	int ret = -EINVAL;

	pt_register_init(&reg);
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
	    (ret = cli_path(env, p, sizeof(p), "pki/issued.tsv")) ||
	    (ret = register_cert(&reg, p, srv, "proctrail-server")) ||
	    (ret = cli_path(env, p, sizeof(p), "pki/ca.crt")) || (ret = write_pem(p, 0644, ca, NULL, NULL)))
		goto out;
	printf("created %s: ca.crt ca.key server.crt server.key crl.pem issued.tsv "
	       "(collector names: %s)\n", dir, san);
out:
	pt_register_free(&reg);
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

/* ---- the register of issued certificates ---- */

static int asn1_time_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int serial_hex(const ASN1_INTEGER *serial, char out[PT_REG_SERIAL_MAX + 1])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int ret = hex ? pt_register_serial_canon(out, hex) : -ENOMEM;

	OPENSSL_free(hex);
	BN_free(bn);
	return ret;
}

static int cert_entry(X509 *cert, const char *name, struct pt_reg_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->status = PT_REG_VALID;
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (serial_hex(X509_get0_serialNumber(cert), e->serial) ||
	    asn1_time_unix(X509_get0_notBefore(cert), &e->not_before) ||
	    asn1_time_unix(X509_get0_notAfter(cert), &e->not_after))
		return -EINVAL;
	return 0;
}

static X509_CRL *read_crl(const char *path)
{
	FILE *f = fopen(path, "r");
	X509_CRL *crl;

	if (!f) {
		log_warn("%s", path);
		return NULL;
	}
	crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	if (!crl)
		tls_warn(path);
	return crl;
}

static int crl_has(X509_CRL *crl, const ASN1_INTEGER *serial)
{
	X509_REVOKED *found = NULL;

	return X509_CRL_get0_by_serial(crl, &found, serial) == 1;
}

static ASN1_INTEGER *serial_asn1(const char *hex)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;

	if (BN_hex2bn(&bn, hex) > 0)
		ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return ai;
}

/* Adds one register entry found on disk; a certificate the CRL lists is recorded revoked. */
static int rebuild_add(struct pt_register *reg, const char *path, const char *name, X509_CRL *crl,
		       int64_t now)
{
	struct pt_reg_entry e;
	X509 *cert = NULL;
	FILE *f = fopen(path, "r");
	int ret;

	if (!f)
		return 0;
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!cert) {
		tls_warn(path);
		return 0;
	}
	ret = cert_entry(cert, name, &e);
	if (!ret && crl && crl_has(crl, X509_get0_serialNumber(cert))) {
		e.status = PT_REG_REVOKED;
		e.revoked_at = now;
	}
	if (!ret)
		ret = pt_register_add(reg, &e);
	X509_free(cert);
	return ret == -EEXIST ? 0 : ret;
}

/* A home from before the register: what is still on disk is all that can be known. */
static int rebuild_register(const struct cli_env *env, struct pt_register *reg, const char *path)
{
	char p[CLI_PATH_MAX + 64];
	X509_CRL *crl = NULL;
	struct dirent *d;
	DIR *dir;
	int64_t now = (int64_t)time(NULL);
	int ret;

	if (cli_path(env, p, sizeof(p), "pki/crl.pem"))
		return -ENAMETOOLONG;
	if (access(p, F_OK) == 0 && !(crl = read_crl(p)))
		return -EINVAL;
	if (cli_path(env, p, sizeof(p), "pki/server.crt")) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	if ((ret = rebuild_add(reg, p, "proctrail-server", crl, now)))
		goto out;
	if (cli_path(env, p, sizeof(p), "agents")) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	dir = opendir(p);
	while (dir && (d = readdir(dir))) {
		char cert[CLI_PATH_MAX + 64 + 256];

		if (!pt_tls_name_valid(d->d_name))
			continue;
		if (snprintf(cert, sizeof(cert), "%s/%s/agent.crt", p, d->d_name) >=
		    (int)sizeof(cert))
			continue;
		if ((ret = rebuild_add(reg, cert, d->d_name, crl, now)))
			break;
	}
	if (dir)
		closedir(dir);
	if (ret)
		goto out;
	if ((ret = pt_register_save(reg, path, 0644))) {
		log_warnx("writing %s: %s", path, strerror(-ret));
		goto out;
	}
	fprintf(stderr, "proctrail: %s was missing: rebuilt from the %zu certificates on disk; "
		"certificates issued earlier whose files are gone are not in it (revoke them with "
		"`proctrail revoke --serial HEX`)\n", path, reg->n);
out:
	X509_CRL_free(crl);
	return ret;
}

static int load_register(const struct cli_env *env, struct pt_register *reg, char *path,
			 size_t pathlen)
{
	size_t bad_line;
	int ret;

	pt_register_init(reg);
	if (cli_path(env, path, pathlen, "pki/issued.tsv"))
		return -ENAMETOOLONG;
	ret = pt_register_load(reg, path, &bad_line);
	if (ret == -ENOENT)
		return rebuild_register(env, reg, path);
	if (ret && bad_line)
		log_warnx("%s:%zu: malformed line: fix or restore the register", path, bad_line);
	else if (ret)
		log_warnx("%s: %s", path, strerror(-ret));
	return ret;
}

static int save_register(const struct pt_register *reg, const char *path)
{
	int ret = pt_register_save(reg, path, 0644);

	if (ret)
		log_warnx("writing %s: %s", path, strerror(-ret));
	return ret;
}

static int register_cert(struct pt_register *reg, const char *path, X509 *cert, const char *name)
{
	struct pt_reg_entry e;
	int ret = cert_entry(cert, name, &e);

	if (!ret)
		ret = pt_register_add(reg, &e);
	if (ret) {
		log_warnx("registering %s's certificate: %s", name, strerror(-ret));
		return ret;
	}
	return save_register(reg, path);
}

/* Whether every certificate of name in the register is revoked (then it may be enrolled again). */
static int all_revoked(const struct pt_register *reg, const char *name)
{
	size_t i;

	for (i = 0; i < reg->n; i++)
		if (!strcmp(reg->v[i].name, name) && reg->v[i].status != PT_REG_REVOKED)
			return 0;
	return 1;
}

static int enroll(const struct cli_env *env, const char *name, int renew)
{
	char dir[CLI_PATH_MAX], p[CLI_PATH_MAX + 16], rel[256], regpath[CLI_PATH_MAX];
	EVP_PKEY *ca_key = NULL, *key = NULL;
	X509 *ca = NULL, *cert = NULL;
	struct pt_register reg;
	int ret;

	pt_register_init(&reg);
	if (!pt_tls_name_valid(name)) {
		log_warnx("invalid agent name '%s': 1 to %u of [A-Za-z0-9._-], not starting with . or -",
			  name, PT_TLS_CN_MAX);
		return -EINVAL;
	}
	ret = load_ca(env, &ca, &ca_key);
	if (ret || (ret = load_register(env, &reg, regpath, sizeof(regpath))))
		goto out;
	snprintf(rel, sizeof(rel), "agents/%s", name);
	if ((ret = cli_path(env, dir, sizeof(dir), rel)))
		goto out;
	if (mkdir_p(dir, 0700) < 0 || snprintf(p, sizeof(p), "%s/agent.crt", dir) < 0) {
		ret = -errno;
		log_warn("%s", dir);
		goto out;
	}
	if (access(p, F_OK) == 0 && !renew && !all_revoked(&reg, name)) {
		log_warnx("%s already enrolled (%s); `enroll --renew %s` issues a new certificate "
			  "(the old one stays valid until revoked)", name, p, name);
		ret = -EEXIST;
		goto out;
	}
	ret = -EINVAL;
	key = gen_key();
	cert = key ? make_cert(key, name, CERT_CLIENT, ca, ca_key, NULL) : NULL;
	if (!cert)
		goto out;
	/* Registered before it is handed out: no certificate exists that revoke cannot find. */
	if ((ret = register_cert(&reg, regpath, cert, name)))
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
	printf("enrolled %s: %s/{agent.crt,agent.key,ca.crt} serial %s\n", name, dir,
	       reg.v[reg.n - 1].serial);
out:
	pt_register_free(&reg);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
	X509_free(ca);
	X509_free(cert);
	return ret;
}

/* Adds serial to the CRL unless it is there already; counts it in *added. */
static int crl_add(X509_CRL *crl, const char *serial, int64_t when_unix, unsigned *added)
{
	ASN1_INTEGER *ai = serial_asn1(serial);
	ASN1_TIME *when = NULL;
	X509_REVOKED *rev = NULL;
	int ok;

	if (!ai)
		return -ENOMEM;
	if (crl_has(crl, ai)) {
		ASN1_INTEGER_free(ai);
		return 0;
	}
	rev = X509_REVOKED_new();
	when = ASN1_TIME_set(NULL, (time_t)when_unix);
	ok = rev && when && X509_REVOKED_set_serialNumber(rev, ai) &&
	     X509_REVOKED_set_revocationDate(rev, when) && X509_CRL_add0_revoked(crl, rev);
	ASN1_INTEGER_free(ai);
	ASN1_TIME_free(when);
	if (!ok) {
		tls_warn("adding to CRL");
		X509_REVOKED_free(rev);
		return -EINVAL;
	}
	(*added)++;
	return 0;
}

/* Marks the selected entries revoked, puts every revoked serial of the register into the CRL,
 * re-signs it, then writes CRL and register. name (every certificate ever issued to it) or
 * serial (one) selects. */
static int revoke_certs(const struct cli_env *env, const char *name, const char *serial)
{
	char p[CLI_PATH_MAX], regpath[CLI_PATH_MAX], canon[PT_REG_SERIAL_MAX + 1];
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL;
	X509_CRL *crl = NULL;
	struct pt_register reg;
	int64_t now = (int64_t)time(NULL);
	unsigned matched = 0, newly = 0, added = 0;
	size_t i;
	int ret;

	pt_register_init(&reg);
	if (name && !pt_tls_name_valid(name)) {
		log_warnx("invalid agent name '%s'", name);
		return -EINVAL;
	}
	if (serial && pt_register_serial_canon(canon, serial)) {
		log_warnx("invalid serial '%s': 1 to %u hex digits", serial, PT_REG_SERIAL_MAX);
		return -EINVAL;
	}
	if ((ret = load_ca(env, &ca, &ca_key)) ||
	    (ret = load_register(env, &reg, regpath, sizeof(regpath))))
		goto out;
	for (i = 0; i < reg.n; i++) {
		struct pt_reg_entry *e = &reg.v[i];

		if (name ? strcmp(e->name, name) : strcmp(e->serial, canon))
			continue;
		matched++;
		if (e->status != PT_REG_REVOKED) {
			e->status = PT_REG_REVOKED;
			e->revoked_at = now;
			newly++;
		}
	}
	if (!matched && name) {
		log_warnx("no certificate issued to %s in %s (`proctrail pki list` shows the "
			  "register)", name, regpath);
		ret = -ENOENT;
		goto out;
	}
	if (!matched)
		log_warnx("serial %s is not in %s; adding it to the CRL all the same", canon,
			  regpath);
	if ((ret = cli_path(env, p, sizeof(p), "pki/crl.pem")))
		goto out;
	ret = -EINVAL;
	if (!(crl = access(p, F_OK) == 0 ? read_crl(p) : X509_CRL_new()))
		goto out;
	for (i = 0; i < reg.n; i++) {
		const struct pt_reg_entry *e = &reg.v[i];

		if (e->status != PT_REG_REVOKED)
			continue;
		if ((ret = crl_add(crl, e->serial, e->revoked_at, &added)))
			goto out;
	}
	/* A certificate from before the register whose file is gone: only its serial is known. */
	if (!matched && (ret = crl_add(crl, canon, now, &added)))
		goto out;
	if (!newly && !added) {
		printf("%s is already revoked\n", name ? name : canon);
		ret = 0;
		goto out;
	}
	/* The CRL first: it is what the collector enforces; the register follows. */
	if ((ret = sign_crl(crl, ca, ca_key)) || (ret = write_pem(p, 0644, NULL, NULL, crl)) ||
	    (ret = save_register(&reg, regpath)))
		goto out;
	printf("revoked %s (%u certificate%s); %s updated: the collector drops its connections "
	       "within %u s, or at once on SIGHUP\n", name ? name : canon, matched ? matched : 1,
	       matched > 1 ? "s" : "", p, PT_TLS_CRL_POLL_MS / 1000);
out:
	pt_register_free(&reg);
	EVP_PKEY_free(ca_key);
	X509_free(ca);
	X509_CRL_free(crl);
	return ret;
}

static void format_day(int64_t t, char *out, size_t outlen)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, outlen, "%Y-%m-%d", &tm))
		snprintf(out, outlen, "?");
}

static int list_register(const struct cli_env *env)
{
	char regpath[CLI_PATH_MAX], nb[16], na[16], ra[16];
	struct pt_register reg;
	size_t i;
	int ret = load_register(env, &reg, regpath, sizeof(regpath));

	if (ret)
		return ret;
	printf("%-40s  %-20s  %-10s  %-10s  %-7s  %s\n", "SERIAL", "NAME", "NOT_BEFORE",
	       "NOT_AFTER", "STATUS", "REVOKED");
	for (i = 0; i < reg.n; i++) {
		const struct pt_reg_entry *e = &reg.v[i];

		format_day(e->not_before, nb, sizeof(nb));
		format_day(e->not_after, na, sizeof(na));
		if (e->status == PT_REG_REVOKED)
			format_day(e->revoked_at, ra, sizeof(ra));
		else
			snprintf(ra, sizeof(ra), "-");
		printf("%-40s  %-20s  %-10s  %-10s  %-7s  %s\n", e->serial, e->name, nb, na,
		       e->status == PT_REG_REVOKED ? "revoked" : "valid", ra);
	}
	pt_register_free(&reg);
	return 0;
}

int cli_enroll(const struct cli_env *env, const char *name)
{
	return enroll(env, name, 0);
}

int cmd_pki(const struct cli_env *env, int argc, char **argv)
{
	const char *san = NULL;

	if (argc >= 2 && !strcmp(argv[1], "bundle"))
		return cli_pki_bundle(env, argc - 1, argv + 1);

	if (argc >= 2 && !strcmp(argv[1], "init")) {
		if (argc == 4 && !strcmp(argv[2], "--san"))
			san = argv[3];
		else if (argc != 2)
			goto usage;
		return pki_init(env, san) ? 1 : 0;
	}
	if (argc == 2 && !strcmp(argv[1], "list"))
		return list_register(env) ? 1 : 0;
	if (argc >= 2 && !strcmp(argv[1], "operator"))
		return cli_operator(env, argc - 1, argv + 1);
usage:
	fprintf(stderr, "usage: proctrail pki init [--san IP:ADDR,DNS:NAME,...]\n"
			"       proctrail pki list\n"
			"       proctrail pki operator NAME [--role read|admin] [--token-file FILE]\n"
			"       proctrail pki operator NAME --revoke\n"
			"       proctrail pki bundle NAME --collector HOST:PORT [...] -o FILE\n");
	return 2;
}

int cmd_enroll(const struct cli_env *env, int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--renew"))
		return enroll(env, argv[2], 1) ? 1 : 0;
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: proctrail enroll [--renew] NAME\n");
		return 2;
	}
	return enroll(env, argv[1], 0) ? 1 : 0;
}

int cmd_revoke(const struct cli_env *env, int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--serial"))
		return revoke_certs(env, NULL, argv[2]) ? 1 : 0;
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: proctrail revoke NAME | revoke --serial HEX\n");
		return 2;
	}
	return revoke_certs(env, argv[1], NULL) ? 1 : 0;
}
