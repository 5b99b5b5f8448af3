/* libFuzzer: arbitrary bytes as one kernel ring record, and as a boot id. The sensor trusts
 * nothing the kernel writes: any record either decodes into one the wire encoder accepts, or is
 * refused with -EBADMSG; never a crash, an overrun or a record that cannot be sent. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctrail/wire.h"
#include "../../agent/sensor_decode.h"

static struct pt_sensor_decoder dec;
static struct pt_sensor_decoded out;
static uint8_t enc[PT_RECORD_MAX];

static void check_str(struct pt_str s, size_t cap)
{
	if (s.len >= cap || (s.len && (!s.ptr || s.ptr[s.len] != '\0' || strlen(s.ptr) != s.len)))
		abort();
}

static void check_boot_id(const uint8_t *data, size_t size)
{
	uint8_t id[PT_BOOT_ID_LEN];
	char text[PT_BOOT_ID_TEXT_LEN + 1];
	int r = pt_boot_id_parse((const char *)data, size, id);

	if (r == 0) {
		/* what parsed is the canonical text, up to case */
		snprintf(text, sizeof(text),
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10],
			 id[11], id[12], id[13], id[14], id[15]);
		if (strncasecmp(text, (const char *)data, PT_BOOT_ID_TEXT_LEN) ||
		    (size != PT_BOOT_ID_TEXT_LEN &&
		     (size != PT_BOOT_ID_TEXT_LEN + 1 || data[PT_BOOT_ID_TEXT_LEN] != '\n')))
			abort();
	} else if (r != -EINVAL) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t boot[PT_BOOT_ID_LEN] = { 0xb0, 0x07 };
	struct pt_writer w;
	int r;

	if (!dec.md_ctx && pt_sensor_decoder_init(&dec, boot))
		abort();
	check_boot_id(data, size);
	r = pt_sensor_decode(&dec, data, size, &out);
	if (r == -EBADMSG)
		return 0;
	if (r != 0)
		abort();
	if (out.rec.type == PT_REC_PROCESS_EXEC) {
		const struct pt_exec *x = &out.rec.u.exec;

		check_str(x->path, sizeof(out.path));
		check_str(x->cwd, sizeof(out.cwd));
		check_str(x->comm, sizeof(out.comm));
		check_str(x->script_path, sizeof(out.script));
		if (x->argv.len > sizeof(out.argv) || (x->argv.len && x->argv.ptr[x->argv.len - 1]))
			abort();
		check_str(x->cgroup_path, sizeof(out.cgroup));
		if (x->container_id.len && (x->container_id.ptr < out.cgroup ||
					    x->container_id.ptr + x->container_id.len >
						    out.cgroup + x->cgroup_path.len))
			abort();
	} else if (out.rec.type == PT_REC_PROCESS_EXIT) {
		check_str(out.rec.u.exit.comm, sizeof(out.comm));
	} else if (out.is_fork) {
		return 0;   /* feeds the process table only: nothing to encode */
	} else {
		abort();
	}
	/* hash statuses are the caller's to fill: any valid one */
	pt_writer_init(&w, enc, sizeof(enc));
	if (pt_record_encode(&w, &out.rec) != 0)
		abort();
	return 0;
}
