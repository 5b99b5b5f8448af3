/* Query parameters of the HTTP API (api_params.h). */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "api_params.h"
#include "proctrail/hex.h"

static int digits(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a civil date (y >= 1970). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	static const unsigned cum[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
	int64_t days = 0, yy;

	for (yy = 1970; yy < y; yy++)
		days += leap(yy) ? 366 : 365;
	days += cum[m - 1] + (m > 2 && leap(y)) + d - 1;
	return days;
}

static int rfc3339(const char *s, uint64_t *out)
{
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t n = strlen(s), i = 19, f = 0;
	uint64_t y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0;
	int64_t t, off = 0;

	if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':' ||
	    digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
		return -EINVAL;
	if (y < 1970 || y > 2400 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap((int64_t)y)) || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (sec == 60)
		sec = 59;    /* a leap second: the last representable nanosecond second */
	if (s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (++f > 9)
				return -EINVAL;
			frac = frac * 10 + (uint64_t)(s[i] - '0');
			i++;
		}
		if (!f)
			return -EINVAL;
		while (f++ < 9)
			frac *= 10;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
		off = 0;
	} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
		   !digits(s + i + 1, 2, &oh) && !digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
		off = (int64_t)(oh * 3600 + om * 60) * (s[i] == '+' ? 1 : -1);
	} else {
		return -EINVAL;
	}
	t = days_from_civil((int64_t)y, (unsigned)mo, (unsigned)d) * 86400 +
	    (int64_t)(h * 3600 + mi * 60 + sec) - off;
	if (t < 0)
		return -EINVAL;
	*out = (uint64_t)t * 1000000000ull + frac;
	return 0;
}

int pt_api_time_parse(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	size_t n = strlen(s);
	uint64_t v, unit, age;

	if (n >= 2 && n <= 11 && !digits(s, n - 1, &v)) {
		switch (s[n - 1]) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -EINVAL;
		}
		if (v > UINT64_MAX / 1000000000ull / unit)
			return -EINVAL;
		age = v * unit * 1000000000ull;
		*out_ns = age >= now_ns ? 0 : now_ns - age;
		return 0;
	}
	return rfc3339(s, out_ns);
}

void pt_api_cursor_events(uint64_t id, char out[PT_API_CURSOR_MAX])
{
	snprintf(out, PT_API_CURSOR_MAX, "e%016llx", (unsigned long long)id);
}

static int hex_u64(const char *s, uint64_t *v)
{
	uint8_t b[8];
	size_t i;

	if (pt_hex_decode(s, 16, b, 8))
		return -EINVAL;
	*v = 0;
	for (i = 0; i < 8; i++)
		*v = *v << 8 | b[i];
	return 0;
}

int pt_api_cursor_events_parse(const char *s, uint64_t *id)
{
	if (strlen(s) != 17 || s[0] != 'e' || hex_u64(s + 1, id) || *id == 0)
		return -EINVAL;
	return 0;
}

void pt_api_cursor_binaries(uint64_t hosts, uint64_t first_ns, const uint8_t sha[PT_SHA256_LEN],
			    char out[PT_API_CURSOR_MAX])
{
	char hex[2 * PT_SHA256_LEN + 1];

	pt_hex_encode(sha, PT_SHA256_LEN, hex);
	snprintf(out, PT_API_CURSOR_MAX, "b%016llx%016llx%s", (unsigned long long)hosts,
		 (unsigned long long)first_ns, hex);
}

int pt_api_cursor_binaries_parse(const char *s, uint64_t *hosts, uint64_t *first_ns,
				 uint8_t sha[PT_SHA256_LEN])
{
	if (strlen(s) != 1 + 32 + 2 * PT_SHA256_LEN || s[0] != 'b' || hex_u64(s + 1, hosts) ||
	    hex_u64(s + 17, first_ns) || pt_hex_decode(s + 33, 2 * PT_SHA256_LEN, sha, PT_SHA256_LEN))
		return -EINVAL;
	return 0;
}

uint16_t pt_api_action_parse(const char *s)
{
	static const struct { const char *n; uint16_t t; } a[] = {
		{ "exec", PT_REC_PROCESS_EXEC }, { "exit", PT_REC_PROCESS_EXIT },
		{ "exec_blocked", PT_REC_EXEC_BLOCKED }, { "loss", PT_REC_LOSS },
		{ "agent_status", PT_REC_AGENT_STATUS },
	};
	size_t i;

	for (i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		if (!strcmp(s, a[i].n))
			return a[i].t;
	return 0;
}

struct spec {
	const char *name;
	unsigned bit;
	unsigned kinds;    /* 1 << pt_api_params */
};

#define EV  (1u << PT_API_P_EVENTS | 1u << PT_API_P_STREAM)
#define EVP (1u << PT_API_P_EVENTS)
#define BIN (1u << PT_API_P_BINARIES)
#define AL  (1u << PT_API_P_ALERTS | 1u << PT_API_P_ALERT_STREAM)
#define ALP (1u << PT_API_P_ALERTS)

static const struct spec SPECS[] = {
	{ "agent", PT_F_AGENT, EV | AL }, { "host", PT_F_HOST, EV }, { "from", PT_F_FROM, EV | ALP },
	{ "to", PT_F_TO, EV | ALP }, { "pid", PT_F_PID, EV }, { "entity_id", PT_F_ENTITY, EV },
	{ "exe", PT_F_EXE, EV }, { "exe_prefix", PT_F_EXE_PREFIX, EV },
	{ "exe_glob", PT_F_EXE_GLOB, EV }, { "name", PT_F_NAME, EV }, { "user", PT_F_USER, EV },
	{ "action", PT_F_ACTION, EV }, { "sha256", PT_F_SHA256, EV | BIN },
	{ "cmdline", PT_F_CMDLINE, EV }, { "limit", 0, EVP | BIN | ALP },
	{ "cursor", PT_F_CURSOR, EVP | BIN | ALP }, { "rule", PT_F_RULE, AL },
	{ "level", PT_F_LEVEL, AL }, { "max_hosts", PT_F_MAX_HOSTS, BIN },
	{ "since", PT_F_SINCE, BIN },
};

static int bad(char *err, size_t errlen, const char *name, const char *why)
{
	snprintf(err, errlen, "%s: %s", name, why);
	return -EINVAL;
}

static int one(struct pt_api_filter *f, const struct spec *sp, const char *v, uint64_t now_ns,
	       enum pt_api_params kind, char *err, size_t errlen)
{
	size_t n = strlen(v);
	uint64_t u;

	switch (sp->bit) {
	case PT_F_AGENT: f->agent = v; break;
	case PT_F_HOST: f->host = v; break;
	case PT_F_EXE: f->exe = v; break;
	case PT_F_EXE_PREFIX: f->exe_prefix = v; f->exe_prefix_len = n; break;
	case PT_F_EXE_GLOB: f->exe_glob = v; break;
	case PT_F_NAME: f->name = v; break;
	case PT_F_RULE: f->rule = v; break;
	case PT_F_LEVEL: f->level = v; break;
	case PT_F_CMDLINE:
		if (n > 1024)
			return bad(err, errlen, sp->name, "at most 1024 bytes");
		f->cmdline = v;
		f->cmdline_len = n;
		break;
	case PT_F_FROM:
	case PT_F_TO:
	case PT_F_SINCE:
		if (pt_api_time_parse(v, now_ns, &u))
			return bad(err, errlen, sp->name,
				   "RFC 3339 time (2026-12-03T14:00:00Z) or age (30s, 15m, 1h, 7d)");
		if (sp->bit == PT_F_FROM)
			f->from_ns = u;
		else if (sp->bit == PT_F_TO)
			f->to_ns = u;
		else
			f->since_ns = u;
		break;
	case PT_F_PID:
		if (n < 1 || n > 10 || digits(v, n, &u) || u > UINT32_MAX)
			return bad(err, errlen, sp->name, "a process id");
		f->pid = (uint32_t)u;
		break;
	case PT_F_MAX_HOSTS:
		if (n < 1 || n > 10 || digits(v, n, &u))
			return bad(err, errlen, sp->name, "a number of hosts");
		f->max_hosts = u;
		break;
	case PT_F_USER:
		f->user = v;
		f->user_is_id = n >= 1 && n <= 10 && !digits(v, n, &u) && u <= UINT32_MAX;
		if (f->user_is_id)
			f->uid = (uint32_t)u;
		break;
	case PT_F_ENTITY:
		if (pt_hex_decode(v, n, f->entity, PT_ENTITY_ID_LEN))
			return bad(err, errlen, sp->name, "32 hex digits");
		break;
	case PT_F_SHA256:
		if (pt_hex_decode(v, n, f->sha, PT_SHA256_LEN))
			return bad(err, errlen, sp->name, "64 hex digits");
		break;
	case PT_F_ACTION:
		if (!(f->action = pt_api_action_parse(v)))
			return bad(err, errlen, sp->name,
				   "one of exec, exit, exec_blocked, loss, agent_status");
		break;
	case PT_F_CURSOR:
		if (kind == PT_API_P_BINARIES ?
		    pt_api_cursor_binaries_parse(v, &f->cur_hosts, &f->cur_first, f->cur_sha) :
		    pt_api_cursor_events_parse(v, &f->cursor))
			return bad(err, errlen, sp->name, "not a cursor of this endpoint");
		break;
	case 0:     /* limit */
		if (n < 1 || n > 4 || digits(v, n, &u) || u < 1 || u > PT_API_LIMIT_MAX)
			return bad(err, errlen, sp->name, "1 to 1000");
		f->limit = (unsigned)u;
		break;
	}
	return 0;
}

int pt_api_filter_parse(struct pt_api_filter *f, const struct evkeyvalq *q, enum pt_api_params kind,
			uint64_t now_ns, char *err, size_t errlen)
{
	const struct evkeyval *kv;
	unsigned seen = 0, count = 0, limit_seen = 0;
	size_t i;
	int ret;

	memset(f, 0, sizeof(*f));
	f->limit = PT_API_LIMIT_DEFAULT;
	TAILQ_FOREACH(kv, q, next) {
		const struct spec *sp = NULL;

		if (++count > PT_API_PARAMS_MAX)
			return bad(err, errlen, "query", "too many parameters");
		for (i = 0; i < sizeof(SPECS) / sizeof(SPECS[0]); i++)
			if (!strcmp(kv->key, SPECS[i].name) && (SPECS[i].kinds & 1u << kind))
				sp = &SPECS[i];
		if (!sp) {
			char name[64];

			/* the name goes back in a JSON string: the JSON writer escapes it */
			snprintf(name, sizeof(name), "%s", kv->key);
			return bad(err, errlen, name, "unknown parameter");
		}
		if (strlen(kv->value) > PT_API_VALUE_MAX)
			return bad(err, errlen, sp->name, "longer than 4096 bytes");
		if (!kv->value[0])
			return bad(err, errlen, sp->name, "empty");
		if (sp->bit ? (seen & sp->bit) : limit_seen)
			return bad(err, errlen, sp->name, "given twice");
		if (sp->bit)
			seen |= sp->bit;
		else
			limit_seen = 1;
		if ((ret = one(f, sp, kv->value, now_ns, kind, err, errlen)))
			return ret;
	}
	f->set = seen;
	if ((seen & PT_F_FROM) && (seen & PT_F_TO) && f->from_ns > f->to_ns)
		return bad(err, errlen, "from", "after to");
	return 0;
}

static struct pt_str rec_path(const struct pt_record *r)
{
	if (r->type == PT_REC_PROCESS_EXEC)
		return r->u.exec.path;
	if (r->type == PT_REC_EXEC_BLOCKED)
		return r->u.blocked.path;
	return (struct pt_str){ NULL, 0 };
}

static bool rec_pid(const struct pt_record *r, uint32_t *pid, const uint8_t **entity)
{
	switch (r->type) {
	case PT_REC_PROCESS_EXEC:
		*pid = r->u.exec.pid;
		*entity = r->u.exec.entity_id;
		return true;
	case PT_REC_PROCESS_EXIT:
		*pid = r->u.exit.pid;
		*entity = r->u.exit.entity_id;
		return true;
	case PT_REC_EXEC_BLOCKED:
		*pid = r->u.blocked.pid;
		*entity = r->u.blocked.entity_id;
		return true;
	}
	return false;
}

/* The FTS5 trigram index finds exactly the command lines that contain the substring when it
 * is 3 bytes or more of ASCII (shorter: no trigram; other bytes: the tokenizer reads UTF-8, and
 * a substring starting inside a character would not line up). Otherwise the scan of cmdlines. */
bool pt_api_cmdline_indexed(const struct pt_api_filter *f)
{
	if (!(f->set & PT_F_CMDLINE) || !f->cmdline || f->cmdline_len < 3)
		return false;
	for (size_t i = 0; i < f->cmdline_len; i++)
		if (!f->cmdline[i] || (unsigned char)f->cmdline[i] > 0x7f)
			return false;
	return true;
}

size_t pt_api_cmdline(const struct pt_exec *x, char *out, size_t outlen)
{
	size_t i, o = 0;

	if (!outlen)
		return 0;
	for (i = 0; x->argv.ptr && i < x->argv.len && o + 1 < outlen; i++) {
		char c = x->argv.ptr[i];

		if (c == 0) {
			if (i + 1 == x->argv.len)
				break;     /* the last argument's terminator */
			c = ' ';
		}
		out[o++] = c;
	}
	out[o] = 0;
	return o;
}

static bool str_eq(struct pt_str s, const char *c)
{
	size_t n = strlen(c);

	return s.ptr && s.len == n && !memcmp(s.ptr, c, n);
}

bool pt_api_filter_match(const struct pt_api_filter *f, const struct pt_api_row *row)
{
	const struct pt_record *r = row->r;
	unsigned s = f->set;
	const uint8_t *entity = NULL;
	struct pt_str path = rec_path(r);
	uint32_t pid = 0;

	if ((s & PT_F_AGENT) && (!row->agent || strcmp(row->agent, f->agent)))
		return false;
	if ((s & PT_F_HOST) && (!row->host || strcmp(row->host, f->host)))
		return false;
	if ((s & PT_F_FROM) && row->time_ns < f->from_ns)
		return false;
	if ((s & PT_F_TO) && row->time_ns > f->to_ns)
		return false;
	if ((s & PT_F_ACTION) && r->type != f->action)
		return false;
	if (s & (PT_F_PID | PT_F_ENTITY)) {
		if (!rec_pid(r, &pid, &entity))
			return false;
		if ((s & PT_F_PID) && pid != f->pid)
			return false;
		if ((s & PT_F_ENTITY) && memcmp(entity, f->entity, PT_ENTITY_ID_LEN))
			return false;
	}
	if ((s & PT_F_EXE) && !str_eq(path, f->exe))
		return false;
	if ((s & PT_F_EXE_PREFIX) && (!path.ptr || path.len < f->exe_prefix_len ||
				      memcmp(path.ptr, f->exe_prefix, f->exe_prefix_len)))
		return false;
	if (s & PT_F_EXE_GLOB) {
		char p[PT_PATH_MAX + 1];

		if (!path.ptr || path.len > PT_PATH_MAX || memchr(path.ptr, 0, path.len))
			return false;
		memcpy(p, path.ptr, path.len);
		p[path.len] = 0;
		if (fnmatch(f->exe_glob, p, 0))
			return false;
	}
	if (s & PT_F_NAME) {
		struct pt_str name = { NULL, 0 };

		if (r->type == PT_REC_PROCESS_EXEC) {
			size_t i = path.len;

			while (i > 0 && path.ptr[i - 1] != '/')
				i--;
			name.ptr = path.ptr + i;
			name.len = path.len - (uint32_t)i;
		} else if (r->type == PT_REC_PROCESS_EXIT) {
			name = r->u.exit.comm;
		}
		if (!str_eq(name, f->name))
			return false;
	}
	if (s & PT_F_USER) {
		/* process.user.id is the effective user; names arrive with user.name in records */
		if (!f->user_is_id)
			return false;
		if (r->type == PT_REC_PROCESS_EXEC ? r->u.exec.euid != f->uid :
		    r->type == PT_REC_EXEC_BLOCKED ? r->u.blocked.uid != f->uid : true)
			return false;
	}
	if (s & PT_F_SHA256) {
		if (r->type == PT_REC_PROCESS_EXEC) {
			if (r->u.exec.hash_status != PT_HASH_OK ||
			    memcmp(r->u.exec.sha256, f->sha, PT_SHA256_LEN))
				return false;
		} else if (r->type != PT_REC_EXEC_BLOCKED ||
			   memcmp(r->u.blocked.sha256, f->sha, PT_SHA256_LEN)) {
			return false;
		}
	}
	if (s & PT_F_CMDLINE) {
		char cmd[PT_ARGV_MAX + 1];
		size_t n;

		if (r->type != PT_REC_PROCESS_EXEC)
			return false;
		n = pt_api_cmdline(&r->u.exec, cmd, sizeof(cmd));
		if (!memmem(cmd, n, f->cmdline, f->cmdline_len))
			return false;
	}
	return true;
}
