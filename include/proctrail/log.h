/* Logging in the OpenSMTPD manner.
 *
 *   log_warn(fmt, ...)   appends ": strerror(errno)"     log_warnx(fmt, ...)  does not
 *   fatal(fmt, ...)      log_warn, then exit(1)           fatalx(fmt, ...)     log_warnx, then exit(1)
 *   log_info / log_debug for the ordinary and the verbose.
 *
 * Messages go to stderr, one line each, prefixed with the program name set by log_init().
 * Thread-safe: each line is written with a single write(2).
 */
#ifndef PROCTRAIL_LOG_H
#define PROCTRAIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

void log_init(const char *progname, int verbose);
int  log_verbose(void);
void log_set_verbose(int verbose);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Lines a peer can trigger (an agent's ERROR frames, failed handshakes) go through a limiter,
 * one per connection and site, or one per site for unauthenticated peers: at most
 * LOG_RATELIMIT_LINES lines per LOG_RATELIMIT_WINDOW_MS, and what was held back is reported
 * as "N similar lines suppressed" when the next window opens or the owner flushes it.
 * Zero-initialised; not thread-safe (one owner, the reactor thread). */
#define LOG_RATELIMIT_LINES     10u
#define LOG_RATELIMIT_WINDOW_MS 1000u

struct log_ratelimit {
	uint64_t window_start_ns;   /* CLOCK_MONOTONIC */
	uint32_t lines;             /* written in this window */
	uint64_t suppressed;        /* held back and not yet reported */
	uint64_t suppressed_total;  /* held back over the limiter's life */
	uint32_t window_ms;         /* 0: LOG_RATELIMIT_WINDOW_MS */
};

/* Whether one more line may be written now. what names the source in the suppression line
 * ("agent db1 (10.0.0.1:4242) ERROR frames"). */
bool log_ratelimit_allow(struct log_ratelimit *rl, const char *what);
/* Reports the lines held back and not yet reported (at connection close). NULL-safe. */
void log_ratelimit_flush(struct log_ratelimit *rl, const char *what);

#endif
