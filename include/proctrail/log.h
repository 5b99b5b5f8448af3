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

void log_init(const char *progname, int verbose);
int  log_verbose(void);
void log_set_verbose(int verbose);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
