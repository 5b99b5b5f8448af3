/* proctrail fetch SHA256 --agent NAME -o FILE: asks the collector (POST /api/v1/samples) to
 * fetch a sample from an agent that executed it, waits for the request's state, and writes
 * the stored file (GET /api/v1/samples/SHA256) to FILE. Admin role. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "api.h"
#include "proctrail/conf.h"
#include "proctrail/escape.h"
#include "proctrail/file.h"
#include "proctrail/hex.h"
#include "proctrail/jsonread.h"
#include "proctrail/tls.h"
#include "proctrail/wire.h"

#define POLL_MS 250

static void usage(FILE *f)
{
	fprintf(f, "usage: proctrail fetch SHA256 --agent NAME -o FILE [--timeout SEC] [--no-wait]\n"
		   "  asks AGENT for the file it executed with this SHA-256 (the agent sends only a\n"
		   "  file it saw executed, re-hashed before sending); waits until the collector\n"
		   "  stored it (default 600 s) and writes it to FILE (\"-\": standard output).\n"
		   "  --no-wait: print the request id and return; `proctrail fetch SHA256 -o FILE`\n"
		   "  later writes a sample already stored.\n");
}

/* The request's state and reason, from GET /api/v1/samples?id=N. */
static int request_state(struct cli_api *api, const char *id, char *state, size_t scap,
			 char *reason, size_t rcap, uint64_t *received, uint64_t *size)
{
	char path[128];
	struct pt_buf body;
	struct pt_jr d;
	int st, r, ret = -EPROTO;

	snprintf(path, sizeof(path), "/api/v1/samples?id=%s", id);
	pt_buf_init(&body, 1u << 20);
	st = cli_api_get(api, path, &body);
	if (st != 200) {
		cli_api_fail("fetch", st, &body);
		pt_buf_free(&body);
		return -EIO;
	}
	if (!pt_jr_parse(&d, (const char *)body.data, body.len, 4096)) {
		r = pt_jr_first(&d, pt_jr_get(&d, 0, "requests"));
		state[0] = reason[0] = '\0';
		*received = *size = 0;
		if (r > 0 && pt_jr_text(&d, pt_jr_get(&d, r, "state"), state, scap) > 0) {
			pt_jr_text(&d, pt_jr_get(&d, r, "reason"), reason, rcap);
			pt_jr_u64(&d, pt_jr_get(&d, r, "received"), received);
			pt_jr_u64(&d, pt_jr_get(&d, r, "size"), size);
			ret = 0;
		}
		pt_jr_free(&d);
	}
	pt_buf_free(&body);
	return ret;
}

/* FILE replaced atomically (a reader never sees half a sample), or standard output. */
static int write_out(const char *out, const struct pt_buf *b)
{
	if (strcmp(out, "-"))
		return pt_file_replace(out, b->data, b->len, 0600, (gid_t)-1);
	if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout))
		return -EIO;
	return 0;
}

int cmd_fetch(const struct cli_env *env, int argc, char **argv)
{
	struct cli_api_opts o = { 0 };
	struct cli_api api;
	struct pt_buf body;
	const char *sha = NULL, *agent = NULL, *out = NULL;
	char err[256], json[256], path[160], id[32] = "", state[32], reason[1200];
	uint8_t raw[PT_SHA256_LEN];
	uint64_t timeout_s = 600, received, size;
	int a, st, ret = 1, nowait = 0;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
			usage(stdout);
			return 0;
		} else if (cli_api_opt(&o, argc, argv, &a)) {
		} else if (!strcmp(argv[a], "--agent") && a + 1 < argc) {
			agent = argv[++a];
		} else if ((!strcmp(argv[a], "-o") || !strcmp(argv[a], "--output")) && a + 1 < argc) {
			out = argv[++a];
		} else if (!strcmp(argv[a], "--no-wait")) {
			nowait = 1;
		} else if (!strcmp(argv[a], "--timeout") && a + 1 < argc) {
			if (pt_conf_u64("--timeout", argv[++a], 1, 86400, &timeout_s, err, sizeof(err))) {
				fprintf(stderr, "proctrail fetch: %s\n", err);
				return 2;
			}
		} else if (!sha && argv[a][0] != '-') {
			sha = argv[a];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!sha || (!out && !nowait) || (nowait && !agent)) {
		usage(stderr);
		return 2;
	}
	if (strlen(sha) != 2 * PT_SHA256_LEN || pt_hex_decode(sha, strlen(sha), raw, sizeof(raw))) {
		fprintf(stderr, "proctrail fetch: malformed SHA-256: expected 64 hexadecimal digits\n");
		return 2;
	}
	if (agent && !pt_tls_name_valid(agent)) {
		fprintf(stderr, "proctrail fetch: --agent: not an agent name\n");
		return 2;
	}
	if (cli_api_open(&api, env, &o))
		return 1;
	pt_buf_init(&body, CLI_BODY_MAX);
	if (agent) {
		struct pt_jr d;
		uint64_t v;

		snprintf(json, sizeof(json), "{\"sha256\":\"%s\",\"agent\":\"%s\"}", sha, agent);
		st = cli_api_post(&api, "/api/v1/samples", json, &body);
		if (st != 202) {
			ret = cli_api_fail("fetch", st, &body);
			goto out;
		}
		if (pt_jr_parse(&d, (const char *)body.data, body.len, 64) ||
		    pt_jr_u64(&d, pt_jr_get(&d, 0, "id"), &v)) {
			fprintf(stderr, "proctrail fetch: unexpected answer from the API\n");
			goto out;
		}
		pt_jr_free(&d);
		snprintf(id, sizeof(id), "%llu", (unsigned long long)v);
		if (nowait) {
			printf("%s\n", id);
			ret = 0;
			goto out;
		}
		struct timespec start, now;
		clock_gettime(CLOCK_MONOTONIC, &start);
		for (;;) {
			if (request_state(&api, id, state, sizeof(state), reason, sizeof(reason),
					  &received, &size) < 0)
				goto out;
			if (!strcmp(state, "stored"))
				break;
			if (!strcmp(state, "refused")) {
				char shown[sizeof(reason) * 4];
				pt_escape(shown, sizeof(shown), reason, strlen(reason));
				fprintf(stderr, "proctrail fetch: request %s refused: %s\n", id, shown);
				goto out;
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((uint64_t)(now.tv_sec - start.tv_sec) >= timeout_s) {
				fprintf(stderr, "proctrail fetch: request %s still %s after %llu s "
						"(%llu of %llu bytes); it goes on: run again without "
						"--agent later to get the file\n", id, state,
					(unsigned long long)timeout_s, (unsigned long long)received,
					(unsigned long long)size);
				goto out;
			}
			usleep(POLL_MS * 1000);
		}
	}
	snprintf(path, sizeof(path), "/api/v1/samples/%s", sha);
	st = cli_api_get(&api, path, &body);
	if (st != 200) {
		ret = cli_api_fail("fetch", st, &body);
		goto out;
	}
	uint8_t got[PT_SHA256_LEN];
	unsigned int glen = 0;
	/* what the collector verified, verified again here: a file is written only if right */
	if (!EVP_Digest(body.data, body.len, got, &glen, EVP_sha256(), NULL) ||
	    glen != PT_SHA256_LEN || memcmp(got, raw, PT_SHA256_LEN)) {
		fprintf(stderr, "proctrail fetch: the file received does not have this SHA-256\n");
		goto out;
	}
	if ((st = write_out(out, &body)) < 0) {
		fprintf(stderr, "proctrail fetch: %s: %s\n", out, strerror(-st));
		goto out;
	}
	if (strcmp(out, "-"))
		fprintf(stderr, "proctrail fetch: %zu bytes written to %s\n", body.len, out);
	ret = 0;
out:
	pt_buf_free(&body);
	cli_api_close(&api);
	return ret;
}
