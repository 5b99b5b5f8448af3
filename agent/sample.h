/* Serving SAMPLE_GET: a chunk of a file this agent saw executed with the hash asked for.
 *
 * The path and identity come from the agent's own exec records (seen.h). The file is opened
 * O_PATH|O_NOFOLLOW, must still have the identity recorded at the exec, and is hashed again
 * whole before its first chunk goes out: a file that changed, or whose content no longer has
 * the hash, is refused (PT_SAMPLE_CHANGED). The verified descriptor is kept for the chunks
 * that follow, each read checked against the stat of the verification.
 *
 * Ownership: pt_sampler_new() borrows the seen table (it must outlive the sampler);
 * pt_sampler_free() closes what is open and is NULL-safe. One thread (the uplink's). */
#ifndef PROCTRAIL_AGENT_SAMPLE_H
#define PROCTRAIL_AGENT_SAMPLE_H

#include <stdint.h>

#include "proctrail/wire.h"
#include "seen.h"

#define PT_SAMPLE_MAX_BYTES_DEFAULT (64ull << 20)

struct pt_sampler;

int pt_sampler_new(struct pt_seen *seen, uint64_t max_bytes, struct pt_sampler **out);
void pt_sampler_free(struct pt_sampler *s);
/* Answers g into *d: a chunk (d->code 0, d->body into the sampler's buffer, valid until the
 * next call) or a refusal with its code and message. */
void pt_sampler_serve(struct pt_sampler *s, const struct pt_sample_get *g,
		      struct pt_sample_data *d);

#endif
