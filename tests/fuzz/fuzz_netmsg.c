/* libFuzzer: arbitrary bytes as the stream the agent reads from its network child (or the
 * child from the agent): every message parsed in turn, as the agent does, each FRAME split and
 * checked by the collector-frame check the child applies. Nothing may read out of bounds, a
 * message may never claim more than its type's maximum, and parsing must always progress. */
#include <stdint.h>
#include <stdlib.h>

#include "../../agent/netmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	struct pt_netmsg m;

	while (off < size) {
		int rc = pt_netmsg_parse(data + off, size - off, &m);
		if (rc <= 0)
			break;
		if (m.total != PT_NETMSG_HDR_LEN + m.len || m.total > size - off ||
		    m.payload != data + off + PT_NETMSG_HDR_LEN)
			abort();
		if ((m.type == PT_NETMSG_FAIL || m.type == PT_NETMSG_DOWN) && m.len > PT_NETMSG_TEXT_MAX)
			abort();
		if (m.type == PT_NETMSG_UP && m.len)
			abort();
		if (m.type == PT_NETMSG_FRAME || m.type == PT_NETMSG_SEND) {
			struct pt_frame f;
			if (pt_frame_split(m.payload, m.len, &f) != 0)
				abort();   /* parse promised exactly one frame */
			(void)pt_netmsg_frame_check(&f);
		}
		/* a re-built header reads back the same */
		uint8_t hdr[PT_NETMSG_HDR_LEN];
		pt_netmsg_header(hdr, m.type, m.len);
		for (unsigned i = 0; i < PT_NETMSG_HDR_LEN; i++)
			if (hdr[i] != data[off + i])
				abort();
		off += m.total;
	}
	return 0;
}
