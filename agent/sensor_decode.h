/* Decoding of the kernel's ring records (bpf/proctrail.h) into wire records: no I/O, no
 * clocks, no threads, so it can be fuzzed and tested on bytes alone. Everything in a record
 * comes from the kernel and is checked here against the bounds the BPF program keeps; a record
 * that breaks one is refused (-EBADMSG), never trusted.
 *
 * Ownership: the decoder is caller-allocated; pt_sensor_decoder_init() / _fini() hold the
 * digest context used for entity ids. One decoder per thread.
 */
#ifndef PROCTRAIL_AGENT_SENSOR_DECODE_H
#define PROCTRAIL_AGENT_SENSOR_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proctrail.h"
#include "proctrail/wire.h"

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as /proc/sys/kernel/random/boot_id has it */
#define PT_BOOT_ID_TEXT_LEN 36u

/* Exactly the 36-character UUID form, optionally followed by one '\n'; anything else (a stray
 * character, a short read) is -EINVAL: the boot id names the entity ids and the ring, a wrong
 * one must not pass silently. */
int pt_boot_id_parse(const char *text, size_t len, uint8_t out[PT_BOOT_ID_LEN]);

struct pt_sensor_decoder {
	uint8_t boot_id[PT_BOOT_ID_LEN];
	int64_t boot_to_real_ns;   /* CLOCK_REALTIME - CLOCK_BOOTTIME; the caller keeps it fresh */
	void *md_ctx, *md;         /* EVP_MD_CTX, EVP_MD: one context reused per entity id */
	/* Recent entity ids: a process's exit, and most parents, repeat an id just computed. */
	struct pt_eid_entry {
		uint64_t start;
		uint32_t tgid;
		uint8_t id[PT_ENTITY_ID_LEN];
	} eid_cache[256];
};

int pt_sensor_decoder_init(struct pt_sensor_decoder *d, const uint8_t boot_id[PT_BOOT_ID_LEN]);
void pt_sensor_decoder_fini(struct pt_sensor_decoder *d);

/* A fork: not a record of its own, it feeds the agent's process table. */
struct pt_sensor_fork {
	uint32_t tgid, ppid;
	uint64_t start_ns, parent_start_ns;
	uint8_t eid[PT_ENTITY_ID_LEN], parent_eid[PT_ENTITY_ID_LEN];
};

/* A decoded record and the storage its strings point into. rec.type is PT_REC_UNKNOWN for a
 * fork (is_fork). */
struct pt_sensor_decoded {
	struct pt_record rec;
	bool hash_path;            /* exec: path names a file to hash (not an internal mount) */
	bool is_fork;
	struct pt_sensor_fork fork;
	/* exec: start times (ns since boot) of the parent and the session leader, to find them
	 * in the process table (0: the session leader is gone) */
	uint64_t parent_start_ns, sid_start_ns;
	char path[PT_PATH_MAX + 1];
	char cwd[PT_PATH_MAX + 1];
	char script[PT_PATH_MAX + 1];
	char argv[PT_K_ARGV_MAX + 1];
	char comm[PT_COMM_MAX + 1];
	char cgroup[PT_PATH_MAX + 1];
};

/* One ring record (data, len as the ring gave them; no alignment assumed). Returns 0, or
 * -EBADMSG for a record that is short, of an unknown type, or has a length beyond what the BPF
 * program writes. out->rec's hash fields are left for the caller. */
int pt_sensor_decode(struct pt_sensor_decoder *d, const void *data, size_t len,
		     struct pt_sensor_decoded *out);

#endif
