/* The agent's control thread: SIGHUP (reload what can change while running), the service
 * manager's notifications, and the Prometheus textfile rewritten every metrics-interval-ms.
 *
 * SIGHUP must be blocked in every thread (pt_agent_control_block_signals() before any thread
 * starts) so that only this thread takes it, synchronously, outside a signal handler.
 *
 * Ownership: the control borrows the uplink, queue, spool and sensor (they outlive it) and
 * argv (main's); pt_agent_control_stop() joins the thread and is NULL-safe. */
#ifndef PROCTRAIL_AGENT_CONTROL_H
#define PROCTRAIL_AGENT_CONTROL_H

#include "config.h"
#include "queue.h"
#include "sensor.h"
#include "uplink.h"

struct pt_agent_control;

void pt_agent_control_block_signals(void);
/* cfg: the settings the agent started with (copied what is needed). 0 or -errno. */
int pt_agent_control_start(const struct pt_agent_config *cfg, int argc, char **argv,
			   struct pt_uplink *up, struct pt_queue *q, struct pt_spool *sp,
			   struct pt_sensor *s, struct pt_agent_control **out);
/* READY=1 / STOPPING=1 to the service manager (no-op without one). */
void pt_agent_control_ready(struct pt_agent_control *c);
void pt_agent_control_stopping(struct pt_agent_control *c);
void pt_agent_control_stop(struct pt_agent_control *c);

#endif
