/* proctrail-agent's collector mode: sensor -> queue -> spool -> uplink.
 * Returns a process exit status; runs until SIGINT/SIGTERM. */
#ifndef PROCTRAIL_AGENT_COLLECTOR_MODE_H
#define PROCTRAIL_AGENT_COLLECTOR_MODE_H

#include <stdbool.h>

/* True when argv asks for collector mode (--collector or --config anywhere). */
bool pt_collector_mode_wanted(int argc, char **argv);
int pt_collector_mode_main(int argc, char **argv);

#endif
