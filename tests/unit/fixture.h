/* The temporary directory the file-backed unit tests run in: made fresh under /tmp for each
 * test, removed with everything in it afterwards (no shell, no following symlinks out). */
#ifndef PROCTRAIL_TEST_FIXTURE_H
#define PROCTRAIL_TEST_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define PT_TMPDIR_LEN 64

static int pt_tmpdir_unlink_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Creates /tmp/<name>.XXXXXX into dir (PT_TMPDIR_LEN bytes). Returns 0 or -1. */
static inline int pt_tmpdir_make(char dir[PT_TMPDIR_LEN], const char *name)
{
	if (snprintf(dir, PT_TMPDIR_LEN, "/tmp/%s.XXXXXX", name) >= PT_TMPDIR_LEN)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

/* Removes dir and its contents, depth first. Returns 0 or -1. */
static inline int pt_tmpdir_remove(const char *dir)
{
	return nftw(dir, pt_tmpdir_unlink_one, 16, FTW_DEPTH | FTW_PHYS) ? -1 : 0;
}

/* setup() and teardown() for a cmocka fixture `type` whose member `dir` is the test's directory. */
#define PT_TMPDIR_FIXTURE(type, name)                                  \
	static int setup(void **state)                                  \
	{                                                               \
		type *f = calloc(1, sizeof(*f));                        \
									\
		if (!f || pt_tmpdir_make(f->dir, name)) {               \
			free(f);                                        \
			return -1;                                      \
		}                                                       \
		*state = f;                                             \
		return 0;                                               \
	}                                                               \
	static int teardown(void **state)                               \
	{                                                               \
		type *f = *state;                                       \
		int rc = pt_tmpdir_remove(f->dir);                      \
									\
		free(f);                                                \
		return rc;                                              \
	}
#endif
