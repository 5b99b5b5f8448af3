#include <signal.h>
#include <stddef.h>

#include "sensor.h"
#include "signals.h"

static struct pt_sensor *volatile stop_target;

static void on_signal(int sig)
{
	struct pt_sensor *s = stop_target;

	(void)sig;
	if (s)
		pt_sensor_stop(s);
}

void pt_agent_stop_on_signals(struct pt_sensor *s)
{
	struct sigaction sa = { 0 };

	stop_target = s;
	if (!s)
		return;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
