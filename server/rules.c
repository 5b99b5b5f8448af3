/* The collector's rule set (--rules DIR): one reload path for the start, SIGHUP and the API's
 * uploads, and the state of every rule file as the last load left it (/api/v1/rules). */
#include <errno.h>
#include <string.h>

#include "../lib/ecs/json.h"
#include "proctrail/clock.h"
#include "proctrail/log.h"
#include "detect.h"
#include "server-int.h"
#include "writer.h"

#define RULES_STATE_MAX (16u << 20)

int srv_rules_init(struct server *srv)
{
	pt_buf_init(&srv->rules.state, RULES_STATE_MAX);
	return pthread_mutex_init(&srv->rules.lock, NULL) ? -ENOMEM : 0;
}

void srv_rules_free(struct server *srv)
{
	pt_buf_free(&srv->rules.state);
	pthread_mutex_destroy(&srv->rules.lock);
}

/* Loads --rules DIR; the writer takes the new set before its next group. A directory that
 * cannot be read keeps the rules (and the state list) in use; at start that stops the
 * collector: it does not run without the rules it was given. Any thread. */
int srv_rules_reload(struct server *srv, const char *why)
{
	struct pt_sigma_set *set;
	struct pt_buf state;
	unsigned loaded, refused;
	int ret;

	pt_buf_init(&state, RULES_STATE_MAX);
	pthread_mutex_lock(&srv->rules.lock);
	ret = pt_detect_load(srv->cfg->rules, &set, &loaded, &refused, &state);
	if (ret) {
		log_warnx("rules %s: %s (%s)%s", srv->cfg->rules, strerror(-ret), why,
			  srv->rules.loaded_ns ? "; the rules loaded before stay in use" : "");
		snprintf(srv->rules.err, sizeof(srv->rules.err), "%s", strerror(-ret));
	} else {
		log_info("rules %s: %u loaded, %u refused (%s)", srv->cfg->rules, loaded, refused,
			 why);
		pt_writer_set_rules(srv->writer, set);
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
	pt_json_key(&j, "rules");
	if (!j.err && pt_buf_append(out, srv->rules.state.data, srv->rules.state.len))
		j.err = -ENOMEM;
	pt_json_raw(&j, "}\n");
	pthread_mutex_unlock(&srv->rules.lock);
	return j.err ? -ENOMEM : 0;
}
