/* Sigma process_creation rules, compiled for evaluation on every exec (docs/detection.md).
 *
 * A rule set is built by adding rule files one at a time (each loads or is refused with a
 * reason; a refusal never affects the others), then compiled once: every value becomes a
 * matcher (literal, glob, PCRE2 regex with JIT, CIDR, field reference, exists), and the
 * literals of all rules go into one Aho-Corasick automaton. Per event the automaton scans each
 * field once; only rules whose literals were seen (plus the few that have no literal a match
 * must contain) are evaluated exactly.
 *
 * The engine knows nothing of records: the caller fills a pt_sigma_event (field id -> bytes).
 *
 * Ownership: the set owns everything it holds; pt_sigma_free() is NULL-safe. A compiled set is
 * used by one thread at a time (it holds the scratch space of an evaluation).
 */
#ifndef PROCTRAIL_SIGMA_H
#define PROCTRAIL_SIGMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The event fields a rule can name (the Sigma names, mapped in docs/detection.md). */
enum pt_sigma_field {
	PT_SF_IMAGE,                /* Image: process.executable */
	PT_SF_COMMAND_LINE,         /* CommandLine: process.command_line */
	PT_SF_PARENT_IMAGE,         /* ParentImage: process.parent.executable */
	PT_SF_PARENT_COMMAND_LINE,  /* ParentCommandLine: process.parent.command_line */
	PT_SF_USER,                 /* User: user.name */
	PT_SF_CWD,                  /* CurrentDirectory: process.working_directory */
	PT_SF_LOGON_ID,             /* LogonId: the login user id (decimal) */
	PT_SF_HASHES,               /* Hashes: "SHA256=<hex>" (proctrail's extension) */
	PT_SF_SHA256,               /* sha256: lowercase hex (proctrail's extension) */
	PT_SF_MAX
};

/* The Sigma field name of an id, or NULL. */
const char *pt_sigma_field_name(unsigned field);

/* One event: the bytes of each field, absent when ptr is NULL. Bytes need not be text. */
struct pt_sigma_event {
	struct {
		const char *ptr;
		uint32_t len;
	} f[PT_SF_MAX];
};

/* Bounds: what a rule may hold before it is refused. */
#define PT_SIGMA_FILE_MAX      (256u * 1024u)   /* bytes of one rule file */
#define PT_SIGMA_RULES_MAX     8192u
#define PT_SIGMA_VALUE_MAX     4096u            /* bytes of one value */
#define PT_SIGMA_NODES_MAX     20000u           /* YAML nodes visited per rule */
#define PT_SIGMA_COND_MAX      4096u            /* bytes of a condition */
#define PT_SIGMA_DEPTH_MAX     64u              /* condition nesting */
#define PT_SIGMA_FIELD_MAX     (1u << 20)       /* bytes of an event field evaluated */
#define PT_SIGMA_REASON_MAX    256u

struct pt_sigma_set;

struct pt_sigma_rule_info {
	const char *id, *title, *level, *file;   /* NUL-terminated, owned by the set */
};

int pt_sigma_new(struct pt_sigma_set **out);
void pt_sigma_free(struct pt_sigma_set *s);

/* Parses and adds one rule (YAML text, `file` names it in reasons and in its info). Returns 0
 * when it loaded; -EINVAL when refused, with a reason in reason[PT_SIGMA_REASON_MAX] (peer text
 * in it is escaped); -ENOMEM, -E2BIG (the set is full). Not after pt_sigma_compile(). */
int pt_sigma_add(struct pt_sigma_set *s, const char *file, const void *yaml, size_t len,
		 char reason[PT_SIGMA_REASON_MAX]);

/* Called for each file pt_sigma_load_dir() refuses, with the reason. */
typedef void (*pt_sigma_refused_fn)(void *ctx, const char *file, const char *reason);

/* Adds every *.yml / *.yaml file below dir (recursively, sorted, symlinks not followed),
 * reporting each refusal through fn. *loaded and *refused count them. Returns 0, or -errno
 * when dir itself cannot be read. */
int pt_sigma_load_dir(struct pt_sigma_set *s, const char *dir, pt_sigma_refused_fn fn,
		      void *ctx, unsigned *loaded, unsigned *refused);

/* Whether a file name is one pt_sigma_load_dir() loads (*.yml, *.yaml). */
bool pt_sigma_rule_file_name(const char *name);

/* Builds the prefilter. After it the set only evaluates. Returns 0 or -ENOMEM. */
int pt_sigma_compile(struct pt_sigma_set *s);

size_t pt_sigma_count(const struct pt_sigma_set *s);
const struct pt_sigma_rule_info *pt_sigma_rule(const struct pt_sigma_set *s, size_t i);
/* Rules evaluated on every event because no literal is necessary to their match. */
size_t pt_sigma_unfiltered(const struct pt_sigma_set *s);

/* Evaluates every rule on ev; calls fn(ctx, rule index) for each match, in index order. fn
 * returning non-zero stops the walk and is returned. Returns 0, or -ENOMEM. */
typedef int (*pt_sigma_match_fn)(void *ctx, size_t rule);
int pt_sigma_eval(struct pt_sigma_set *s, const struct pt_sigma_event *ev, pt_sigma_match_fn fn,
		  void *ctx);

struct pt_sigma_stats {
	uint64_t events, candidates, evaluated, matches, regex_errors;
};
void pt_sigma_stats(const struct pt_sigma_set *s, struct pt_sigma_stats *st);

#endif
