/* The agent <-> network child messages (agent/netmsg.c): whole messages parse, partial ones
 * wait, every bound is enforced from the header alone, and the collector-frame check accepts
 * only what a collector may send, decoded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../agent/netmsg.h"
#include "proctrail/wire.h"

static size_t wrap(uint8_t *out, uint8_t type, const void *p, size_t len)
{
	pt_netmsg_header(out, type, len);
	if (len)
		memcpy(out + PT_NETMSG_HDR_LEN, p, len);
	return PT_NETMSG_HDR_LEN + len;
}

static size_t ack_frame(uint8_t *buf, size_t cap)
{
	struct pt_writer w;
	struct pt_ack a = { .stream_id = 7, .seq = 42 };

	pt_writer_init(&w, buf, cap);
	assert_int_equal(pt_ack_encode(&w, &a), 0);
	return w.len;
}

static void test_frame_roundtrip(void **state)
{
	uint8_t fr[256], msg[300];
	struct pt_netmsg m;
	struct pt_frame f;
	size_t flen = ack_frame(fr, sizeof(fr)), n = wrap(msg, PT_NETMSG_FRAME, fr, flen);

	(void)state;
	for (size_t i = 0; i < n; i++)   /* every prefix is "not yet" */
		assert_int_equal(pt_netmsg_parse(msg, i, &m), 0);
	assert_int_equal(pt_netmsg_parse(msg, n, &m), 1);
	assert_int_equal(m.type, PT_NETMSG_FRAME);
	assert_int_equal(m.len, flen);
	assert_int_equal(m.total, n);
	assert_int_equal(pt_frame_split(m.payload, m.len, &f), 0);
	assert_int_equal(pt_netmsg_frame_check(&f), 0);
}

static void test_bounds(void **state)
{
	uint8_t msg[PT_NETMSG_HDR_LEN + PT_NETMSG_TEXT_MAX + 1] = { 0 };
	uint8_t fr[256];
	struct pt_netmsg m;
	size_t flen;

	(void)state;
	/* a 4 GiB FRAME is refused from its header */
	pt_netmsg_header(msg, PT_NETMSG_FRAME, 0);
	msg[0] = 0xff;
	assert_int_equal(pt_netmsg_parse(msg, PT_NETMSG_HDR_LEN, &m), -EMSGSIZE);
	/* reason texts are bounded */
	pt_netmsg_header(msg, PT_NETMSG_DOWN, PT_NETMSG_TEXT_MAX + 1);
	assert_int_equal(pt_netmsg_parse(msg, PT_NETMSG_HDR_LEN, &m), -EMSGSIZE);
	assert_int_equal(wrap(msg, PT_NETMSG_DOWN, "bye", 3), PT_NETMSG_HDR_LEN + 3);
	assert_int_equal(pt_netmsg_parse(msg, PT_NETMSG_HDR_LEN + 3, &m), 1);
	/* UP carries nothing; unknown types and a zero length are errors */
	pt_netmsg_header(msg, PT_NETMSG_UP, 1);
	assert_int_equal(pt_netmsg_parse(msg, sizeof(msg), &m), -EPROTO);
	pt_netmsg_header(msg, 99, 0);
	assert_int_equal(pt_netmsg_parse(msg, sizeof(msg), &m), -EPROTO);
	memset(msg, 0, PT_NETMSG_HDR_LEN);
	msg[4] = PT_NETMSG_UP;
	assert_int_equal(pt_netmsg_parse(msg, sizeof(msg), &m), -EPROTO);
	/* a FRAME must be exactly one frame: not text, not a frame and a byte more */
	wrap(msg, PT_NETMSG_FRAME, "hello", 5);
	assert_int_equal(pt_netmsg_parse(msg, PT_NETMSG_HDR_LEN + 5, &m), -EPROTO);
	flen = ack_frame(fr, sizeof(fr) - 1);
	fr[flen] = 0;
	wrap(msg, PT_NETMSG_FRAME, fr, flen + 1);
	assert_int_equal(pt_netmsg_parse(msg, PT_NETMSG_HDR_LEN + flen + 1, &m), -EPROTO);
}

static void test_frame_check(void **state)
{
	uint8_t buf[512];
	struct pt_writer w;
	struct pt_frame f;
	struct pt_pong pong = { .nonce = 1 };
	size_t n;

	(void)state;
	/* an agent's own frame type, however well-formed, is not for the agent */
	pt_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(pt_pong_encode(&w, &pong), 0);
	assert_int_equal(pt_frame_split(buf, w.len, &f), 0);
	assert_int_equal(pt_netmsg_frame_check(&f), -EPROTO);
	/* an ACK whose attributes are cut short does not decode */
	n = ack_frame(buf, sizeof(buf));
	assert_int_equal(pt_frame_split(buf, n, &f), 0);
	assert_true(f.attrs_len > 2);
	f.attrs_len -= 2;
	assert_true(pt_netmsg_frame_check(&f) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_frame_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
