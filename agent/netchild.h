/* The network child (agent/netchild.c): the agent's TLS and frame decoding, in a process of
 * its own that holds no privilege. The agent starts one per connection (uplink_child.c) as
 *
 *   proctrail-agent --network-child --ca F --cert F --key F --user U --host H --name N
 *                   --timeout-ms N [-v]
 *
 * with the socketpair to the agent as descriptor 3 and the connected TCP socket as 4. */
#ifndef PROCTRAIL_AGENT_NETCHILD_H
#define PROCTRAIL_AGENT_NETCHILD_H

#include <stdbool.h>

#define PT_NETCHILD_FLAG      "--network-child"
#define PT_NETCHILD_PARENT_FD 3
#define PT_NETCHILD_TCP_FD    4

bool pt_netchild_wanted(int argc, char **argv);
/* Returns the process's exit status. */
int pt_netchild_main(int argc, char **argv);

#endif
