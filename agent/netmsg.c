/* The agent <-> network child message format (netmsg.h): parsing, headers, and the check a
 * frame from the collector passes before the child hands it to the agent. No I/O. */
#include <errno.h>

#include "netmsg.h"

static size_t max_payload(uint8_t type)
{
	switch (type) {
	case PT_NETMSG_SEND:
	case PT_NETMSG_FRAME:
		return PT_FRAME_MAX;
	case PT_NETMSG_FAIL:
	case PT_NETMSG_DOWN:
		return PT_NETMSG_TEXT_MAX;
	case PT_NETMSG_UP:
		return 0;
	default:
		return SIZE_MAX;   /* unknown */
	}
}

int pt_netmsg_parse(const uint8_t *buf, size_t len, struct pt_netmsg *m)
{
	struct pt_frame_header h;
	struct pt_frame f;
	uint32_t n;
	size_t max;

	if (len < PT_NETMSG_HDR_LEN)
		return 0;
	n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
	max = max_payload(buf[4]);
	if (max == SIZE_MAX || n == 0)
		return -EPROTO;
	if ((size_t)n - 1 > max)
		return max ? -EMSGSIZE : -EPROTO;
	if (len - 4 < n)
		return 0;
	m->type = buf[4];
	m->payload = buf + PT_NETMSG_HDR_LEN;
	m->len = (size_t)n - 1;
	m->total = 4 + (size_t)n;
	if (m->type == PT_NETMSG_SEND || m->type == PT_NETMSG_FRAME) {
		if (pt_frame_header_parse(m->payload, m->len, PT_FRAME_MAX, &h) != 0 ||
		    PT_FRAME_HDR_LEN + (size_t)h.payload_len != m->len ||
		    pt_frame_split(m->payload, m->len, &f) != 0)
			return -EPROTO;
	}
	return 1;
}

void pt_netmsg_header(uint8_t hdr[PT_NETMSG_HDR_LEN], uint8_t type, size_t len)
{
	uint32_t n = (uint32_t)len + 1;

	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
	hdr[4] = type;
}

static int check_policy(const struct pt_frame *f)
{
	struct pt_policy pm;
	struct pt_policy_iter it;
	struct pt_policy_rule r;
	uint32_t n = 0;
	int rc = pt_policy_decode(f, &pm, NULL);

	if (rc < 0)
		return rc;
	pt_policy_iter_init(&it, f);
	while ((rc = pt_policy_next_rule(&it, &r)) == 1)
		n++;
	if (rc < 0)
		return rc;
	return n == pm.n_hashes + pm.n_rules ? 0 : -EBADMSG;
}

int pt_netmsg_frame_check(const struct pt_frame *f)
{
	union {
		struct pt_welcome w;
		struct pt_ack a;
		struct pt_ping p;
		struct pt_collect c;
		struct pt_sample_get g;
		struct pt_error e;
	} u;

	switch (f->type) {
	case PT_FRAME_WELCOME:    return pt_welcome_decode(f, &u.w, NULL);
	case PT_FRAME_ACK:        return pt_ack_decode(f, &u.a, NULL);
	case PT_FRAME_PING:       return pt_ping_decode(f, &u.p, NULL);
	case PT_FRAME_COLLECT:    return pt_collect_decode(f, &u.c, NULL);
	case PT_FRAME_POLICY:     return check_policy(f);
	case PT_FRAME_SAMPLE_GET: return pt_sample_get_decode(f, &u.g, NULL);
	case PT_FRAME_ERROR:      return pt_error_decode(f, &u.e, NULL);
	default:                  return -EPROTO;
	}
}
