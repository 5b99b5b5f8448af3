/* Pushing block policies to agents: the current version to each agent when it connects and to
 * every connected agent when a new version appears in the database (made by `proctrail
 * policy` or the API, maybe in another process: the loop looks every second), and each
 * agent's answer stored. Runs on the event-loop thread with its own database connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "proctrail/escape.h"
#include "proctrail/log.h"
#include "proctrail/policy.h"
#include "server-int.h"
#include "session.h"

#define POLICY_POLL_MS 1000

void srv_policy_send(struct server *srv, struct conn *c)
{
	struct pt_policy_rule *rules = NULL;
	struct pt_writer w;
	uint8_t *buf = NULL;
	uint32_t n = 0;
	size_t cap;

	if (!srv->policy.db || !srv->policy.version || !c->sess || c->closing)
		return;
	if (pt_policy_rules_for(srv->policy.db, c->sess->agent_id, srv->policy.version, &rules,
				&n) < 0) {
		log_warnx("policy: rules for %s: %s", c->sess->agent_id,
			  sqlite3_errmsg(srv->policy.db));
		return;
	}
	if (n > PT_POLICY_HASHES_MAX) {
		/* Not sent half: the agent keeps what it enforces and the refusal is shown. */
		log_warnx("policy: version %llu has %u rules for %s, over the %u a POLICY holds; "
			  "not sent", (unsigned long long)srv->policy.version, n, c->sess->agent_id,
			  PT_POLICY_HASHES_MAX);
		pt_policy_result_store(srv->policy.db, c->sess->agent_id, srv->policy.version,
				       PT_ERR_LIMIT, "policy too large for one POLICY frame; not sent",
				       pt_real_ns());
		free(rules);
		return;
	}
	cap = 64 + (size_t)n * (PT_ATTR_HDR_LEN + PT_POLICY_RULE_LEN);
	if ((buf = malloc(cap))) {
		pt_writer_init(&w, buf, cap);
		if (pt_policy_rules_encode(&w, srv->policy.version, rules, n) == 0 &&
		    pt_session_send(c->sess, buf, w.len)) {
			c->policy_answers_owed++;
			log_info("policy: version %llu (%u rule(s)) sent to %s",
				 (unsigned long long)srv->policy.version, n, c->sess->agent_id);
		}
	}
	free(buf);
	free(rules);
}

void srv_policy_result(struct server *srv, struct conn *c, uint64_t version, uint32_t code,
		       const char *message)
{
	struct pt_esc shown;

	if (!c->sess)
		return;
	if (!c->policy_answers_owed) {
		srv_count(srv, SRV_POLICY_UNSOLICITED);
		return;
	}
	c->policy_answers_owed--;
	/* a peer's answers, as often as it sends them: rate-limited like every peer-driven line */
	if (!srv_log_allowed(&srv->rl_policy))
		;
	else if (code == 0)
		log_info("policy: agent %s enforces version %llu (%s)", c->sess->agent_id,
			 (unsigned long long)version, pt_esc(&shown, message, strlen(message)));
	else
		log_warnx("policy: agent %s refused version %llu: error %u: %s", c->sess->agent_id,
			  (unsigned long long)version, code, pt_esc(&shown, message, strlen(message)));
	if (srv->policy.db && pt_policy_result_store(srv->policy.db, c->sess->agent_id, version, code,
						     message, pt_real_ns()) < 0)
		log_warnx("policy: storing the answer of %s: %s", c->sess->agent_id,
			  sqlite3_errmsg(srv->policy.db));
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct conn *c;
	uint64_t v;

	(void)fd;
	(void)what;
	if (pt_policy_version(srv->policy.db, &v) < 0 || v == srv->policy.version)
		return;
	log_info("policy: version %llu is new; sending it to every connected agent",
		 (unsigned long long)v);
	srv->policy.version = v;
	TAILQ_FOREACH(c, &srv->conns, link)
		if (c->sess && !c->closing && c->sess->state == PT_SESS_READY)
			srv_policy_send(srv, c);
}

int srv_policy_start(struct server *srv)
{
	struct timeval tv = { POLICY_POLL_MS / 1000, (POLICY_POLL_MS % 1000) * 1000 };

	if (sqlite3_open_v2(srv->cfg->db, &srv->policy.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		log_warnx("policy: %s: %s", srv->cfg->db,
			  srv->policy.db ? sqlite3_errmsg(srv->policy.db) : "cannot open");
		sqlite3_close(srv->policy.db);
		srv->policy.db = NULL;
		return -EIO;
	}
	/* the writer holds the write lock for a batch at most: wait for it, briefly */
	sqlite3_busy_timeout(srv->policy.db, 2000);
	if (pt_policy_schema(srv->policy.db) < 0 ||
	    pt_policy_version(srv->policy.db, &srv->policy.version) < 0) {
		log_warnx("policy: %s: %s", srv->cfg->db, sqlite3_errmsg(srv->policy.db));
		srv_policy_stop(srv);
		return -EIO;
	}
	/* before confinement: afterwards /bin/sh and /proc/1/exe are out of reach */
	if (pt_policy_guardrail_init() < 0)
		log_warnx("policy: guardrail: no protected file could be hashed");
	srv->policy.poll_ev = event_new(srv->base, -1, EV_PERSIST, poll_cb, srv);
	if (!srv->policy.poll_ev || event_add(srv->policy.poll_ev, &tv) < 0) {
		srv_policy_stop(srv);
		return -ENOMEM;
	}
	if (srv->policy.version)
		log_info("policy: current version %llu", (unsigned long long)srv->policy.version);
	return 0;
}

void srv_policy_stop(struct server *srv)
{
	if (srv->policy.poll_ev)
		event_free(srv->policy.poll_ev);
	srv->policy.poll_ev = NULL;
	sqlite3_close(srv->policy.db);
	srv->policy.db = NULL;
}
