/* The enforcer: a fanotify permission group, its decision thread and its watchdog process. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proctrail/clock.h"
#include "proctrail/escape.h"
#include "proctrail/log.h"
#include "enforce.h"

#define CACHE_SLOTS      4096u      /* power of two */
#define MEMFD_SLOTS      64u
#define DECIDE_MS_DEFAULT 1000u
#define HASH_MAX_DEFAULT (256ull << 20)
#define WD_TICK_MS       50
#define MARKS_DEFAULT    8192u      /* allow-cache bound, at most a quarter of max_user_marks */

/* Ignore-mark flags, best first: FAN_MARK_IGNORE (6.0) states the ignore semantics exactly;
 * FAN_MARK_EVICTABLE (5.19) lets the kernel drop a mark with its inode instead of pinning it.
 * None carries FAN_MARK_IGNORED_SURV_MODIFY: the next write clears the mark. */
static const unsigned mark_levels[] = {
	FAN_MARK_IGNORE | FAN_MARK_EVICTABLE, FAN_MARK_IGNORED_MASK | FAN_MARK_EVICTABLE,
	FAN_MARK_IGNORED_MASK, 0
};

/* Shared with the watchdog process (MAP_SHARED): lock-free, the agent may stop anywhere. */
enum { SLOT_IDLE, SLOT_PENDING, SLOT_WD_WRITING, SLOT_DONE };
struct wd_shared {
	_Atomic uint64_t heartbeat_ms;   /* CLOCK_MONOTONIC, the decision loop's last sign of life */
	_Atomic int slot_state;
	_Atomic int slot_fd;             /* the event being decided */
	_Atomic uint64_t slot_start_ms;
	_Atomic uint64_t allowed;        /* events the watchdog answered */
	_Atomic int stop;
	_Atomic uint64_t decide_ms;
};

struct cache_ent {
	struct pt_file_id id;
	uint8_t sha[PT_SHA256_LEN];
	bool valid;
};

struct pt_enforcer {
	struct pt_enforce_opts o;
	pt_enforce_emit_fn emit;
	void *ctx;

	pthread_mutex_t lock;            /* rules, version, stats */
	/* Held from the rule lookup of one exec to its answer and its allow mark, and by a policy
	 * swap and its flush: no allow mark decided under old rules outlives the flush, and no
	 * answer after pt_enforcer_apply() returns used old rules. Taken before lock. */
	pthread_mutex_t decide_lock;
	unsigned mark_level;             /* index in mark_levels; the last one: cache off */
	uint64_t mark_max;
	struct pt_policy_rule *rules;    /* sorted by sha256 */
	uint32_t nrules;
	uint64_t version, since_ns;
	struct pt_enforce_stats st;

	/* the group, while one exists */
	int fan, stopfd, memfd_probe;
	dev_t memfd_dev;
	bool fs_marked, thread_running;
	pthread_t thr;
	pid_t wd_pid;
	struct wd_shared *sh;

	struct cache_ent *cache;         /* decision thread only */
};

/* ---------- memfd hashes handed to the sensor ---------- */

static pthread_mutex_t memfd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cache_ent memfd_tab[MEMFD_SLOTS];
static unsigned memfd_next;

static bool same_id(const struct pt_file_id *a, const struct pt_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

void pt_memfd_hash_put(const struct pt_file_id *id, const uint8_t sha256[PT_SHA256_LEN])
{
	pthread_mutex_lock(&memfd_lock);
	struct cache_ent *c = &memfd_tab[memfd_next++ % MEMFD_SLOTS];
	c->id = *id;
	memcpy(c->sha, sha256, PT_SHA256_LEN);
	c->valid = true;
	pthread_mutex_unlock(&memfd_lock);
}

bool pt_memfd_hash_get(const struct pt_file_id *id, uint8_t sha256[PT_SHA256_LEN])
{
	bool found = false;

	pthread_mutex_lock(&memfd_lock);
	for (unsigned i = 0; i < MEMFD_SLOTS && !found; i++)
		if (memfd_tab[i].valid && same_id(&memfd_tab[i].id, id)) {
			memcpy(sha256, memfd_tab[i].sha, PT_SHA256_LEN);
			found = true;
		}
	pthread_mutex_unlock(&memfd_lock);
	return found;
}

/* ---------- helpers ---------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void file_id_of(const struct stat *st, struct pt_file_id *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
	id->ctime_ns = (uint64_t)st->st_ctim.tv_sec * 1000000000ull + (uint64_t)st->st_ctim.tv_nsec;
}

static int cmp_rule(const void *a, const void *b)
{
	return memcmp(((const struct pt_policy_rule *)a)->sha256,
		      ((const struct pt_policy_rule *)b)->sha256, PT_SHA256_LEN);
}

static int respond(int fan, int fd, uint32_t answer)
{
	struct fanotify_response r = { .fd = fd, .response = answer };
	return write(fan, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : -errno;
}

/* ---------- the watchdog process ---------- */

/* Runs in the forked child: only async-signal-safe calls. */
static void __attribute__((noreturn)) watchdog_main(int fan, struct wd_shared *sh, pid_t parent)
{
	struct fanotify_event_metadata md[16];
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);   /* only SIGKILL (parent death, teardown) ends it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "pt-fail-open");
	if (getppid() != parent)
		_exit(0);
	/* Keep nothing of the agent but the group: its death must close the group. */
	if (fan != 3) {
		dup2(fan, 3);
		fan = 3;
	}
	syscall(SYS_close_range, 4u, ~0u, 0u);
	for (;;) {
		uint64_t now = mono_ms(), bound = atomic_load(&sh->decide_ms);
		struct pollfd p = { .fd = fan, .events = POLLIN };
		bool stuck;

		if (atomic_load(&sh->stop) || getppid() != parent)
			_exit(0);
		if (atomic_load(&sh->slot_state) == SLOT_PENDING &&
		    now - atomic_load(&sh->slot_start_ms) > bound) {
			int exp = SLOT_PENDING;
			if (atomic_compare_exchange_strong(&sh->slot_state, &exp, SLOT_WD_WRITING)) {
				respond(fan, atomic_load(&sh->slot_fd), FAN_ALLOW);
				atomic_fetch_add(&sh->allowed, 1);
				atomic_store(&sh->slot_state, SLOT_DONE);
			}
		}
		stuck = now - atomic_load(&sh->heartbeat_ms) > bound;
		if (!stuck) {
			struct timespec ts = { 0, WD_TICK_MS * 1000000L };
			nanosleep(&ts, NULL);
			continue;
		}
		/* The agent is stuck or stopped: every new event is allowed here. */
		if (poll(&p, 1, WD_TICK_MS) <= 0)
			continue;
		ssize_t n = read(fan, md, sizeof(md));
		for (ssize_t off = 0; n > 0 && off + (ssize_t)sizeof(md[0]) <= n;) {
			struct fanotify_event_metadata *m = (void *)((char *)md + off);
			if (m->event_len < sizeof(*m))
				break;
			if (m->fd >= 0) {
				if (m->mask & FAN_OPEN_EXEC_PERM)
					respond(fan, m->fd, FAN_ALLOW);
				close(m->fd);
				atomic_fetch_add(&sh->allowed, 1);
			}
			off += m->event_len;
		}
	}
}

/* ---------- deciding ---------- */

static struct cache_ent *cache_slot(struct pt_enforcer *e, const struct pt_file_id *id)
{
	uint64_t h = id->ino * 0x9e3779b97f4a7c15ull ^ id->dev * 0xc2b2ae3d27d4eb4full;
	return &e->cache[(h >> 20) & (CACHE_SLOTS - 1)];
}

static void read_proc_stat(uint32_t pid, uint32_t *ppid, char *comm, size_t commlen)
{
	char path[64], buf[512];
	int fd;
	ssize_t n;

	*ppid = 0;
	comm[0] = 0;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	char *l = strchr(buf, '('), *r = strrchr(buf, ')');
	if (!l || !r || r < l)
		return;
	size_t cl = (size_t)(r - l - 1);
	if (cl >= commlen)
		cl = commlen - 1;
	memcpy(comm, l + 1, cl);
	comm[cl] = 0;
	unsigned pp = 0;
	char state;
	if (sscanf(r + 1, " %c %u", &state, &pp) == 2)
		*ppid = pp;
}

static uint32_t read_uid(uint32_t pid)
{
	char path[64], buf[1024];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *u = strstr(buf, "\nUid:");
	return u ? (uint32_t)strtoul(u + 5, NULL, 10) : 0;
}

static size_t readlink_str(const char *link, char *out, size_t cap)
{
	ssize_t n = readlink(link, out, cap - 1);
	if (n < 0)
		n = 0;
	out[n] = 0;
	return (size_t)n;
}

static void report(struct pt_enforcer *e, const struct fanotify_event_metadata *m,
		   const uint8_t sha[PT_SHA256_LEN], uint64_t size,
		   const struct pt_policy_rule *rule, uint64_t version)
{
	char link[64], path[PT_PATH_MAX], ppath[PT_PATH_MAX], comm[PT_COMM_MAX + 1];
	struct pt_record r = { .type = PT_REC_EXEC_BLOCKED };
	struct pt_exec_blocked *b = &r.u.blocked;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
	b->path = (struct pt_str){ path, (uint32_t)readlink_str(link, path, sizeof(path)) };
	read_proc_stat((uint32_t)m->pid, &b->ppid, comm, sizeof(comm));
	b->comm = (struct pt_str){ comm, (uint32_t)strlen(comm) };
	if (b->ppid) {
		snprintf(link, sizeof(link), "/proc/%u/exe", b->ppid);
		b->parent_path = (struct pt_str){ ppath,
			(uint32_t)readlink_str(link, ppath, sizeof(ppath)) };
	}
	b->time_ns = real_ns();
	b->pid = (uint32_t)m->pid;
	b->uid = read_uid((uint32_t)m->pid);
	memcpy(b->sha256, sha, PT_SHA256_LEN);
	b->size = size;
	b->policy_version = version;
	b->rule_id = rule->rule_id;
	b->action = rule->flags & PT_RULE_F_AUDIT ? PT_BLOCKED_AUDIT : PT_BLOCKED_DENIED;
	if (e->emit)
		e->emit(e->ctx, &r);
}

static void count(struct pt_enforcer *e, uint64_t *field, int64_t delta)
{
	pthread_mutex_lock(&e->lock);
	*field += (uint64_t)delta;
	pthread_mutex_unlock(&e->lock);
}

/* File systems whose files change without a local write (another client, the server, a FUSE
 * daemon): the kernel would not clear an allow mark, so none is added there. */
static bool changes_unseen(int fd)
{
	static const long remote[] = {
		0x6969 /* nfs */, (long)0xFF534D42 /* cifs */, (long)0xFE534D42 /* smb2 */,
		0x65735546 /* fuse */, 0x01021997 /* 9p */, 0x00c36400 /* ceph */,
		0x5346414F /* afs */, 0x7461636f /* ocfs2 */, 0x01161970 /* gfs2 */,
		0x564c /* ncp */, 0x517B /* smb */,
	};
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return true;
	for (unsigned i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if ((long)sf.f_type == remote[i])
			return true;
	return false;
}

/* What one exec event is, then what is answered. */
struct verdict {
	uint32_t answer;
	bool checked;                    /* sha is this content's (hashed or from the cache) */
	bool markable;                   /* an allow mark may be added if it is allowed */
	bool found;                      /* under a rule: hit, version */
	const char *how;
	struct pt_file_id id;
	uint8_t sha[PT_SHA256_LEN];
	uint64_t size, version;
	struct pt_policy_rule hit;
};

/* The file behind the event and its hash. Unknown or unreadable files are allowed unchecked
 * (fail open, counted). */
static void examine(struct pt_enforcer *e, const struct fanotify_event_metadata *m,
		    struct verdict *v)
{
	struct stat st, st2;
	struct cache_ent *c;
	bool memfd;

	if (fstat(m->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		count(e, &e->st.unchecked_error, 1);
		v->how = "not a readable file";
		return;
	}
	file_id_of(&st, &v->id);
	v->size = (uint64_t)st.st_size;
	memfd = e->memfd_probe >= 0 && st.st_dev == e->memfd_dev;
	/* A memfd is new anyway, and unlinked like any file of nlink 0 (O_TMPFILE, deleted):
	 * no new open reaches those by a name, so a mark would only pin them. */
	v->markable = !memfd && st.st_nlink > 0;
	c = cache_slot(e, &v->id);
	if (c->valid && same_id(&c->id, &v->id)) {
		memcpy(v->sha, c->sha, PT_SHA256_LEN);
		count(e, &e->st.cache_hits, 1);
		v->how = "cache";
	} else {
		uint64_t max = e->o.hash_max_bytes;
		if ((uint64_t)st.st_size > max) {
			count(e, &e->st.unchecked_too_large, 1);
			v->how = "too large, unchecked";
			return;
		}
		if (pt_hash_fd(m->fd, max, v->sha, NULL) < 0 || fstat(m->fd, &st2) < 0 ||
		    st2.st_size != st.st_size || st2.st_mtim.tv_nsec != st.st_mtim.tv_nsec ||
		    st2.st_mtim.tv_sec != st.st_mtim.tv_sec || st2.st_ctim.tv_sec != st.st_ctim.tv_sec ||
		    st2.st_ctim.tv_nsec != st.st_ctim.tv_nsec) {
			/* Written to while read: what runs is not what was hashed. The kernel refuses
			 * to exec a file open for writing (ETXTBSY), so this is a race we lose only
			 * against a writer that finished; counted. */
			count(e, &e->st.unchecked_error, 1);
			v->how = "changed while hashed, unchecked";
			return;
		}
		c->id = v->id;
		memcpy(c->sha, v->sha, PT_SHA256_LEN);
		c->valid = true;
		pthread_mutex_lock(&e->lock);
		e->st.hashed++;
		if (memfd)
			e->st.memfd_hashed++;
		pthread_mutex_unlock(&e->lock);
		v->how = "hashed";
	}
	if (memfd)
		pt_memfd_hash_put(&v->id, v->sha);
	v->checked = true;
}

/* The rules now (decide_lock held). */
static void judge(struct pt_enforcer *e, struct verdict *v)
{
	struct pt_policy_rule key = { 0 };

	memcpy(key.sha256, v->sha, PT_SHA256_LEN);
	pthread_mutex_lock(&e->lock);
	const struct pt_policy_rule *r = e->nrules ?
		bsearch(&key, e->rules, e->nrules, sizeof(*e->rules), cmp_rule) : NULL;
	if (r) {
		v->hit = *r;
		v->found = true;
		if (r->flags & PT_RULE_F_AUDIT)
			e->st.audited++;
		else
			e->st.denied++;
	}
	v->version = e->version;
	pthread_mutex_unlock(&e->lock);
	if (v->found && !(v->hit.flags & PT_RULE_F_AUDIT))
		v->answer = FAN_DENY;
}

/* ---------- the allow cache ---------- */

/* Removes every allow mark (inode marks: the group's filesystem marks stay). decide_lock
 * held, or the group not running. Returns how many were counted, or -errno. */
static int64_t allow_flush(struct pt_enforcer *e)
{
	int64_t had;

	if (e->fan < 0)
		return 0;
	if (fanotify_mark(e->fan, FAN_MARK_FLUSH, 0, AT_FDCWD, "/") < 0)
		return -errno;
	pthread_mutex_lock(&e->lock);
	had = (int64_t)e->st.allow_marks;
	e->st.allow_marks = 0;
	pthread_mutex_unlock(&e->lock);
	return had;
}

/* After fd's exec was allowed on content checked against the rules (decide_lock held). */
static void allow_mark(struct pt_enforcer *e, int fd, const struct pt_file_id *id)
{
	struct stat st;
	struct pt_file_id now;
	uint64_t held;
	unsigned flags;

	if (!mark_levels[e->mark_level])
		return;
	pthread_mutex_lock(&e->lock);
	held = e->st.allow_marks;
	pthread_mutex_unlock(&e->lock);
	if (held >= e->mark_max) {
		int64_t rc = allow_flush(e);
		if (rc < 0) {
			log_warnx("enforce: allow cache full, flush: %s; cache off",
				  strerror((int)-rc));
			e->mark_level = sizeof(mark_levels) / sizeof(mark_levels[0]) - 1;
			return;
		}
		count(e, &e->st.allow_flush_full, 1);
		log_debug("enforce: allow cache full (%llu marks): flushed", (unsigned long long)held);
	}
	while (fanotify_mark(e->fan, FAN_MARK_ADD | (flags = mark_levels[e->mark_level]),
			     FAN_OPEN_EXEC_PERM, fd, NULL) < 0) {
		if (errno != EINVAL) {
			count(e, &e->st.allow_mark_failed, 1);
			return;
		}
		/* An older kernel: the next flags down, for good. */
		if (!mark_levels[++e->mark_level]) {
			count(e, &e->st.allow_mark_failed, 1);
			log_info("enforce: allow cache off: this kernel refuses ignore marks (%s)",
				 strerror(EINVAL));
			return;
		}
	}
	pthread_mutex_lock(&e->lock);
	e->st.allow_marks++;
	e->st.allow_marked++;
	pthread_mutex_unlock(&e->lock);
	/* A write between the hash and the mark was not there to clear it: the identity tells.
	 * A write after the mark clears it in the kernel. */
	if (fstat(fd, &st) == 0) {
		file_id_of(&st, &now);
		if (same_id(&now, id)) {
			log_debug("enforce: allow mark on dev %u:%u ino %llu", major(id->dev),
				  minor(id->dev), (unsigned long long)id->ino);
			return;
		}
	}
	if (fanotify_mark(e->fan, FAN_MARK_REMOVE | (flags & (FAN_MARK_IGNORE | FAN_MARK_IGNORED_MASK)),
			  FAN_OPEN_EXEC_PERM, fd, NULL) < 0 && errno != ENOENT) {
		/* Cannot take this one back: take them all back. */
		if (allow_flush(e) < 0)
			log_warnx("enforce: a raced allow mark stays: %s", strerror(errno));
	} else {
		count(e, &e->st.allow_marks, -1);
	}
	count(e, &e->st.allow_raced, 1);
}

static void handle_event(struct pt_enforcer *e, const struct fanotify_event_metadata *m)
{
	struct wd_shared *sh = e->sh;
	int exp = SLOT_PENDING;
	struct verdict v = { .answer = FAN_ALLOW, .how = "not an exec" };
	bool ours;

	atomic_store(&sh->slot_fd, m->fd);
	atomic_store(&sh->slot_start_ms, mono_ms());
	atomic_store(&sh->slot_state, SLOT_PENDING);
	count(e, &e->st.events, 1);
	if (m->mask & FAN_OPEN_EXEC_PERM)
		examine(e, m, &v);
	pthread_mutex_lock(&e->decide_lock);
	if (v.checked)
		judge(e, &v);
	/* Before the answer: once the exec returns, its event is in the log (tests). */
	log_debug("enforce: event dev %u:%u ino %llu: %s (%s)", major((dev_t)v.id.dev),
		  minor((dev_t)v.id.dev), (unsigned long long)v.id.ino,
		  v.answer == FAN_DENY ? "deny" : v.found ? "allow, audit rule" : "allow", v.how);
	if (v.found)
		report(e, m, v.sha, v.size, &v.hit, v.version);
	ours = atomic_compare_exchange_strong(&sh->slot_state, &exp, SLOT_DONE);
	if (ours) {
		int rc = respond(e->fan, m->fd, v.answer);
		if (rc < 0)
			log_warnx("enforce: answering an exec: %s", strerror(-rc));
	} else {
		/* The watchdog answered (allowed) it: wait until its write is done before the
		 * descriptor number can be reused. Bounded: a dead watchdog cannot hold us. */
		for (int i = 0; i < 200 && atomic_load(&sh->slot_state) != SLOT_DONE; i++)
			usleep(1000);
	}
	/* Only content checked and allowed with no rule: never a blocked or audited file. */
	if (e->o.allow_cache && v.checked && v.markable && !v.found && !changes_unseen(m->fd))
		allow_mark(e, m->fd, &v.id);
	pthread_mutex_unlock(&e->decide_lock);
	close(m->fd);
	atomic_store(&sh->slot_state, SLOT_IDLE);
}

static void *enforce_thread(void *arg)
{
	struct pt_enforcer *e = arg;
	struct fanotify_event_metadata md;

	for (;;) {
		struct pollfd p[2] = { { .fd = e->fan, .events = POLLIN },
				       { .fd = e->stopfd, .events = POLLIN } };
		atomic_store(&e->sh->heartbeat_ms, mono_ms());
		int n = poll(p, 2, 100);
		if (n < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		/* One event per read: an event read but not answered is one the watchdog knows. */
		for (;;) {
			ssize_t r = read(e->fan, &md, sizeof(md));
			if (r < (ssize_t)sizeof(md))
				break;
			if (md.vers != FANOTIFY_METADATA_VERSION) {
				log_warnx("enforce: fanotify metadata version %u, expected %u; "
					  "closing the group (fail open)", md.vers,
					  FANOTIFY_METADATA_VERSION);
				return NULL;
			}
			if (md.fd >= 0)
				handle_event(e, &md);
			atomic_store(&e->sh->heartbeat_ms, mono_ms());
		}
	}
	return NULL;
}

/* ---------- the group ---------- */

static void group_close(struct pt_enforcer *e)
{
	if (e->thread_running) {
		uint64_t one = 1;
		if (write(e->stopfd, &one, sizeof(one)) < 0)
			log_warnx("enforce: stop: %s", strerror(errno));
		pthread_join(e->thr, NULL);
		e->thread_running = false;
	}
	if (e->wd_pid > 0) {
		atomic_store(&e->sh->stop, 1);
		kill(e->wd_pid, SIGKILL);
		waitpid(e->wd_pid, NULL, 0);
		e->wd_pid = 0;
	}
	if (e->sh) {
		pthread_mutex_lock(&e->lock);
		e->st.watchdog_allowed += atomic_load(&e->sh->allowed);
		pthread_mutex_unlock(&e->lock);
		munmap(e->sh, sizeof(*e->sh));
		e->sh = NULL;
	}
	/* The allow marks go with the group. */
	pthread_mutex_lock(&e->lock);
	e->st.allow_marks = 0;
	pthread_mutex_unlock(&e->lock);
	/* Closing the last descriptor of the group allows every pending event. */
	if (e->fan >= 0)
		close(e->fan);
	if (e->stopfd >= 0)
		close(e->stopfd);
	if (e->memfd_probe >= 0)
		close(e->memfd_probe);
	e->fan = e->stopfd = e->memfd_probe = -1;
	e->fs_marked = false;
}

static int group_open(struct pt_enforcer *e, char *msg, size_t msglen)
{
	int rc;

	e->fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_UNLIMITED_QUEUE,
			       O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (e->fan < 0) {
		rc = -errno;
		snprintf(msg, msglen, "fanotify_init: %s", strerror(-rc));
		return rc;
	}
	e->stopfd = eventfd(0, EFD_CLOEXEC);
	e->sh = mmap(NULL, sizeof(*e->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (e->stopfd < 0 || e->sh == MAP_FAILED) {
		rc = -errno;
		e->sh = NULL;
		snprintf(msg, msglen, "enforcer setup: %s", strerror(-rc));
		group_close(e);
		return rc;
	}
	memset(e->sh, 0, sizeof(*e->sh));
	atomic_store(&e->sh->decide_ms, e->o.decide_ms);
	atomic_store(&e->sh->heartbeat_ms, mono_ms());
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		rc = -errno;
		snprintf(msg, msglen, "fork of the fail-open watchdog: %s", strerror(-rc));
		group_close(e);
		return rc;
	}
	if (pid == 0)
		watchdog_main(e->fan, e->sh, parent);
	e->wd_pid = pid;
	if ((rc = -pthread_create(&e->thr, NULL, enforce_thread, e)) < 0) {
		snprintf(msg, msglen, "enforcer thread: %s", strerror(-rc));
		group_close(e);
		return rc;
	}
	e->thread_running = true;
	return 0;
}

/* The kernel's memfds live on one internal tmpfs: a filesystem mark through any memfd
 * covers them all, and only memfd execs reach it. */
static int mark_memfd(struct pt_enforcer *e)
{
	struct stat st;

	e->memfd_probe = memfd_create("proctrail-memfd-mark", MFD_CLOEXEC);
	if (e->memfd_probe < 0 || fstat(e->memfd_probe, &st) < 0)
		return -errno;
	if (fanotify_mark(e->fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM,
			  e->memfd_probe, NULL) < 0) {
		int rc = -errno;
		close(e->memfd_probe);
		e->memfd_probe = -1;
		return rc;
	}
	e->memfd_dev = st.st_dev;
	return 0;
}

/* File systems that hold no executables, or where permission events are refused. */
static bool fstype_skipped(const char *t)
{
	static const char *const skip[] = {
		"proc", "sysfs", "cgroup", "cgroup2", "bpf", "devpts", "mqueue", "debugfs",
		"tracefs", "securityfs", "pstore", "configfs", "fusectl", "binfmt_misc", "nsfs",
		"efivarfs", "autofs", "rpc_pipefs", "selinuxfs", NULL
	};
	for (unsigned i = 0; skip[i]; i++)
		if (!strcmp(t, skip[i]))
			return true;
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}

/* One filesystem mark per superblock (it covers every mount of it, bind mounts and other
 * namespaces included). Returns how many were marked, or -errno. */
static int mark_filesystems(struct pt_enforcer *e, char *msg, size_t msglen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192];
	dev_t seen[256];
	unsigned nseen = 0, marked = 0, failed = 0;

	if (!f) {
		int rc = -errno;
		snprintf(msg, msglen, "mountinfo: %s", strerror(-rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		char mnt[4096], *sep, fstype[64];
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mnt) != 3)
			continue;
		if (!(sep = strstr(line, " - ")) || sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (fstype_skipped(fstype))
			continue;
		dev_t d = makedev(maj, min);
		bool dup = false;
		for (unsigned i = 0; i < nseen; i++)
			dup |= seen[i] == d;
		if (dup || nseen == sizeof(seen) / sizeof(seen[0]))
			continue;
		seen[nseen++] = d;
		unescape(mnt);
		if (fanotify_mark(e->fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM,
				  AT_FDCWD, mnt) == 0) {
			marked++;
		} else {
			struct pt_esc shown;
			failed++;
			log_info("enforce: cannot mark %s (%s): %s", pt_esc(&shown, mnt, strlen(mnt)),
				 fstype, strerror(errno));
		}
	}
	fclose(f);
	if (!marked) {
		snprintf(msg, msglen, "no file system could be marked (%u refused)", failed);
		return -ENOTSUP;
	}
	log_info("enforce: exec permission marks on %u file system(s), %u refused", marked, failed);
	return (int)marked;
}

/* ---------- the guardrail ---------- */

static bool hash_path(const char *p, uint8_t sha[PT_SHA256_LEN])
{
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = pt_hash_fd(fd, HASH_MAX_DEFAULT, sha, NULL) == 0;
	close(fd);
	return ok;
}

unsigned pt_enforce_protected(uint8_t (*sha)[PT_SHA256_LEN], char (*paths)[256], unsigned max)
{
	char link[64];
	unsigned n = 0;
	uint32_t pid = (uint32_t)getpid(), ppid;
	char comm[PT_COMM_MAX + 1];

	/* the agent, then each ancestor up to init (service manager, the starting shell) */
	for (int depth = 0; depth < 64 && pid && n < max; depth++) {
		snprintf(link, sizeof(link), "/proc/%u/exe", pid);
		if (hash_path(link, sha[n])) {
			readlink_str(link, paths[n], sizeof(paths[n]));
			n++;
		}
		if (pid == 1)
			break;
		read_proc_stat(pid, &ppid, comm, sizeof(comm));
		pid = ppid ? ppid : 1;
	}
	static const char *const fixed[] = { "/proc/1/exe", "/bin/sh", NULL };
	for (unsigned i = 0; fixed[i] && n < max; i++)
		if (hash_path(fixed[i], sha[n])) {
			if (readlink_str(fixed[i], paths[n], sizeof(paths[n])) == 0)
				snprintf(paths[n], sizeof(paths[n]), "%s", fixed[i]);
			n++;
		}
	return n;
}

/* ---------- the interface ---------- */

/* Allow marks count against the user's fanotify marks, shared with every other group of
 * root's (another enforcer, an audit tool): take at most a quarter. */
static uint64_t default_marks(void)
{
	FILE *f = fopen("/proc/sys/fs/fanotify/max_user_marks", "re");
	unsigned long long max = 0;

	if (f) {
		if (fscanf(f, "%llu", &max) != 1)
			max = 0;
		fclose(f);
	}
	if (!max || max / 4 > MARKS_DEFAULT)
		return MARKS_DEFAULT;
	return max / 4 ? max / 4 : 1;
}

int pt_enforcer_new(const struct pt_enforce_opts *o, pt_enforce_emit_fn emit, void *ctx,
		    struct pt_enforcer **out)
{
	struct pt_enforcer *e = calloc(1, sizeof(*e));
	char msg[256];
	int rc;

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->o = *o;
	if (!e->o.hash_max_bytes)
		e->o.hash_max_bytes = HASH_MAX_DEFAULT;
	if (!e->o.decide_ms)
		e->o.decide_ms = DECIDE_MS_DEFAULT;
	if (!e->o.max_rules || e->o.max_rules > PT_POLICY_HASHES_MAX)
		e->o.max_rules = PT_POLICY_HASHES_MAX;
	e->emit = emit;
	e->ctx = ctx;
	e->fan = e->stopfd = e->memfd_probe = -1;
	pthread_mutex_init(&e->lock, NULL);
	pthread_mutex_init(&e->decide_lock, NULL);
	e->mark_max = e->o.allow_cache_marks ? e->o.allow_cache_marks : default_marks();
	e->cache = calloc(CACHE_SLOTS, sizeof(*e->cache));
	if (!e->cache) {
		pt_enforcer_free(e);
		return -ENOMEM;
	}
	if (e->o.hash_memfd) {
		if (group_open(e, msg, sizeof(msg)) < 0)
			log_warnx("enforce: memfd hashing off: %s", msg);
		else if ((rc = mark_memfd(e)) < 0) {
			/* Linux refuses filesystem marks on its internal memfd mount (SB_NOUSER):
			 * docs/sensor.md. The sensor reports such execs after the fact. */
			log_info("enforce: memfd execs cannot be checked before they run on this "
				 "kernel (marking the memfd file system: %s)", strerror(-rc));
			group_close(e);
		} else {
			log_info("enforce: memfd execs are hashed before they run");
		}
	}
	*out = e;
	return 0;
}

int pt_enforcer_apply(struct pt_enforcer *e, uint64_t version, const struct pt_policy_rule *rules,
		      uint32_t n, char *msg, size_t msglen)
{
	struct pt_policy_rule *sorted = NULL;
	uint8_t prot[80][PT_SHA256_LEN];
	char ppaths[80][256];
	unsigned nprot;
	int rc;

	msg[0] = 0;
	if (n > e->o.max_rules) {
		snprintf(msg, msglen, "policy of %u rules is over this agent's limit of %u; "
			 "not applied", n, e->o.max_rules);
		return -E2BIG;
	}
	if (n) {
		if (!(sorted = malloc((size_t)n * sizeof(*sorted)))) {
			snprintf(msg, msglen, "out of memory for %u rules", n);
			return -ENOMEM;
		}
		memcpy(sorted, rules, (size_t)n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_rule);
		nprot = pt_enforce_protected(prot, ppaths, 80);
		for (unsigned i = 0; i < nprot; i++) {
			struct pt_policy_rule k = { 0 };
			memcpy(k.sha256, prot[i], PT_SHA256_LEN);
			const struct pt_policy_rule *r = bsearch(&k, sorted, n, sizeof(*sorted), cmp_rule);
			if (r && !(r->flags & PT_RULE_F_AUDIT)) {
				struct pt_esc shown;
				snprintf(msg, msglen, "rule %llu would block %s, which this agent "
					 "needs (itself, init, its service manager or shell); "
					 "policy not applied", (unsigned long long)r->rule_id,
					 pt_esc(&shown, ppaths[i], strlen(ppaths[i])));
				free(sorted);
				return -EPERM;
			}
		}
	}
	if (n && e->fan < 0 && (rc = group_open(e, msg, msglen)) < 0) {
		free(sorted);
		return rc;
	}
	if (n && !e->fs_marked) {
		if ((rc = mark_filesystems(e, msg, msglen)) < 0) {
			group_close(e);
			if (e->o.hash_memfd && group_open(e, msg + strlen(msg), 0) == 0 &&
			    mark_memfd(e) < 0)
				group_close(e);
			free(sorted);
			return rc;
		}
		e->fs_marked = true;
	}
	/* New rules, then no allow mark of the old ones: an exec decided under the old rules
	 * either finished (its mark is flushed here) or waits for decide_lock and is looked up
	 * in the new rules. Only then is the version acknowledged (the caller). */
	pthread_mutex_lock(&e->decide_lock);
	pthread_mutex_lock(&e->lock);
	free(e->rules);
	e->rules = sorted;
	e->nrules = n;
	if (e->version != version || !e->since_ns)
		e->since_ns = real_ns();
	e->version = version;
	pthread_mutex_unlock(&e->lock);
	int64_t flushed = allow_flush(e);
	pthread_mutex_unlock(&e->decide_lock);
	if (flushed < 0) {
		/* Cannot happen on a working group; if it does, the marks go with the group. */
		log_warnx("enforce: flushing the allow cache: %s; opening the group again",
			  strerror((int)-flushed));
		group_close(e);
		if (n && ((rc = group_open(e, msg, msglen)) < 0 ||
			  (rc = mark_filesystems(e, msg, msglen)) < 0)) {
			group_close(e);
			return rc;
		}
		e->fs_marked = n > 0;
	} else if (e->fan >= 0) {
		count(e, &e->st.allow_flush_policy, 1);
		log_info("enforce: version %llu: allow cache flushed (%lld mark(s))",
			 (unsigned long long)version, (long long)flushed);
	}
	if (!n && e->fs_marked) {
		/* No rule: no permission check on the exec path at all. */
		group_close(e);
		if (e->o.hash_memfd) {
			char m2[256];
			if (group_open(e, m2, sizeof(m2)) < 0 || mark_memfd(e) < 0)
				group_close(e);
		}
	}
	return 0;
}

bool pt_enforcer_match(struct pt_enforcer *e, const uint8_t sha[PT_SHA256_LEN],
		       struct pt_policy_rule *rule, uint64_t *version)
{
	struct pt_policy_rule key = { 0 };
	bool found = false;

	memcpy(key.sha256, sha, PT_SHA256_LEN);
	pthread_mutex_lock(&e->lock);
	const struct pt_policy_rule *r = e->nrules ?
		bsearch(&key, e->rules, e->nrules, sizeof(*e->rules), cmp_rule) : NULL;
	if (r) {
		*rule = *r;
		*version = e->version;
		found = true;
	}
	pthread_mutex_unlock(&e->lock);
	return found;
}

uint64_t pt_enforcer_version(struct pt_enforcer *e, uint64_t *since_ns)
{
	uint64_t v;

	pthread_mutex_lock(&e->lock);
	v = e->version;
	if (since_ns)
		*since_ns = e->since_ns;
	pthread_mutex_unlock(&e->lock);
	return v;
}

void pt_enforcer_stats(struct pt_enforcer *e, struct pt_enforce_stats *st)
{
	pthread_mutex_lock(&e->lock);
	*st = e->st;
	if (e->sh)
		st->watchdog_allowed += atomic_load(&e->sh->allowed);
	pthread_mutex_unlock(&e->lock);
}

void pt_enforcer_free(struct pt_enforcer *e)
{
	if (!e)
		return;
	group_close(e);
	if (e->st.events)
		log_info("enforce: %llu permission events, %llu hashed, %llu cache hits, %llu denied, "
			 "%llu audited; allow cache: %llu marked, %llu raced, %llu refused, "
			 "%llu flushes by policy, %llu at the bound of %llu",
			 (unsigned long long)e->st.events, (unsigned long long)e->st.hashed,
			 (unsigned long long)e->st.cache_hits, (unsigned long long)e->st.denied,
			 (unsigned long long)e->st.audited, (unsigned long long)e->st.allow_marked,
			 (unsigned long long)e->st.allow_raced,
			 (unsigned long long)e->st.allow_mark_failed,
			 (unsigned long long)e->st.allow_flush_policy,
			 (unsigned long long)e->st.allow_flush_full, (unsigned long long)e->mark_max);
	free(e->rules);
	free(e->cache);
	pthread_mutex_destroy(&e->decide_lock);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
