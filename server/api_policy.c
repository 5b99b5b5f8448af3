/* /api/v1/policy: the block policy (docs/api.md). GET lists the active rules (read role);
 * POST /api/v1/policy/block and /api/v1/policy/unblock change it (admin role), each change a
 * new version that the collector pushes to every agent. A thin layer over lib/policy. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "api-int.h"
#include "proctrail/clock.h"
#include "proctrail/hex.h"
#include "proctrail/policy.h"

static int rule_json(void *ctx, const struct pt_policy_rule_info *r)
{
	struct pt_json *j = ctx;
	char hex[2 * PT_SHA256_LEN + 1];

	pt_hex_encode(r->sha256, PT_SHA256_LEN, hex);
	pt_json_open(j, NULL, '{');
	pt_json_ku64(j, "rule_id", r->id);
	pt_json_kcstr(j, "sha256", hex);
	pt_json_key(j, "agent");
	if (r->agent)
		pt_json_string(j, r->agent, strlen(r->agent));
	else
		pt_json_raw(j, "null");
	pt_json_kcstr(j, "mode", r->audit ? "audit" : "block");
	pt_json_kcstr(j, "reason", r->reason ? r->reason : "");
	pt_json_kcstr(j, "operator", r->operator_name ? r->operator_name : "");
	pt_json_ku64(j, "added_version", r->added_version);
	pt_json_ktime(j, "created", r->created_ns);
	pt_json_close(j, '}');
	return 0;
}

static void policy_list(struct pt_api *a, struct evhttp_request *req)
{
	struct pt_json j = { .out = &a->out };
	uint64_t v = 0;

	pt_buf_reset(&a->out);
	if (pt_policy_version(a->db, &v) < 0) {
		api_error(req, 500, "database");
		return;
	}
	pt_json_raw(&j, "{");
	pt_json_ku64(&j, "version", v);
	pt_json_open(&j, "rules", '[');
	if (pt_policy_list(a->db, rule_json, &j) < 0) {
		api_error(req, 500, "database");
		return;
	}
	pt_json_close(&j, ']');
	pt_json_raw(&j, "}");
	if (j.err) {
		api_error(req, 500, "answer too large");
		return;
	}
	api_reply(req, 200, &a->out);
}

static void policy_change(struct pt_api *a, struct evhttp_request *req, const struct api_who *who,
			  bool block)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char body[4096], sha[80], reason[PT_POLICY_REASON_MAX + 1], agent[256], mode[16];
	char err[512], opname[PT_OP_NAME_MAX + 16];
	struct pt_policy_change c = { 0 };
	uint64_t v = 0;
	int rc;

	if (len >= sizeof(body)) {
		api_error(req, 413, "body too large");
		return;
	}
	evbuffer_copyout(in, body, len);
	body[len] = 0;
	if (api_json_member(body, len, "sha256", sha, sizeof(sha))) {
		api_error(req, 400, "sha256: required, 64 hexadecimal digits");
		return;
	}
	c.sha256_hex = sha;
	if ((rc = api_json_member(body, len, "agent", agent, sizeof(agent))) == 0)
		c.agent = agent;
	else if (rc != -ENOENT) {
		api_error(req, 400, "agent: a string, an agent name");
		return;
	}
	if (block) {
		if ((rc = api_json_member(body, len, "reason", reason, sizeof(reason)))) {
			api_error(req, 400, rc == -EMSGSIZE ? "reason: too long" : "reason: required");
			return;
		}
		c.reason = reason;
		if ((rc = api_json_member(body, len, "mode", mode, sizeof(mode))) == 0) {
			if (!strcmp(mode, "audit"))
				c.audit = true;
			else if (strcmp(mode, "block")) {
				api_error(req, 400, "mode: block or audit");
				return;
			}
		} else if (rc != -ENOENT) {
			api_error(req, 400, "mode: block or audit");
			return;
		}
	}
	snprintf(opname, sizeof(opname), "api:%s", who->name);
	c.operator_name = opname;
	sqlite3 *db = api_rw_db(a);
	if (!db) {
		api_error(req, 500, "database");
		return;
	}
	rc = block ? pt_policy_block(db, &c, pt_real_ns(), &v, err, sizeof(err))
		   : pt_policy_unblock(db, &c, pt_real_ns(), &v, err, sizeof(err));
	sqlite3_close(db);
	if (rc == -EINVAL || rc == -EPERM) {
		api_error(req, 400, err);
		return;
	}
	if (rc == -ENOENT) {
		api_error(req, 404, err);
		return;
	}
	if (rc < 0) {
		api_error(req, 500, "database");
		return;
	}
	log_info("api: operator %s: %s %s -> policy version %llu", who->name,
		 block ? (c.audit ? "audit" : "block") : "unblock", sha, (unsigned long long)v);
	struct pt_json j = { .out = &a->out };
	pt_buf_reset(&a->out);
	pt_json_raw(&j, "{");
	pt_json_ku64(&j, "version", v);
	pt_json_raw(&j, "}");
	api_reply(req, 200, &a->out);
}

void api_policy(struct pt_api *a, struct evhttp_request *req, const struct api_who *who,
		const char *path)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);

	if (!strcmp(path, "/api/v1/policy")) {
		if (m != EVHTTP_REQ_GET)
			api_error(req, 405, "GET only");
		else
			policy_list(a, req);
		return;
	}
	bool block = !strcmp(path, "/api/v1/policy/block");
	if (!block && strcmp(path, "/api/v1/policy/unblock")) {
		api_error(req, 404, "not found");
		return;
	}
	if (m != EVHTTP_REQ_POST) {
		api_error(req, 405, "POST only");
		return;
	}
	if (!api_admin(req, who))
		return;
	policy_change(a, req, who, block);
}
