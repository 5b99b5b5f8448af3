/* Operators of the HTTP API: bearer tokens and their roles, kept as SHA-256 only.
 *
 * HOME/pki/operators.tsv, root's, mode 0600 (0640 with the collector's service group when it
 * runs unprivileged: pt_operators_save() keeps that group), one operator a line: NAME TAB ROLE TAB SHA256-HEX.
 * Names are [A-Za-z0-9._-], 1..64 bytes; roles "read" or "admin". A token is "pt_" and 43
 * base64url characters of 32 random bytes; only the SHA-256 of the whole token is stored.
 *
 * Ownership: a pt_operators table owns its entries; pt_operators_free() is NULL-safe.
 */
#ifndef PROCTRAIL_OPERATORS_H
#define PROCTRAIL_OPERATORS_H

#include <stddef.h>
#include <stdint.h>

#define PT_OP_NAME_MAX   64u
#define PT_OP_MAX        1024u          /* operators in one file */
#define PT_OP_TOKEN_LEN  46u            /* "pt_" + 43 */
#define PT_OP_FILE_MAX   (256u << 10)   /* bytes of operators.tsv */

enum pt_op_role { PT_ROLE_READ = 1, PT_ROLE_ADMIN = 2 };

struct pt_operator {
	char name[PT_OP_NAME_MAX + 1];
	enum pt_op_role role;
	uint8_t token_sha[32];
};

struct pt_operators {
	struct pt_operator *v;
	size_t n;
};

const char *pt_op_role_name(enum pt_op_role r);
/* "read" / "admin" -> role; 0 when neither. */
enum pt_op_role pt_op_role_parse(const char *s);
/* 1 when name is usable as an operator name: the agent-name alphabet (pt_tls_name_valid),
 * 1..PT_OP_NAME_MAX bytes. */
int pt_op_name_valid(const char *name);

/* Parses the file's text. Returns 0, or -EINVAL with the line number in *bad_line. */
int pt_operators_parse(struct pt_operators *ops, const char *text, size_t len, size_t *bad_line);
/* Reads path (missing file: empty table). 0 or -errno. */
int pt_operators_load(struct pt_operators *ops, const char *path, size_t *bad_line);
/* Writes the table to path atomically (temporary file, fsync, rename), mode 0600. */
int pt_operators_save(const struct pt_operators *ops, const char *path);
void pt_operators_free(struct pt_operators *ops);

/* The operator whose token this is (constant-time comparison of the hashes), or NULL. */
const struct pt_operator *pt_operators_find_token(const struct pt_operators *ops,
						   const char *token, size_t len);
const struct pt_operator *pt_operators_find(const struct pt_operators *ops, const char *name);

/* A new random token into out (PT_OP_TOKEN_LEN + 1 bytes) and its hash. 0 or -errno. */
int pt_op_token_new(char out[PT_OP_TOKEN_LEN + 1], uint8_t sha[32]);
void pt_op_token_hash(const char *token, size_t len, uint8_t sha[32]);

#endif
