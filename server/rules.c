/* The collector's rule set (--rules DIR): one reload path for the start, SIGHUP and the API's
 * uploads, and the state of every rule file as the last load left it (/api/v1/rules). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/ecs/json.h"
#include "proctrail/clock.h"
#include "proctrail/log.h"
#include "detect.h"
#include "server-int.h"
#include "job.h"

#define RULES_STATE_MAX (16u << 20)
/* Alerts one batch may carry (16,384 execs each matching 4 rules): more are dropped, counted,
 * logged at exit and listed in /api/v1/rules. */
#define ALERTS_PER_BATCH_MAX 65536u

int srv_rules_init(struct server *srv)
{
	pt_buf_init(&srv->rules.state, RULES_STATE_MAX);
	atomic_init(&srv->rules.changed, false);
	if (!(srv->rules.view = malloc(sizeof(*srv->rules.view))))
		return -ENOMEM;
	if (pthread_mutex_init(&srv->rules.lock, NULL)) {
		free(srv->rules.view);
		return -ENOMEM;
	}
	return 0;
}

/* After the writer stopped: jobs still holding a set free it with their last reference. */
void srv_rules_free(struct server *srv)
{
	uint64_t dropped = atomic_load(&srv->rules.alerts_dropped);

	if (dropped)
		log_warnx("rules: %llu alerts dropped (over %u in one batch)",
			  (unsigned long long)dropped, ALERTS_PER_BATCH_MAX);
	pt_detect_rules_unref(srv->rules.cur);
	pt_detect_rules_unref(srv->rules.next);
	free(srv->rules.view);
	pt_buf_free(&srv->rules.state);
	pthread_mutex_destroy(&srv->rules.lock);
}

/* The loop takes a reloaded set between batches: a batch is evaluated by one set, the one its
 * alerts keep alive. */
static struct pt_detect_rules *rules_current(struct server *srv)
{
	struct pt_detect_rules *n;

	if (atomic_load_explicit(&srv->rules.changed, memory_order_acquire)) {
		pthread_mutex_lock(&srv->rules.lock);
		n = srv->rules.next;
		srv->rules.next = NULL;
		atomic_store_explicit(&srv->rules.changed, false, memory_order_relaxed);
		pthread_mutex_unlock(&srv->rules.lock);
		if (n) {
			pt_detect_rules_unref(srv->rules.cur);
			srv->rules.cur = n;
		}
	}
	return srv->rules.cur;
}

struct match {
	struct server *srv;
	struct pt_job *job;
	uint32_t ev;
};

static int add_alert(void *arg, size_t rule)
{
	struct match *m = arg;
	struct pt_job *job = m->job;
	const struct pt_sigma_rule_info *r = pt_sigma_rule(job->rules->set, rule);
	struct pt_store_alert *nv;

	if (job->n_alerts == job->cap_alerts) {
		uint32_t cap = job->cap_alerts ? 2 * job->cap_alerts : 16;

		if (job->cap_alerts >= ALERTS_PER_BATCH_MAX) {
			atomic_fetch_add_explicit(&m->srv->rules.alerts_dropped, 1,
						  memory_order_relaxed);
			return 0;
		}
		if (!(nv = reallocarray(job->alerts, cap, sizeof(*nv))))
			return -ENOMEM;
		job->alerts = nv;
		job->bytes += (size_t)(cap - job->cap_alerts) * sizeof(*nv);
		job->cap_alerts = cap;
	}
	/* a rule without an id is named by its file */
	job->alerts[job->n_alerts++] = (struct pt_store_alert){
		.ev = m->ev, .rule_id = r->id[0] ? r->id : r->file, .title = r->title,
		.level = r->level, .file = r->file,
	};
	return 0;
}

int srv_rules_detect(void *ctx, struct pt_job *job, uint32_t i, const struct pt_exec *x)
{
	struct server *srv = ctx;
	struct match m = { .srv = srv, .job = job, .ev = i };
	struct pt_detect_rules *cur;

	if (!job->rules) {
		if (!(cur = rules_current(srv)))
			return 0;
		job->rules = pt_detect_rules_ref(cur);
	}
	pt_detect_view_fill(srv->rules.view, x);
	return pt_sigma_eval(job->rules->set, &srv->rules.view->ev, add_alert, &m);
}

/* Loads --rules DIR; the loop takes the new set at the next batch. A directory that
 * cannot be read keeps the rules (and the state list) in use; at start that stops the
 * collector: it does not run without the rules it was given. Any thread. */
int srv_rules_reload(struct server *srv, const char *why)
{
	struct pt_detect_rules *rules, *old;
	struct pt_sigma_set *set;
	struct pt_buf state;
	unsigned loaded, refused;
	int ret;

	pt_buf_init(&state, RULES_STATE_MAX);
	pthread_mutex_lock(&srv->rules.lock);
	ret = pt_detect_load(srv->cfg->rules, &set, &loaded, &refused, &state);
	if (!ret)
		ret = pt_detect_rules_new(set, &rules);
	if (ret) {
		log_warnx("rules %s: %s (%s)%s", srv->cfg->rules, strerror(-ret), why,
			  srv->rules.loaded_ns ? "; the rules loaded before stay in use" : "");
		snprintf(srv->rules.err, sizeof(srv->rules.err), "%s", strerror(-ret));
	} else {
		log_info("rules %s: %u loaded, %u refused (%s)", srv->cfg->rules, loaded, refused,
			 why);
		old = srv->rules.next;     /* a set the loop never took */
		srv->rules.next = rules;
		atomic_store_explicit(&srv->rules.changed, true, memory_order_release);
		pt_detect_rules_unref(old);
		pt_buf_free(&srv->rules.state);
		srv->rules.state = state;
		pt_buf_init(&state, RULES_STATE_MAX);
		srv->rules.loaded = loaded;
		srv->rules.refused = refused;
		srv->rules.loaded_ns = pt_real_ns();
		srv->rules.err[0] = 0;
	}
	pthread_mutex_unlock(&srv->rules.lock);
	pt_buf_free(&state);
	return ret;
}

int pt_server_rules_reload(void *arg, const char *why)
{
	return srv_rules_reload(arg, why);
}

int pt_server_rules_state(void *arg, struct pt_buf *out)
{
	struct server *srv = arg;
	struct pt_json j = { .out = out };

	pthread_mutex_lock(&srv->rules.lock);
	pt_json_raw(&j, "{");
	pt_json_kcstr(&j, "dir", srv->cfg->rules);
	pt_json_kbool(&j, "upload", srv->cfg->rules_upload);
	pt_json_ku64(&j, "loaded", srv->rules.loaded);
	pt_json_ku64(&j, "refused", srv->rules.refused);
	pt_json_ktime(&j, "reloaded", srv->rules.loaded_ns);
	/* the last reload's failure, while the rules of the one before are in use */
	if (srv->rules.err[0])
		pt_json_kcstr(&j, "reload_error", srv->rules.err);
	pt_json_ku64(&j, "alerts_dropped", atomic_load_explicit(&srv->rules.alerts_dropped,
							       memory_order_relaxed));
	pt_json_key(&j, "rules");
	if (!j.err && pt_buf_append(out, srv->rules.state.data, srv->rules.state.len))
		j.err = -ENOMEM;
	pt_json_raw(&j, "}\n");
	pthread_mutex_unlock(&srv->rules.lock);
	return j.err ? -ENOMEM : 0;
}
