/* The collector process: TLS listener, connections, timers, signals, writer thread. */
#ifndef PROCTRAIL_SERVER_SERVER_H
#define PROCTRAIL_SERVER_SERVER_H

#include "config.h"

/* Runs until SIGTERM/SIGINT. Returns 0 or -errno (the reason already logged). */
int pt_server_run(const struct pt_server_config *cfg);

#endif
