/* `proctrail-agent --stdout`: the sensor's records as ECS JSON lines on standard output.
 * A line is committed (its ring space released) once write(2) took it, so a restarted agent
 * prints what the previous one had read but not yet printed. */
#ifndef PROCTRAIL_AGENT_STDOUT_H
#define PROCTRAIL_AGENT_STDOUT_H

#include "sensor.h"

/* Runs until SIGINT/SIGTERM or a write error. Returns a process exit status. */
int pt_stdout_main(const struct pt_sensor_config *cfg);

#endif
