/* The collector's own counters (refusals, drops, pauses) and the rate limit on the warnings an
 * attacker can provoke: both are how an operator sees an attack without the log drowning. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proctrail/log.h"
#include "server-int.h"

static const char *const counter_names[SRV_COUNTERS] = {
	[SRV_REFUSED_MAX_CONNECTIONS] = "refused-max-connections",
	[SRV_REFUSED_HANDSHAKES_FULL] = "refused-handshakes-full",
	[SRV_REFUSED_PER_ADDRESS] = "refused-per-address",
	[SRV_EVICTED_HANDSHAKES] = "evicted-handshakes",
	[SRV_HANDSHAKE_TIMEOUTS] = "handshake-timeouts",
	[SRV_HANDSHAKE_FAILED] = "handshake-failed",
	[SRV_REPLACED_PER_AGENT] = "replaced-per-agent",
	[SRV_FRAME_TIMEOUTS] = "frame-timeouts",
	[SRV_IDLE_TIMEOUTS] = "idle-timeouts",
	[SRV_ACCEPT_PAUSES] = "accept-pauses",
	[SRV_POLICY_UNSOLICITED] = "policy-answers-unsolicited",
};

void srv_stats_log(struct server *srv, int force)
{
	char line[1024];
	size_t off;
	int i, n;

	srv_log_flush(&srv->rl_refused);
	srv_log_flush(&srv->rl_handshake);
	srv_log_flush(&srv->rl_timeout);
	srv_log_flush(&srv->rl_accept);
	if (!force && !memcmp(srv->counters, srv->counters_logged, sizeof(srv->counters)) &&
	    srv->nestablished == srv->established_logged &&
	    srv->hs.n == srv->handshaking_logged)
		return;
	memcpy(srv->counters_logged, srv->counters, sizeof(srv->counters));
	srv->established_logged = srv->nestablished;
	srv->handshaking_logged = srv->hs.n;
	n = snprintf(line, sizeof(line), "counters: established=%u handshaking=%u",
		     srv->nestablished, srv->hs.n);
	off = n > 0 ? (size_t)n : 0;
	for (i = 0; i < SRV_COUNTERS && off < sizeof(line); i++) {
		n = snprintf(line + off, sizeof(line) - off, " %s=%" PRIu64, counter_names[i],
			     srv->counters[i]);
		off += n > 0 ? (size_t)n : 0;
	}
	log_info("%s", line);
}
