/* What evaluating a rule set costs per event: the set of DIR compiled once, then a mix of
 * exec events (a build host's compiler runs, as bench/replay sends, and an interactive
 * host's commands) evaluated ROUNDS times; the median ns per event of 7 repetitions, with the
 * fastest and slowest (thread CPU time), with the prefilter and with every rule evaluated on every event.
 * Then what a second decode of an exec record costs (bench/replay's record: the collector
 * evaluated the rules in the writer thread on a re-decoded record before they moved to the
 * session, where the record is decoded anyway), and the adapter filling the rules' view.
 *
 *   build/bench/sigma_eval DIR [ROUNDS]        (default 20000 rounds of the 64-event mix)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/sigma/sigma-int.h"
#include "../server/detect.h"
#include "proctrail/clock.h"
#include "proctrail/sigma.h"

#define MIX 64
#define REPS 7

static const char *const BUILD_BINS[] = { "/usr/bin/cc", "/usr/bin/ld", "/usr/bin/make",
	"/usr/bin/sh", "/usr/bin/sed", "/usr/bin/awk", "/usr/bin/grep", "/usr/bin/cat" };

static const char *const HOST[][3] = {   /* executable, command line, working directory */
	{ "/usr/bin/ls", "ls -la /home/alice/src", "/home/alice" },
	{ "/usr/bin/git", "git status --porcelain", "/home/alice/src/proj" },
	{ "/usr/bin/python3.11", "/usr/bin/python3 /usr/lib/cnf-update-db --quiet", "/" },
	{ "/usr/bin/bash", "bash -c cd /srv/app && ./run.sh --port 8080", "/srv/app" },
	{ "/usr/sbin/sshd", "sshd: alice [priv]", "/" },
	{ "/usr/bin/systemctl", "systemctl status nginx.service", "/root" },
	{ "/usr/bin/curl", "curl -fsSL https://example.org/health -o /dev/null", "/root" },
	{ "/usr/bin/find", "find /var/log -name *.gz -mtime +30", "/" },
	{ "/usr/bin/ps", "ps -eo pid,comm,args", "/root" },
	{ "/usr/bin/tar", "tar -czf /backup/etc.tgz /etc", "/" },
	{ "/usr/bin/journalctl", "journalctl -u nginx --since today", "/root" },
	{ "/usr/lib/postgresql/15/bin/postgres", "postgres: checkpointer", "/var/lib/postgresql" },
	{ "/usr/bin/dpkg", "dpkg --status openssl", "/" },
	{ "/usr/bin/id", "id -u", "/home/alice" },
	{ "/usr/bin/sleep", "sleep 60", "/" },
	{ "/usr/bin/docker", "docker ps --format {{.Names}}", "/root" },
};

struct ev {
	char image[128], cmd[512], cwd[128], sha[65];
	struct pt_sigma_event e;
};

static int count(void *ctx, size_t rule)
{
	(void)rule;
	(*(uint64_t *)ctx)++;
	return 0;
}

static void fill(struct ev *v, size_t i)
{
	size_t h = sizeof(HOST) / sizeof(HOST[0]);

	if (i % 2 == 0) {
		const char *b = BUILD_BINS[(i / 2) % 8];

		snprintf(v->image, sizeof(v->image), "%s", b);
		snprintf(v->cmd, sizeof(v->cmd), "%s -O2 -c file%zu.c -o file%zu.o", b, i, i);
		snprintf(v->cwd, sizeof(v->cwd), "/home/build/src");
	} else {
		snprintf(v->image, sizeof(v->image), "%s", HOST[(i / 2) % h][0]);
		snprintf(v->cmd, sizeof(v->cmd), "%s", HOST[(i / 2) % h][1]);
		snprintf(v->cwd, sizeof(v->cwd), "%s", HOST[(i / 2) % h][2]);
	}
	for (int k = 0; k < 64; k++)
		v->sha[k] = "0123456789abcdef"[(i * 7 + (size_t)k * 13) % 16];
	v->sha[64] = 0;
	memset(&v->e, 0, sizeof(v->e));
	v->e.f[PT_SF_IMAGE].ptr = v->image;
	v->e.f[PT_SF_IMAGE].len = (uint32_t)strlen(v->image);
	v->e.f[PT_SF_COMMAND_LINE].ptr = v->cmd;
	v->e.f[PT_SF_COMMAND_LINE].len = (uint32_t)strlen(v->cmd);
	v->e.f[PT_SF_CWD].ptr = v->cwd;
	v->e.f[PT_SF_CWD].len = (uint32_t)strlen(v->cwd);
	v->e.f[PT_SF_PARENT_IMAGE].ptr = "/usr/bin/bash";
	v->e.f[PT_SF_PARENT_IMAGE].len = 13;
	v->e.f[PT_SF_PARENT_COMMAND_LINE].ptr = "-bash";
	v->e.f[PT_SF_PARENT_COMMAND_LINE].len = 5;
	v->e.f[PT_SF_USER].ptr = "alice";
	v->e.f[PT_SF_USER].len = 5;
	v->e.f[PT_SF_SHA256].ptr = v->sha;
	v->e.f[PT_SF_SHA256].len = 64;
}

/* CPU time of this thread: on a shared machine wall time would count other programs' turns */
static uint64_t cpu_ns(void)
{
	return pt_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run(const char *dir, bool prefilter, unsigned rounds, struct ev *evs)
{
	struct pt_sigma_set *s;
	struct pt_sigma_stats st;
	unsigned loaded = 0, refused = 0, r, k;
	double ns[REPS];
	uint64_t matches = 0;
	size_t i;

	if (pt_sigma_new(&s))
		return 1;
	s->no_prefilter = !prefilter;
	if (pt_sigma_load_dir(s, dir, NULL, NULL, &loaded, &refused) || pt_sigma_compile(s)) {
		fprintf(stderr, "sigma_eval: cannot load %s\n", dir);
		pt_sigma_free(s);
		return 1;
	}
	for (k = 0; k < REPS; k++) {
		uint64_t t0 = cpu_ns();

		for (r = 0; r < rounds; r++)
			for (i = 0; i < MIX; i++)
				pt_sigma_eval(s, &evs[i].e, count, &matches);
		ns[k] = (double)(cpu_ns() - t0) / ((double)rounds * MIX);
	}
	pt_sigma_stats(s, &st);
	qsort(ns, REPS, sizeof(ns[0]), cmp_d);
	printf("%s: automaton %zu states; ", prefilter ? "prefilter" : "no prefilter",
	       sg_ac_states(s->ac));
	printf("%u rules (%u refused), %zu evaluated on every event; "
	       "median %.0f ns/event (min %.0f, max %.0f), %.2f ns per rule per event; "
	       "per event %.2f candidates, %.2f rules evaluated exactly, %.3f matches\n",
	       loaded, refused, pt_sigma_unfiltered(s),
	       ns[REPS / 2], ns[0], ns[REPS - 1], ns[REPS / 2] / (loaded ? loaded : 1),
	       (double)st.candidates / (double)st.events, (double)st.evaluated / (double)st.events,
	       (double)st.matches / (double)st.events);
	pt_sigma_free(s);
	return 0;
}

static int decode_cost(void)
{
	static uint8_t buf[4096];
	static struct pt_detect_view view;
	static const char argv[] = "/usr/bin/sed\0-O2\0-c\0file5.c\0-o\0file5.o";
	struct pt_record rec = { .type = PT_REC_PROCESS_EXEC, .version = 1 }, r;
	struct pt_exec *e = &rec.u.exec;
	double dec[REPS], fill_ns[REPS];
	struct pt_writer w;
	size_t used;
	unsigned k, i, n = 200000;

	/* the fields bench/replay sets (fill_records) */
	e->time_ns = 1;
	e->pid = e->tid = 10000;
	e->ppid = 9999;
	memset(e->entity_id, 1, PT_ENTITY_ID_LEN);
	memset(e->parent_entity_id, 2, PT_ENTITY_ID_LEN);
	e->uid = e->euid = e->gid = e->egid = 1000;
	e->path = (struct pt_str){ "/usr/bin/sed", 12 };
	e->cwd = (struct pt_str){ "/home/build/src", 15 };
	e->comm = (struct pt_str){ "sed", 3 };
	e->argv = (struct pt_str){ argv, sizeof(argv) };
	e->args_count = 6;
	e->mode = 0100755;
	memset(e->sha256, 7, PT_SHA256_LEN);
	e->hash_status = PT_HASH_OK;
	pt_writer_init(&w, buf, sizeof(buf));
	if (pt_record_encode(&w, &rec))
		return 1;
	for (k = 0; k < REPS; k++) {
		uint64_t t0 = cpu_ns(), t1;

		for (i = 0; i < n; i++)
			if (pt_record_decode(buf, w.len, &r, &used, NULL))
				return 1;
		t1 = cpu_ns();
		for (i = 0; i < n; i++)
			pt_detect_view_fill(&view, &r.u.exec);
		dec[k] = (double)(t1 - t0) / n;
		fill_ns[k] = (double)(cpu_ns() - t1) / n;
	}
	qsort(dec, REPS, sizeof(dec[0]), cmp_d);
	qsort(fill_ns, REPS, sizeof(fill_ns[0]), cmp_d);
	printf("exec record of %zu bytes: pt_record_decode median %.0f ns (min %.0f, max %.0f); "
	       "pt_detect_view_fill median %.0f ns (min %.0f, max %.0f)\n", w.len, dec[REPS / 2],
	       dec[0], dec[REPS - 1], fill_ns[REPS / 2], fill_ns[0], fill_ns[REPS - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	static struct ev evs[MIX];
	unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 20000;
	size_t i;

	if (argc < 2 || argc > 3 || !rounds) {
		fprintf(stderr, "usage: sigma_eval DIR [ROUNDS]\n");
		return 2;
	}
	for (i = 0; i < MIX; i++)
		fill(&evs[i], i);
	return run(argv[1], true, rounds, evs) || run(argv[1], false, rounds / 10 ? rounds / 10 : 1, evs) ||
	       decode_cost();
}
