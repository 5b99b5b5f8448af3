/* A strict checker of the Prometheus text exposition format (0.0.4), for unit tests of what
 * the agent and the collector export: every line a HELP, a TYPE or a sample; TYPE before a
 * family's samples, once; samples of a family together; names and label names by the
 * grammar, label values with only \\ \" \n escapes; values that parse; no series twice;
 * counters named *_total; histogram buckets cumulative with le="+Inf" equal to _count.
 * Returns 0, or -1 with the line number and reason in why. */
#ifndef PROCTRAIL_TEST_METRICS_CHECK_H
#define PROCTRAIL_TEST_METRICS_CHECK_H

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MC_SERIES_MAX 4096

static int mc_name(const char **p, int colon_ok)
{
	const char *s = *p;

	if (!(isalpha((unsigned char)*s) || *s == '_' || (colon_ok && *s == ':')))
		return -1;
	while (isalnum((unsigned char)*s) || *s == '_' || (colon_ok && *s == ':'))
		s++;
	*p = s;
	return 0;
}

static int mc_ends(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static int metrics_check(const char *text, size_t len, char *why, size_t whylen)
{
	static char series[MC_SERIES_MAX][256];
	char fam[128] = "", type[16] = "", done[64][128], line[1024], le_last[32] = "";
	double bucket_prev = -1, inf = -1;
	size_t nseries = 0, ndone = 0, off = 0;
	int lineno = 0, help_seen = 0;

	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off), *p, *n0;
		size_t l;
		char name[128];

		lineno++;
		if (!nl)
			return snprintf(why, whylen, "%d: no final newline", lineno), -1;
		l = (size_t)(nl - (text + off));
		if (l == 0 || l >= sizeof(line))
			return snprintf(why, whylen, "%d: empty or overlong line", lineno), -1;
		memcpy(line, text + off, l);
		line[l] = '\0';
		off += l + 1;
		p = line;
		if (!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7)) {
			int is_type = p[2] == 'T';

			p += 7;
			n0 = p;
			if (mc_name(&p, 1) || *p != ' ')
				return snprintf(why, whylen, "%d: bad family name", lineno), -1;
			snprintf(name, sizeof(name), "%.*s", (int)(p - n0), n0);
			if (strcmp(name, fam)) {
				for (size_t i = 0; i < ndone; i++)
					if (!strcmp(done[i], name))
						return snprintf(why, whylen, "%d: family %s again", lineno,
								name), -1;
				if (fam[0] && !strcmp(type, "histogram") && inf < 0)
					return snprintf(why, whylen, "%d: histogram without +Inf", lineno),
					       -1;
				if (fam[0] && ndone < 64)
					snprintf(done[ndone++], sizeof(done[0]), "%s", fam);
				snprintf(fam, sizeof(fam), "%s", name);
				type[0] = '\0';
				help_seen = 0;
				bucket_prev = inf = -1;
			}
			if (is_type) {
				if (type[0])
					return snprintf(why, whylen, "%d: second TYPE", lineno), -1;
				snprintf(type, sizeof(type), "%s", p + 1);
				if (strcmp(type, "counter") && strcmp(type, "gauge") &&
				    strcmp(type, "histogram"))
					return snprintf(why, whylen, "%d: type %s", lineno, type), -1;
				if (!strcmp(type, "counter") && !mc_ends(fam, "_total"))
					return snprintf(why, whylen, "%d: counter not *_total", lineno), -1;
			} else if (help_seen++ || !p[1]) {
				return snprintf(why, whylen, "%d: HELP twice or empty", lineno), -1;
			}
			continue;
		}
		if (*p == '#')
			return snprintf(why, whylen, "%d: stray comment", lineno), -1;
		n0 = p;
		if (mc_name(&p, 1))
			return snprintf(why, whylen, "%d: bad metric name", lineno), -1;
		snprintf(name, sizeof(name), "%.*s", (int)(p - n0), n0);
		if (!type[0])
			return snprintf(why, whylen, "%d: sample before TYPE", lineno), -1;
		int is_bucket = 0;
		if (strcmp(name, fam)) {
			char b[160], s[160], c[160];

			snprintf(b, sizeof(b), "%s_bucket", fam);
			snprintf(s, sizeof(s), "%s_sum", fam);
			snprintf(c, sizeof(c), "%s_count", fam);
			if (strcmp(type, "histogram") ||
			    (strcmp(name, b) && strcmp(name, s) && strcmp(name, c)))
				return snprintf(why, whylen, "%d: %s outside family %s", lineno, name,
						fam), -1;
			is_bucket = !strcmp(name, b);
		} else if (!strcmp(type, "histogram")) {
			return snprintf(why, whylen, "%d: bare histogram sample", lineno), -1;
		}
		le_last[0] = '\0';
		if (*p == '{') {
			p++;
			while (*p != '}') {
				const char *ln = p, *v;

				if (mc_name(&p, 0) || p[0] != '=' || p[1] != '"')
					return snprintf(why, whylen, "%d: bad label", lineno), -1;
				int is_le = p - ln == 2 && !strncmp(ln, "le", 2);
				p += 2;
				v = p;
				while (*p && *p != '"') {
					if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
						p += 2;
					else if (*p == '\\' || *p == '\n')
						return snprintf(why, whylen, "%d: bad escape", lineno), -1;
					else
						p++;
				}
				if (*p != '"')
					return snprintf(why, whylen, "%d: open label value", lineno), -1;
				if (is_le)
					snprintf(le_last, sizeof(le_last), "%.*s", (int)(p - v), v);
				p++;
				if (*p == ',')
					p++;
				else if (*p != '}')
					return snprintf(why, whylen, "%d: after label", lineno), -1;
			}
			p++;
		}
		if (*p != ' ')
			return snprintf(why, whylen, "%d: no value", lineno), -1;
		/* the series key: everything before the value */
		size_t klen = (size_t)(p - line);
		for (size_t i = 0; i < nseries; i++)
			if (strlen(series[i]) == klen && !strncmp(series[i], line, klen))
				return snprintf(why, whylen, "%d: series twice", lineno), -1;
		if (nseries < MC_SERIES_MAX)
			snprintf(series[nseries++], sizeof(series[0]), "%.*s", (int)klen, line);
		p++;
		char *end;
		double v = strtod(p, &end);
		if (end == p || *end)
			return snprintf(why, whylen, "%d: value '%s'", lineno, p), -1;
		if (!strcmp(type, "counter") && (v < 0 || isnan(v)))
			return snprintf(why, whylen, "%d: negative counter", lineno), -1;
		if (is_bucket) {
			if (!le_last[0])
				return snprintf(why, whylen, "%d: bucket without le", lineno), -1;
			if (v < bucket_prev)
				return snprintf(why, whylen, "%d: buckets not cumulative", lineno), -1;
			bucket_prev = v;
			if (!strcmp(le_last, "+Inf"))
				inf = v;
		}
		if (!strcmp(type, "histogram") && mc_ends(name, "_count") && v != inf)
			return snprintf(why, whylen, "%d: _count %g != +Inf bucket %g", lineno, v, inf),
			       -1;
	}
	return 0;
}

#endif
