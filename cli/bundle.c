/* `proctrail pki bundle NAME --collector HOST:PORT [...] -o FILE`: the one file a fresh host
 * needs to join (include/proctrail/bundle.h). Enrolls NAME first if it is not enrolled. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proctrail/bundle.h"
#include "proctrail/file.h"
#include "proctrail/log.h"
#include "cli.h"

static int read_small(const char *path, char **out)
{
	int ret = pt_file_read(path, O_NOFOLLOW, PT_BUNDLE_PEM_MAX, out, NULL);

	if (ret == -EMSGSIZE)
		log_warnx("%s: larger than %u bytes", path, PT_BUNDLE_PEM_MAX);
	else if (ret)
		log_warnx("%s: %s", path, strerror(-ret));
	return ret;
}

static int usage(void)
{
	fprintf(stderr, "usage: proctrail pki bundle NAME --collector HOST:PORT [--collector ...] "
			"-o FILE\n");
	return 2;
}

int cli_pki_bundle(const struct cli_env *env, int argc, char **argv)
{
	struct pt_bundle b = { 0 };
	const char *name = NULL, *outpath = NULL;
	char dir[CLI_PATH_MAX], p[CLI_PATH_MAX + 16], err[512], *text = NULL;
	size_t len = 0, off = 0;
	int fd = -1, ret, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--collector") && i + 1 < argc) {
			if (b.n_collectors == PT_BUNDLE_COLLECTORS_MAX) {
				log_warnx("at most %u collectors", PT_BUNDLE_COLLECTORS_MAX);
				return 2;
			}
			b.collectors[b.n_collectors++] = argv[++i];
		} else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			outpath = argv[++i];
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			return usage();
		}
	}
	if (!name || !outpath || !b.n_collectors)
		return usage();
	snprintf(b.name, sizeof(b.name), "%s", name);
	snprintf(p, sizeof(p), "agents/%s", name);
	if (cli_path(env, dir, sizeof(dir), p))
		return 1;
	snprintf(p, sizeof(p), "%s/agent.crt", dir);
	/* Not enrolled yet: enrolled now. (A revoked name is re-enrolled with `enroll`.) */
	if (access(p, F_OK) < 0 && cli_enroll(env, name))
		return 1;
	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	if ((ret = read_small(p, &b.ca_pem)))
		goto out;
	snprintf(p, sizeof(p), "%s/agent.crt", dir);
	if ((ret = read_small(p, &b.cert_pem)))
		goto out;
	snprintf(p, sizeof(p), "%s/agent.key", dir);
	if ((ret = read_small(p, &b.key_pem)))
		goto out;
	if ((ret = pt_bundle_format(&b, &text, &len, err, sizeof(err)))) {
		log_warnx("bundle: %s", err);
		goto out;
	}
	/* It holds the private key: created 0600, never over an existing file or through a link. */
	fd = open(outpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		log_warn("%s", outpath);
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			log_warn("%s", outpath);
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		ret = -errno;
		fd = -1;
		log_warn("%s", outpath);
		goto out;
	}
	fd = -1;
	printf("bundle for %s written to %s (0600, holds the private key); on the host:\n"
	       "  proctrail-agent --join %s\n", name, outpath, outpath);
	ret = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(outpath);
	}
	free(text);
	free(b.ca_pem);
	free(b.cert_pem);
	free(b.key_pem);
	return ret ? 1 : 0;
}
