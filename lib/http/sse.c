/* A bounded text/event-stream parser (see proctrail/http.h): lines end with CR, LF or CRLF;
 * "field: value" lines; a blank line dispatches the event; ':' lines are comments. */
#include <errno.h>
#include <string.h>

#include "proctrail/http.h"

void pt_sse_init(struct pt_sse *s, pt_sse_event_fn on_event, void *arg)
{
	memset(s, 0, sizeof(*s));
	pt_buf_init(&s->line, PT_SSE_LINE_MAX);
	pt_buf_init(&s->data, PT_SSE_LINE_MAX);
	s->on_event = on_event;
	s->arg = arg;
}

void pt_sse_free(struct pt_sse *s)
{
	if (!s)
		return;
	pt_buf_free(&s->line);
	pt_buf_free(&s->data);
}

static int dispatch(struct pt_sse *s)
{
	int ret = 0;

	if (s->data.len) {
		s->data.len--;   /* the "\n" after the last data line */
		ret = s->on_event ? s->on_event(s->arg, s->event[0] ? s->event : "message", s->id,
						s->data.data, s->data.len) : 0;
	}
	pt_buf_reset(&s->data);
	s->event[0] = '\0';
	return ret;
}

static void copy_field(char *dst, size_t cap, const uint8_t *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;   /* an over-long id or event name is cut, never a reason to stop */
	memcpy(dst, v, n);
	dst[n] = '\0';
	/* a NUL inside would end it early; ids with one are ignored by the spec, cut here */
}

static int line(struct pt_sse *s)
{
	const uint8_t *l = s->line.data, *v;
	size_t n = s->line.len, fl, vl;
	const uint8_t *colon;

	if (!n)
		return dispatch(s);
	if (l[0] == ':')
		return 0;
	colon = memchr(l, ':', n);
	fl = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vl = colon ? n - fl - 1 : 0;
	if (vl && v[0] == ' ')
		v++, vl--;
	if (fl == 4 && !memcmp(l, "data", 4)) {
		if (pt_buf_append(&s->data, v, vl) || pt_buf_append(&s->data, "\n", 1))
			return -EMSGSIZE;
	} else if (fl == 5 && !memcmp(l, "event", 5)) {
		copy_field(s->event, sizeof(s->event), v, vl);
	} else if (fl == 2 && !memcmp(l, "id", 2)) {
		if (!memchr(v, '\0', vl))
			copy_field(s->id, sizeof(s->id), v, vl);
	}
	/* "retry" and unknown fields: ignored */
	return 0;
}

int pt_sse_feed(struct pt_sse *s, const uint8_t *data, size_t n)
{
	size_t i = 0;
	int ret;

	if (!s->bom_checked && n) {
		/* a UTF-8 BOM may open the stream; the check waits for three bytes only in theory */
		s->bom_checked = true;
		if (n >= 3 && data[0] == 0xef && data[1] == 0xbb && data[2] == 0xbf)
			i = 3;
	}
	while (i < n) {
		const uint8_t *p = data + i;
		size_t k = 0;

		if (s->cr && p[0] == '\n') {   /* the LF of a CRLF */
			s->cr = false;
			i++;
			continue;
		}
		s->cr = false;
		while (k < n - i && p[k] != '\n' && p[k] != '\r')
			k++;
		if (pt_buf_append(&s->line, p, k))
			return -EMSGSIZE;
		i += k;
		if (i == n)
			break;
		s->cr = data[i] == '\r';
		i++;
		ret = line(s);
		pt_buf_reset(&s->line);
		if (ret)
			return ret;
	}
	return 0;
}
