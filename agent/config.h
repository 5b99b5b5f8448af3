/* proctrail-agent's collector-mode settings: a `key = value` file (--config, parsed by
 * lib/util/conf.c) overridden by flags of the same names (--KEY VALUE).
 *
 * Ownership: struct pt_agent_config keeps pointers into the pt_conf it was loaded from and into
 * argv; both must outlive it. pt_agent_config_free() releases the pt_conf (NULL-safe). */
#ifndef PROCTRAIL_AGENT_CONFIG_H
#define PROCTRAIL_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "proctrail/conf.h"
#include "proctrail/spool.h"
#include "queue.h"
#include "sensor.h"
#include "uplink.h"
#include "enforce.h"

struct pt_agent_config {
	struct pt_conf conf;
	const char *spool_dir;
	struct pt_spool_opts spool;
	struct pt_queue_opts queue;
	struct pt_uplink_opts uplink;
	struct pt_sensor_config sensor;
	struct pt_enforce_opts enforce;
	const char *metrics_file;      /* Prometheus textfile; NULL: none */
	unsigned metrics_interval_ms;
	int verbose;
};

#define PT_AGENT_SPOOL_DIR_DEFAULT "/var/lib/proctrail/spool"
#define PT_AGENT_METRICS_INTERVAL_DEFAULT 15000u

/* Parses argv (from argv[1]) and the --config file. Returns 0, 1 when --help was asked (usage
 * printed), or -EINVAL with the reason logged. */
int pt_agent_config_load(struct pt_agent_config *c, int argc, char **argv);
void pt_agent_config_free(struct pt_agent_config *c);
void pt_agent_config_usage(FILE *f);

#endif
