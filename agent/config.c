/* Collector-mode settings: one table maps each setting to its file key and its flag. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/log.h"
#include "proctrail/version.h"
#include "config.h"

enum kind { K_STR, K_U64, K_U32, K_BOOL, K_MODE, K_CODEC, K_COLLECTOR };

struct setting {
	const char *key;
	enum kind kind;
	size_t off;
	uint64_t min, max;
	const char *help;
};

#define OFF(f) offsetof(struct pt_agent_config, f)

static const struct setting settings[] = {
	{ "collector", K_COLLECTOR, 0, 0, 0, "HOST:PORT of a collector; repeat to fail over" },
	{ "ca", K_STR, OFF(uplink.ca), 0, 0, "deployment CA certificate (pinned)" },
	{ "cert", K_STR, OFF(uplink.cert), 0, 0, "this agent's certificate (its CN is its name)" },
	{ "key", K_STR, OFF(uplink.key), 0, 0, "this agent's private key" },
	{ "mode", K_MODE, OFF(uplink.mode), 0, 0, "stream (default) or pull: hold until COLLECT" },
	{ "spool-dir", K_STR, OFF(spool_dir), 0, 0, "spool directory (" PT_AGENT_SPOOL_DIR_DEFAULT ")" },
	{ "spool-max-bytes", K_U64, OFF(spool.max_bytes), PT_SPOOL_BYTES_MIN, 1ull << 40,
	  "bound on the spool's size; at the bound new records are refused and counted (1 GiB)" },
	{ "spool-segment-bytes", K_U64, OFF(spool.segment_bytes), 4096, PT_SPOOL_SEGMENT_MAX / 2,
	  "segment file size (8 MiB)" },
	{ "queue-max-bytes", K_U64, OFF(queue.max_bytes), 2 * (PT_SPOOL_REC_HDR_LEN + PT_RECORD_MAX),
	  1ull << 32, "memory for records on their way to the spool (8 MiB)" },
	{ "queue-delay-ms", K_U32, OFF(queue.max_delay_ms), 1, 60000,
	  "longest a record waits in memory before it is written to the spool (100)" },
	{ "fsync-ms", K_U32, OFF(queue.fsync_ms), 1, 60000, "group commit interval (200)" },
	{ "ack-sync-ms", K_U32, OFF(spool.ack_sync_ms), 1, 3600000,
	  "longest an acknowledged cursor waits to be saved; a crash resends at most that (1000)" },
	{ "allow-collect", K_BOOL, OFF(uplink.allow_collect), 0, 0, "obey COLLECT (yes)" },
	{ "allow-ping", K_BOOL, OFF(uplink.allow_ping), 0, 0, "answer PING with health (yes)" },
	{ "allow-policy", K_BOOL, OFF(uplink.allow_policy), 0, 0,
	  "accept POLICY: block execs by SHA-256 with fanotify (no)" },
	{ "policy-max-rules", K_U32, OFF(enforce.max_rules), 1, PT_POLICY_HASHES_MAX,
	  "a larger policy is refused whole and reported (65536)" },
	{ "policy-decide-ms", K_U32, OFF(enforce.decide_ms), 10, 60000,
	  "an exec undecided this long is allowed by the fail-open watchdog (1000)" },
	{ "policy-hash-max-bytes", K_U64, OFF(enforce.hash_max_bytes), 1, UINT64_MAX,
	  "larger executables are allowed unchecked under a policy, counted (268435456)" },
	{ "policy-allow-cache", K_BOOL, OFF(enforce.allow_cache), 0, 0,
	  "after an allow, an ignore mark spares the same unchanged file the next checks (yes)" },
	{ "policy-allow-cache-marks", K_U32, OFF(enforce.allow_cache_marks), 1, 1u << 20,
	  "allow marks held at most, all dropped at the bound (8192, at most max_user_marks/4)" },
	{ "hash-memfd", K_BOOL, OFF(enforce.hash_memfd), 0, 0,
	  "hash memfd execs before they run, with a fanotify mark on memfds only (yes)" },
	{ "allow-sample", K_BOOL, OFF(uplink.allow_sample), 0, 0,
	  "answer SAMPLE_GET: send a file this agent saw executed, by its SHA-256 (yes)" },
	{ "sample-max-bytes", K_U64, OFF(uplink.sample_max_bytes), 1, 1ull << 32,
	  "a larger executable is refused as a sample (67108864)" },
	{ "compress", K_CODEC, OFF(uplink.codec), 0, 0, "zstd (default) or none" },
	{ "batch-records", K_U32, OFF(uplink.batch_records), 1, PT_BATCH_RECORDS_MAX,
	  "records per batch (2048)" },
	{ "batch-bytes", K_U32, OFF(uplink.batch_bytes), 4096, 2u << 20, "record bytes per batch (1 MiB)" },
	{ "window", K_U32, OFF(uplink.window), 1, 64, "batches sent ahead of their ACK (8)" },
	{ "backoff-min-ms", K_U32, OFF(uplink.backoff_min_ms), 1, 3600000, "first reconnect delay (250)" },
	{ "backoff-max-ms", K_U32, OFF(uplink.backoff_max_ms), 1, 3600000, "longest reconnect delay (30000)" },
	{ "timeout-ms", K_U32, OFF(uplink.timeout_ms), 100, 3600000,
	  "connect, handshake, WELCOME and ACK timeout (30000)" },
	{ "network-child", K_BOOL, OFF(uplink.network_child), 0, 0,
	  "TLS and frame decoding in an unprivileged, confined process per connection (yes); "
	  "no: in the root agent" },
	{ "network-user", K_STR, OFF(uplink.network_user), 0, 0,
	  "the user that process runs as (" PT_UPLINK_NETWORK_USER ")" },
	{ "pin-dir", K_STR, OFF(sensor.pin_dir), 0, 0, "BPF pins (" PT_SENSOR_PIN_DIR ")" },
	{ "hash-workers", K_U32, OFF(sensor.hash_workers), 1, 64, "hashing threads (2)" },
	{ "hash-max-bytes", K_U64, OFF(sensor.hash_max_bytes), 1, UINT64_MAX,
	  "larger executables are not hashed (268435456)" },
	{ "poll-ms", K_U32, OFF(sensor.poll_ms), 1, 10000, "ring buffer polling interval (100)" },
	{ "ring-bytes", K_U64, OFF(sensor.ring_bytes), 4096, 1u << 30, "ring buffer size (16777216)" },
	{ "verbose", K_U32, OFF(verbose), 0, 3, "log level: 0 info, 1 verbose, 2 debug (0)" },
	{ "metrics-file", K_STR, OFF(metrics_file), 0, 0,
	  "Prometheus textfile, rewritten atomically (none)" },
	{ "metrics-interval-ms", K_U32, OFF(metrics_interval_ms), 100, 3600000,
	  "how often the metrics file is rewritten (15000)" },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

void pt_agent_config_usage(FILE *f)
{
	fprintf(f,
		"usage: proctrail-agent --collector HOST:PORT [--collector HOST:PORT ...] --ca CA.crt\n"
		"                       --cert agent.crt --key agent.key [--spool-dir DIR]\n"
		"                       [--mode stream|pull] [--config FILE] [options]\n"
		"Collector mode: records every exec and exit and delivers them over mutual TLS 1.3,\n"
		"through a durable spool; nothing is deleted before the collector acknowledged it.\n"
		"Every setting may be given in the --config file as `key = value` or as --key VALUE\n"
		"(flags win):\n");
	for (size_t i = 0; i < NSETTINGS; i++)
		fprintf(f, "  --%-22s %s\n", settings[i].key, settings[i].help);
	fprintf(f, "  --config FILE            settings file\n"
		   "  -v, --verbose            more logging (repeat for debug)\n"
		   "  --version                print the version and exit\n");
}

static int set(struct pt_agent_config *c, const struct setting *s, const char *val)
{
	char err[256];
	uint64_t v;
	int b, rc = 0;
	void *p = (char *)c + s->off;

	switch (s->kind) {
	case K_STR:
		*(const char **)p = val;
		break;
	case K_U64:
	case K_U32:
		rc = pt_conf_u64(s->key, val, s->min, s->max, &v, err, sizeof(err));
		if (rc == 0 && s->kind == K_U64)
			*(uint64_t *)p = v;
		else if (rc == 0)
			*(unsigned *)p = (unsigned)v;
		break;
	case K_BOOL:
		rc = pt_conf_bool(s->key, val, &b, err, sizeof(err));
		if (rc == 0)
			*(bool *)p = b;
		break;
	case K_MODE:
		if (!strcmp(val, "stream"))
			*(uint8_t *)p = PT_MODE_STREAM;
		else if (!strcmp(val, "pull"))
			*(uint8_t *)p = PT_MODE_PULL;
		else
			rc = -EINVAL, snprintf(err, sizeof(err), "mode: want stream or pull");
		break;
	case K_CODEC:
		if (!strcmp(val, "zstd"))
			*(uint8_t *)p = PT_CODEC_ZSTD;
		else if (!strcmp(val, "none"))
			*(uint8_t *)p = PT_CODEC_NONE;
		else
			rc = -EINVAL, snprintf(err, sizeof(err), "compress: want zstd or none");
		break;
	case K_COLLECTOR:
		if (c->uplink.n_collectors == PT_UPLINK_COLLECTORS_MAX) {
			rc = -EINVAL;
			snprintf(err, sizeof(err), "collector: at most %u", PT_UPLINK_COLLECTORS_MAX);
			break;
		}
		c->uplink.collectors[c->uplink.n_collectors++] = val;
		break;
	}
	if (rc)
		log_warnx("%s", err);
	return rc;
}

static const struct setting *find(const char *key)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].key, key))
			return &settings[i];
	return NULL;
}

int pt_agent_config_load(struct pt_agent_config *c, int argc, char **argv)
{
	const char *config = NULL;
	bool flag_collectors = false;

	memset(c, 0, sizeof(*c));
	pt_conf_init(&c->conf, "agent config");
	c->uplink.mode = PT_MODE_STREAM;
	c->uplink.codec = PT_CODEC_ZSTD;
	c->uplink.allow_collect = true;
	c->uplink.allow_ping = true;
	c->uplink.allow_sample = true;
	c->uplink.network_child = true;
	c->uplink.network_user = PT_UPLINK_NETWORK_USER;
	c->enforce.hash_memfd = true;
	c->enforce.allow_cache = true;
	c->spool_dir = PT_AGENT_SPOOL_DIR_DEFAULT;
	c->metrics_interval_ms = PT_AGENT_METRICS_INTERVAL_DEFAULT;

	/* First pass: --config, --help and verbosity, so the file loads before flags apply. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			pt_agent_config_usage(stdout);
			return 1;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("proctrail-agent %s\n", PROCTRAIL_VERSION);
			return 1;
		}
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			c->verbose++;
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--collector"))
			flag_collectors = true;
	}
	if (config) {
		char err[512];
		if (pt_conf_load(&c->conf, config, err, sizeof(err)) < 0) {
			log_warnx("%s", err);
			return -EINVAL;
		}
		for (size_t i = 0; i < c->conf.n; i++) {
			const struct setting *s = find(c->conf.v[i].key);
			if (!s) {
				log_warnx("%s:%u: unknown setting '%s'", config, c->conf.v[i].line,
					  c->conf.v[i].key);
				return -EINVAL;
			}
			/* Collectors on the command line replace the file's list. */
			if (s->kind == K_COLLECTOR && flag_collectors)
				continue;
			if (set(c, s, c->conf.v[i].value) < 0)
				return -EINVAL;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		/* argv[i] for i < argc is never NULL
		 * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			continue;
		if (!strcmp(a, "--config")) {
			i++;
			continue;
		}
		const char *eq = NULL;
		char key[64];
		if (strncmp(a, "--", 2) == 0) {
			eq = strchr(a + 2, '=');
			size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			if (kl >= sizeof(key))
				kl = sizeof(key) - 1;
			memcpy(key, a + 2, kl);
			key[kl] = '\0';
		}
		const struct setting *s = strncmp(a, "--", 2) == 0 ? find(key) : NULL;
		if (!s) {
			log_warnx("unknown option '%s' (see --help)", a);
			return -EINVAL;
		}
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!val) {
			log_warnx("option --%s needs a value", key);
			return -EINVAL;
		}
		if (set(c, s, val) < 0)
			return -EINVAL;
	}
	if (!c->uplink.n_collectors || !c->uplink.ca || !c->uplink.cert || !c->uplink.key) {
		log_warnx("collector mode needs --collector, --ca, --cert and --key (see --help)");
		return -EINVAL;
	}
	c->spool.dir = c->spool_dir;
	return 0;
}

void pt_agent_config_free(struct pt_agent_config *c)
{
	if (c)
		pt_conf_free(&c->conf);
}
