/* Test helper for tests/integration/sensor_commit.sh: drives the sensor API directly so the
 * test can check the commit protocol against the real kernel ring.
 *
 *   pt_sensor_probe PIN_DIR SECONDS commit|nocommit [SKIP_UNTIL]
 *
 * Runs the sensor for SECONDS, prints "exec RING_POS ARGV1" for each exec record whose argv[1]
 * starts with "ptc-", committing each record (commit) or nothing (nocommit).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proctrail/log.h"
#include "sensor.h"

static struct pt_sensor *sensor;
static int do_commit;

static void on_alarm(int sig)
{
	(void)sig;
	pt_sensor_stop(sensor);
}

static int emit(void *ctx, const struct pt_record *rec, uint64_t pos)
{
	(void)ctx;
	if (rec->type == PT_REC_PROCESS_EXEC) {
		const struct pt_str *a = &rec->u.exec.argv;
		size_t first = strnlen(a->ptr, a->len);

		if (first + 1 < a->len && !strncmp(a->ptr + first + 1, "ptc-", 4))
			printf("exec %llu %s\n", (unsigned long long)pos, a->ptr + first + 1);
	}
	if (do_commit && pos)
		pt_sensor_commit(sensor, pos);
	return 0;
}

int main(int argc, char **argv)
{
	struct pt_sensor_config cfg = { 0 };
	int err;

	if (argc < 4)
		return 2;
	log_init("pt_sensor_probe", 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	cfg.pin_dir = argv[1];
	cfg.poll_ms = 20;
	do_commit = !strcmp(argv[3], "commit");
	err = pt_sensor_open(&cfg, emit, NULL, &sensor);
	if (err) {
		fprintf(stderr, "open: %s\n", strerror(-err));
		return 1;
	}
	if (argc > 4)
		pt_sensor_skip_until(sensor, strtoull(argv[4], NULL, 10));
	signal(SIGALRM, on_alarm);
	alarm((unsigned)atoi(argv[2]));
	printf("ready\n");
	err = pt_sensor_run(sensor);
	pt_sensor_free(sensor);
	return err ? 1 : 0;
}
