/* The saved policy: one POLICY frame in the spool directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proctrail/file.h"
#include "policy_file.h"

int pt_policy_file_save(const char *path, uint64_t version, const struct pt_policy_rule *rules,
			uint32_t n)
{
	size_t cap = 64 + (size_t)n * (PT_ATTR_HDR_LEN + PT_POLICY_RULE_LEN);
	uint8_t *buf = malloc(cap);
	struct pt_writer w;
	int rc;

	if (!buf)
		return -ENOMEM;
	pt_writer_init(&w, buf, cap);
	if ((rc = pt_policy_rules_encode(&w, version, rules, n)) < 0)
		goto out;
	rc = pt_file_replace(path, buf, w.len, 0600, (gid_t)-1);
out:
	free(buf);
	return rc;
}

int pt_policy_file_load(const char *path, struct pt_enforcer *e, char *msg, size_t msglen)
{
	struct pt_frame_header h;
	struct pt_frame f;
	struct pt_policy m;
	struct pt_policy_iter it;
	struct pt_policy_rule *rules = NULL;
	char *text = NULL;
	uint8_t *buf;
	size_t len;
	uint32_t i = 0, n;
	int rc;

	msg[0] = 0;
	if ((rc = pt_file_read(path, O_NOFOLLOW, PT_FRAME_MAX, &text, &len))) {
		if (rc == -ENOENT)
			return rc;
		snprintf(msg, msglen, "%s: %s", path,
			 rc == -EMSGSIZE ? "not a policy (size)" : strerror(-rc));
		return rc == -EMSGSIZE ? -EBADMSG : rc;
	}
	buf = (uint8_t *)text;
	if (pt_frame_header_parse(buf, len, PT_FRAME_MAX, &h) < 0 ||
	    h.type != PT_FRAME_POLICY || PT_FRAME_HDR_LEN + h.payload_len != len ||
	    pt_frame_split(buf, len, &f) < 0 || pt_policy_decode(&f, &m, NULL) < 0) {
		snprintf(msg, msglen, "%s: not a valid POLICY frame; ignored", path);
		rc = -EBADMSG;
		goto out;
	}
	n = m.n_hashes + m.n_rules;
	if (n && !(rules = malloc((size_t)n * sizeof(*rules)))) {
		rc = -ENOMEM;
		goto out;
	}
	pt_policy_iter_init(&it, &f);
	while (i < n && pt_policy_next_rule(&it, &rules[i]) == 1)
		i++;
	rc = pt_enforcer_apply(e, m.version, rules, i, msg, msglen);
	if (rc == 0)
		snprintf(msg, msglen, "version %llu, %u rule(s)", (unsigned long long)m.version, i);
out:
	free(rules);
	free(text);
	return rc;
}
