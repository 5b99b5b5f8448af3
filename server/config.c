#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/conf.h"
#include "config.h"
#include "store_pg.h"

void pt_server_usage(FILE *f)
{
	fprintf(f,
"usage: proctrail-server [options]\n"
"\n"
"Collects proctrail agents' records over mutual TLS 1.3 into SQLite.\n"
"Every option can also be set in the --config file as `name = value` (without the dashes).\n"
"\n"
"  --config FILE              configuration file\n"
"  --home DIR                 deployment directory (default $PROCTRAIL_HOME or ./var);\n"
"                             sets the defaults of the paths below\n"
"  --listen ADDR:PORT         default 127.0.0.1:7443\n"
"  --ca FILE                  CA agents must chain to (HOME/pki/ca.crt)\n"
"  --cert FILE --key FILE     collector certificate and key (HOME/pki/server.{crt,key})\n"
"  --crl FILE                 revocation list, reloaded when it changes and on SIGHUP\n"
"                             (HOME/pki/crl.pem; `none` disables the check)\n"
"  --db FILE|URL              SQLite database (HOME/proctrail.db), or a PostgreSQL URL\n"
"                             (postgresql://USER@HOST/DB?host=/run/postgresql ...;\n"
"                             docs/operations.md); with PostgreSQL the API reads events,\n"
"                             trees, binaries and agents; policies, samples, rules and\n"
"                             alerts need SQLite for now (they answer 501)\n"
"  --retention-days N         PostgreSQL: drop each day's events partition after N days\n"
"                             (0, the default: keep everything)\n"
"  --rules DIR                Sigma process_creation rules evaluated on every stored exec\n"
"                             (docs/detection.md); reloaded on SIGHUP, each refused\n"
"                             file logged with its reason\n"
"  --rules-upload yes|no      let admin operators put and delete rule files in the\n"
"                             --rules directory through the API (needs --api; the\n"
"                             directory is then writable for the collector) (no)\n"
"  --check-rules DIR          print which rules of DIR load (Markdown) and exit\n"
"  --api ADDR:PORT            serve the HTTP API (docs/api.md) over TLS with the collector's\n"
"                             certificate on this address (default: off)\n"
"  --operators FILE           the API's operators and token hashes, re-read when it\n"
"                             changes (HOME/pki/operators.tsv; `proctrail pki operator`)\n"
"  --user USER                drop to this user after binding when started as root\n"
"                             (default proctrail)\n"
"  --max-frame-bytes N        per-agent frame limit (default 4194304)\n"
"  --max-records-per-sec N    per-agent rate, 0 = unlimited (default 100000)\n"
"  --max-bytes-per-sec N      per-agent rate, 0 = unlimited (default 67108864);\n"
"                             a BATCH counts with its body decompressed\n"
"  --max-frames-per-sec N     per-agent rate of frames of any type, 0 = unlimited\n"
"                             (default 1000)\n"
"  --window N                 batches per connection in the writer at once (default 8)\n"
"  --ping-interval SEC        PING period; 3 missed make an agent stale (default 10)\n"
"  --collect-interval SEC     COLLECT period for pull-mode agents (default 60)\n"
"  --max-connections N        established agent connections (default 10000; lowered\n"
"                             to fit RLIMIT_NOFILE, see proctrail-server(8))\n"
"  --max-handshakes N         connections still in the TLS handshake (default 128);\n"
"                             when full, an address holding more places than the\n"
"                             newcomer's gives up its oldest one\n"
"  --max-handshakes-per-address N\n"
"                             of those, from one source address (default 32, 0 = no cap)\n"
"  --max-per-agent N          connections of one agent certificate; a newer one replaces\n"
"                             the oldest (default 4, 0 = no cap)\n"
"  --frame-timeout SEC        a frame's last byte must follow its first within this\n"
"                             (default 30)\n"
"  --stats-interval SEC       log the collector's counters this often when they changed,\n"
"                             0 = only at exit (default 60)\n"
"  --sample-max-bytes N       a larger sample fetched from an agent is refused (67108864)\n"
"  --sample-chunk-bytes N     bytes asked for in one SAMPLE_GET, 4096..262144 (262144)\n"
"  --confine yes|no           once listening with the database open, confine the process:\n"
"                             Landlock (database directory read-write, CA/CRL directory\n"
"                             read-only, no TCP bind/connect), seccomp, no_new_privs (yes)\n"
"  -v, --verbose              more logging\n"
"  --version                  print the version and exit\n"
"  -h, --help                 this text\n"
"\n"
"Signals: SIGHUP re-reads the configuration (what can change while serving) and reloads\n"
"the CA, the CRL and the rules, SIGUSR1 sends COLLECT to pull-mode agents now,\n"
"SIGTERM/SIGINT stop after committing and acknowledging what was received.\n");
}

static int set_path(char *dst, const char *key, const char *v, char *err, size_t errlen)
{
	if (snprintf(dst, PT_SERVER_PATH_MAX, "%s", v) >= PT_SERVER_PATH_MAX) {
		snprintf(err, errlen, "%s: path too long", key);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int defaults(struct pt_server_config *c, const char *home, char *err, size_t errlen)
{
	char p[PT_SERVER_PATH_MAX];
	static const struct { const char *rel; size_t off; } paths[] = {
		{ "pki/ca.crt", offsetof(struct pt_server_config, ca) },
		{ "pki/server.crt", offsetof(struct pt_server_config, cert) },
		{ "pki/server.key", offsetof(struct pt_server_config, key) },
		{ "pki/crl.pem", offsetof(struct pt_server_config, crl) },
		{ "proctrail.db", offsetof(struct pt_server_config, db) },
		{ "pki/operators.tsv", offsetof(struct pt_server_config, operators) },
	};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (snprintf(p, sizeof(p), "%s/%s", home, paths[i].rel) >= (int)sizeof(p)) {
			snprintf(err, errlen, "home directory path too long");
			return -ENAMETOOLONG;
		}
		memcpy((char *)c + paths[i].off, p, strlen(p) + 1);
	}
	return 0;
}

static int apply(struct pt_server_config *c, const char *key, const char *v, char *err,
		 size_t errlen)
{
	uint64_t n;
	int ret;

	if (!strcmp(key, "listen")) {
		if (snprintf(c->listen, sizeof(c->listen), "%s", v) >= (int)sizeof(c->listen))
			return snprintf(err, errlen, "listen: too long"), -EINVAL;
		return 0;
	}
	if (!strcmp(key, "ca"))
		return set_path(c->ca, key, v, err, errlen);
	if (!strcmp(key, "cert"))
		return set_path(c->cert, key, v, err, errlen);
	if (!strcmp(key, "key"))
		return set_path(c->key, key, v, err, errlen);
	if (!strcmp(key, "crl"))
		return set_path(c->crl, key, strcmp(v, "none") ? v : "", err, errlen);
	if (!strcmp(key, "db"))
		return set_path(c->db, key, v, err, errlen);
	if (!strcmp(key, "rules"))
		return set_path(c->rules, key, v, err, errlen);
	if (!strcmp(key, "operators"))
		return set_path(c->operators, key, v, err, errlen);
	if (!strcmp(key, "api")) {
		if (snprintf(c->api, sizeof(c->api), "%s", v) >= (int)sizeof(c->api))
			return snprintf(err, errlen, "api: too long"), -EINVAL;
		return 0;
	}
	if (!strcmp(key, "user")) {
		if (snprintf(c->user, sizeof(c->user), "%s", v) >= (int)sizeof(c->user))
			return snprintf(err, errlen, "user: too long"), -EINVAL;
		return 0;
	}
	if (!strcmp(key, "max-frame-bytes")) {
		ret = pt_conf_u64(key, v, 4096, PT_FRAME_MAX, &n, err, errlen);
		c->lim.max_frame = (uint32_t)n;
	} else if (!strcmp(key, "max-records-per-sec")) {
		ret = pt_conf_u64(key, v, 0, 1ull << 40, &c->lim.records_per_s, err, errlen);
	} else if (!strcmp(key, "max-bytes-per-sec")) {
		ret = pt_conf_u64(key, v, 0, 1ull << 50, &c->lim.bytes_per_s, err, errlen);
		if (!ret && c->lim.bytes_per_s && c->lim.bytes_per_s < PT_FRAME_MAX) {
			snprintf(err, errlen, "%s: at least %u (one largest frame) or 0", key,
				 PT_FRAME_MAX);
			ret = -ERANGE;
		}
	} else if (!strcmp(key, "max-frames-per-sec")) {
		ret = pt_conf_u64(key, v, 0, 1ull << 32, &c->lim.frames_per_s, err, errlen);
	} else if (!strcmp(key, "window")) {
		ret = pt_conf_u64(key, v, 1, 1024, &n, err, errlen);
		c->lim.window = (uint32_t)n;
	} else if (!strcmp(key, "ping-interval")) {
		ret = pt_conf_u64(key, v, 1, 3600, &n, err, errlen);
		c->lim.ping_interval_ms = (uint32_t)n * 1000;
	} else if (!strcmp(key, "collect-interval")) {
		ret = pt_conf_u64(key, v, 1, 86400, &n, err, errlen);
		c->collect_interval_s = (unsigned)n;
	} else if (!strcmp(key, "max-connections")) {
		ret = pt_conf_u64(key, v, 1, 1000000, &n, err, errlen);
		c->max_connections = (unsigned)n;
	} else if (!strcmp(key, "sample-max-bytes")) {
		ret = pt_conf_u64(key, v, 1, 1ull << 40, &c->sample_max_bytes, err, errlen);
	} else if (!strcmp(key, "sample-chunk-bytes")) {
		ret = pt_conf_u64(key, v, 4096, PT_SAMPLE_CHUNK_MAX, &n, err, errlen);
		c->sample_chunk_bytes = (uint32_t)n;
	} else if (!strcmp(key, "rules-upload")) {
		ret = pt_conf_bool(key, v, &c->rules_upload, err, errlen);
	} else if (!strcmp(key, "confine")) {
		ret = pt_conf_bool(key, v, &c->confine, err, errlen);
	} else if (!strcmp(key, "max-handshakes")) {
		ret = pt_conf_u64(key, v, 1, 1000000, &n, err, errlen);
		c->max_handshakes = (unsigned)n;
	} else if (!strcmp(key, "max-handshakes-per-address")) {
		ret = pt_conf_u64(key, v, 0, 1000000, &n, err, errlen);
		c->max_handshakes_per_address = (unsigned)n;
	} else if (!strcmp(key, "max-per-agent")) {
		ret = pt_conf_u64(key, v, 0, 1000000, &n, err, errlen);
		c->max_per_agent = (unsigned)n;
	} else if (!strcmp(key, "frame-timeout")) {
		ret = pt_conf_u64(key, v, 1, 3600, &n, err, errlen);
		c->frame_timeout_s = (unsigned)n;
	} else if (!strcmp(key, "retention-days")) {
		ret = pt_conf_u64(key, v, 0, 100000, &n, err, errlen);
		c->retention_days = (unsigned)n;
	} else if (!strcmp(key, "stats-interval")) {
		ret = pt_conf_u64(key, v, 0, 86400, &n, err, errlen);
		c->stats_interval_s = (unsigned)n;
	} else if (!strcmp(key, "verbose")) {
		ret = pt_conf_bool(key, v, &c->verbose, err, errlen);
	} else {
		snprintf(err, errlen, "unknown setting '%s'", key);
		ret = -EINVAL;
	}
	return ret;
}

int pt_server_config_parse(struct pt_server_config *c, int argc, char **argv, char *err,
			   size_t errlen)
{
	const char *home = getenv("PROCTRAIL_HOME"), *config = NULL, *conf_home;
	int home_flag = 0;
	struct pt_conf conf;
	size_t i;
	int a, ret;

	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:7443");
	snprintf(c->user, sizeof(c->user), "proctrail");
	c->lim = (struct pt_session_limits){
		.max_frame = PT_FRAME_MAX, .records_per_s = 100000, .bytes_per_s = 64u << 20,
		.window = 8, .ping_interval_ms = 10000, .frames_per_s = 1000,
	};
	c->collect_interval_s = 60;
	c->max_connections = 10000;
	c->confine = 1;
	c->sample_max_bytes = 64ull << 20;
	c->sample_chunk_bytes = PT_SAMPLE_CHUNK_MAX;
	c->max_handshakes = 128;
	c->max_handshakes_per_address = 32;
	c->max_per_agent = 4;
	c->frame_timeout_s = 30;
	c->stats_interval_s = 60;
	/* --home and --config first: they decide the defaults the other flags override. */
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help"))
			return 1;
		if (!strcmp(argv[a], "--version"))
			return 2;
		if (!strcmp(argv[a], "--home") && a + 1 < argc) {
			home = argv[++a];
			home_flag = 1;
		}
		else if (!strcmp(argv[a], "--config") && a + 1 < argc)
			config = argv[++a];
	}
	if ((ret = defaults(c, home && *home ? home : "./var", err, errlen)))
		return ret;
	c->argc = argc;
	c->argv = argv;
	if (config && (ret = set_path(c->config, "config", config, err, errlen)))
		return ret;
	if (config) {
		pt_conf_init(&conf, config);
		if ((ret = pt_conf_load(&conf, config, err, errlen)))
			return ret;
		/* The file's home sets the path defaults, unless --home was given. */
		conf_home = pt_conf_get(&conf, "home");
		if (conf_home && !home_flag && (ret = defaults(c, conf_home, err, errlen))) {
			pt_conf_free(&conf);
			return ret;
		}
		for (i = 0; i < conf.n && !ret; i++) {
			if (!strcmp(conf.v[i].key, "home"))
				continue;
			ret = apply(c, conf.v[i].key, conf.v[i].value, err, errlen);
			if (ret) {
				char why[256];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "%s:%u: %s", config, conf.v[i].line, why);
			}
		}
		pt_conf_free(&conf);
		if (ret)
			return ret;
	}
	for (a = 1; a < argc; a++) {
		const char *arg = argv[a];

		/* argv[a] for a < argc is never NULL
		 * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
		if (!strcmp(arg, "-v") || !strcmp(arg, "--verbose")) {
			c->verbose++;
			continue;
		}
		if (strncmp(arg, "--", 2) || a + 1 >= argc) {
			snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
			return -EINVAL;
		}
		a++;
		if (!strcmp(arg, "--home") || !strcmp(arg, "--config"))
			continue;
		if ((ret = apply(c, arg + 2, argv[a], err, errlen)))
			return ret;
	}
	/* Alerts live in the SQLite store's alerts table: rules whose alerts nobody stores are
	 * refused rather than evaluated for nothing. */
	if (pt_store_is_pg_url(c->db) && c->rules[0]) {
		snprintf(err, errlen, "--rules is not available with a PostgreSQL --db yet (alerts are"
			 " stored in SQLite only)");
		return -EINVAL;
	}
	if (c->lim.bytes_per_s && c->lim.bytes_per_s < c->lim.max_frame) {
		snprintf(err, errlen, "max-bytes-per-sec must be at least max-frame-bytes");
		return -EINVAL;
	}
	return 0;
}
