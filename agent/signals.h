/* How the agent's modes stop: SIGINT and SIGTERM end the sensor's run loop, SIGPIPE is
 * ignored so a closed stdout or socket comes back as an error to handle, not a death. */
#ifndef PROCTRAIL_AGENT_SIGNALS_H
#define PROCTRAIL_AGENT_SIGNALS_H

struct pt_sensor;

/* Routes SIGINT/SIGTERM to pt_sensor_stop(s); NULL detaches (signals then do nothing). */
void pt_agent_stop_on_signals(struct pt_sensor *s);

#endif
