/* Names of wire enumerations, as they appear in logs and JSON. */
#include <stddef.h>

#include "proctrail/store.h"
#include "proctrail/wire.h"

const char *pt_hash_status_name(unsigned status)
{
	static const char *const names[] = {
		[PT_HASH_OK] = "ok",
		[PT_HASH_TOO_LARGE] = "too_large",
		[PT_HASH_GONE] = "gone",
		[PT_HASH_CHANGED] = "changed",
		[PT_HASH_MEMFD] = "memfd",
		[PT_HASH_UNREADABLE] = "unreadable",
	};

	return status < sizeof(names) / sizeof(names[0]) ? names[status] : NULL;
}

const char *pt_entry_type_name(unsigned type)
{
	static const char *const names[] = {
		[PT_ENTRY_UNKNOWN] = "unknown",
		[PT_ENTRY_INIT] = "init",
		[PT_ENTRY_SSHD] = "sshd",
		[PT_ENTRY_TERMINAL] = "terminal",
		[PT_ENTRY_CRON] = "cron",
		[PT_ENTRY_CONTAINER] = "container",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

const char *pt_loss_counter_name(unsigned counter)
{
	static const char *const names[] = {
		[PT_LOSS_RING_FULL] = "ring_full",
		[PT_LOSS_KERNEL_ERROR] = "kernel_error",
		[PT_LOSS_QUEUE_FULL] = "queue_full",
		[PT_LOSS_SPOOL_FULL] = "spool_full",
		[PT_LOSS_SPOOL_CORRUPT] = "spool_corrupt",
		[PT_LOSS_ENCODE] = "encode",
		[PT_LOSS_HASH_QUEUE] = "hash_queue",
	};

	return counter < sizeof(names) / sizeof(names[0]) ? names[counter] : NULL;
}

const char *pt_sample_code_name(unsigned code)
{
	static const char *const names[] = {
		[PT_SAMPLE_OK] = "ok",
		[PT_SAMPLE_NOT_SEEN] = "not_seen",
		[PT_SAMPLE_CHANGED] = "changed",
		[PT_SAMPLE_GONE] = "gone",
		[PT_SAMPLE_TOO_LARGE] = "too_large",
		[PT_SAMPLE_UNREADABLE] = "unreadable",
		[PT_SAMPLE_BAD_REQUEST] = "bad_request",
	};

	return code < sizeof(names) / sizeof(names[0]) ? names[code] : NULL;
}

const char *pt_frame_type_name(unsigned type)
{
	static const char *const names[] = {
		[PT_FRAME_HELLO] = "HELLO",
		[PT_FRAME_WELCOME] = "WELCOME",
		[PT_FRAME_BATCH] = "BATCH",
		[PT_FRAME_ACK] = "ACK",
		[PT_FRAME_PING] = "PING",
		[PT_FRAME_PONG] = "PONG",
		[PT_FRAME_COLLECT] = "COLLECT",
		[PT_FRAME_POLICY] = "POLICY",
		[PT_FRAME_POLICY_RESULT] = "POLICY_RESULT",
		[PT_FRAME_ERROR] = "ERROR",
		[PT_FRAME_SAMPLE_GET] = "SAMPLE_GET",
		[PT_FRAME_SAMPLE_DATA] = "SAMPLE_DATA",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : NULL;
}

/* The collector's own counters sit beside the agent's loss counters; both name sets live here. */
const char *pt_srv_counter_name(uint32_t id)
{
	static const char *const names[] = {
		[PT_SRV_THROTTLED - PT_SRV_COUNTER_BASE] = "throttled",
		[PT_SRV_PONG_FLOOD - PT_SRV_COUNTER_BASE] = "unsolicited_pong",
		[PT_SRV_BATCH_REFUSED - PT_SRV_COUNTER_BASE] = "batch_refused",
		[PT_SRV_FLOOD_CLOSED - PT_SRV_COUNTER_BASE] = "flood_closed",
	};

	if (id <= PT_SRV_COUNTER_BASE || id >= PT_SRV_COUNTER_END)
		return NULL;
	return names[id - PT_SRV_COUNTER_BASE];
}
