#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "proctrail/log.h"
#include "proctrail/version.h"
#include "config.h"
#include "detect.h"
#include "server.h"

int main(int argc, char **argv)
{
	struct pt_server_config cfg;
	char err[1024];
	int ret;

	log_init("proctrail-server", 0);
	/* Batches are decoded into buffers of up to 8 MiB, thousands per second: keep them on the
	 * heap instead of an mmap/munmap (and a page-zeroing fault storm) per batch. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	if (argc == 3 && !strcmp(argv[1], "--check-rules")) {
		ret = pt_detect_report(argv[2], stdout);
		if (ret)
			fprintf(stderr, "proctrail-server: %s: %s\n", argv[2], strerror(-ret));
		return ret ? 1 : 0;
	}
	ret = pt_server_config_parse(&cfg, argc, argv, err, sizeof(err));
	if (ret == 1) {
		pt_server_usage(stdout);
		return 0;
	}
	if (ret == 2) {
		printf("proctrail-server %s\n", PROCTRAIL_VERSION);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "proctrail-server: %s\n", err);
		return 2;
	}
	log_set_verbose(cfg.verbose);
	return pt_server_run(&cfg) ? 1 : 0;
}
