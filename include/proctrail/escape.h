/* Showing strings that came from a peer (an agent, the kernel's view of a user's file names)
 * on a terminal or in a log, where a control byte or a bidirectional override would rewrite
 * what the reader sees: a "\n" plants a fake log line, ESC [ drives the terminal, U+202E turns
 * the rest of the line around.
 *
 * pt_escape() output is printable: ASCII without controls, plus valid UTF-8 of code points
 * that are not hostile. It can be read back unambiguously:
 *   \\           a backslash
 *   \n \r \t     those controls
 *   \xNN         another C0 control, DEL, or a byte that is not valid UTF-8
 *   \uNNNN       a hostile code point (C1 control, bidi control, line/paragraph separator)
 *   \...         (at the end) the rest did not fit
 * Stored data stays verbatim; only what is shown is escaped.
 */
#ifndef PROCTRAIL_ESCAPE_H
#define PROCTRAIL_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of escaped peer text one log line carries (NUL included); the rest becomes "\...". */
#define PT_ESCAPE_LOG_MAX 256
#define PT_ESCAPE_TRUNC   "\\..."

/* Decodes one UTF-8 sequence at p (n bytes available). Returns its length (1-4) with *cp
 * set, or 0 when p does not start a valid, shortest-form, non-surrogate sequence. */
size_t pt_utf8_decode(const uint8_t *p, size_t n, uint32_t *cp);

/* C0 controls, DEL, C1 controls, bidi controls (U+061C, U+200E-F, U+202A-E, U+2066-9),
 * U+2028/U+2029: code points that change how the text around them is shown. */
bool pt_codepoint_is_hostile(uint32_t cp);

/* True when in[0..len) is valid UTF-8 with no hostile code point (and no NUL). */
bool pt_str_is_clean(const void *in, size_t len);

/* Escapes in[0..len) into out (cap >= sizeof(PT_ESCAPE_TRUNC) bytes), always NUL-terminated;
 * never splits an escape or a UTF-8 sequence. Returns out. in may be NULL when len is 0. */
const char *pt_escape(char *out, size_t cap, const void *in, size_t len);

/* A buffer for one escaped string in a log call:
 *   struct pt_esc m;
 *   log_warnx("ERROR: %s", pt_esc(&m, e.message.ptr, e.message.len));  */
struct pt_esc {
	char s[PT_ESCAPE_LOG_MAX];
};

static inline const char *pt_esc(struct pt_esc *b, const void *in, size_t len)
{
	return pt_escape(b->s, sizeof(b->s), in, len);
}

#endif
