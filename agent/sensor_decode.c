/* Kernel ring records -> wire records (see sensor_decode.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <openssl/evp.h>

#include "proctrail/hex.h"
#include "container.h"
#include "sensor_decode.h"

/* a kernel argv, with the terminator added when it was cut, always fits the wire */
_Static_assert(PT_K_ARGV_MAX + 1 <= PT_ARGV_MAX, "argv fits the wire");
/* the BPF program clamps the whole data area to this; lengths above it were never written */
_Static_assert(2 * PT_K_PATH_MAX + PT_K_ARGV_MAX + 2 * PT_K_PATH_MAX <= PT_K_DATA_MAX,
	       "data area holds every part at its maximum");

int pt_boot_id_parse(const char *text, size_t len, uint8_t out[PT_BOOT_ID_LEN])
{
	uint8_t id[PT_BOOT_ID_LEN];
	unsigned n = 0;

	if (len == PT_BOOT_ID_TEXT_LEN + 1 && text[PT_BOOT_ID_TEXT_LEN] == '\n')
		len--;
	if (len != PT_BOOT_ID_TEXT_LEN)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int v;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i] != '-')
				return -EINVAL;
			continue;
		}
		v = pt_hex_digit((unsigned char)text[i]);
		if (v < 0)
			return -EINVAL;
		if (n % 2 == 0)
			id[n / 2] = (uint8_t)(v << 4);
		else
			id[n / 2] |= (uint8_t)v;
		n++;
	}
	/* written only when whole: a caller never sees half an id */
	memcpy(out, id, PT_BOOT_ID_LEN);
	return 0;
}

int pt_sensor_decoder_init(struct pt_sensor_decoder *d, const uint8_t boot_id[PT_BOOT_ID_LEN])
{
	memset(d, 0, sizeof(*d));
	memcpy(d->boot_id, boot_id, PT_BOOT_ID_LEN);
	d->md_ctx = EVP_MD_CTX_new();
	d->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!d->md_ctx || !d->md) {
		pt_sensor_decoder_fini(d);
		return -ENOMEM;
	}
	return 0;
}

void pt_sensor_decoder_fini(struct pt_sensor_decoder *d)
{
	EVP_MD_CTX_free(d->md_ctx);
	EVP_MD_free(d->md);
	d->md_ctx = NULL;
	d->md = NULL;
}

static void entity_id(struct pt_sensor_decoder *d, uint32_t tgid, uint64_t start_boottime,
		      uint8_t out[PT_ENTITY_ID_LEN])
{
	uint8_t in[PT_BOOT_ID_LEN + 4 + 8], sha[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	struct pt_eid_entry *c =
		&d->eid_cache[(tgid ^ (start_boottime >> 6) ^ (start_boottime >> 20)) & 255];

	if (c->tgid == tgid && c->start == start_boottime && start_boottime) {
		memcpy(out, c->id, PT_ENTITY_ID_LEN);
		return;
	}
	memcpy(in, d->boot_id, PT_BOOT_ID_LEN);
	pt_be32_put(in + PT_BOOT_ID_LEN, tgid);
	pt_be64_put(in + PT_BOOT_ID_LEN + 4, start_boottime);
	if (!EVP_DigestInit_ex(d->md_ctx, d->md, NULL) ||
	    !EVP_DigestUpdate(d->md_ctx, in, sizeof(in)) || !EVP_DigestFinal_ex(d->md_ctx, sha, &n))
		memset(sha, 0, sizeof(sha));
	memcpy(out, sha, PT_ENTITY_ID_LEN);
	c->tgid = tgid;
	c->start = start_boottime;
	memcpy(c->id, sha, PT_ENTITY_ID_LEN);
}

static uint64_t to_real(const struct pt_sensor_decoder *d, uint64_t boot_ns)
{
	return (uint64_t)((int64_t)boot_ns + d->boot_to_real_ns);
}

/* The components of a path as the BPF walk wrote them, found once for the check and the join */
struct comps {
	unsigned n;
	uint16_t off[PT_K_DEPTH_MAX], len[PT_K_DEPTH_MAX];
};

/* What the BPF walk can write (put_name, walk_path): NUL-terminated components of at most
 * PT_K_NAME_MAX bytes each, at most PT_K_DEPTH_MAX of them, PT_K_PATH_MAX bytes in all.
 * Anything else did not come from the program this agent loaded. */
static int check_components(const char *p, uint32_t len, struct comps *c)
{
	c->n = 0;
	if (len > PT_K_PATH_MAX || (len && p[len - 1] != '\0'))
		return -EBADMSG;
	for (uint32_t i = 0; i < len; c->n++) {
		size_t l = strnlen(p + i, len - i);

		if (l + 1 > PT_K_NAME_MAX || c->n == PT_K_DEPTH_MAX)
			return -EBADMSG;
		c->off[c->n] = (uint16_t)i;
		c->len[c->n] = (uint16_t)l;
		i += (uint32_t)l + 1;
	}
	return 0;
}

/* Components come leaf first (see bpf/proctrail.h); writes "/a/b/c", or for a file on an
 * internal mount its bare name ("memfd:x"). When the kernel stopped before the root (cut), the
 * top is unknown and the path starts with ".../" so nobody takes it for an absolute path.
 * c is what check_components() found in p. Returns the length; sets *trunc when cap cut it. */
static size_t join_components(const char *p, const struct comps *c, bool bare, bool cut,
			      char *out, size_t cap, bool *trunc)
{
	unsigned n = c->n;
	size_t o = 0;

	if (cut) {
		memcpy(out, "...", 3);
		o = 3;
		bare = false;
	}
	if (n == 0 && !bare && !cut)
		out[o++] = '/';
	for (unsigned j = n; j-- > 0;) {
		size_t l = c->len[j];

		if (!(bare && j == n - 1)) {
			if (o + 1 >= cap) {
				*trunc = true;
				break;
			}
			out[o++] = '/';
		}
		if (o + l >= cap) {
			l = cap - 1 - o;
			*trunc = true;
		}
		memcpy(out + o, p + c->off[j], l);
		o += l;
	}
	out[o] = '\0';
	return o;
}

/* Drops "." components and repeated slashes in place. ".." stays: with symlinks on the way
 * it is not a lexical operation. */
static void drop_dot_components(char *p)
{
	char *r = p, *w = p;

	while (*r) {
		if (r[0] == '/' && (r[1] == '/' || (r[1] == '.' && (r[2] == '/' || r[2] == '\0')))) {
			r += r[1] == '/' ? 1 : 2;
			continue;
		}
		*w++ = *r++;
	}
	if (w == p && *p)
		*w++ = '/';
	*w = '\0';
}

static struct pt_str str_of(const char *p, size_t n)
{
	return (struct pt_str){ p, (uint32_t)n };
}

static size_t copy_comm(char *dst, const char src[16])
{
	size_t n = strnlen(src, 16);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* Leaders, terminal, login uid, pid namespace, cgroup and container: facts of the kernel.
 * What the process table adds (parent, session leader's executable, entry leader, names) is
 * the sensor's (sensor_context.c). */
static void decode_context(struct pt_sensor_decoder *d, const struct pt_k_exec *e,
			   const char *cg, const struct comps *cgc, struct pt_sensor_decoded *out)
{
	struct pt_exec *x = &out->rec.u.exec;
	struct pt_container c;
	bool trunc = false;
	size_t n;

	x->ctx_flags = PT_CTX_F_PRESENT;
	x->pgid = e->pgid;
	x->sid = e->sid;
	x->vpid = e->vpid;
	if (e->pgid_start) {
		entity_id(d, e->pgid, e->pgid_start, x->pgid_entity_id);
		x->ctx_flags |= PT_CTX_F_PGID_LEADER;
	}
	out->sid_start_ns = e->sid_start;
	if (e->sid_start) {
		entity_id(d, e->sid, e->sid_start, x->sid_entity_id);
		x->ctx_flags |= PT_CTX_F_SID_LEADER;
	}
	if (e->tty) {
		x->tty_major = e->tty >> 20;
		x->tty_minor = e->tty & 0xfffff;
		x->ctx_flags |= PT_CTX_F_TTY;
	}
	if (e->loginuid != UINT32_MAX) {
		x->login_uid = e->loginuid;
		x->ctx_flags |= PT_CTX_F_LOGIN_UID;
	}
	if (e->sessionid != UINT32_MAX) {
		x->session_id = e->sessionid;
		x->ctx_flags |= PT_CTX_F_SESSION_ID;
	}
	n = join_components(cg, cgc, false, e->kflags & PT_K_F_CGROUP_TRUNC, out->cgroup,
			    sizeof(out->cgroup), &trunc);
	x->cgroup_path = str_of(out->cgroup, n);
	if (pt_container_from_cgroup(out->cgroup, n, &c)) {
		x->container_id = str_of(c.id, c.id_len);
		x->container_runtime = str_of(c.runtime, strlen(c.runtime));
		x->ctx_flags |= PT_CTX_F_CONTAINER;
	}
}

static int decode_exec(struct pt_sensor_decoder *d, const uint8_t *rec, size_t len,
		       struct pt_sensor_decoded *out)
{
	struct pt_k_exec e;
	struct comps pc, cc, gc;   /* path, cwd, cgroup */
	const char *data = (const char *)rec + sizeof(e);
	struct pt_exec *x = &out->rec.u.exec;
	bool trunc = false, cwd_trunc = false, argv_cut = false;
	size_t n, plen, clen;
	uint32_t off;

	if (len < sizeof(e))
		return -EBADMSG;
	/* ring records are 8-aligned, fuzzer input is not: copy rather than cast */
	memcpy(&e, rec, sizeof(e));
	if ((uint64_t)e.path_len + e.cwd_len + e.argv_len + e.fname_len + e.cgroup_len > len - sizeof(e) ||
	    (uint64_t)e.path_len + e.cwd_len + e.argv_len + e.fname_len + e.cgroup_len > PT_K_DATA_MAX ||
	    e.argv_len > PT_K_ARGV_MAX || e.fname_len > PT_K_PATH_MAX ||
	    check_components(data, e.path_len, &pc) ||
	    check_components(data + e.path_len, e.cwd_len, &cc) ||
	    check_components(data + e.path_len + e.cwd_len + e.argv_len + e.fname_len, e.cgroup_len,
			     &gc))
		return -EBADMSG;

	out->rec.type = out->rec.wire_type = PT_REC_PROCESS_EXEC;
	out->rec.version = PT_WIRE_VERSION;
	x->time_ns = to_real(d, e.h.time_boot_ns);
	x->start_ns = e.h.start_boottime;
	x->cgroup_id = e.cgroup_id;
	x->pid = e.h.tgid;
	x->tid = e.tid;
	x->ppid = e.ppid;
	x->uid = e.uid;
	x->euid = e.euid;
	x->gid = e.gid;
	x->egid = e.egid;
	entity_id(d, e.h.tgid, e.h.start_boottime, x->entity_id);
	entity_id(d, e.ppid, e.parent_start_boottime, x->parent_entity_id);
	out->parent_start_ns = e.parent_start_boottime;

	plen = join_components(data, &pc, e.kflags & PT_K_F_INTERNAL_MNT,
			       e.kflags & PT_K_F_PATH_TRUNC, out->path, sizeof(out->path), &trunc);
	off = e.path_len;
	clen = join_components(data + off, &cc, e.kflags & PT_K_F_CWD_INTERNAL,
			       e.kflags & PT_K_F_CWD_TRUNC, out->cwd, sizeof(out->cwd), &cwd_trunc);
	off += e.cwd_len;
	x->path = str_of(out->path, plen);
	x->cwd = str_of(out->cwd, clen);

	memcpy(out->argv, data + off, e.argv_len);
	n = e.argv_len;
	if (n && out->argv[n - 1] != '\0')
		out->argv[n++] = '\0';   /* cut inside an argument: close it */
	/* 4 KiB of one-letter arguments is more entries than the wire carries: keep the first
	 * PT_ARGS_MAX, marked cut, rather than make a record the encoder refuses (fewer bytes
	 * cannot hold that many) */
	for (size_t i = 0, args = 0; n >= PT_ARGS_MAX && i < n; i++)
		if (out->argv[i] == '\0' && ++args == PT_ARGS_MAX) {
			if (i + 1 < n)
				argv_cut = true;
			n = i + 1;
			break;
		}
	x->argv = str_of(out->argv, n);
	x->args_count = e.argc;
	off += e.argv_len;

	x->comm = str_of(out->comm, copy_comm(out->comm, e.comm));

	x->flags = 0;
	if (trunc || (e.kflags & PT_K_F_PATH_TRUNC))
		x->flags |= PT_EXEC_F_PATH_TRUNCATED;
	if (cwd_trunc || (e.kflags & PT_K_F_CWD_TRUNC))
		x->flags |= PT_EXEC_F_CWD_TRUNCATED;
	if (argv_cut || (e.kflags & PT_K_F_ARGV_TRUNC))
		x->flags |= PT_EXEC_F_ARGV_TRUNCATED;
	if ((e.kflags & PT_K_F_INTERNAL_MNT) && !strncmp(out->path, "memfd:", 6))
		x->flags |= PT_EXEC_F_MEMFD;
	if (e.euid != e.uid)
		x->flags |= PT_EXEC_F_SETUID;
	if (e.egid != e.gid)
		x->flags |= PT_EXEC_F_SETGID;
	if (e.kflags & PT_K_F_UNLINKED)
		x->flags |= PT_EXEC_F_DELETED;
	x->mode = e.mode;
	x->dev = makedev(e.dev >> 20, e.dev & 0xfffff);
	x->ino = e.ino;
	x->size = e.size;
	/* since 6.13 the kernel keeps a flag in bit 31 of the ctime nanoseconds (multigrain
	 * timestamps, I_CTIME_QUERIED); nanoseconds fit in 30 bits */
	x->mtime_ns = (uint64_t)e.mtime_sec * 1000000000ull + (e.mtime_nsec & 0x3fffffffu);
	x->ctime_ns = (uint64_t)e.ctime_sec * 1000000000ull + (e.ctime_nsec & 0x3fffffffu);

	out->script[0] = '\0';
	if ((e.kflags & PT_K_F_SCRIPT) && e.fname_len) {
		const char *fn = data + off;
		size_t fl = strnlen(fn, e.fname_len);
		int w;

		/* relative script names are relative to the cwd at exec (the kernel opened them so) */
		if (fn[0] == '/' || !clen || (e.kflags & (PT_K_F_CWD_INTERNAL | PT_K_F_CWD_TRUNC)))
			w = snprintf(out->script, sizeof(out->script), "%.*s", (int)fl, fn);
		else
			w = snprintf(out->script, sizeof(out->script), "%s/%.*s",
				     strcmp(out->cwd, "/") ? out->cwd : "", (int)fl, fn);
		if (w < 0)
			out->script[0] = '\0';
		if (out->script[0] == '/')
			drop_dot_components(out->script);
		x->script_path = str_of(out->script, strlen(out->script));
	}
	off += e.fname_len;
	decode_context(d, &e, data + off, &gc, out);
	out->hash_path = !(e.kflags & PT_K_F_INTERNAL_MNT);
	return 0;
}

static int decode_exit(struct pt_sensor_decoder *d, const uint8_t *rec, size_t len,
		       struct pt_sensor_decoded *out)
{
	struct pt_k_exit e;
	struct pt_exit *x = &out->rec.u.exit;

	if (len < sizeof(e))
		return -EBADMSG;
	memcpy(&e, rec, sizeof(e));
	out->rec.type = out->rec.wire_type = PT_REC_PROCESS_EXIT;
	out->rec.version = PT_WIRE_VERSION;
	x->time_ns = to_real(d, e.h.time_boot_ns);
	x->start_ns = e.h.start_boottime;
	x->pid = e.h.tgid;
	x->signal = e.exit_status & 0x7f;
	x->code = x->signal ? 0 : (e.exit_status >> 8) & 0xff;
	entity_id(d, e.h.tgid, e.h.start_boottime, x->entity_id);
	x->comm = str_of(out->comm, copy_comm(out->comm, e.comm));
	x->ctx_flags = PT_EXIT_CTX_F_PRESENT;
	x->lifetime_ns = e.h.time_boot_ns > e.h.start_boottime ? e.h.time_boot_ns - e.h.start_boottime : 0;
	return 0;
}

static int decode_fork(struct pt_sensor_decoder *d, const uint8_t *rec, size_t len,
		       struct pt_sensor_decoded *out)
{
	struct pt_k_fork e;
	struct pt_sensor_fork *f = &out->fork;

	if (len < sizeof(e))
		return -EBADMSG;
	memcpy(&e, rec, sizeof(e));
	out->rec.type = out->rec.wire_type = PT_REC_UNKNOWN;
	out->is_fork = true;
	f->tgid = e.h.tgid;
	f->ppid = e.ppid;
	f->start_ns = e.h.start_boottime;
	f->parent_start_ns = e.parent_start_boottime;
	entity_id(d, f->tgid, f->start_ns, f->eid);
	entity_id(d, f->ppid, f->parent_start_ns, f->parent_eid);
	return 0;
}

int pt_sensor_decode(struct pt_sensor_decoder *d, const void *data, size_t len,
		     struct pt_sensor_decoded *out)
{
	struct pt_k_hdr h;

	/* the record is cleared up to the member its type uses: the union is sized by the
	 * agent status's counters, three times an exec, and each record is cleared */
	size_t used = offsetof(struct pt_record, u);

	out->hash_path = false;
	out->is_fork = false;
	out->script[0] = '\0';
	if (len >= sizeof(h)) {
		memcpy(&h, data, sizeof(h));
		if (h.type == PT_K_EXEC)
			used += sizeof(out->rec.u.exec);
		else if (h.type == PT_K_EXIT)
			used += sizeof(out->rec.u.exit);
	}
	memset(&out->rec, 0, used);
	if (len < sizeof(h))
		return -EBADMSG;
	if (h.type == PT_K_EXEC)
		return decode_exec(d, data, len, out);
	if (h.type == PT_K_EXIT)
		return decode_exit(d, data, len, out);
	if (h.type == PT_K_FORK)
		return decode_fork(d, data, len, out);
	return -EBADMSG;
}
