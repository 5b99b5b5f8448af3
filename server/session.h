/* One agent connection after its TLS handshake: the protocol state machine, frame decoding and
 * validation, per-agent limits. Transport-free: the I/O layer (server/conn.c) or a test/fuzz
 * harness hands it whole frames and provides the ops below, so the same code is fuzzed and run.
 *
 * Ownership: a session is reference-counted; the I/O layer holds one reference and every job
 * in flight holds one. pt_session_unref() is NULL-safe.
 */
#ifndef PROCTRAIL_SERVER_SESSION_H
#define PROCTRAIL_SERVER_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "proctrail/log.h"
#include "proctrail/store.h"
#include "proctrail/tls.h"
#include "proctrail/wire.h"
#include "job.h"

/* PONGs are owed one per PING sent; the agent answers each PING once (docs/protocol.md). A
 * few unsolicited ones are ignored and counted (a reconnect race, a PING answered twice);
 * more close the connection with ERROR(LIMIT): nothing an honest agent sends. */
#define PT_PONG_OWED_MAX          8u
#define PT_PONG_UNSOLICITED_MAX   16u
/* Records of types this collector does not know are stored whole (newer code can read them)
 * but one BATCH may carry at most this many bytes of them; more refuse the batch with
 * ERROR(LIMIT), so nothing is accepted that is not stored. Counted per agent and type. */
#define PT_BATCH_UNKNOWN_BYTES_MAX (64u << 10)
/* An agent kept over max-frames-per-sec this long (its frame bucket never refilled to full in
 * between) is closed with ERROR(LIMIT): honest agents send a window of batches per round trip
 * and a PONG per PING, far below the limit, while back-pressure alone would let a flooder hold
 * the connection for as long as its socket backlog takes to drain at the limit. */
#define PT_FRAME_FLOOD_NS         (10ull * 1000000000ull)
/* A rate-limit pause is logged at most once per connection in this period (it is counted
 * every time). */
#define PT_THROTTLE_LOG_NS        (10ull * 1000000000ull)

/* A token bucket: up to one second of its rate, refilled by elapsed time. */
struct pt_bucket {
	int64_t tokens;
	uint64_t ns;                 /* time the tokens were last brought up to date */
};
struct pt_session_limits {
	uint32_t max_frame;          /* bytes, header included, <= PT_FRAME_MAX */
	uint64_t records_per_s;      /* 0: unlimited */
	uint64_t bytes_per_s;        /* 0: unlimited; a BATCH counts with its body decompressed */
	uint64_t frames_per_s;       /* 0: unlimited; every frame counts, PONG included */
	uint32_t window;             /* batches in the writer at once, per connection */
	uint32_t ping_interval_ms;
};

struct pt_session_ops {
	void (*send)(void *io, const uint8_t *buf, size_t len);
	void (*close)(void *io);                /* after what was sent is flushed */
	void (*pause)(void *io, uint64_t ms);   /* rate limit: read nothing for ms */
	void (*resume)(void *io);               /* input may be processed again */
	void (*submit)(void *ctx, struct pt_job *job);
	/* Optional (NULL: none). ready: WELCOME was sent (the collector pushes its policy then).
	 * policy_result: the agent answered a POLICY (code 0 applied; PT_ERR_DISABLED when it
	 * refused the command); message is NUL-terminated, escaped for logs by the callee. */
	void (*ready)(void *io);
	void (*policy_result)(void *io, uint64_t version, uint32_t code, const char *message);
	/* sample_data: a SAMPLE_DATA (d's views valid during the call), or with disabled set
	 * (d NULL) the agent's ERROR(DISABLED) for a SAMPLE_GET. */
	void (*sample_data)(void *io, const struct pt_sample_data *d, bool disabled);
	/* Optional: evaluates the detection rules on exec record i of job's batch, here where it
	 * is decoded (the writer then only inserts the alerts it adds to job). 0 or -ENOMEM. */
	int (*detect)(void *ctx, struct pt_job *job, uint32_t i, const struct pt_exec *x);
};

enum pt_session_state { PT_SESS_HELLO, PT_SESS_WELCOME_WAIT, PT_SESS_READY, PT_SESS_CLOSED };

struct pt_session {
	int refs;
	enum pt_session_state state;
	const struct pt_session_ops *ops;
	void *io, *ctx;
	const struct pt_session_limits *lim;
	char agent_id[PT_TLS_CN_MAX + 1];
	char address[64];
	int64_t agent_row, host_row;
	uint64_t stream_id;
	uint8_t mode;
	uint32_t inflight;
	struct pt_bucket tok_records, tok_bytes, tok_frames;
	uint64_t charge_records, charge_bytes;  /* what the frame being handled costs */
	uint64_t throttle_logged_ns;
	uint64_t frames_over_ns;     /* since when the frame bucket has not been full; 0: it was */
	uint32_t pongs_owed, pongs_unsolicited;
	/* At most one PONG/counters job per connection is in the writer; a PONG arriving
	 * meanwhile replaces pong_next, and the counters accumulate, until that job is back. */
	bool welcomed, status_inflight, pong_pending;
	struct pt_pong pong_next;
	uint64_t pong_next_ns;
	uint64_t srv_counters[PT_SRV_COUNTER_END - PT_SRV_COUNTER_BASE];  /* not yet stored */
	/* The writer thread's alone (under its lock): this connection's share of the group
	 * being formed, so one connection cannot fill a group while others wait. */
	uint64_t wr_group;
	size_t wr_bytes;
	bool wr_held;
	uint64_t ping_nonce, last_pong_ns, connected_ns;
	bool stale, ping_outstanding;
	struct pt_decode_stats stats;
	uint64_t batches, records;
	struct log_ratelimit peer_log;   /* the lines this agent's frames trigger */
	TAILQ_ENTRY(pt_session) link;
};

struct pt_session *pt_session_new(const char *agent_id, const char *address,
				  const struct pt_session_ops *ops, void *io, void *ctx,
				  const struct pt_session_limits *lim, uint64_t now_ns);
void pt_session_ref(struct pt_session *s);
void pt_session_unref(struct pt_session *s);

/* Framing: given the bytes available, returns 0 with *total = the whole frame's length,
 * -EAGAIN when more bytes are needed, or a negative error after which the session has sent
 * ERROR and closed. */
int pt_session_frame_len(struct pt_session *s, const uint8_t *buf, size_t avail, size_t *total);
/* Whether the next frame may be handled now (false while waiting for WELCOME's data, with a
 * full window, or once closed). */
bool pt_session_wants_input(const struct pt_session *s);
/* Handles one whole frame. Returns 0, or a negative error after which the session is closed. */
int pt_session_frame(struct pt_session *s, const uint8_t *frame, size_t len, uint64_t now_ns);
/* The same, for a malloc'ed frame the session takes over (freed, or kept as a batch's
 * buffer: one copy less on the hot path). */
int pt_session_frame_take(struct pt_session *s, uint8_t *frame, size_t len, uint64_t now_ns);
/* A job of this session came back from the writer (on the loop thread). Consumes the job. */
void pt_session_job_done(struct pt_job *job);
/* Timers. */
void pt_session_ping(struct pt_session *s, uint64_t now_ns);
/* Sends a frame the caller built (POLICY) once the session is READY; false otherwise. */
bool pt_session_send(struct pt_session *s, const uint8_t *frame, size_t len);
void pt_session_collect(struct pt_session *s, uint64_t now_ns);
/* The transport is gone: no more ops on io; records the disconnection. */
void pt_session_detach(struct pt_session *s, uint64_t now_ns);
/* Sends ERROR(code, message) and closes; logs the reason with the agent and address. */
void pt_session_fail(struct pt_session *s, uint32_t code, uint8_t frame_type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
