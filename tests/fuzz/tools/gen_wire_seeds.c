/* Writes seed inputs for fuzz_record and fuzz_frame: one valid example of every record and
 * frame type, so the fuzzers start from the accepted language rather than from noise.
 * Build and run: make build/libproctrail.a && cc -Iinclude tests/fuzz/tools/gen_wire_seeds.c \
 *   build/libproctrail.a -lzstd -o /tmp/gen && /tmp/gen tests/fuzz/corpus */
#include <stdio.h>
#include <string.h>

#include "proctrail/wire.h"
#include "seed_file.h"

static uint8_t buf[1 << 20], recs[1 << 16], scratch[1 << 17];


int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : "tests/fuzz/corpus";
	char rdir[256], fdir[256];
	struct pt_writer w, rw;
	struct pt_record r;
	uint32_t n = 0;

	snprintf(rdir, sizeof(rdir), "%s/record", root);
	snprintf(fdir, sizeof(fdir), "%s/frame", root);
	pt_writer_init(&rw, recs, sizeof(recs));

	memset(&r, 0, sizeof(r));
	r.type = PT_REC_PROCESS_EXEC;
	r.u.exec = (struct pt_exec){ .time_ns = 1764060000000000000ull, .pid = 4242, .tid = 4242,
				     .ppid = 1, .uid = 1000, .euid = 1000, .gid = 1000, .egid = 1000,
				     .path = { "/usr/bin/ls", 11 }, .cwd = { "/home/u", 7 },
				     .comm = { "ls", 2 }, .argv = { "ls\0-l\0", 6 }, .args_count = 2,
				     .dev = 2049, .ino = 1234, .size = 138208, .hash_status = 0,
				     .script_path = { "/tmp/s.sh", 9 }, .script_hash_status = 2 };
	memset(r.u.exec.sha256, 0xab, 32);
	for (int i = 0; i < 3; i++) {
		pt_writer_init(&w, buf, sizeof(buf));
		pt_record_encode(&w, &r);
		pt_record_encode(&rw, &r);
		n++;
		if (i == 0)
			save(rdir, "exec", buf, w.len);
		if (i == 1) {
			memset(&r, 0, sizeof(r));
			r.type = PT_REC_PROCESS_EXIT;
			r.u.exit = (struct pt_exit){ .time_ns = 5, .pid = 4242, .code = 1,
						     .comm = { "ls", 2 } };
		} else {
			memset(&r, 0, sizeof(r));
			r.type = PT_REC_LOSS;
			r.u.loss = (struct pt_loss){ .time_ns = 6, .counter = PT_LOSS_SPOOL_CORRUPT,
						     .count = 3, .first_seq = 10, .last_seq = 12,
						     .has_seq_range = true };
		}
		pt_writer_init(&w, buf, sizeof(buf));
		pt_record_encode(&w, &r);
		save(rdir, i == 1 ? "exit" : "loss", buf, w.len);
	}
	/* the context an agent adds to an exec and an exit */
	memset(&r, 0, sizeof(r));
	r.type = PT_REC_PROCESS_EXEC;
	r.u.exec = (struct pt_exec){ .time_ns = 1764060000000000000ull, .pid = 4243, .ppid = 4242,
				     .path = { "/usr/bin/grep", 13 }, .argv = { "grep\0x\0", 7 },
				     .args_count = 2, .hash_status = PT_HASH_GONE,
				     .ctx_flags = PT_CTX_F_ALL, .parent_path = { "/usr/bin/dash", 13 },
				     .parent_argv = { "sh\0-c\0ls | grep x\0", 19 },
				     .parent_args_count = 3, .pgid = 4242, .sid = 4000, .vpid = 2,
				     .tty_major = 136, .tty_minor = 1, .login_uid = 1000,
				     .session_id = 3, .sid_path = { "/usr/bin/bash", 13 },
				     .entry_path = { "/usr/bin/bash", 13 }, .entry_type = PT_ENTRY_SSHD,
				     .user_name = { "root", 4 }, .group_name = { "root", 4 },
				     .login_user_name = { "alice", 5 }, .container_id = { "web", 3 },
				     .container_runtime = { "systemd-nspawn", 14 },
				     .cgroup_path = { "/machine.slice/machine-web.scope", 32 } };
	pt_writer_init(&w, buf, sizeof(buf));
	pt_record_encode(&w, &r);
	save(rdir, "exec_context", buf, w.len);
	memset(&r, 0, sizeof(r));
	r.type = PT_REC_PROCESS_EXIT;
	r.u.exit = (struct pt_exit){ .time_ns = 5, .pid = 4243, .comm = { "grep", 4 },
				     .ctx_flags = PT_EXIT_CTX_F_PRESENT | PT_EXIT_CTX_F_KNOWN,
				     .path = { "/usr/bin/grep", 13 }, .lifetime_ns = 1000 };
	pt_writer_init(&w, buf, sizeof(buf));
	pt_record_encode(&w, &r);
	save(rdir, "exit_context", buf, w.len);
	memset(&r, 0, sizeof(r));
	r.type = PT_REC_AGENT_STATUS;
	r.u.status = (struct pt_agent_status){ .time_ns = 7, .queue_depth = 3, .n_counters = 2,
					       .counters = { { 1, 5 }, { 4, 9 } } };
	pt_writer_init(&w, buf, sizeof(buf));
	pt_record_encode(&w, &r);
	save(rdir, "status", buf, w.len);
	memset(&r, 0, sizeof(r));
	r.type = PT_REC_EXEC_BLOCKED;
	r.u.blocked = (struct pt_exec_blocked){ .time_ns = 8, .pid = 9, .path = { "/tmp/x", 6 } };
	pt_writer_init(&w, buf, sizeof(buf));
	pt_record_encode(&w, &r);
	save(rdir, "blocked", buf, w.len);

	static const uint8_t hashes[2][32] = { { 1 }, { 2 } };
	struct pt_hello hello = { .version = { "0.1", 3 }, .hostname = { "h", 1 },
				  .agent_name = { "a", 1 }, .stream_id = 9, .first_seq = 1,
				  .next_seq = 5, .mode = PT_MODE_STREAM };
	struct pt_pong pong = { .nonce = 1, .n_counters = 1, .counters = { { 1, 2 } } };
	struct pt_error err = { .code = 1, .message = { "bad", 3 } };

	pt_writer_init(&w, buf, sizeof(buf)); pt_hello_encode(&w, &hello); save(fdir, "hello", buf, w.len);
	pt_writer_init(&w, buf, sizeof(buf)); pt_pong_encode(&w, &pong); save(fdir, "pong", buf, w.len);
	pt_writer_init(&w, buf, sizeof(buf)); pt_error_encode(&w, &err); save(fdir, "error", buf, w.len);
	pt_writer_init(&w, buf, sizeof(buf));
	pt_policy_encode(&w, 3, hashes, 2);
	save(fdir, "policy", buf, w.len);
	struct pt_sample_get sg = { .id = 7, .offset = 4096, .length = PT_SAMPLE_CHUNK_MAX };
	struct pt_sample_data sd = { .id = 7, .offset = 4096, .size = 4100,
				     .body = (const uint8_t *)"ELF!", .body_len = 4 };
	memset(sg.sha256, 0xab, sizeof(sg.sha256));
	memcpy(sd.sha256, sg.sha256, sizeof(sd.sha256));
	pt_writer_init(&w, buf, sizeof(buf)); pt_sample_get_encode(&w, &sg);
	save(fdir, "sample-get", buf, w.len);
	pt_writer_init(&w, buf, sizeof(buf)); pt_sample_data_encode(&w, &sd);
	save(fdir, "sample-data", buf, w.len);
	sd = (struct pt_sample_data){ .id = 7, .code = PT_SAMPLE_CHANGED, .message = { "changed", 7 } };
	pt_writer_init(&w, buf, sizeof(buf)); pt_sample_data_encode(&w, &sd);
	save(fdir, "sample-refused", buf, w.len);
	pt_writer_init(&w, buf, sizeof(buf));
	pt_batch_encode(&w, 9, 1, n, recs, rw.len, PT_CODEC_NONE, NULL, 0);
	save(fdir, "batch-raw", buf, w.len);
	pt_writer_init(&w, buf, sizeof(buf));
	pt_batch_encode(&w, 9, 1, n, recs, rw.len, PT_CODEC_ZSTD, scratch, sizeof(scratch));
	save(fdir, "batch-zstd", buf, w.len);
	return 0;
}
