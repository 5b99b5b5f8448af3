/* Loading the BPF programs, or finding them already running under the pin directory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "proctrail/log.h"
#include "sensor-int.h"

_Static_assert(PT_K_LOSS_RING_FULL == PT_LOSS_RING_FULL, "loss slot numbering");
_Static_assert(PT_K_LOSS_KERNEL_ERROR == PT_LOSS_KERNEL_ERROR, "loss slot numbering");
_Static_assert(PT_LOSS_COUNTER_MAX < PT_K_LOSS_REPORTED_BASE, "loss slots");
_Static_assert(PT_K_LOSS_REPORTED_BASE + PT_LOSS_COUNTER_MAX < PT_K_LOSS_LAYOUT_SLOT &&
	       PT_K_LOSS_LAYOUT_SLOT < PT_K_LOSS_SLOTS, "loss slots");

#define PIN_EVENTS    "events"
#define PIN_LOSS      "loss"
#define PIN_LINK_EXEC "link_exec"
#define PIN_LINK_EXIT "link_exit"
/* Links before maps: the programs stop writing before their ring goes. */
#define PIN_LINK_FORK "link_fork"
static const char *const pins_links_first[] = { PIN_LINK_FORK, PIN_LINK_EXIT, PIN_LINK_EXEC,
						PIN_LOSS, PIN_EVENTS };

static int pin_path(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Pins need a bpffs; a minimal system (no systemd) may not have mounted one. */
static int ensure_bpffs(const char *pin_dir)
{
	char parent[PATH_MAX];
	struct statfs sfs;
	char *slash;
	int n;

	n = snprintf(parent, sizeof(parent), "%s", pin_dir);
	if (n < 0 || (size_t)n >= sizeof(parent))
		return -ENAMETOOLONG;
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	if (statfs(parent, &sfs) < 0)
		return -errno;
	if ((unsigned long)sfs.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", parent, "bpf", 0, NULL) < 0)
			return -errno;
		log_info("mounted a bpf filesystem on %s", parent);
	}
	if (mkdir(pin_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Two readers of one ring would each release records the other has not taken: the second
 * agent is refused. The lock is on the directory and goes with the process. */
static int lock_dir(const char *pin_dir, int *lock_fd)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return err;
	}
	if (*lock_fd >= 0)
		close(*lock_fd);
	*lock_fd = fd;
	return 0;
}

static int obj_get(const char *dir, const char *name)
{
	char p[PATH_MAX];
	int fd;

	if (pin_path(p, sizeof(p), dir, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(p);
	return fd < 0 ? -errno : fd;
}

static int pin_fd(int fd, const char *dir, const char *name)
{
	char p[PATH_MAX];

	if (pin_path(p, sizeof(p), dir, name))
		return -ENAMETOOLONG;
	if (bpf_obj_pin(fd, p) < 0)
		return -errno;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int pt_sensor_kernel_open(const char *pin_dir, uint64_t ring_bytes, struct pt_sensor_kernel *k)
{
	struct proctrail_bpf *skel = NULL;
	int links[3] = { -1, -1, -1 };
	int err;

	k->ring_fd = k->loss_fd = k->lock_fd = -1;
	k->skel = NULL;
	k->reused = 0;
	err = ensure_bpffs(pin_dir);
	if (err) {
		log_warnx("bpf filesystem for %s: %s", pin_dir, strerror(-err));
		goto cleanup;
	}
	err = lock_dir(pin_dir, &k->lock_fd);
	if (err) {
		log_warnx("%s: %s", pin_dir, err == -EBUSY ?
			  "in use by another running agent" : strerror(-err));
		goto cleanup;
	}
	k->ring_fd = obj_get(pin_dir, PIN_EVENTS);
	k->loss_fd = obj_get(pin_dir, PIN_LOSS);
	links[0] = obj_get(pin_dir, PIN_LINK_EXEC);
	links[1] = obj_get(pin_dir, PIN_LINK_EXIT);
	links[2] = obj_get(pin_dir, PIN_LINK_FORK);
	if (k->loss_fd >= 0) {
		uint64_t layout = 0;

		pt_sensor_kernel_read_loss(k->loss_fd, PT_K_LOSS_LAYOUT_SLOT, &layout);
		if (layout != PT_K_LAYOUT_VERSION) {
			/* programs of another agent version: their records cannot be read by this
			 * one, and leaving them attached would keep a second set running */
			log_warnx("%s holds BPF objects of record layout %llu, this agent reads %u: "
				  "replacing them (records they hold unread are lost)", pin_dir,
				  (unsigned long long)layout, PT_K_LAYOUT_VERSION);
			close_fd(&k->ring_fd);
			close_fd(&k->loss_fd);
			close_fd(&links[0]);
			close_fd(&links[1]);
			close_fd(&links[2]);
			err = pt_sensor_uninstall(pin_dir);
			if (!err)
				err = ensure_bpffs(pin_dir);
			if (!err)
				err = lock_dir(pin_dir, &k->lock_fd);   /* the new directory */
			if (err) {
				log_warnx("remove old pins under %s: %s", pin_dir, strerror(-err));
				goto cleanup;
			}
		}
	}
	if (k->ring_fd >= 0 && k->loss_fd >= 0 && links[0] >= 0 && links[1] >= 0 && links[2] >= 0) {
		/* the programs of the previous run are attached and have kept writing into the
		 * pinned ring: keep them, so nothing produced between the two runs is missed */
		k->reused = 1;
		err = 0;
		goto cleanup;
	}
	if (links[0] >= 0 || links[1] >= 0 || links[2] >= 0 || k->ring_fd >= 0 || k->loss_fd >= 0)
		log_warnx("%s holds an incomplete set of pins; reloading", pin_dir);
	/* a partial set (a crash during install): start over, keeping the ring if it is there */
	close_fd(&links[0]);
	close_fd(&links[1]);
	close_fd(&links[2]);
	for (unsigned i = 0; i < 3; i++) {
		char p[PATH_MAX];

		if (!pin_path(p, sizeof(p), pin_dir, pins_links_first[i]))
			unlink(p);
	}

	skel = proctrail_bpf__open();
	if (!skel) {
		err = -errno;
		log_warnx("open BPF object: %s", strerror(-err));
		goto cleanup;
	}
	skel->rodata->wakeup_bytes = ring_bytes / 4;
	err = bpf_map__set_max_entries(skel->maps.events, (uint32_t)ring_bytes);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.scratch_map,
					       (uint32_t)libbpf_num_possible_cpus());
	if (!err && k->ring_fd >= 0)
		err = bpf_map__reuse_fd(skel->maps.events, k->ring_fd);
	if (!err && k->loss_fd >= 0)
		err = bpf_map__reuse_fd(skel->maps.loss, k->loss_fd);
	if (err) {
		log_warnx("reuse pinned maps: %s", strerror(-err));
		goto cleanup;
	}
	err = proctrail_bpf__load(skel);
	if (err) {
		log_warnx("load BPF programs: %s", strerror(-err));
		goto cleanup;
	}
	err = proctrail_bpf__attach(skel);
	if (err) {
		log_warnx("attach BPF programs: %s", strerror(-err));
		goto cleanup;
	}
	if (k->ring_fd < 0) {
		err = pin_fd(bpf_map__fd(skel->maps.events), pin_dir, PIN_EVENTS);
		if (!err)
			k->ring_fd = dup(bpf_map__fd(skel->maps.events));
	}
	if (!err && k->loss_fd < 0) {
		err = pin_fd(bpf_map__fd(skel->maps.loss), pin_dir, PIN_LOSS);
		if (!err)
			k->loss_fd = dup(bpf_map__fd(skel->maps.loss));
	}
	if (!err)
		err = pt_sensor_kernel_write_loss(k->loss_fd, PT_K_LOSS_LAYOUT_SLOT, PT_K_LAYOUT_VERSION);
	/* links last: their presence means the set is complete */
	if (!err)
		err = pin_fd(bpf_link__fd(skel->links.pt_exec), pin_dir, PIN_LINK_EXEC);
	if (!err)
		err = pin_fd(bpf_link__fd(skel->links.pt_exit), pin_dir, PIN_LINK_EXIT);
	if (!err)
		err = pin_fd(bpf_link__fd(skel->links.pt_fork), pin_dir, PIN_LINK_FORK);
	if (err) {
		log_warnx("pin under %s: %s", pin_dir, strerror(-err));
		goto cleanup;
	}
	if (k->ring_fd < 0 || k->loss_fd < 0) {
		err = -EMFILE;
		goto cleanup;
	}
	k->skel = skel;
	skel = NULL;
	err = 0;
cleanup:
	close_fd(&links[0]);
	close_fd(&links[1]);
	close_fd(&links[2]);
	proctrail_bpf__destroy(skel);
	if (err) {
		close_fd(&k->ring_fd);
		close_fd(&k->loss_fd);
		close_fd(&k->lock_fd);
	}
	return err;
}

void pt_sensor_kernel_close(struct pt_sensor_kernel *k)
{
	if (!k)
		return;
	close_fd(&k->ring_fd);
	close_fd(&k->loss_fd);
	close_fd(&k->lock_fd);
	/* the links are pinned: destroying the skeleton leaves the programs attached */
	proctrail_bpf__destroy(k->skel);
	k->skel = NULL;
}

/* A per-CPU map value is one u64 per possible CPU: a zeroed array of that many, or NULL with
 * the errno in *err. */
static uint64_t *percpu_values(int *ncpu, int *err)
{
	uint64_t *vals;

	*ncpu = libbpf_num_possible_cpus();
	if (*ncpu <= 0) {
		*err = *ncpu < 0 ? *ncpu : -EINVAL;
		return NULL;
	}
	vals = calloc((size_t)*ncpu, sizeof(*vals));
	*err = vals ? 0 : -ENOMEM;
	return vals;
}

int pt_sensor_kernel_read_loss(int loss_fd, uint32_t slot, uint64_t *total)
{
	int ncpu, err;
	uint64_t *vals = percpu_values(&ncpu, &err);

	*total = 0;
	if (!vals)
		return err;
	err = bpf_map_lookup_elem(loss_fd, &slot, vals) < 0 ? -errno : 0;
	for (int i = 0; !err && i < ncpu; i++)
		*total += vals[i];
	free(vals);
	return err;
}

int pt_sensor_kernel_write_loss(int loss_fd, uint32_t slot, uint64_t total)
{
	int ncpu, err;
	uint64_t *vals = percpu_values(&ncpu, &err);

	if (!vals)
		return err;
	vals[0] = total;
	err = bpf_map_update_elem(loss_fd, &slot, vals, BPF_ANY) < 0 ? -errno : 0;
	free(vals);
	return err;
}

int pt_sensor_uninstall(const char *pin_dir)
{
	char p[PATH_MAX];
	int err = 0;

	if (!pin_dir)
		pin_dir = PT_SENSOR_PIN_DIR;
	for (size_t i = 0; i < sizeof(pins_links_first) / sizeof(pins_links_first[0]); i++) {
		if (pin_path(p, sizeof(p), pin_dir, pins_links_first[i]))
			return -ENAMETOOLONG;
		if (unlink(p) < 0 && errno != ENOENT && !err)
			err = -errno;
	}
	if (rmdir(pin_dir) < 0 && errno != ENOENT && !err)
		err = -errno;
	return err;
}
