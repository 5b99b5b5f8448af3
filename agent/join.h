/* `proctrail-agent --join BUNDLE [--etc DIR] [--spool-dir DIR] [--no-start]`: a fresh host
 * joins with one command. The bundle (include/proctrail/bundle.h) is checked, then DIR
 * (/etc/proctrail) receives ca.crt, agent.crt, agent.key (0600) and agent.conf, each written
 * atomically; under systemd the unit is then enabled and started. */
#ifndef PROCTRAIL_AGENT_JOIN_H
#define PROCTRAIL_AGENT_JOIN_H

#include <stdbool.h>

bool pt_join_wanted(int argc, char **argv);
/* A process exit status: 0 joined, 1 failed (nothing half-written is left in force), 2 usage. */
int pt_join_main(int argc, char **argv);

#endif
