/* The saved policy: one POLICY frame in the spool directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_file.h"

int pt_policy_file_save(const char *path, uint64_t version, const struct pt_policy_rule *rules,
			uint32_t n)
{
	size_t cap = 64 + (size_t)n * (PT_ATTR_HDR_LEN + PT_POLICY_RULE_LEN);
	uint8_t *buf = malloc(cap);
	char tmp[4200];
	struct pt_writer w;
	int fd = -1, rc;

	if (!buf)
		return -ENOMEM;
	pt_writer_init(&w, buf, cap);
	if ((rc = pt_policy_rules_encode(&w, version, rules, n)) < 0)
		goto out;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, buf, w.len) != (ssize_t)w.len || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		rc = -errno;
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
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
	uint8_t *buf = NULL;
	struct stat st;
	uint32_t i = 0, n;
	int fd, rc;

	msg[0] = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size < (off_t)PT_FRAME_HDR_LEN || st.st_size > PT_FRAME_MAX) {
		snprintf(msg, msglen, "%s: not a policy (size)", path);
		close(fd);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size) {
		rc = buf ? -EIO : -ENOMEM;
		snprintf(msg, msglen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if ((rc = pt_frame_header_parse(buf, (size_t)st.st_size, PT_FRAME_MAX, &h)) < 0 ||
	    h.type != PT_FRAME_POLICY || PT_FRAME_HDR_LEN + h.payload_len != (size_t)st.st_size ||
	    (rc = pt_frame_split(buf, (size_t)st.st_size, &f)) < 0 ||
	    (rc = pt_policy_decode(&f, &m, NULL)) < 0) {
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
	close(fd);
	free(rules);
	free(buf);
	return rc;
}
