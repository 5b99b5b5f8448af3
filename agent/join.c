/* Joining: bundle in, configuration out. Files are written next to their final name and
 * renamed, so a failed join leaves the previous configuration whole. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "proctrail/bundle.h"
#include "proctrail/file.h"
#include "proctrail/log.h"
#include "config.h"
#include "join.h"

#define JOIN_ETC_DEFAULT "/etc/proctrail"
#define BUNDLE_FILE_MAX  (64u << 10)
#define JOIN_PATH_MAX    1024

bool pt_join_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--join"))
			return true;
	return false;
}


/* Writes data to DIR/NAME, atomically and durably. */
static int write_atomic(const char *dir, const char *name, const char *data, mode_t mode)
{
	char dst[JOIN_PATH_MAX];

	if (snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return -ENAMETOOLONG;
	return pt_file_replace(dst, data, strlen(data), mode, (gid_t)-1);
}

static int config_text(const struct pt_bundle *b, const char *etc, const char *spool,
		       char *out, size_t outlen)
{
	size_t off;
	int n;

	n = snprintf(out, outlen,
		     "# written by proctrail-agent --join for agent %s; settings: "
		     "proctrail-agent --config FILE --help\n", b->name);
	off = n > 0 ? (size_t)n : 0;
	for (unsigned i = 0; i < b->n_collectors && off < outlen; i++) {
		n = snprintf(out + off, outlen - off, "collector = %s\n", b->collectors[i]);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < outlen) {
		n = snprintf(out + off, outlen - off,
			     "ca = %s/ca.crt\ncert = %s/agent.crt\nkey = %s/agent.key\n"
			     "spool-dir = %s\n", etc, etc, etc, spool);
		off += n > 0 ? (size_t)n : 0;
	}
	return off < outlen ? 0 : -ENAMETOOLONG;
}

static int start_unit(void)
{
	char *const args[] = { "systemctl", "enable", "--now", "proctrail-agent.service", NULL };
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execvp(args[0], args);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int pt_join_main(int argc, char **argv)
{
	const char *bundle_path = NULL, *etc = JOIN_ETC_DEFAULT, *spool = PT_AGENT_SPOOL_DIR_DEFAULT;
	char err[512], conf[8192], orig[JOIN_PATH_MAX + 8];
	struct pt_bundle b;
	bool start = true;
	char *data = NULL;
	size_t len = 0;
	int ret;

	log_init("proctrail-agent", 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--join") && i + 1 < argc)
			bundle_path = argv[++i];
		else if (!strcmp(argv[i], "--etc") && i + 1 < argc)
			etc = argv[++i];
		else if (!strcmp(argv[i], "--spool-dir") && i + 1 < argc)
			spool = argv[++i];
		else if (!strcmp(argv[i], "--no-start"))
			start = false;
		else {
			fprintf(stderr, "usage: proctrail-agent --join BUNDLE [--etc DIR] "
					"[--spool-dir DIR] [--no-start]\n");
			return 2;
		}
	}
	if (!bundle_path) {
		fprintf(stderr, "proctrail-agent: --join needs the bundle file\n");
		return 2;
	}
	if ((ret = pt_file_read(bundle_path, 0, BUNDLE_FILE_MAX, &data, &len))) {
		log_warnx("%s: %s", bundle_path, strerror(-ret));
		return 1;
	}
	ret = pt_bundle_parse(&b, data, len, err, sizeof(err));
	free(data);
	if (ret) {
		log_warnx("%s: not a usable bundle: %s", bundle_path, err);
		return 1;
	}
	if ((ret = config_text(&b, etc, spool, conf, sizeof(conf)))) {
		log_warnx("--etc or --spool-dir too long");
		goto out;
	}
	if (mkdir(etc, 0755) < 0 && errno != EEXIST) {
		ret = -errno;
		log_warn("%s", etc);
		goto out;
	}
	/* An operator's own agent.conf is kept once, beside the new one. */
	snprintf(orig, sizeof(orig), "%s/agent.conf", etc);
	if (access(orig, F_OK) == 0) {
		char keep[JOIN_PATH_MAX + 16];

		snprintf(keep, sizeof(keep), "%s.orig", orig);
		if (access(keep, F_OK) < 0 && link(orig, keep) == 0)
			log_info("kept the previous %s as %s", orig, keep);
	}
	/* The key first, the configuration that points at it last: a join cut short leaves no
	 * agent.conf naming files that are not there. */
	if ((ret = write_atomic(etc, "agent.key", b.key_pem, 0600)) ||
	    (ret = write_atomic(etc, "agent.crt", b.cert_pem, 0644)) ||
	    (ret = write_atomic(etc, "ca.crt", b.ca_pem, 0644)) ||
	    (ret = write_atomic(etc, "agent.conf", conf, 0644))) {
		log_warnx("writing into %s: %s", etc, strerror(-ret));
		goto out;
	}
	printf("joined as %s: %s/agent.conf (%u collector%s)\n", b.name, etc, b.n_collectors,
	       b.n_collectors == 1 ? "" : "s");
	if (!start) {
		printf("start it: proctrail-agent --config %s/agent.conf\n", etc);
	} else if (access("/run/systemd/system", F_OK) == 0) {
		if ((ret = start_unit())) {
			log_warnx("systemctl enable --now proctrail-agent.service failed");
			goto out;
		}
		printf("proctrail-agent.service enabled and started\n");
	} else {
		printf("no systemd here: start it with proctrail-agent --config %s/agent.conf\n",
		       etc);
	}
	ret = 0;
out:
	pt_bundle_free(&b);
	return ret ? 1 : 0;
}
