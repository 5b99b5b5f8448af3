/* The collector's detection: loading --rules DIR (each refusal logged with its file and
 * reason), and the adapter from an exec record to the rule engine's event view
 * (include/proctrail/sigma.h; the field table is in docs/detection.md).
 */
#ifndef PROCTRAIL_SERVER_DETECT_H
#define PROCTRAIL_SERVER_DETECT_H

#include <stdatomic.h>
#include <stdio.h>

#include "proctrail/buf.h"
#include "proctrail/sigma.h"
#include "proctrail/wire.h"

/* Loads and compiles every rule below dir into a new set (*out, the caller's). Each refused
 * file is logged; the counts go to *loaded and *refused. When state is not NULL, every file
 * is appended to it as a JSON array in the walk's order: {"file","state":"loaded","id",
 * "title","level"} or {"file","state":"refused","reason"} (the reason's peer text escaped).
 * Returns 0 or -errno (dir unreadable, no memory): a directory whose rules are all refused
 * still gives an (empty) set. */
int pt_detect_load(const char *dir, struct pt_sigma_set **out, unsigned *loaded,
		   unsigned *refused, struct pt_buf *state);

/* A compiled set shared by the loop thread, which evaluates it, and the jobs whose alerts
 * point at its rules' strings (pt_store_alert): freed with its last reference, on any thread.
 * pt_detect_rules_new takes set (freed on failure too); unref is NULL-safe. */
struct pt_detect_rules {
	struct pt_sigma_set *set;
	atomic_uint refs;
};
int pt_detect_rules_new(struct pt_sigma_set *set, struct pt_detect_rules **out);
struct pt_detect_rules *pt_detect_rules_ref(struct pt_detect_rules *r);
void pt_detect_rules_unref(struct pt_detect_rules *r);

/* The fields of one exec record, as the rules see them. Views into the record and into
 * this struct's buffers: valid while both live. */
struct pt_detect_view {
	struct pt_sigma_event ev;
	char cmd[PT_ARGV_MAX], parent_cmd[PT_ARGV_MAX];
	char sha256[2 * PT_SHA256_LEN + 1], hashes[sizeof("SHA256=") + 2 * PT_SHA256_LEN];
	char logon[12];
};

void pt_detect_view_fill(struct pt_detect_view *v, const struct pt_exec *x);

/* Prints the load report of dir as Markdown (docs/detection.md is made with it). */
int pt_detect_report(const char *dir, FILE *out);

#endif
