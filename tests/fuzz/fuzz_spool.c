/* Spool recovery over arbitrary segment bytes: open must never crash, leak or loop, whatever a
 * segment file holds, and every record it then reads back must pass its checks.
 *
 * Input: byte 0 selects whether a valid segment header is put in front (so the fuzzer reaches
 * the frame scanner quickly); the rest is the segment's content. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/log.h"
#include "proctrail/spool.h"
#include "proctrail/wire.h"
#include "../../lib/spool/spool-int.h"

static char dir[64];

/* Every run starts from an empty directory: the run must depend on its input alone. */
static void clean(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[384];

	if (!d)
		abort();
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_spool", 0);
	/* tmpfs when there is one: fsync there costs nothing, so the fuzzer runs fast. */
	snprintf(dir, sizeof(dir), "%s/fuzz_spool.%d",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (int)getpid());
	mkdir(dir, 0700);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	struct pt_spool *s = NULL;
	struct pt_spool_opts o = { .dir = dir };
	int fd;

	if (size < 1 || size > (1u << 20))
		return 0;
	clean();
	snprintf(path, sizeof(path), "%s/seg-0000000000000001.pts", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (data[0] & 1) {
		uint8_t hdr[PT_SPOOL_SEG_HDR_LEN];
		spool_seg_header(hdr, 42, 1, 0);
		if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
			abort();
	}
	if (size > 1 && write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	close(fd);

	if (pt_spool_open(&o, &s) == 0) {
		struct pt_spool_cursor c;
		struct pt_spool_item it;
		uint64_t prev = 0, n = 0;
		if (pt_spool_cursor_init(&c) == 0) {
			while (pt_spool_read(s, &c, &it) == 1) {
				if (it.seq <= prev || it.len < PT_SPOOL_REC_MIN || it.len > PT_RECORD_MAX)
					abort();
				prev = it.seq;
				if (++n > size)
					abort();   /* more records than bytes: a loop */
			}
			pt_spool_cursor_free(&c);
		}
		if (pt_spool_next_seq(s) <= prev)
			abort();
		/* The next record must still be accepted. */
		uint8_t f[PT_SPOOL_REC_HDR_LEN + 8] = { 0 };
		size_t used;
		pt_spool_frame_header(f, pt_spool_next_seq(s), 1, f + PT_SPOOL_REC_HDR_LEN, 8);
		if (pt_spool_append(s, f, sizeof(f), &used) != 0 || used != sizeof(f))
			abort();
		struct pt_spool_loss l[8];
		while (pt_spool_take_losses(s, l, 8) > 0)
			;
		pt_spool_close(s);
	}
	clean();
	return 0;
}
