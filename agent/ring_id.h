/* Which kernel ring buffer the sensor reads: a pinned ring survives agent restarts but not a
 * reboot or an uninstall, and a new ring numbers its positions from 0 again. The identity is
 * the boot id plus the ring map's id (unique per boot). */
#ifndef PROCTRAIL_AGENT_RING_ID_H
#define PROCTRAIL_AGENT_RING_ID_H

#include <stdint.h>

#include "proctrail/spool.h"
#include "proctrail/wire.h"

int pt_boot_id(uint8_t out[PT_BOOT_ID_LEN]);
/* pin_dir NULL: the sensor's default. Returns 0 or -errno. */
int pt_ring_identity(const char *pin_dir, uint8_t id[PT_SPOOL_RING_ID_LEN]);

#endif
