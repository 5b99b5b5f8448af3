/* SIGHUP, sd_notify and the metrics textfile, on one thread that waits for SIGHUP with the
 * metrics interval as its timeout. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proctrail/log.h"
#include "proctrail/sdnotify.h"
#include "control.h"
#include "metrics.h"

struct pt_agent_control {
	int argc;
	char **argv;
	struct pt_uplink *up;
	struct pt_queue *q;
	struct pt_spool *sp;
	struct pt_sensor *s;
	char agent[96];
	char *metrics_file;               /* owned; NULL: none */
	unsigned interval_ms;
	struct pt_agent_config started;   /* for "needs a restart" comparisons */
	struct pt_sd_notify notify;
	volatile int stop;
	pthread_t thr;
	bool running;
	uint64_t reloads, reload_failures;
	bool metrics_warned;
};

void pt_agent_control_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void add_name(char *list, size_t n, const char *name)
{
	size_t len = strlen(list);

	snprintf(list + len, n - len, " %s", name);
}

static int str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b));
}

static int write_metrics(struct pt_agent_control *c)
{
	struct pt_agent_metrics_src m = { .agent = c->agent, .policy_version = -1 };
	struct pt_buf b;
	char tmp[4200];
	int fd = -1, ret;
	size_t off = 0;

	pt_sensor_stats(c->s, &m.sensor);
	m.queue_depth = pt_queue_depth(c->q);
	m.queue_accepted = pt_queue_events(c->q);
	pt_queue_counters(c->q, m.loss);
	pt_spool_get_stats(c->sp, &m.spool);
	m.next_seq = pt_spool_next_seq(c->sp);
	m.acked_seq = pt_spool_acked_seq(c->sp);
	pt_uplink_get_stats(c->up, &m.up);
	m.reloads = c->reloads;
	m.reload_failures = c->reload_failures;
	pt_buf_init(&b, PT_AGENT_METRICS_MAX);
	if ((ret = pt_agent_metrics_format(&b, &m)))
		goto out;
	/* Readers (node_exporter's textfile collector) see the old file or the new, never half. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", c->metrics_file) >= (int)sizeof(tmp)) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			goto out;
		}
		off += (size_t)w;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, c->metrics_file) < 0)
		ret = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (ret && !c->metrics_warned)
		log_warnx("metrics file %s: %s (said once)", c->metrics_file, strerror(-ret));
	c->metrics_warned = ret != 0;
	pt_buf_free(&b);
	return ret;
}

/* SIGHUP: the same file and flags parsed again. Applied: verbosity, the metrics file and
 * interval, the CA, certificate and key (from the next connection). The rest needs a
 * restart, and a changed value is named in the log. */
static void reload(struct pt_agent_control *c)
{
	struct pt_agent_config fresh;
	char err[512], fixed[256] = "";
	const struct pt_agent_config *o = &c->started;
	int rc;

	pt_sd_notify_reloading(&c->notify);
	rc = pt_agent_config_load(&fresh, c->argc, c->argv);
	if (rc) {
		c->reload_failures++;
		log_warnx("SIGHUP: configuration not reloaded (see above); running with the old one");
		goto out;
	}
	log_set_verbose(fresh.verbose);
	rc = pt_uplink_reload_tls(c->up, fresh.uplink.ca, fresh.uplink.cert, fresh.uplink.key, err,
				  sizeof(err));
	if (rc)
		log_warnx("SIGHUP: TLS settings not reloaded: %s", err);
	free(c->metrics_file);
	c->metrics_file = fresh.metrics_file ? strdup(fresh.metrics_file) : NULL;
	c->interval_ms = fresh.metrics_interval_ms;
	if (str_differs(o->spool_dir, fresh.spool_dir))
		add_name(fixed, sizeof(fixed), "spool-dir");
	if (str_differs(o->sensor.pin_dir, fresh.sensor.pin_dir))
		add_name(fixed, sizeof(fixed), "pin-dir");
	if (o->uplink.mode != fresh.uplink.mode)
		add_name(fixed, sizeof(fixed), "mode");
	if (o->uplink.network_child != fresh.uplink.network_child)
		add_name(fixed, sizeof(fixed), "network-child");
	if (str_differs(o->uplink.network_user, fresh.uplink.network_user))
		add_name(fixed, sizeof(fixed), "network-user");
	if (o->uplink.n_collectors != fresh.uplink.n_collectors)
		add_name(fixed, sizeof(fixed), "collector");
	else
		for (unsigned i = 0; i < o->uplink.n_collectors; i++)
			if (str_differs(o->uplink.collectors[i], fresh.uplink.collectors[i])) {
				add_name(fixed, sizeof(fixed), "collector");
				break;
			}
	if (fixed[0])
		log_warnx("SIGHUP: changed:%s; these take effect only at restart", fixed);
	c->reloads++;
	log_info("SIGHUP: configuration reloaded (verbosity, metrics file, CA/certificate/key%s)",
		 rc ? " refused" : " for the next connection");
	pt_agent_config_free(&fresh);
out:
	pt_sd_notify(&c->notify, "READY=1");
}

static void *control_main(void *arg)
{
	struct pt_agent_control *c = arg;
	uint64_t waited_ms = 0;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	while (!c->stop) {
		unsigned ms = c->metrics_file ? c->interval_ms : 1000;
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

		/* Short waits so stop is seen within 200 ms whatever the interval. */
		if (ms > 200)
			ts = (struct timespec){ 0, 200000000L };
		if (sigtimedwait(&set, NULL, &ts) == SIGHUP) {
			reload(c);
			if (c->metrics_file)
				write_metrics(c);
			continue;
		}
		waited_ms += ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
		if (waited_ms >= ms) {
			waited_ms = 0;
			if (c->metrics_file)
				write_metrics(c);
		}
	}
	return NULL;
}

int pt_agent_control_start(const struct pt_agent_config *cfg, int argc, char **argv,
			   struct pt_uplink *up, struct pt_queue *q, struct pt_spool *sp,
			   struct pt_sensor *s, struct pt_agent_control **out)
{
	struct pt_agent_control *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->argc = argc;
	c->argv = argv;
	c->up = up;
	c->q = q;
	c->sp = sp;
	c->s = s;
	c->started = *cfg;          /* pointers into main's config, which outlives the thread */
	c->interval_ms = cfg->metrics_interval_ms;
	pt_uplink_agent_name(up, c->agent, sizeof(c->agent));
	if (cfg->metrics_file && !(c->metrics_file = strdup(cfg->metrics_file))) {
		free(c);
		return -ENOMEM;
	}
	if ((rc = pt_sd_notify_open(&c->notify)))
		log_warnx("NOTIFY_SOCKET: %s; the service manager will not hear READY=1",
			  strerror(-rc));
	if (c->metrics_file)
		write_metrics(c);
	if ((rc = pthread_create(&c->thr, NULL, control_main, c))) {
		pt_sd_notify_close(&c->notify);
		free(c->metrics_file);
		free(c);
		return -rc;
	}
	c->running = true;
	*out = c;
	return 0;
}

void pt_agent_control_ready(struct pt_agent_control *c)
{
	if (c)
		pt_sd_notify(&c->notify, "READY=1");
}

void pt_agent_control_stopping(struct pt_agent_control *c)
{
	if (c)
		pt_sd_notify(&c->notify, "STOPPING=1");
}

void pt_agent_control_stop(struct pt_agent_control *c)
{
	if (!c)
		return;
	c->stop = 1;
	if (c->running)
		pthread_join(c->thr, NULL);
	/* The last figures, after everything was spooled: what an operator sees after a stop. */
	if (c->metrics_file)
		write_metrics(c);
	pt_sd_notify_close(&c->notify);
	free(c->metrics_file);
	free(c);
}
