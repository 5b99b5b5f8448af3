/* SIGHUP: the configuration is parsed again (the same file and flags as at start) and what a
 * running collector can change is applied; a setting that needs a restart and differs is named
 * in the log and left as it was. A file that does not parse changes nothing. */
#include <stdio.h>
#include <string.h>

#include "proctrail/log.h"
#include "server-int.h"

/* Settings fixed once the collector serves: sockets, files, users, pools sized at start and
 * values sessions were created with. */
static void note_fixed(const struct pt_server_config *old, const struct pt_server_config *now)
{
	static const struct { const char *name; size_t off, len; } fixed[] = {
#define F(key, field) { key, offsetof(struct pt_server_config, field), \
			sizeof(((struct pt_server_config *)0)->field) }
		F("listen", listen), F("ca", ca), F("cert", cert), F("key", key), F("crl", crl),
		F("db", db), F("user", user), F("max-frame-bytes", lim.max_frame),
		F("window", lim.window), F("ping-interval", lim.ping_interval_ms),
		F("max-connections", max_connections), F("max-handshakes", max_handshakes),
		F("confine", confine), F("retention-days", retention_days),
		F("rules", rules), F("rules-upload", rules_upload),
#undef F
	};
	char names[512] = "";
	size_t i, off = 0;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!memcmp((const char *)old + fixed[i].off, (const char *)now + fixed[i].off,
			    fixed[i].len))
			continue;
		int n = snprintf(names + off, sizeof(names) - off, "%s%s", off ? ", " : "",
				 fixed[i].name);
		if (n > 0 && (size_t)n < sizeof(names) - off)
			off += (size_t)n;
	}
	if (off)
		log_warnx("SIGHUP: changed setting%s %s take%s effect only at restart",
			  strchr(names, ',') ? "s" : "", names, strchr(names, ',') ? "" : "s");
}

int srv_reload_config(struct server *srv)
{
	struct pt_server_config *live = &srv->live, fresh;
	char err[1024];
	struct timeval tv = { 0, 0 };
	int ret;

	ret = pt_server_config_parse(&fresh, live->argc, live->argv, err, sizeof(err));
	if (ret) {
		log_warnx("SIGHUP: configuration not reloaded: %s", ret < 0 ? err : "--help/--version");
		return ret < 0 ? ret : -EINVAL;
	}
	note_fixed(live, &fresh);
	/* Sessions read their limits through a pointer to live->lim: the new rates apply to every
	 * connection at its next frame. */
	live->lim.records_per_s = fresh.lim.records_per_s;
	live->lim.bytes_per_s = fresh.lim.bytes_per_s;
	live->lim.frames_per_s = fresh.lim.frames_per_s;
	live->max_per_agent = fresh.max_per_agent;
	live->max_handshakes_per_address = fresh.max_handshakes_per_address;
	live->frame_timeout_s = fresh.frame_timeout_s;
	srv->frame_timeout_ns = (uint64_t)fresh.frame_timeout_s * 1000000000ull;
	if (fresh.collect_interval_s != live->collect_interval_s) {
		live->collect_interval_s = fresh.collect_interval_s;
		tv.tv_sec = live->collect_interval_s;
		event_add(srv->collect_ev, &tv);
	}
	if (fresh.stats_interval_s != live->stats_interval_s) {
		live->stats_interval_s = fresh.stats_interval_s;
		event_del(srv->stats_ev);
		tv.tv_sec = live->stats_interval_s;
		if (tv.tv_sec)
			event_add(srv->stats_ev, &tv);
	}
	/* read at each chunk: a transfer under way follows the new values */
	live->sample_max_bytes = fresh.sample_max_bytes;
	live->sample_chunk_bytes = fresh.sample_chunk_bytes;
	live->verbose = fresh.verbose;
	log_set_verbose(live->verbose);
	log_info("SIGHUP: configuration reloaded: max-records-per-sec %llu, max-bytes-per-sec %llu, "
		 "max-frames-per-sec %llu, max-per-agent %u, max-handshakes-per-address %u, "
		 "frame-timeout %u, collect-interval %u, stats-interval %u, verbose %d",
		 (unsigned long long)live->lim.records_per_s,
		 (unsigned long long)live->lim.bytes_per_s,
		 (unsigned long long)live->lim.frames_per_s, live->max_per_agent,
		 live->max_handshakes_per_address, live->frame_timeout_s, live->collect_interval_s,
		 live->stats_interval_s, live->verbose);
	return 0;
}
