/* The container a process runs in, from its cgroup v2 path: container runtimes name the cgroup
 * of each container after its id. Pure (no I/O), fuzzed by tests/fuzz/fuzz_context.c.
 *
 *   docker          .../docker-<64 hex>.scope (systemd driver), /docker/<64 hex> (cgroupfs)
 *   containerd      .../cri-containerd-<64 hex>.scope
 *   cri-o           .../crio-<64 hex>.scope (not crio-conmon-: that is the monitor)
 *   podman          .../libpod-<64 hex>.scope (not libpod-conmon-), .../libpod-<64 hex>/...
 *   systemd-nspawn  .../systemd-nspawn@<machine>.service/..., .../machine-<machine>.scope/...
 *
 * The deepest matching component wins: a container in a container is the inner one.
 */
#ifndef PROCTRAIL_AGENT_CONTAINER_H
#define PROCTRAIL_AGENT_CONTAINER_H

#include <stddef.h>

struct pt_container {
	const char *id;        /* points into the path given; not NUL-terminated */
	size_t id_len;
	const char *runtime;   /* a constant: "docker", "containerd", "cri-o", "podman", "systemd-nspawn" */
};

/* path[0..len): "/a/b/c". Returns 1 with *out filled when a container is named, else 0. */
int pt_container_from_cgroup(const char *path, size_t len, struct pt_container *out);

#endif
