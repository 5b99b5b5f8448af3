#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proctrail/clock.h"
#include "proctrail/log.h"

static const char *log_progname = "proctrail";
static int log_level_verbose;

void log_init(const char *progname, int verbose)
{
	if (progname)
		log_progname = progname;
	log_level_verbose = verbose;
}

int log_verbose(void) { return log_level_verbose; }
void log_set_verbose(int verbose) { log_level_verbose = verbose; }

__attribute__((format(printf, 4, 0)))
static void log_vline(const char *level, int with_errno, int saved_errno, const char *fmt,
		      va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t len = 0;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ldZ %s[%d] %s: ", ts.tv_nsec / 1000000,
		     log_progname, (int)getpid(), level);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	if (with_errno && len < sizeof(line) - 1) {
		n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(saved_errno));
		if (n > 0)
			len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	}
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line so threads never interleave inside a line. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

#define LOG_BODY(level, with_errno)                                                        \
	do {                                                                               \
		int saved_errno = errno;                                                   \
		va_list ap;                                                                \
		va_start(ap, fmt);                                                         \
		log_vline(level, with_errno, saved_errno, fmt, ap);                        \
		va_end(ap);                                                                \
		errno = saved_errno;                                                       \
	} while (0)

void log_warn(const char *fmt, ...) { LOG_BODY("warning", 1); }
void log_warnx(const char *fmt, ...) { LOG_BODY("warning", 0); }
void log_info(const char *fmt, ...) { LOG_BODY("info", 0); }

void log_debug(const char *fmt, ...)
{
	if (!log_level_verbose)
		return;
	LOG_BODY("debug", 0);
}

void fatal(const char *fmt, ...)
{
	LOG_BODY("fatal", 1);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	LOG_BODY("fatal", 0);
	exit(1);
}

static uint32_t window_ms(const struct log_ratelimit *rl)
{
	return rl->window_ms ? rl->window_ms : LOG_RATELIMIT_WINDOW_MS;
}

void log_ratelimit_flush(struct log_ratelimit *rl, const char *what)
{
	if (!rl || !rl->suppressed)
		return;
	log_warnx("%s: %llu similar lines suppressed (at most %u per %u ms are logged)", what,
		  (unsigned long long)rl->suppressed, LOG_RATELIMIT_LINES, window_ms(rl));
	rl->suppressed = 0;
}

bool log_ratelimit_allow(struct log_ratelimit *rl, const char *what)
{
	uint64_t now = pt_mono_ns();

	if (!rl->window_start_ns || now - rl->window_start_ns >= window_ms(rl) * 1000000ull) {
		log_ratelimit_flush(rl, what);
		rl->window_start_ns = now;
		rl->lines = 0;
	}
	if (rl->lines >= LOG_RATELIMIT_LINES) {
		rl->suppressed++;
		rl->suppressed_total++;
		return false;
	}
	rl->lines++;
	return true;
}
