/* The spool directory itself: created or opened without following a symbolic link, and
 * trusted only when nobody but the agent's own user could have put files into it.
 *
 * The spool decides which kernel events a restarted agent skips (the ring positions it holds)
 * and what is sent as this agent's history, so a directory another user can write, or a link
 * another user can point elsewhere, would let that user forge or suppress events and make the
 * agent (root) write where the link points. Everything after this opens relative to the
 * returned descriptor (openat + O_NOFOLLOW), so renaming or replacing the path later changes
 * nothing for the running agent. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/log.h"
#include "spool-int.h"

int spool_dir_open(const char *dir, int *dirfd_out)
{
	struct stat st;
	int fd, rc;

	*dirfd_out = -1;
	if (mkdir(dir, SPOOL_DIR_MODE) < 0 && errno != EEXIST)
		return -errno;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		/* O_NOFOLLOW on a link gives ELOOP, or ENOTDIR together with O_DIRECTORY. */
		if (rc == -ELOOP || (rc == -ENOTDIR && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))) {
			log_warnx("spool: %s is a symbolic link; refusing it (use the real directory)",
				  dir);
			return -ELOOP;
		}
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		log_warnx("spool: %s is owned by uid %u, not by this agent's uid %u; refusing it",
			  dir, (unsigned)st.st_uid, (unsigned)geteuid());
		rc = -EPERM;
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		/* Someone else may already have put or changed files in it: nothing there can be
		 * trusted, and a chmod now would not undo that. */
		log_warnx("spool: %s is writable by group or others (mode %04o); refusing it "
			  "(inspect it, then chmod 700 or remove it)",
			  dir, (unsigned)(st.st_mode & 07777));
		rc = -EPERM;
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		/* Readable only: nobody else could write, so its content is ours; but the
		 * records hold every argv. Closed on the descriptor, not the path. */
		if (fchmod(fd, SPOOL_DIR_MODE) < 0) {
			rc = -errno;
			log_warn("spool: %s: chmod %o", dir, SPOOL_DIR_MODE);
			goto fail;
		}
		log_warnx("spool: %s was readable by group or others (mode %04o); now %04o", dir,
			  (unsigned)(st.st_mode & 07777), SPOOL_DIR_MODE);
	}
	*dirfd_out = fd;
	return 0;
fail:
	close(fd);
	return rc;
}
