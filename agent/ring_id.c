/* Boot id and ring identity (see ring_id.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "ring_id.h"
#include "sensor.h"
#include "sensor_decode.h"

int pt_boot_id(uint8_t out[PT_BOOT_ID_LEN])
{
	char s[64];
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	memset(out, 0, PT_BOOT_ID_LEN);
	if (fd < 0)
		return -errno;
	ssize_t r = read(fd, s, sizeof(s) - 1);
	close(fd);
	if (r <= 0)
		return -EIO;
	return pt_boot_id_parse(s, (size_t)r, out);
}

int pt_ring_identity(const char *pin_dir, uint8_t id[PT_SPOOL_RING_ID_LEN])
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[4096];
	int fd, rc;

	if ((rc = pt_boot_id(id)) < 0)
		return rc;
	if (snprintf(path, sizeof(path), "%s/events", pin_dir ? pin_dir : PT_SENSOR_PIN_DIR) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	rc = bpf_obj_get_info_by_fd(fd, &info, &len) < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	pt_be32_put(id + PT_BOOT_ID_LEN, info.id);
	return 0;
}
