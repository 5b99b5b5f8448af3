/* The service manager's readiness protocol (sd_notify(3)), written here instead of linking
 * libsystemd for one datagram: "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=..." sent to the
 * AF_UNIX datagram socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace).
 *
 * pt_sd_notify_open() reads $NOTIFY_SOCKET and connects once, so a process confined later
 * (Landlock, seccomp) still reaches it; it unsets the variable so children do not inherit it.
 * Without $NOTIFY_SOCKET every call is a no-op returning 0.
 *
 * Ownership: struct pt_sd_notify owns its socket; pt_sd_notify_close() is NULL-safe.
 * Thread-safe: each state is one send(2). */
#ifndef PROCTRAIL_SDNOTIFY_H
#define PROCTRAIL_SDNOTIFY_H

#include <stddef.h>

#define PT_SD_STATE_MAX 512u   /* bytes of one notification */

struct pt_sd_notify {
	int fd;                    /* -1 when not under a service manager */
};

/* 0 (also when there is no $NOTIFY_SOCKET), -EINVAL for an unusable address, or -errno. */
int pt_sd_notify_open(struct pt_sd_notify *n);
/* Sends state ("READY=1", "STATUS=...\nREADY=1"). 0, -EMSGSIZE over PT_SD_STATE_MAX, -errno. */
int pt_sd_notify(struct pt_sd_notify *n, const char *state);
/* "RELOADING=1" with MONOTONIC_USEC=, which systemd 253's Type=notify-reload requires. */
int pt_sd_notify_reloading(struct pt_sd_notify *n);
void pt_sd_notify_close(struct pt_sd_notify *n);

#endif
