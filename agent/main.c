/* proctrail-agent: option table and mode dispatch. Mode code lives in its own file
 * (stdout.c, ...); this file only parses and chooses. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/conf.h"
#include "proctrail/log.h"
#include "proctrail/version.h"
#include "collector_mode.h"
#include "join.h"
#include "netchild.h"
#include "sensor.h"
#include "stdout.h"

enum mode { MODE_NONE, MODE_STDOUT, MODE_UNINSTALL, MODE_HELP, MODE_VERSION };

enum {
	OPT_STDOUT = 256, OPT_UNINSTALL, OPT_PIN_DIR, OPT_HASH_WORKERS, OPT_HASH_MAX,
	OPT_POLL_MS, OPT_RING_BYTES, OPT_HASH_TIMEOUT, OPT_VERSION,
	/* collector mode options (--config, --collector, ...) go here */
};

static const struct option options[] = {
	{ "stdout",         no_argument,       NULL, OPT_STDOUT },
	{ "uninstall",      no_argument,       NULL, OPT_UNINSTALL },
	{ "pin-dir",        required_argument, NULL, OPT_PIN_DIR },
	{ "hash-workers",   required_argument, NULL, OPT_HASH_WORKERS },
	{ "hash-max-bytes", required_argument, NULL, OPT_HASH_MAX },
	{ "poll-ms",        required_argument, NULL, OPT_POLL_MS },
	{ "ring-bytes",     required_argument, NULL, OPT_RING_BYTES },
	{ "hash-timeout-ms", required_argument, NULL, OPT_HASH_TIMEOUT },
	{ "verbose",        no_argument,       NULL, 'v' },
	{ "help",           no_argument,       NULL, 'h' },
	{ "version",        no_argument,       NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: proctrail-agent --stdout [options]    print every exec and exit as ECS JSON lines\n"
		"       proctrail-agent --uninstall [--pin-dir DIR]   detach the BPF programs, remove the pins\n"
		"       proctrail-agent --collector HOST:PORT --ca CA.crt --cert agent.crt --key agent.key\n"
		"                       [--spool-dir DIR] [--mode stream|pull] [--config FILE]\n"
		"                       deliver to a collector (--config FILE --help: every setting)\n"
		"       proctrail-agent --join BUNDLE [--etc DIR] [--spool-dir DIR] [--no-start]\n"
		"                       join: write the bundle's certificate and agent.conf, start\n"
		"       proctrail-agent --help\n"
		"options:\n"
		"  --pin-dir DIR          BPF pins (default " PT_SENSOR_PIN_DIR ")\n"
		"  --hash-workers N       hashing threads (default 2)\n"
		"  --hash-max-bytes N     larger executables are not hashed (default 268435456)\n"
		"  --poll-ms N            ring buffer polling interval (default 100)\n"
		"  --ring-bytes N         ring buffer size, a power of two (default 16777216)\n"
		"  --hash-timeout-ms N    an exec waits at most this for its hash (default 10000)\n"
		"  -v, --verbose          more logging (repeat for debug)\n"
		"  --version              print the version and exit\n");
}

int main(int argc, char **argv)
{
	struct pt_sensor_config cfg = { 0 };
	enum mode mode = MODE_NONE;
	int verbose = 0, c, err;
	char msg[256];
	uint64_t v;

	if (pt_netchild_wanted(argc, argv))
		return pt_netchild_main(argc, argv);
	if (pt_join_wanted(argc, argv))
		return pt_join_main(argc, argv);
	if (pt_collector_mode_wanted(argc, argv))
		return pt_collector_mode_main(argc, argv);
	while ((c = getopt_long(argc, argv, "vh", options, NULL)) != -1) {
		err = 0;
		switch (c) {
		case OPT_STDOUT:    mode = MODE_STDOUT; break;
		case OPT_UNINSTALL: mode = MODE_UNINSTALL; break;
		case OPT_PIN_DIR:   cfg.pin_dir = optarg; break;
		case OPT_HASH_WORKERS:
			err = pt_conf_u64("--hash-workers", optarg, 0, 64, &v, msg, sizeof(msg));
			cfg.hash_workers = (unsigned)v;
			break;
		case OPT_HASH_MAX:
			err = pt_conf_u64("--hash-max-bytes", optarg, 0, UINT64_MAX, &v, msg, sizeof(msg));
			cfg.hash_max_bytes = v;
			break;
		case OPT_POLL_MS:
			err = pt_conf_u64("--poll-ms", optarg, 0, 10000, &v, msg, sizeof(msg));
			cfg.poll_ms = (unsigned)v;
			break;
		case OPT_RING_BYTES:
			err = pt_conf_u64("--ring-bytes", optarg, 0, 1u << 30, &v, msg, sizeof(msg));
			cfg.ring_bytes = v;
			break;
		case OPT_HASH_TIMEOUT:
			err = pt_conf_u64("--hash-timeout-ms", optarg, 0, 3600000, &v, msg, sizeof(msg));
			cfg.hash_timeout_ms = (unsigned)v;
			break;
		case 'v':           verbose++; break;
		case 'h':           mode = MODE_HELP; break;
		case OPT_VERSION:   mode = MODE_VERSION; break;
		default:
			usage(stderr);
			return 2;
		}
		if (err) {
			fprintf(stderr, "proctrail-agent: %s\n", msg);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	log_init("proctrail-agent", verbose);

	switch (mode) {
	case MODE_HELP:
		usage(stdout);
		return 0;
	case MODE_VERSION:
		printf("proctrail-agent %s\n", PROCTRAIL_VERSION);
		return 0;
	case MODE_STDOUT:
		return pt_stdout_main(&cfg);
	case MODE_UNINSTALL:
		err = pt_sensor_uninstall(cfg.pin_dir);
		if (err) {
			log_warnx("uninstall: %s", strerror(-err));
			return 1;
		}
		return 0;
	case MODE_NONE:
		/* collector mode (the default once delivery exists) is dispatched here */
		break;
	}
	usage(stderr);
	return 2;
}
