/* Internals shared by the sensor's files (sensor.c, sensor_load.c). Not for the rest of the
 * agent: see sensor.h. The record decoding, which needs none of this, is in sensor_decode.h. */
#ifndef PROCTRAIL_AGENT_SENSOR_INT_H
#define PROCTRAIL_AGENT_SENSOR_INT_H

#include <stdint.h>

#include "proctrail.h"
#include "proctrail.skel.h"
#include "sensor.h"

struct pt_sensor_kernel {
	int ring_fd, loss_fd;
	int lock_fd;                  /* the pin directory, flock()ed: one reader per ring */
	struct proctrail_bpf *skel;   /* NULL when the pinned programs were reused */
	int reused;
};
int pt_sensor_kernel_open(const char *pin_dir, uint64_t ring_bytes, struct pt_sensor_kernel *k);
void pt_sensor_kernel_close(struct pt_sensor_kernel *k);
/* slot 0..PT_K_LOSS_SLOTS-1: per-CPU values summed */
int pt_sensor_kernel_read_loss(int loss_fd, uint32_t slot, uint64_t *total);
int pt_sensor_kernel_write_loss(int loss_fd, uint32_t slot, uint64_t total);

#endif
