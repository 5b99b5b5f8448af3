/* The register of issued certificates: every certificate the deployment's CA ever signed, with
 * its serial, subject name, validity and revocation state. `proctrail revoke NAME` needs it to
 * find every certificate of a name (a renewed agent holds more than one valid certificate), and
 * the CRL is rebuilt from it.
 *
 * On disk (HOME/pki/issued.tsv), one certificate a line, fields separated by one tab:
 *
 *     # proctrail issued certificates v1
 *     SERIAL  NAME  NOT_BEFORE  NOT_AFTER  STATUS  REVOKED_AT
 *
 * SERIAL is the certificate's serial in upper-case hex without leading zeros (1 to
 * PT_REG_SERIAL_MAX digits), NAME an agent name (pt_tls_name_valid), NOT_BEFORE, NOT_AFTER
 * and REVOKED_AT seconds since the epoch (REVOKED_AT is `-` while STATUS is V), STATUS V
 * (valid) or R (revoked). Lines starting with '#' are comments; empty lines are errors, as are
 * a duplicate serial, an overlong line, more than PT_REG_ENTRIES_MAX lines, or a file over
 * PT_REG_FILE_MAX bytes. Text, not a binary struct: an operator reads it with cat and awk.
 *
 * Ownership: struct pt_register owns its entry array; pt_register_free() releases it and is
 * NULL-safe. Pointers into it are valid until the next pt_register_add().
 */
#ifndef PROCTRAIL_REGISTER_H
#define PROCTRAIL_REGISTER_H

#include <stddef.h>
#include <stdint.h>

#define PT_REG_SERIAL_MAX   40u          /* hex digits: RFC 5280 allows 20 octets */
#define PT_REG_NAME_MAX     64u          /* = PT_TLS_CN_MAX */
#define PT_REG_LINE_MAX     256u         /* bytes in one line, newline excluded */
#define PT_REG_ENTRIES_MAX  1000000u
#define PT_REG_FILE_MAX     (PT_REG_ENTRIES_MAX * 128u)
#define PT_REG_HEADER       "# proctrail issued certificates v1"

enum pt_reg_status { PT_REG_VALID = 'V', PT_REG_REVOKED = 'R' };

struct pt_reg_entry {
	char serial[PT_REG_SERIAL_MAX + 1];
	char name[PT_REG_NAME_MAX + 1];
	int64_t not_before, not_after;
	char status;                         /* enum pt_reg_status */
	int64_t revoked_at;                  /* 0 while valid */
};

struct pt_register {
	struct pt_reg_entry *v;
	size_t n, cap;
};

void pt_register_init(struct pt_register *r);
void pt_register_free(struct pt_register *r);

/* Parses a whole file's bytes into an initialised, empty r. 0, or -EBADMSG / -E2BIG /
 * -ENOMEM with *bad_line the 1-based line at fault (0 for the file as a whole); r is then
 * left empty. */
int pt_register_parse(struct pt_register *r, const char *buf, size_t len, size_t *bad_line);
/* Appends a copy of e after checking its fields. -EINVAL for a bad field, -EEXIST for a serial
 * already present, -E2BIG when full. */
int pt_register_add(struct pt_register *r, const struct pt_reg_entry *e);
struct pt_reg_entry *pt_register_find(const struct pt_register *r, const char *serial);
/* The serial in the register's canonical form (upper case, no leading zeros), or -EINVAL. */
int pt_register_serial_canon(char out[PT_REG_SERIAL_MAX + 1], const char *hex);

/* The file form of r; *out is malloc'ed (the caller frees it). */
int pt_register_format(const struct pt_register *r, char **out, size_t *len);
/* Reads path into an initialised, empty r. -ENOENT when absent; parse errors as above. */
int pt_register_load(struct pt_register *r, const char *path, size_t *bad_line);
/* Replaces path atomically: a temporary file beside it, fsync, rename, fsync of the directory;
 * readers see the old or the new register, never half of one. */
int pt_register_save(const struct pt_register *r, const char *path, unsigned mode);

#endif
