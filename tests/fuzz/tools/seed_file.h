/* The seed generators' one output step: a named file of bytes in the corpus directory. */
#ifndef PROCTRAIL_SEED_FILE_H
#define PROCTRAIL_SEED_FILE_H
#include <stdio.h>

static void save(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		return;
	}
}
#endif
