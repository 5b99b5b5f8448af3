/* proctrail pki operator NAME [--role read|admin] [--revoke] [--token-file FILE]: API operators
 * in HOME/pki/operators.tsv (include/proctrail/operators.h). The token is printed once (or
 * written to --token-file, 0600); only its SHA-256 is kept. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "proctrail/file.h"
#include "proctrail/operators.h"

static int usage(void)
{
	fprintf(stderr, "usage: proctrail pki operator NAME [--role read|admin] [--token-file FILE]\n"
			"       proctrail pki operator NAME --revoke\n");
	return 2;
}

static int write_token(const char *path, const char *token)
{
	char line[PT_OP_TOKEN_LEN + 2];
	int n = snprintf(line, sizeof(line), "%s\n", token);

	if (n < 0 || n >= (int)sizeof(line))
		return -EINVAL;
	return pt_file_replace(path, line, (size_t)n, 0600, (gid_t)-1);
}

int cli_operator(const struct cli_env *env, int argc, char **argv)
{
	const char *name = NULL, *token_file = NULL;
	enum pt_op_role role = PT_ROLE_READ;
	struct pt_operators ops = { 0 };
	char path[CLI_PATH_MAX], token[PT_OP_TOKEN_LEN + 1];
	struct pt_operator *o = NULL;
	int revoke = 0, a, ret = 1, rc;
	struct stat st;
	size_t bad, i;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--role") && a + 1 < argc) {
			if (!(role = pt_op_role_parse(argv[++a])))
				return usage();
		} else if (!strcmp(argv[a], "--revoke")) {
			revoke = 1;
		} else if (!strcmp(argv[a], "--token-file") && a + 1 < argc) {
			token_file = argv[++a];
		} else if (argv[a][0] != '-' && !name) {
			name = argv[a];
		} else {
			return usage();
		}
	}
	if (!name)
		return usage();
	if (!pt_op_name_valid(name)) {
		fprintf(stderr, "proctrail: operator names are 1 to 64 of [A-Za-z0-9._-]\n");
		return 2;
	}
	if (cli_path(env, path, sizeof(path), "pki/operators.tsv"))
		return 2;
	{
		char pki[CLI_PATH_MAX];

		if (cli_path(env, pki, sizeof(pki), "pki") || stat(pki, &st) || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "proctrail: %s/pki missing: run proctrail pki init first\n",
				env->home);
			return 1;
		}
	}
	if ((rc = pt_operators_load(&ops, path, &bad))) {
		fprintf(stderr, "proctrail: %s%s%zu: %s\n", path, bad ? ": line " : "", bad,
			strerror(-rc));
		return 1;
	}
	for (i = 0; i < ops.n; i++)
		if (!strcmp(ops.v[i].name, name))
			o = &ops.v[i];
	if (revoke) {
		if (!o) {
			fprintf(stderr, "proctrail: no operator '%s'\n", name);
			goto out;
		}
		memmove(o, o + 1, (size_t)(ops.v + ops.n - (o + 1)) * sizeof(*o));
		ops.n--;
	} else {
		if (!o) {
			if (ops.n >= PT_OP_MAX) {
				fprintf(stderr, "proctrail: %u operators at most\n", PT_OP_MAX);
				goto out;
			}
			if (!ops.v && !(ops.v = calloc(PT_OP_MAX, sizeof(*ops.v))))
				goto out;
			o = &ops.v[ops.n++];
			snprintf(o->name, sizeof(o->name), "%s", name);
		}
		o->role = role;
		if (pt_op_token_new(token, o->token_sha)) {
			fprintf(stderr, "proctrail: no random bytes for a token\n");
			goto out;
		}
	}
	/* The file keeps its owner: the collector re-reads it as its service user. */
	memset(&st, 0, sizeof(st));
	if (lstat(path, &st) && errno != ENOENT) {
		perror(path);
		goto out;
	}
	if ((rc = pt_operators_save(&ops, path))) {
		fprintf(stderr, "proctrail: writing %s: %s\n", path, strerror(-rc));
		goto out;
	}
	if (st.st_ino && geteuid() == 0 && lchown(path, st.st_uid, st.st_gid))
		perror(path);
	if (revoke) {
		printf("operator %s revoked\n", name);
	} else if (token_file) {
		if ((rc = write_token(token_file, token))) {
			fprintf(stderr, "proctrail: writing %s: %s\n", token_file, strerror(-rc));
			goto out;
		}
		printf("operator %s (%s): token in %s\n", name, pt_op_role_name(role), token_file);
	} else {
		printf("%s\n", token);
		fprintf(stderr, "operator %s (%s): the token above is shown only once\n", name,
			pt_op_role_name(role));
	}
	ret = 0;
out:
	OPENSSL_cleanse(token, sizeof(token));
	pt_operators_free(&ops);
	return ret;
}
