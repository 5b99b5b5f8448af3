#ifndef PROCTRAIL_HEX_H
#define PROCTRAIL_HEX_H
/* Hexadecimal, both ways, for hashes, ids and file names. Output is always lowercase; input
 * takes either case, so a caller that needs one canonical spelling compares with the encoding. */
#include <stddef.h>
#include <stdint.h>

/* 0..15, or -1 when c is not a hex digit. */
int pt_hex_digit(int c);

/* Writes 2*len digits and a NUL into out, which holds 2*len+1 bytes. */
void pt_hex_encode(const uint8_t *p, size_t len, char *out);

/* Exactly 2*outlen digits in text[0..textlen) into out. Returns 0, or -EINVAL for a wrong length
 * or a non-digit; out is written only on success. */
int pt_hex_decode(const char *text, size_t textlen, uint8_t *out, size_t outlen);
#endif
