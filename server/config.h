/* proctrail-server settings: defaults, then the configuration file, then flags. */
#ifndef PROCTRAIL_SERVER_CONFIG_H
#define PROCTRAIL_SERVER_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "session.h"

#define PT_SERVER_PATH_MAX 1024

struct pt_server_config {
	char listen[256];          /* address:port */
	char ca[PT_SERVER_PATH_MAX], cert[PT_SERVER_PATH_MAX], key[PT_SERVER_PATH_MAX];
	char crl[PT_SERVER_PATH_MAX], db[PT_SERVER_PATH_MAX];
	char rules[PT_SERVER_PATH_MAX];   /* Sigma rule directory, "" none */
	int rules_upload;          /* the API may write and delete rule files in it (default 0) */
	char user[64];
	char api[256];             /* ADDRESS:PORT of the HTTP API; empty: off */
	char operators[PT_SERVER_PATH_MAX];   /* the API's operators.tsv */
	struct pt_session_limits lim;
	unsigned collect_interval_s;
	unsigned max_connections;     /* established (authenticated) connections */
	unsigned max_handshakes;      /* connections still in the TLS handshake, all addresses */
	unsigned max_handshakes_per_address;  /* of those, from one source address; 0: no cap */
	unsigned max_per_agent;       /* established connections of one certificate; 0: no cap */
	unsigned frame_timeout_s;     /* first byte of a frame to its last */
	unsigned stats_interval_s;    /* collector counters logged this often when they change */
	unsigned retention_days;      /* PostgreSQL partitions kept; 0: all */
	uint64_t sample_max_bytes;    /* a larger sample is refused */
	uint32_t sample_chunk_bytes;  /* asked for in one SAMPLE_GET */
	int confine;               /* Landlock + seccomp + no_new_privs after setup (default 1) */
	int verbose;
	/* What was parsed, so SIGHUP can parse it again (reload.c): argv is main()'s. */
	char config[PT_SERVER_PATH_MAX];   /* the --config file; "" when none */
	int argc;
	char **argv;
};

/* Parses argv (and the --config file it names). Returns 0, 1 when --help was asked for, 2 for
 * --version, or -errno with the reason in err. */
int pt_server_config_parse(struct pt_server_config *c, int argc, char **argv, char *err,
			   size_t errlen);
void pt_server_usage(FILE *f);

#endif
