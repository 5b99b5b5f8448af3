/* Test helper: an authenticated client that starts a frame and never finishes it.
 *
 *   pt_slow_frame --connect 127.0.0.1:PORT --bundle DIR [--frame-bytes N] [--send-bytes N]
 *                 [--trickle-ms MS] [--max-seconds S]
 *
 * After the mutual TLS handshake with DIR's agent.crt/agent.key (trusting DIR/ca.crt) it sends a
 * frame header announcing --frame-bytes (header included; default 1 MiB), then --send-bytes of
 * the frame at once (default 64 KiB), then one more byte every --trickle-ms (default 200;
 * 0 = send nothing more and just hold the connection). Prints one line when the collector
 * closes the connection, or after --max-seconds (default 120):
 *   result: closed after_ms=N sent=N error_frame=0|1
 *   result: open after_ms=N sent=N
 * after_ms counts from the first byte of the frame (from the handshake when nothing is sent).
 *
 * --hello NAME first sends a HELLO for agent NAME (stream 1, nothing to send) and waits for
 * WELCOME, printing "welcomed": the collector has then established the session.
 *
 * --record-trickle-ms MS instead withholds the frame inside one TLS record: the record is
 * built in memory and its bytes go to the socket one every MS, never the last, so the
 * collector sees traffic but not a single byte of a frame.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "proctrail/wire.h"

#define FRAME_HDR_LEN PT_FRAME_HDR_LEN
#define FRAME_HELLO   PT_FRAME_HELLO
#define FRAME_ERROR   PT_FRAME_ERROR

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int write_all(SSL *ssl, const unsigned char *p, size_t n)
{
	while (n) {
		int w = SSL_write(ssl, p, n > 16384 ? 16384 : (int)n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* HELLO for name, then frames until WELCOME (a session ticket-free TLS 1.3 server gives no
 * other sign that it has finished its side of the handshake). */
static int hello(SSL *ssl, int fd, const char *name)
{
	uint8_t buf[1024], in[4096];
	struct pt_writer w;
	struct pt_hello h = {
		.version = { "pt_slow_frame", 13 },
		.hostname = { name, (uint32_t)strlen(name) },
		.agent_name = { name, (uint32_t)strlen(name) },
		.stream_id = 1, .first_seq = 1, .next_seq = 1, .mode = PT_MODE_STREAM,
	};
	double end = now_ms() + 30000;

	pt_writer_init(&w, buf, sizeof(buf));
	if (pt_hello_encode(&w, &h) || write_all(ssl, buf, w.len))
		return -1;
	while (now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r;

		if (SSL_pending(ssl) == 0 && poll(&p, 1, 100) <= 0)
			continue;
		r = SSL_read(ssl, in, sizeof(in));
		if (r <= 0)
			return -1;
		if (r >= (int)FRAME_HDR_LEN && in[3] == PT_FRAME_WELCOME)
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *connect_to = NULL, *bundle = NULL, *hello_name = NULL;
	size_t frame_bytes = 1u << 20, send_bytes = 64u << 10, sent = 0;
	double trickle_ms = 200, record_ms = 0, max_s = 120, t0, next;
	unsigned char *rec = NULL;
	size_t rec_len = 0, rec_sent = 0;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	char path[3][1024], addr[64], *colon;
	unsigned char hdr[FRAME_HDR_LEN], *chunk, in[4096];
	int a, fd, error_frame = 0, closed = 0;
	SSL_CTX *ctx;
	SSL *ssl;

	for (a = 1; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--connect"))
			connect_to = argv[a + 1];
		else if (!strcmp(argv[a], "--bundle"))
			bundle = argv[a + 1];
		else if (!strcmp(argv[a], "--frame-bytes"))
			frame_bytes = strtoul(argv[a + 1], NULL, 10);
		else if (!strcmp(argv[a], "--send-bytes"))
			send_bytes = strtoul(argv[a + 1], NULL, 10);
		else if (!strcmp(argv[a], "--trickle-ms"))
			trickle_ms = atof(argv[a + 1]);
		else if (!strcmp(argv[a], "--hello"))
			hello_name = argv[a + 1];
		else if (!strcmp(argv[a], "--record-trickle-ms"))
			record_ms = atof(argv[a + 1]);
		else if (!strcmp(argv[a], "--max-seconds"))
			max_s = atof(argv[a + 1]);
		else
			return fprintf(stderr, "pt_slow_frame: unknown option %s\n", argv[a]), 2;
	}
	if (!connect_to || !bundle || frame_bytes < FRAME_HDR_LEN + 4 ||
	    snprintf(addr, sizeof(addr), "%s", connect_to) >= (int)sizeof(addr) ||
	    !(colon = strrchr(addr, ':')))
		return fprintf(stderr, "usage: pt_slow_frame --connect IP:PORT --bundle DIR ...\n"), 2;
	*colon = '\0';
	if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1)
		return 2;
	dst.sin_port = htons((uint16_t)atoi(colon + 1));
	if (send_bytes > frame_bytes - 1)
		send_bytes = frame_bytes - 1;
	snprintf(path[0], sizeof(path[0]), "%s/agent.crt", bundle);
	snprintf(path[1], sizeof(path[1]), "%s/agent.key", bundle);
	snprintf(path[2], sizeof(path[2]), "%s/ca.crt", bundle);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    SSL_CTX_use_certificate_file(ctx, path[0], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, path[1], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, path[2], NULL) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		perror("pt_slow_frame: connect");
		return 1;
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		printf("result: refused\n");
		return 1;
	}
	if (hello_name) {
		if (hello(ssl, fd, hello_name)) {
			printf("result: refused (no WELCOME)\n");
			return 1;
		}
		printf("welcomed\n");
		fflush(stdout);
	}
	t0 = now_ms();
	if (record_ms > 0) {
		BIO *mem = BIO_new(BIO_s_mem());
		static unsigned char payload[8192];
		char *p;

		SSL_set0_wbio(ssl, mem);          /* the socket still reads */
		if (SSL_write(ssl, payload, sizeof(payload)) != (int)sizeof(payload))
			return 1;
		rec_len = (size_t)BIO_get_mem_data(mem, &p);
		rec = malloc(rec_len);
		if (!rec)
			return 1;
		memcpy(rec, p, rec_len);
		send_bytes = 0;
		trickle_ms = record_ms;
	}
	if (send_bytes) {
		chunk = calloc(1, send_bytes);
		if (!chunk)
			return 1;
		hdr[0] = 0x50;        /* 'PT' magic, wire version 1, HELLO, big-endian length */
		hdr[1] = 0x54;
		hdr[2] = 1;
		hdr[3] = FRAME_HELLO;
		hdr[4] = (unsigned char)((frame_bytes - FRAME_HDR_LEN) >> 24);
		hdr[5] = (unsigned char)((frame_bytes - FRAME_HDR_LEN) >> 16);
		hdr[6] = (unsigned char)((frame_bytes - FRAME_HDR_LEN) >> 8);
		hdr[7] = (unsigned char)(frame_bytes - FRAME_HDR_LEN);
		memcpy(chunk, hdr, send_bytes < FRAME_HDR_LEN ? send_bytes : FRAME_HDR_LEN);
		if (write_all(ssl, chunk, send_bytes))
			closed = 1;
		sent = send_bytes;
		free(chunk);
	}
	next = now_ms() + trickle_ms;
	while (!closed && now_ms() - t0 < max_s * 1000) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double wait = trickle_ms > 0 ? next - now_ms() : 100;

		if (poll(&p, 1, wait > 0 ? (int)wait + 1 : 0) > 0) {
			int r = SSL_read(ssl, in, sizeof(in));

			if (r > 0) {
				if (r >= (int)FRAME_HDR_LEN && in[0] == 0x50 && in[1] == 0x54 &&
				    in[3] == FRAME_ERROR)
					error_frame = 1;
				continue;
			}
			if (SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ)
				continue;        /* a session ticket, or a partial record */
			closed = 1;
			break;
		}
		if (rec && now_ms() >= next && rec_sent + 1 < rec_len) {
			if (write(fd, rec + rec_sent, 1) != 1) {
				closed = 1;
				break;
			}
			rec_sent++;
			sent++;
			next += trickle_ms;
		}
		if (trickle_ms > 0 && send_bytes && now_ms() >= next && sent < frame_bytes - 1) {
			if (write_all(ssl, (const unsigned char *)"", 1)) {
				closed = 1;
				break;
			}
			sent++;
			next += trickle_ms;
		}
	}
	printf("result: %s after_ms=%.0f sent=%zu error_frame=%d\n", closed ? "closed" : "open",
	       now_ms() - t0, sent, error_frame);
	return 0;
}
