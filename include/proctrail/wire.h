/* proctrail wire format: TLV records and the frames of the agent-collector channel.
 * docs/wire-format.md is normative; this header mirrors it.
 *
 * All integers are big-endian. Nothing here does I/O; decoding never allocates.
 *
 * Record (the unit of an event; the same bytes go into the spool and into a BATCH):
 *
 *    0               1               2               3
 *   +---------------+---------------+---------------+---------------+
 *   |          record type          |    version    |     flags     |
 *   +---------------+---------------+---------------+---------------+
 *   |                  length of attributes (bytes)                 |
 *   +---------------+---------------+---------------+---------------+
 *   |  attributes ...                                               |
 *
 * Attribute:
 *   +---------------+---------------+---------------+---------------+
 *   |        attribute type         |         value length          |
 *   +---------------+---------------+---------------+---------------+
 *   |  value (length bytes, no padding) ...                         |
 *
 * Frame:
 *   +---------------+---------------+---------------+---------------+
 *   |      magic 0x50 0x54 ("PT")   |    version    |  frame type   |
 *   +---------------+---------------+---------------+---------------+
 *   |                   payload length (bytes)                      |
 *   +---------------+---------------+---------------+---------------+
 *   |                 attributes length (bytes)                     |
 *   +---------------+---------------+---------------+---------------+
 *   |  attributes ...                  |  body (payload - 4 - attributes length) ... |
 *
 * The body is empty except for BATCH, where it holds the records, raw or zstd-compressed.
 *
 * Type numbers are never reused: retire a number by leaving it out, never by giving it a new meaning.
 */
#ifndef PROCTRAIL_WIRE_H
#define PROCTRAIL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PT_WIRE_VERSION        1
#define PT_FRAME_MAGIC         0x5054u

/* ---- Maxima (every length is bounded; see docs/wire-format.md) ---- */
#define PT_RECORD_HDR_LEN      8u
#define PT_ATTR_HDR_LEN        4u
#define PT_FRAME_HDR_LEN       8u
#define PT_RECORD_MAX          65536u          /* whole record, header included */
#define PT_FRAME_MAX           (4u << 20)      /* whole frame, header included */
#define PT_FRAME_ATTRS_MAX     (3u << 20)      /* attribute section of a frame (POLICY is largest) */
#define PT_BATCH_RAW_MAX       (8u << 20)      /* decompressed BATCH body */
/* A zstd BATCH body may expand at most this many times (RAW_LEN <= body length x ratio): a
 * decompression bomb is refused from the header, before any allocation or inflating. Real
 * records compress 4-30x (a batch of one exec repeated ~40x, tests/unit/test_wire.c); the
 * encoder sends raw whatever would exceed it. */
#define PT_BATCH_ZSTD_RATIO_MAX 128u
#define PT_BATCH_RECORDS_MAX   16384u          /* records in one BATCH */
#define PT_PATH_MAX            4096u           /* executable, cwd, script paths */
#define PT_ARGV_MAX            8192u           /* argv bytes, NUL-separated, NUL-terminated */
#define PT_ARGS_MAX            1024u           /* argv entries */
#define PT_COMM_MAX            16u
#define PT_NAME_MAX            255u            /* host name, agent name, version strings */
#define PT_USER_NAME_MAX       255u            /* user and group names */
#define PT_CONTAINER_ID_MAX    255u            /* a container id or machine name */
#define PT_RUNTIME_MAX         32u             /* a container runtime's name */
#define PT_MESSAGE_MAX         1024u           /* ERROR text */
#define PT_COUNTERS_MAX        64u             /* counters in one status/PONG */
#define PT_POLICY_HASHES_MAX   65536u          /* SHA-256 entries in one POLICY */
#define PT_ENTITY_ID_LEN       16u
#define PT_SHA256_LEN          32u
#define PT_BOOT_ID_LEN         16u

/* Record header flags. */
#define PT_RECORD_F_CRITICAL   0x01u   /* a decoder older than the record's version must refuse it */

/* ---- Record types ---- */
enum pt_record_type {
	PT_REC_UNKNOWN        = 0,   /* decoder's value for a type it skipped; never sent */
	PT_REC_PROCESS_EXEC   = 1,
	PT_REC_PROCESS_EXIT   = 2,
	PT_REC_EXEC_BLOCKED   = 3,
	PT_REC_LOSS           = 4,
	PT_REC_AGENT_STATUS   = 5,
};

/* Why a SHA-256 is absent. 0 means present. */
enum pt_hash_status {
	PT_HASH_OK          = 0,
	PT_HASH_TOO_LARGE   = 1,
	PT_HASH_GONE        = 2,
	PT_HASH_CHANGED     = 3,
	PT_HASH_MEMFD       = 4,
	PT_HASH_UNREADABLE  = 5,
	PT_HASH_STATUS_MAX  = 5,
};
const char *pt_hash_status_name(unsigned status);   /* "too_large", ...; NULL if unknown */

/* Where a record can be lost. Each has a counter that reaches the collector. */
enum pt_loss_counter {
	PT_LOSS_RING_FULL      = 1,  /* kernel ring buffer reservation failed */
	PT_LOSS_KERNEL_ERROR   = 2,  /* a BPF program could not read what it needed */
	PT_LOSS_QUEUE_FULL     = 3,  /* in-memory queue and spool both refused */
	PT_LOSS_SPOOL_FULL     = 4,  /* spool at its size bound */
	PT_LOSS_SPOOL_CORRUPT  = 5,  /* a spooled record failed its CRC or framing */
	PT_LOSS_ENCODE         = 6,  /* an event could not be encoded (over a maximum) */
	PT_LOSS_HASH_QUEUE     = 7,  /* hash work queue full: event sent without a hash */
	PT_LOSS_COUNTER_MAX    = 7,
};
const char *pt_loss_counter_name(unsigned counter);   /* "ring_full", ...; NULL if unknown */

/* ---- Attribute types, per record type (numbers are scoped to their record/frame type) ---- */
enum pt_exec_attr {
	PT_EXEC_TIME_NS = 1,            /* u64 CLOCK_REALTIME ns */
	PT_EXEC_PID = 2,                /* u32 tgid */
	PT_EXEC_TID = 3,                /* u32 thread that called exec */
	PT_EXEC_PPID = 4,               /* u32 */
	PT_EXEC_ENTITY_ID = 5,          /* 16 bytes */
	PT_EXEC_PARENT_ENTITY_ID = 6,   /* 16 bytes */
	PT_EXEC_UID = 7, PT_EXEC_EUID = 8, PT_EXEC_GID = 9, PT_EXEC_EGID = 10,   /* u32 */
	PT_EXEC_CGROUP_ID = 11,         /* u64 */
	PT_EXEC_PATH = 12,              /* string, absolute path of the executed file */
	PT_EXEC_CWD = 13,               /* string */
	PT_EXEC_COMM = 14,              /* string */
	PT_EXEC_ARGV = 15,              /* bytes: each argument NUL-terminated */
	PT_EXEC_ARGS_COUNT = 16,        /* u32: arguments the process really had */
	PT_EXEC_FLAGS = 17,             /* u32: PT_EXEC_F_* */
	PT_EXEC_DEV = 18,               /* u64 (userspace dev_t encoding, makedev) */
	PT_EXEC_INO = 19,               /* u64 */
	PT_EXEC_SIZE = 20,              /* u64 */
	PT_EXEC_MTIME_NS = 21,          /* u64 */
	PT_EXEC_CTIME_NS = 22,          /* u64 */
	PT_EXEC_SHA256 = 23,            /* 32 bytes */
	PT_EXEC_HASH_STATUS = 24,       /* u8 pt_hash_status */
	PT_EXEC_SCRIPT_PATH = 25,       /* string: script run through an interpreter */
	PT_EXEC_SCRIPT_SHA256 = 26,     /* 32 bytes */
	PT_EXEC_SCRIPT_HASH_STATUS = 27,/* u8 */
	PT_EXEC_START_NS = 28,          /* u64 process start, ns since boot */
	PT_EXEC_MODE = 29,              /* u32 st_mode of the executable */
	/* context, from the agent's table of live processes and the kernel (docs/wire-format.md) */
	PT_EXEC_PARENT_PATH = 30,       /* string: the parent's executable */
	PT_EXEC_PARENT_ARGV = 31,       /* bytes: the parent's arguments, as ARGV */
	PT_EXEC_PARENT_ARGS_COUNT = 32, /* u32 */
	PT_EXEC_CONTEXT = 33,           /* u32: PT_CTX_F_*, what of the context is known */
	PT_EXEC_PGID = 34,              /* u32 process group id (its leader's tgid) */
	PT_EXEC_PGID_ENTITY_ID = 35,    /* 16 bytes: the group leader's entity id */
	PT_EXEC_SID = 36,               /* u32 session id (its leader's tgid) */
	PT_EXEC_SID_ENTITY_ID = 37,     /* 16 bytes */
	PT_EXEC_SID_PATH = 38,          /* string: the session leader's executable */
	PT_EXEC_ENTRY_ENTITY_ID = 39,   /* 16 bytes: the entry leader's */
	PT_EXEC_ENTRY_PATH = 40,        /* string */
	PT_EXEC_ENTRY_TYPE = 41,        /* u8 pt_entry_type */
	PT_EXEC_TTY_MAJOR = 42,         /* u32 controlling terminal */
	PT_EXEC_TTY_MINOR = 43,         /* u32 */
	PT_EXEC_VPID = 44,              /* u32 pid inside the process's pid namespace */
	PT_EXEC_LOGIN_UID = 45,         /* u32 the kernel's login uid (absent: not set) */
	PT_EXEC_SESSION_ID = 46,        /* u32 the kernel's audit session id (absent: none) */
	PT_EXEC_USER_NAME = 47,         /* string: name of EUID */
	PT_EXEC_REAL_USER_NAME = 48,    /* string: name of UID */
	PT_EXEC_GROUP_NAME = 49,        /* string: name of EGID */
	PT_EXEC_REAL_GROUP_NAME = 50,   /* string: name of GID */
	PT_EXEC_LOGIN_USER_NAME = 51,   /* string: name of LOGIN_UID */
	PT_EXEC_CONTAINER_ID = 52,      /* string */
	PT_EXEC_CONTAINER_RUNTIME = 53, /* string: docker, containerd, cri-o, podman, systemd-nspawn */
	PT_EXEC_CGROUP_PATH = 54,       /* string: cgroup v2 path, from the hierarchy's root */
	PT_EXEC_ATTR_MAX = 54,
};

/* PT_EXEC_CONTEXT: which parts of the context the agent knew. Absent attribute: a record made
 * without context (an agent older than the context). */
enum pt_ctx_flag {
	PT_CTX_F_PRESENT        = 1u << 0,   /* the record carries context */
	PT_CTX_F_PARENT_KNOWN   = 1u << 1,   /* PARENT_PATH/ARGV/ARGS_COUNT are the parent's */
	PT_CTX_F_PARENT_SEEDED  = 1u << 2,   /* ... read from /proc when the agent started */
	PT_CTX_F_PARENT_ARGV_TRUNCATED = 1u << 3,
	PT_CTX_F_PGID_LEADER    = 1u << 4,   /* PGID_ENTITY_ID present (the leader lives) */
	PT_CTX_F_SID_LEADER     = 1u << 5,   /* SID_ENTITY_ID present */
	PT_CTX_F_SID_KNOWN      = 1u << 6,   /* SID_PATH present */
	PT_CTX_F_ENTRY_KNOWN    = 1u << 7,   /* ENTRY_PATH/TYPE present */
	PT_CTX_F_TTY            = 1u << 8,   /* TTY_MAJOR/MINOR present */
	PT_CTX_F_LOGIN_UID      = 1u << 9,   /* LOGIN_UID present */
	PT_CTX_F_SESSION_ID     = 1u << 10,  /* SESSION_ID present */
	PT_CTX_F_CONTAINER      = 1u << 11,  /* CONTAINER_ID/RUNTIME present */
	PT_CTX_F_ENTRY_LEADER   = 1u << 12,  /* ENTRY_ENTITY_ID present (with ENTRY_KNOWN) */
	PT_CTX_F_ALL            = (1u << 13) - 1,
};

/* How the session of the entry leader entered the machine (ECS entry_leader.entry_meta.type). */
enum pt_entry_type {
	PT_ENTRY_UNKNOWN   = 0,
	PT_ENTRY_INIT      = 1,   /* started by init (a systemd unit, a daemon) */
	PT_ENTRY_SSHD      = 2,
	PT_ENTRY_TERMINAL  = 3,   /* login, getty: a console or serial terminal */
	PT_ENTRY_CRON      = 4,   /* cron, atd */
	PT_ENTRY_CONTAINER = 5,   /* a container runtime's shim or init */
	PT_ENTRY_TYPE_MAX  = 5,
};
const char *pt_entry_type_name(unsigned type);   /* "init", ...; NULL if unknown */

enum pt_exec_flag {
	PT_EXEC_F_PATH_TRUNCATED = 1u << 0,
	PT_EXEC_F_ARGV_TRUNCATED = 1u << 1,
	PT_EXEC_F_CWD_TRUNCATED  = 1u << 2,
	PT_EXEC_F_MEMFD          = 1u << 3,   /* executed file has no name on any filesystem */
	PT_EXEC_F_SETUID         = 1u << 4,   /* euid != uid after exec */
	PT_EXEC_F_SETGID         = 1u << 5,
	PT_EXEC_F_DELETED        = 1u << 6,   /* file was unlinked when the hash was taken */
};

enum pt_exit_attr {
	PT_EXIT_TIME_NS = 1,       /* u64 */
	PT_EXIT_PID = 2,           /* u32 */
	PT_EXIT_ENTITY_ID = 3,     /* 16 bytes */
	PT_EXIT_CODE = 4,          /* u32: exit status (0-255) when not signalled */
	PT_EXIT_SIGNAL = 5,        /* u32: terminating signal, 0 if none */
	PT_EXIT_COMM = 6,          /* string */
	PT_EXIT_START_NS = 7,      /* u64 */
	PT_EXIT_PATH = 8,          /* string: the executable, from the agent's process table */
	PT_EXIT_LIFETIME_NS = 9,   /* u64: from the process's start to its exit */
	PT_EXIT_CONTEXT = 10,      /* u32: PT_EXIT_CTX_F_* */
	PT_EXIT_ATTR_MAX = 10,
};

enum pt_exit_ctx_flag {
	PT_EXIT_CTX_F_PRESENT = 1u << 0,   /* LIFETIME_NS present */
	PT_EXIT_CTX_F_KNOWN   = 1u << 1,   /* PATH present */
	PT_EXIT_CTX_F_SEEDED  = 1u << 2,   /* ... from /proc at the agent's start */
};

enum pt_blocked_attr {
	PT_BLOCKED_TIME_NS = 1,        /* u64 */
	PT_BLOCKED_PID = 2,            /* u32 */
	PT_BLOCKED_UID = 3,            /* u32 */
	PT_BLOCKED_PATH = 4,           /* string */
	PT_BLOCKED_SHA256 = 5,         /* 32 bytes */
	PT_BLOCKED_POLICY_VERSION = 6, /* u64 */
	PT_BLOCKED_ENTITY_ID = 7,      /* 16 bytes, of the process that tried */
	PT_BLOCKED_PPID = 8,           /* u32 parent of the process that tried */
	PT_BLOCKED_SIZE = 9,           /* u64 size of the file */
	PT_BLOCKED_RULE_ID = 10,       /* u64 the rule that matched (0: none named) */
	PT_BLOCKED_ACTION = 11,        /* u8 pt_blocked_action */
	PT_BLOCKED_COMM = 12,          /* string: comm of the process that tried */
	PT_BLOCKED_PARENT_PATH = 13,   /* string: executable of the parent */
	PT_BLOCKED_ATTR_MAX = 13,
};

enum pt_loss_attr {
	PT_LOSS_TIME_NS = 1,    /* u64 */
	PT_LOSS_COUNTER = 2,    /* u16 pt_loss_counter */
	PT_LOSS_COUNT = 3,      /* u64 records lost since the previous LOSS of this counter */
	PT_LOSS_FIRST_SEQ = 4,  /* u64: when the lost records had sequence numbers */
	PT_LOSS_LAST_SEQ = 5,   /* u64 */
	PT_LOSS_ATTR_MAX = 5,
};

enum pt_status_attr {
	PT_STATUS_TIME_NS = 1,      /* u64 */
	PT_STATUS_QUEUE_DEPTH = 2,  /* u64 records in memory */
	PT_STATUS_SPOOL_BYTES = 3,  /* u64 */
	PT_STATUS_COUNTER = 4,      /* repeated: u16 counter id + u64 total since stream start */
	PT_STATUS_UPTIME_NS = 5,    /* u64 */
	PT_STATUS_EVENTS = 6,       /* u64 events produced in this stream */
	PT_STATUS_ATTR_MAX = 6,
};

/* ---- Decoded records: views into the decoded buffer, valid while it lives ---- */
struct pt_str {
	const char *ptr;   /* not NUL-terminated */
	uint32_t len;
};

struct pt_counter {
	uint16_t id;
	uint64_t value;
};

struct pt_exec {
	uint64_t time_ns, start_ns, cgroup_id;
	uint32_t pid, tid, ppid;
	uint32_t uid, euid, gid, egid;
	uint8_t entity_id[PT_ENTITY_ID_LEN], parent_entity_id[PT_ENTITY_ID_LEN];
	struct pt_str path, cwd, comm;
	struct pt_str argv;        /* NUL-separated, each arg NUL-terminated */
	uint32_t args_count;
	uint32_t flags;
	uint32_t mode;
	uint64_t dev, ino, size, mtime_ns, ctime_ns;
	uint8_t sha256[PT_SHA256_LEN];
	uint8_t hash_status;       /* pt_hash_status; sha256 meaningful only when PT_HASH_OK */
	struct pt_str script_path; /* len 0: not a script */
	uint8_t script_sha256[PT_SHA256_LEN];
	uint8_t script_hash_status;
	/* context: ctx_flags (PT_CTX_F_*) says which of these are meaningful */
	uint32_t ctx_flags;
	struct pt_str parent_path, parent_argv;
	uint32_t parent_args_count;
	uint32_t pgid, sid, vpid, login_uid, session_id, tty_major, tty_minor;
	uint8_t pgid_entity_id[PT_ENTITY_ID_LEN], sid_entity_id[PT_ENTITY_ID_LEN];
	uint8_t entry_entity_id[PT_ENTITY_ID_LEN];
	struct pt_str sid_path, entry_path;
	uint8_t entry_type;        /* pt_entry_type */
	struct pt_str user_name, real_user_name, group_name, real_group_name, login_user_name;
	struct pt_str container_id, container_runtime, cgroup_path;
};

struct pt_exit {
	uint64_t time_ns, start_ns;
	uint32_t pid, code, signal;
	uint8_t entity_id[PT_ENTITY_ID_LEN];
	struct pt_str comm;
	uint32_t ctx_flags;        /* PT_EXIT_CTX_F_* */
	struct pt_str path;        /* PT_EXIT_CTX_F_KNOWN */
	uint64_t lifetime_ns;      /* PT_EXIT_CTX_F_PRESENT */
};

enum pt_blocked_action {
	PT_BLOCKED_DENIED = 1,         /* the exec was refused (EPERM) */
	PT_BLOCKED_AUDIT = 2,          /* audit rule: would have blocked, allowed */
	PT_BLOCKED_NOT_STOPPED = 3,    /* a blocked hash ran: no permission event covered that exec
					* (memfd); seen by the sensor after the fact */
};

struct pt_exec_blocked {
	uint64_t time_ns, policy_version, size, rule_id;
	uint32_t pid, uid, ppid;
	uint8_t action;                /* pt_blocked_action; 0 (absent) reads as denied */
	struct pt_str comm, parent_path;
	uint8_t entity_id[PT_ENTITY_ID_LEN];
	struct pt_str path;
	uint8_t sha256[PT_SHA256_LEN];
};

struct pt_loss {
	uint64_t time_ns, count, first_seq, last_seq;
	uint16_t counter;
	bool has_seq_range;
};

struct pt_agent_status {
	uint64_t time_ns, queue_depth, spool_bytes, uptime_ns, events;
	uint32_t n_counters;
	struct pt_counter counters[PT_COUNTERS_MAX];
};

struct pt_record {
	uint16_t type;             /* pt_record_type; PT_REC_UNKNOWN when skipped */
	uint16_t wire_type;        /* the type as it was on the wire */
	uint8_t version, flags;
	union {
		struct pt_exec exec;
		struct pt_exit exit;
		struct pt_exec_blocked blocked;
		struct pt_loss loss;
		struct pt_agent_status status;
	} u;
};

/* What a decoder skipped instead of failing on. Callers add these to their own counters. */
struct pt_decode_stats {
	uint64_t unknown_records;
	uint64_t unknown_attrs;
	uint64_t unknown_frames;
};

struct pt_counter;

/* ---- Writer: bounded, sticky error ---- */
struct pt_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;                  /* first error (-ENOBUFS, -EMSGSIZE); later writes are no-ops */
};

void pt_writer_init(struct pt_writer *w, void *buf, size_t cap);
void pt_put_u8(struct pt_writer *w, uint16_t type, uint8_t v);
void pt_put_u16(struct pt_writer *w, uint16_t type, uint16_t v);
void pt_put_u32(struct pt_writer *w, uint16_t type, uint32_t v);
void pt_put_u64(struct pt_writer *w, uint16_t type, uint64_t v);
void pt_put_bytes(struct pt_writer *w, uint16_t type, const void *v, size_t len);
void pt_put_str(struct pt_writer *w, uint16_t type, struct pt_str s);
void pt_put_cstr(struct pt_writer *w, uint16_t type, const char *s);
void pt_put_raw(struct pt_writer *w, const void *v, size_t len);
/* Counters travel as repeated 10-byte attributes: u16 id, u64 value. */
void pt_put_counters(struct pt_writer *w, uint16_t type, const struct pt_counter *c, uint32_t n);

/* ---- Cursor: bounded reads ---- */
struct pt_cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
};

struct pt_attr {
	uint16_t type;
	uint16_t len;
	const uint8_t *val;
};

void pt_cursor_init(struct pt_cursor *c, const void *p, size_t len);
/* Next attribute. Returns 1 with *a filled, 0 at the exact end, -EBADMSG if truncated. */
int pt_cursor_next_attr(struct pt_cursor *c, struct pt_attr *a);
int pt_attr_u8(const struct pt_attr *a, uint8_t *v);     /* -EBADMSG on wrong length */
int pt_attr_u16(const struct pt_attr *a, uint16_t *v);
int pt_attr_u32(const struct pt_attr *a, uint32_t *v);
int pt_attr_u64(const struct pt_attr *a, uint64_t *v);
/* String: max bound, and no NUL byte inside. */
int pt_attr_str(const struct pt_attr *a, uint32_t max, struct pt_str *s);
int pt_attr_fixed(const struct pt_attr *a, void *out, size_t len);
int pt_attr_counter(const struct pt_attr *a, struct pt_counter *c);
/* Records that attribute `type` was seen; -EBADMSG on a second copy. Types >= 64 are not
 * tracked (callers use them only for repeatable attributes). */
int pt_attr_seen(uint64_t *seen, uint16_t type);

/* ---- Records ---- */
/* Encodes one record at the writer's position. Returns 0 or -errno (-ENOBUFS: does not fit,
 * -EMSGSIZE: a field over its maximum, -EINVAL: unknown type). On error the writer's length is
 * restored, so a failed record leaves no partial bytes behind. */
int pt_record_encode(struct pt_writer *w, const struct pt_record *r);

/* Decodes the record at the start of buf. On success returns 0, sets *consumed to its length,
 * and fills *r with views into buf. An unknown record type or attribute is skipped and counted
 * in *stats (r->type = PT_REC_UNKNOWN), never an error. Errors: -EBADMSG (malformed),
 * -EMSGSIZE (length over PT_RECORD_MAX), -EPROTONOSUPPORT (record version newer than ours with
 * the "must understand" flag). stats may be NULL. */
int pt_record_decode(const uint8_t *buf, size_t len, struct pt_record *r, size_t *consumed,
		     struct pt_decode_stats *stats);

/* Reads just the header: type and total length; for framing layers (spool) that do not parse. */
int pt_record_peek(const uint8_t *buf, size_t len, uint16_t *type, size_t *total_len);

/* ---- Frames ---- */
enum pt_frame_type {
	PT_FRAME_HELLO = 1,          /* agent -> collector, first frame */
	PT_FRAME_WELCOME = 2,        /* collector -> agent, answer to HELLO */
	PT_FRAME_BATCH = 3,          /* agent -> collector */
	PT_FRAME_ACK = 4,            /* collector -> agent, after a durable commit */
	PT_FRAME_PING = 5,           /* collector -> agent */
	PT_FRAME_PONG = 6,           /* agent -> collector, with health */
	PT_FRAME_COLLECT = 7,        /* collector -> agent in pull mode */
	PT_FRAME_POLICY = 8,         /* collector -> agent, block list */
	PT_FRAME_POLICY_RESULT = 9,  /* agent -> collector */
	PT_FRAME_ERROR = 10,         /* either way */
	PT_FRAME_SAMPLE_GET = 11,    /* collector -> agent: a chunk of a file it executed */
	PT_FRAME_SAMPLE_DATA = 12,   /* agent -> collector: the chunk (body), or a refusal */
};
const char *pt_frame_type_name(unsigned type);

enum pt_mode { PT_MODE_STREAM = 1, PT_MODE_PULL = 2 };
enum pt_codec { PT_CODEC_NONE = 0, PT_CODEC_ZSTD = 1 };

enum pt_error_code {
	PT_ERR_PROTOCOL = 1,       /* malformed or unexpected frame */
	PT_ERR_IDENTITY = 2,       /* payload names another agent than the certificate */
	PT_ERR_VERSION = 3,
	PT_ERR_LIMIT = 4,          /* over a rate or size limit */
	PT_ERR_DISABLED = 5,       /* command not allowed by the agent's configuration */
	PT_ERR_INTERNAL = 6,
	PT_ERR_POLICY = 7,         /* policy refused */
};

enum pt_hello_attr {
	PT_HELLO_VERSION = 1,      /* string: agent software version */
	PT_HELLO_HOSTNAME = 2,     /* string */
	PT_HELLO_BOOT_ID = 3,      /* 16 bytes */
	PT_HELLO_STREAM_ID = 4,    /* u64 */
	PT_HELLO_FIRST_SEQ = 5,    /* u64: oldest sequence held (unacknowledged) */
	PT_HELLO_NEXT_SEQ = 6,     /* u64: next sequence the agent will assign */
	PT_HELLO_MODE = 7,         /* u8 pt_mode */
	PT_HELLO_AGENT_NAME = 8,   /* string: must equal the certificate's name */
	PT_HELLO_POLICY_VERSION = 9, /* u64: block list version the agent enforces */
};
enum pt_welcome_attr {
	PT_WELCOME_VERSION = 1,    /* string: collector software version */
	PT_WELCOME_ACKED_SEQ = 2,  /* u64: last durable sequence of the agent's stream, if any */
	PT_WELCOME_PING_INTERVAL_MS = 3, /* u32 */
};
enum pt_batch_attr {
	PT_BATCH_STREAM_ID = 1,    /* u64 */
	PT_BATCH_FIRST_SEQ = 2,    /* u64 */
	PT_BATCH_COUNT = 3,        /* u32 */
	PT_BATCH_CODEC = 4,        /* u8 pt_codec */
	PT_BATCH_RAW_LEN = 5,      /* u32 body length after decompression */
};
enum pt_ack_attr {
	PT_ACK_STREAM_ID = 1,      /* u64 */
	PT_ACK_SEQ = 2,            /* u64: every sequence <= this is durably stored */
};
enum pt_ping_attr {
	PT_PING_NONCE = 1,         /* u64, PONG echoes it */
};
enum pt_pong_attr {
	PT_PONG_NONCE = 1,         /* u64 */
	PT_PONG_QUEUE_DEPTH = 2,   /* u64 */
	PT_PONG_SPOOL_BYTES = 3,   /* u64 */
	PT_PONG_COUNTER = 4,       /* repeated: u16 id + u64 total */
	PT_PONG_NEXT_SEQ = 5,      /* u64 */
	PT_PONG_ACKED_SEQ = 6,     /* u64: what the agent knows to be acknowledged */
};
enum pt_collect_attr {
	PT_COLLECT_NONCE = 1,      /* u64 */
};
enum pt_policy_attr {
	PT_POLICY_VERSION = 1,     /* u64 */
	PT_POLICY_SHA256 = 2,      /* repeated 32 bytes: a block rule without id (rule 0) */
	PT_POLICY_RULE = 3,        /* repeated 41 bytes: SHA-256, u64 rule id, u8 PT_RULE_F_* */
};
#define PT_POLICY_RULE_LEN     41u
enum pt_rule_flag {
	PT_RULE_F_AUDIT = 1u << 0,   /* report "would have blocked", allow the exec */
};
/* One rule of a POLICY frame. */
struct pt_policy_rule {
	uint8_t sha256[PT_SHA256_LEN];
	uint64_t rule_id;
	uint8_t flags;
};
enum pt_policy_result_attr {
	PT_POLICY_RESULT_VERSION = 1,  /* u64 */
	PT_POLICY_RESULT_CODE = 2,     /* u32: 0 applied, else pt_error_code */
	PT_POLICY_RESULT_MESSAGE = 3,  /* string */
};
enum pt_error_attr {
	PT_ERROR_CODE = 1,         /* u32 pt_error_code */
	PT_ERROR_MESSAGE = 2,      /* string */
	PT_ERROR_FRAME_TYPE = 3,   /* u8: the frame type refused, if any */
};

/* Fetching a sample (docs/protocol.md): the collector asks for one chunk at a time by offset,
 * so a transfer resumes after a reconnect by asking for the offset it has. */
#define PT_SAMPLE_CHUNK_MAX    (256u << 10)    /* body of one SAMPLE_DATA */
enum pt_sample_get_attr {
	PT_SAMPLE_GET_ID = 1,          /* u64: the collector's request id, echoed */
	PT_SAMPLE_GET_SHA256 = 2,      /* 32 bytes */
	PT_SAMPLE_GET_OFFSET = 3,      /* u64 */
	PT_SAMPLE_GET_LENGTH = 4,      /* u32: at most PT_SAMPLE_CHUNK_MAX */
};
enum pt_sample_data_attr {
	PT_SAMPLE_DATA_ID = 1,         /* u64 */
	PT_SAMPLE_DATA_SHA256 = 2,     /* 32 bytes */
	PT_SAMPLE_DATA_OFFSET = 3,     /* u64: of the body's first byte */
	PT_SAMPLE_DATA_SIZE = 4,       /* u64: the whole file's size */
	PT_SAMPLE_DATA_CODE = 5,       /* u32 pt_sample_code; not 0: no body */
	PT_SAMPLE_DATA_MESSAGE = 6,    /* string */
};
/* Why an agent refuses a sample. Numbers are never reused. */
enum pt_sample_code {
	PT_SAMPLE_OK = 0,
	PT_SAMPLE_NOT_SEEN = 1,        /* the agent never saw a file with that hash executed */
	PT_SAMPLE_CHANGED = 2,         /* the file is another one now, or its content changed */
	PT_SAMPLE_GONE = 3,            /* no file at the recorded path */
	PT_SAMPLE_TOO_LARGE = 4,       /* over the agent's sample-max-bytes */
	PT_SAMPLE_UNREADABLE = 5,
	PT_SAMPLE_BAD_REQUEST = 6,     /* offset past the end, length 0 or over the maximum */
	PT_SAMPLE_CODE_MAX = 6,
};
const char *pt_sample_code_name(unsigned code);   /* "not_seen", ...; NULL if unknown */

struct pt_frame_header {
	uint8_t version;
	uint8_t type;
	uint32_t payload_len;
};

/* Parses the fixed 8-byte header. Returns 0, -EAGAIN (need more bytes), -EPROTO (bad magic
 * or version), -EMSGSIZE (payload over the maximum: refused before anything is allocated). */
int pt_frame_header_parse(const uint8_t *buf, size_t len, size_t max_frame,
			  struct pt_frame_header *h);

/* Frame builder: the caller writes attributes with pt_put_* between begin and end, optionally
 * a body with pt_put_raw after pt_frame_end_attrs. */
struct pt_frame_builder {
	struct pt_writer *w;
	size_t start;
	size_t attrs_start;
};
void pt_frame_begin(struct pt_frame_builder *fb, struct pt_writer *w, uint8_t type);
void pt_frame_end_attrs(struct pt_frame_builder *fb);
/* Finishes the frame; returns 0 or the writer's error. */
int pt_frame_end(struct pt_frame_builder *fb);

/* A decoded frame: attrs and body are views into the caller's payload buffer. */
struct pt_frame {
	uint8_t type;
	const uint8_t *attrs;
	size_t attrs_len;
	const uint8_t *body;
	size_t body_len;
};
/* Splits a whole frame (header included, exactly h.payload_len after it) into attrs and body. */
int pt_frame_split(const uint8_t *frame, size_t len, struct pt_frame *f);

/* Typed frame contents, decoded from pt_frame attrs. Each decode requires the frame to be
 * consumed exactly; unknown attributes are skipped and counted. */
struct pt_hello {
	struct pt_str version, hostname, agent_name;
	uint8_t boot_id[PT_BOOT_ID_LEN];
	uint64_t stream_id, first_seq, next_seq, policy_version;
	uint8_t mode;
};
struct pt_welcome {
	struct pt_str version;
	uint64_t acked_seq;
	bool has_acked_seq;
	uint32_t ping_interval_ms;
};
struct pt_batch {
	uint64_t stream_id, first_seq;
	uint32_t count, raw_len;
	uint8_t codec;
	const uint8_t *body;   /* as on the wire (maybe compressed) */
	size_t body_len;
};
struct pt_ack {
	uint64_t stream_id, seq;
};
struct pt_ping {
	uint64_t nonce;
};
struct pt_pong {
	uint64_t nonce, queue_depth, spool_bytes, next_seq, acked_seq;
	uint32_t n_counters;
	struct pt_counter counters[PT_COUNTERS_MAX];
};
struct pt_collect {
	uint64_t nonce;
};
struct pt_policy {
	uint64_t version;
	uint32_t n_hashes;          /* SHA256 attributes */
	uint32_t n_rules;           /* RULE attributes; n_hashes + n_rules <= PT_POLICY_HASHES_MAX */
};
struct pt_policy_result {
	uint64_t version;
	uint32_t code;
	struct pt_str message;
};
struct pt_sample_get {
	uint64_t id, offset;
	uint8_t sha256[PT_SHA256_LEN];
	uint32_t length;
};
struct pt_sample_data {
	uint64_t id, offset, size;
	uint8_t sha256[PT_SHA256_LEN];
	uint32_t code;              /* pt_sample_code */
	struct pt_str message;
	const uint8_t *body;        /* the chunk: a view into the frame; empty unless code 0 */
	size_t body_len;
};
struct pt_error {
	uint32_t code;
	uint8_t frame_type;
	struct pt_str message;
};

int pt_hello_encode(struct pt_writer *w, const struct pt_hello *m);
int pt_hello_decode(const struct pt_frame *f, struct pt_hello *m, struct pt_decode_stats *st);
int pt_welcome_encode(struct pt_writer *w, const struct pt_welcome *m);
int pt_welcome_decode(const struct pt_frame *f, struct pt_welcome *m, struct pt_decode_stats *st);
int pt_ack_encode(struct pt_writer *w, const struct pt_ack *m);
int pt_ack_decode(const struct pt_frame *f, struct pt_ack *m, struct pt_decode_stats *st);
int pt_ping_encode(struct pt_writer *w, const struct pt_ping *m);
int pt_ping_decode(const struct pt_frame *f, struct pt_ping *m, struct pt_decode_stats *st);
int pt_pong_encode(struct pt_writer *w, const struct pt_pong *m);
int pt_pong_decode(const struct pt_frame *f, struct pt_pong *m, struct pt_decode_stats *st);
int pt_collect_encode(struct pt_writer *w, const struct pt_collect *m);
int pt_collect_decode(const struct pt_frame *f, struct pt_collect *m, struct pt_decode_stats *st);
int pt_error_encode(struct pt_writer *w, const struct pt_error *m);
int pt_error_decode(const struct pt_frame *f, struct pt_error *m, struct pt_decode_stats *st);
int pt_policy_result_encode(struct pt_writer *w, const struct pt_policy_result *m);
int pt_policy_result_decode(const struct pt_frame *f, struct pt_policy_result *m,
			    struct pt_decode_stats *st);
int pt_sample_get_encode(struct pt_writer *w, const struct pt_sample_get *m);
int pt_sample_get_decode(const struct pt_frame *f, struct pt_sample_get *m,
			 struct pt_decode_stats *st);
/* SAMPLE_DATA: m->body (body_len <= PT_SAMPLE_CHUNK_MAX) goes after the attributes; a
 * refusal (code != 0) carries none. Decode refuses a body with a refusal, or over the max. */
int pt_sample_data_encode(struct pt_writer *w, const struct pt_sample_data *m);
int pt_sample_data_decode(const struct pt_frame *f, struct pt_sample_data *m,
			  struct pt_decode_stats *st);
/* POLICY: hashes are repeated attributes; decode validates them and counts them, and
 * pt_policy_next_hash() walks them (returns 1 with 32 bytes copied, 0 at the end). */
int pt_policy_encode(struct pt_writer *w, uint64_t version, const uint8_t (*hashes)[PT_SHA256_LEN],
		     uint32_t n);
int pt_policy_decode(const struct pt_frame *f, struct pt_policy *m, struct pt_decode_stats *st);
struct pt_policy_iter {
	struct pt_cursor c;
};
void pt_policy_iter_init(struct pt_policy_iter *it, const struct pt_frame *f);
int pt_policy_next_hash(struct pt_policy_iter *it, uint8_t out[PT_SHA256_LEN]);
/* Rules: both kinds of entry, SHA256 ones as rule 0 without flags, in frame order. */
int pt_policy_rules_encode(struct pt_writer *w, uint64_t version,
			   const struct pt_policy_rule *rules, uint32_t n);
int pt_policy_next_rule(struct pt_policy_iter *it, struct pt_policy_rule *out);

/* BATCH. Encoding: records[] are already-encoded records (concatenated, `count` of them);
 * codec ZSTD compresses them when that is smaller. scratch must hold ZSTD_compressBound(len). */
int pt_batch_encode(struct pt_writer *w, uint64_t stream_id, uint64_t first_seq, uint32_t count,
		    const uint8_t *records, size_t records_len, int codec, uint8_t *scratch,
		    size_t scratch_cap);
/* The same, compressing with a caller-owned zstd context (reused across calls, one thread at
 * a time; NULL: a new one per call, as pt_batch_encode). The bytes produced are identical. */
struct ZSTD_CCtx_s;
int pt_batch_encode_cctx(struct pt_writer *w, uint64_t stream_id, uint64_t first_seq,
			 uint32_t count, const uint8_t *records, size_t records_len, int codec,
			 uint8_t *scratch, size_t scratch_cap, struct ZSTD_CCtx_s *cctx);
int pt_batch_decode(const struct pt_frame *f, struct pt_batch *m, struct pt_decode_stats *st);
/* Produces the raw record bytes of a decoded batch: a view of the body when uncompressed,
 * else decompressed into out (cap >= m->raw_len; raw_len is bounded by PT_BATCH_RAW_MAX and
 * checked against the zstd frame's declared size before any work). */
int pt_batch_records(const struct pt_batch *m, uint8_t *out, size_t out_cap,
		     const uint8_t **records, size_t *records_len);

/* Big-endian helpers for framing layers (spool). */
static inline void pt_be16_put(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void pt_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void pt_be64_put(uint8_t *p, uint64_t v)
{
	pt_be32_put(p, (uint32_t)(v >> 32));
	pt_be32_put(p + 4, (uint32_t)v);
}
static inline uint16_t pt_be16_get(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t pt_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t pt_be64_get(const uint8_t *p)
{
	return (uint64_t)pt_be32_get(p) << 32 | pt_be32_get(p + 4);
}

#endif
