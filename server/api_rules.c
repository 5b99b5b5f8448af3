/* /api/v1/rules: the Sigma rule files of --rules DIR and their state (any role), and with
 * --rules-upload, putting and deleting one file (admin role), each followed by the reload
 * SIGHUP makes (docs/api.md, docs/detection.md). A file is validated by the compiler the
 * collector loads with before anything is written; it is written whole or not at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "api-int.h"
#include "proctrail/escape.h"
#include "proctrail/file.h"
#include "proctrail/sigma.h"

#define RULE_NAME_MAX 128

/* A file directly in the directory: letters, digits, '.', '_', '-', not hidden (the loader
 * skips dot files: the temporary files below are such), named like a rule file. */
static bool name_ok(const char *n)
{
	size_t l = strlen(n);

	return l > 0 && l <= RULE_NAME_MAX && n[0] != '.' &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == l &&
	       pt_sigma_rule_file_name(n);
}

static void rules_state(struct pt_api *a, struct evhttp_request *req)
{
	pt_buf_reset(&a->out);
	if (a->rules_state_fn(a->rules_arg, &a->out)) {
		api_error(req, 500, "rule state too large");
		return;
	}
	api_reply(req, 200, &a->out);
}

/* 0, or the answer sent: the text must compile alone (a refusal answers 422 with the reason,
 * the way the loader would have logged it). */
static int validate(struct evhttp_request *req, const char *name, const char *text, size_t len)
{
	char reason[PT_SIGMA_REASON_MAX] = "", msg[PT_SIGMA_REASON_MAX + 64];
	struct pt_sigma_set *s = NULL;
	int ret;

	if ((ret = pt_sigma_new(&s)) || (ret = pt_sigma_add(s, name, text, len, reason)) ||
	    (ret = pt_sigma_compile(s))) {
		pt_sigma_free(s);
		if (ret != -EINVAL) {
			api_error(req, 500, "no memory");
			return ret;
		}
		snprintf(msg, sizeof(msg), "rule refused: %s", reason);
		api_error(req, 422, msg);
		return ret;
	}
	pt_sigma_free(s);
	return 0;
}

static void rule_change(struct pt_api *a, struct evhttp_request *req, const struct api_who *who,
			const char *name, bool put)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char why[RULE_NAME_MAX + PT_OP_NAME_MAX + 32], msg[PT_SERVER_PATH_MAX + 128];
	char path[PT_SERVER_PATH_MAX + RULE_NAME_MAX + 2];
	struct pt_esc e;
	const char *text;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", a->rules_dir, name);
	if (put) {
		if (len > PT_SIGMA_FILE_MAX) {   /* evhttp's API_BODY_MAX comes first */
			api_error(req, 413, "rule file too large");
			return;
		}
		if (!(text = (const char *)evbuffer_pullup(in, -1)) && len) {
			api_error(req, 500, "no memory");
			return;
		}
		if (validate(req, name, text ? text : "", len))
			return;
		/* "NAME.tmp" while written: not a .yml/.yaml name, so a reload never reads it */
		ret = pt_file_replace(path, text ? text : "", len, 0640, (gid_t)-1);
	} else {
		ret = unlink(path) ? -errno : 0;
		if (ret == -ENOENT) {
			api_error(req, 404, "no such rule file");
			return;
		}
	}
	if (ret) {
		snprintf(msg, sizeof(msg), "%s %s: %s", put ? "writing" : "removing",
			 pt_esc(&e, a->rules_dir, strlen(a->rules_dir)), strerror(-ret));
		log_warnx("api: operator %s: %s", who->name, msg);
		api_error(req, 500, msg);
		return;
	}
	snprintf(why, sizeof(why), "API: %s %s by %s", put ? "put" : "deleted", name, who->name);
	if ((ret = a->rules_reload_fn(a->rules_arg, why))) {
		snprintf(msg, sizeof(msg), "%s, but the reload failed: %s; the rules loaded before "
			 "stay in use", put ? "written" : "removed", strerror(-ret));
		api_error(req, 500, msg);
		return;
	}
	rules_state(a, req);
}

void api_rules(struct pt_api *a, struct evhttp_request *req, const struct api_who *who,
	       const char *path)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *name = path[13] == '/' ? path + 14 : NULL;

	if (!a->rules_state_fn || !a->rules_dir[0]) {
		api_error(req, 409, "the collector has no rule directory (start it with --rules DIR)");
		return;
	}
	if (!name) {
		if (m != EVHTTP_REQ_GET)
			api_error(req, 405, "GET only");
		else
			rules_state(a, req);
		return;
	}
	if (m != EVHTTP_REQ_PUT && m != EVHTTP_REQ_DELETE) {
		api_error(req, 405, "PUT or DELETE");
		return;
	}
	if (!api_admin(req, who))
		return;
	if (!a->rules_upload) {
		api_error(req, 409, "rule uploads are off (start the collector with "
			  "--rules-upload yes)");
		return;
	}
	if (!name_ok(name)) {
		api_error(req, 400, "name: a file name ending .yml or .yaml, at most 128 letters, "
			  "digits, '.', '_' or '-', not starting with '.'");
		return;
	}
	rule_change(a, req, who, name, m == EVHTTP_REQ_PUT);
}
