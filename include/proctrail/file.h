#ifndef PROCTRAIL_FILE_H
#define PROCTRAIL_FILE_H
/* Small files read whole and replaced atomically: configuration, bundles, tokens, registers,
 * policies, metrics. One home for both, so every such file gets the same bounds and the same
 * durability. */
#include <stddef.h>
#include <sys/types.h>

/* Reads all of path (opened with O_RDONLY | O_CLOEXEC | extra_flags, e.g. O_NOFOLLOW) into a
 * new buffer with a NUL after the last byte, so text callers may treat it as a string. More than
 * max bytes is -EMSGSIZE. On success *out belongs to the caller (free), *outlen (may be NULL)
 * is the length without the NUL; on error *out is NULL. Returns 0 or -errno. */
int pt_file_read(const char *path, int extra_flags, size_t max, char **out, size_t *outlen);

/* Replaces path with data: written to "PATH.tmp" (an old one removed first, created O_EXCL |
 * O_NOFOLLOW), given mode exactly (not filtered by the umask) and, unless gid is (gid_t)-1,
 * that group; fsynced, renamed over path, and the directory fsynced so the rename is durable.
 * Readers see the old file or the new one, never a part. On error path is untouched and the
 * temporary file removed. Returns 0 or -errno. */
int pt_file_replace(const char *path, const void *data, size_t len, mode_t mode, gid_t gid);
#endif
