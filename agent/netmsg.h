/* Messages between the agent and its network child (agent/netchild.c), on a stream socketpair.
 *
 *   0               4      5
 *   +---------------+------+------------------------+
 *   | length u32 BE | type | payload (length - 1)   |
 *   +---------------+------+------------------------+
 *
 *   SEND  agent -> child   one whole frame, to be written over TLS
 *   UP    child -> agent   TLS 1.3 is up and the collector verified; no payload
 *   FAIL  child -> agent   no connection; payload: the reason, text (at most PT_NETMSG_TEXT_MAX)
 *   FRAME child -> agent   one whole frame from the collector that decoded
 *   DOWN  child -> agent   the connection ended; payload: the reason, text
 *
 * Every length is checked against its type's maximum from the header alone, so nothing is
 * buffered past a bound. The child sends only frames that pt_netmsg_frame_check() accepted;
 * the agent still treats every byte from the child as hostile (the child is the process an
 * attacker on the network would own first): it parses with the same bounds and decodes every
 * frame again. Reason texts are escaped before they are logged.
 */
#ifndef PROCTRAIL_AGENT_NETMSG_H
#define PROCTRAIL_AGENT_NETMSG_H

#include <stddef.h>
#include <stdint.h>

#include "proctrail/wire.h"

enum {
	PT_NETMSG_SEND = 1,
	PT_NETMSG_UP = 2,
	PT_NETMSG_FAIL = 3,
	PT_NETMSG_FRAME = 4,
	PT_NETMSG_DOWN = 5,
};

#define PT_NETMSG_HDR_LEN  5u
#define PT_NETMSG_TEXT_MAX 512u
#define PT_NETMSG_MAX      (PT_NETMSG_HDR_LEN + PT_FRAME_MAX)

struct pt_netmsg {
	uint8_t type;
	const uint8_t *payload;   /* a view into the caller's buffer */
	size_t len;               /* payload bytes */
	size_t total;             /* bytes the message takes in the buffer (to consume) */
};

/* 1 with the first message of buf in *m; 0 when buf holds only part of one; -EPROTO for an
 * unknown type, an UP with a payload, or a SEND/FRAME that is not exactly one frame (magic,
 * version, length, a sound split into attributes and body); -EMSGSIZE when the header announces more than the type allows. */
int pt_netmsg_parse(const uint8_t *buf, size_t len, struct pt_netmsg *m);
/* The header of a message of type with a payload of len bytes (len within the type's bound). */
void pt_netmsg_header(uint8_t hdr[PT_NETMSG_HDR_LEN], uint8_t type, size_t len);
/* 0 when f is a frame a collector may send an agent and its typed decoder accepts it (a
 * POLICY's every rule walked); -EPROTO for another type; else the decoder's error. */
int pt_netmsg_frame_check(const struct pt_frame *f);

#endif
