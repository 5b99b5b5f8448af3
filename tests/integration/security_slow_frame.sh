#!/usr/bin/env bash
# Slow frames (issue 14, finding 6): an agent with a valid certificate starts a big frame and
# trickles it one byte at a time. The collector closes it once --frame-timeout has passed since
# the frame's first byte, long before the idle timeout, and counts it; the trickled bytes do not
# keep the connection alive, nor do TLS record bytes that never make a frame (that one ends at
# the idle timeout). A third connection with the same certificate under
# --max-per-agent 2 replaces the oldest one. A real agent is served throughout.
. "$(dirname "$0")/collector_lib.bash"

SLOW=$T/pt_slow_frame
# The wire sources, not a library of the build, so any BUILD flavour works.
cc -O2 -Wall -I"$ROOT/include" -o "$SLOW" "$ROOT/tests/integration/helpers/pt_slow_frame.c" \
	"$ROOT"/lib/wire/*.c -lssl -lcrypto -lzstd || fail "cannot compile pt_slow_frame"

# counter NAME: its value in the last counters line (empty if none yet)
counter() {
	grep "counters:" "$T/server.log" | tail -1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p"
}
# wait_counter NAME MIN: until the counter reaches MIN; the deadline only bounds a failure
wait_counter() {
	for _ in $(seq 600); do
		[ "$(counter "$1")" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.1
	done
	fail "counter $1 did not reach $2 (last: $(counter "$1"))"
}

deploy slow1 slow2 slow3 dup good
# Idle timeout is 3 * ping-interval + 30 s = 33 s; the frame deadline 2 s.
start_server --frame-timeout 2 --ping-interval 1 --stats-interval 1 --max-per-agent 2

# One byte of a TLS record every 500 ms, the record never completed: traffic, but no frame.
"$SLOW" --connect "127.0.0.1:$PORT" --bundle "$H/agents/slow3" --record-trickle-ms 500 \
	--max-seconds 90 >"$T/slow3.out" 2>&1 &
s3=$!

# A 4 MiB frame, 1 MiB of it at once, then 1 byte every 200 ms: closed after about 2 s.
"$SLOW" --connect "127.0.0.1:$PORT" --bundle "$H/agents/slow1" --frame-bytes 4194304 \
	--send-bytes 1048576 --trickle-ms 200 --max-seconds 60 >"$T/slow1.out" 2>&1 &
s1=$!
# Only the header, then the trickle: the same deadline.
"$SLOW" --connect "127.0.0.1:$PORT" --bundle "$H/agents/slow2" --frame-bytes 4194304 \
	--send-bytes 8 --trickle-ms 200 --max-seconds 60 >"$T/slow2.out" 2>&1 &
s2=$!
r=$(replay --bundle "$H/agents/good" --events 500 --batch 100)
[[ $r == "result: ok"* ]] || fail "a real agent beside the slow frames: $r"
ok "real agent served beside two slow frames: $r"
wait "$s1" || fail "slow1 helper failed: $(cat "$T/slow1.out")"
wait "$s2" || fail "slow2 helper failed: $(cat "$T/slow2.out")"
for n in 1 2; do
	out=$(tail -1 "$T/slow$n.out")
	[[ $out == "result: closed "* ]] || fail "slow$n not closed: $out"
	ms=$(sed -n 's/.*after_ms=\([0-9]*\).*/\1/p' <<<"$out")
	# Not before the deadline; well before the 33 s idle timeout (generous for a busy machine).
	[ "$ms" -ge 1900 ] || fail "slow$n closed before the frame deadline: $out"
	[ "$ms" -lt 25000 ] || fail "slow$n outlived the frame deadline: $out"
	[[ $out == *"error_frame=1"* ]] || fail "slow$n got no ERROR frame: $out"
	ok "slow$n closed by the frame deadline: $out"
done
grep -q "agent slow1 (127.0.0.1:[0-9]*): frame not complete 2 s after its first byte" \
	"$T/server.log" || fail "no log line for the frame deadline"
wait_counter frame-timeouts 2
expect_eq "frame-timeouts" "$(counter frame-timeouts)" 2

# Per-certificate cap: three sessions of 'dup', each started once the previous one has its
# WELCOME; the third replaces the first.
wait_welcomed() { # FILE
	for _ in $(seq 600); do
		grep -q '^welcomed' "$1" && return 0
		grep -q '^result:' "$1" && break
		sleep 0.1
	done
	fail "no WELCOME in $1: $(cat "$1")"
}
dup() { # N
	"$SLOW" --connect "127.0.0.1:$PORT" --bundle "$H/agents/dup" --hello dup --send-bytes 0 \
		--trickle-ms 0 --max-seconds 120 >"$T/dup$1.out" 2>&1 &
}
dup 1; d1=$!
wait_welcomed "$T/dup1.out"
dup 2; d2=$!
wait_welcomed "$T/dup2.out"
dup 3; d3=$!
wait_welcomed "$T/dup3.out"
wait "$d1" || true
out=$(tail -1 "$T/dup1.out")
[[ $out == "result: closed "* ]] || fail "oldest 'dup' connection not replaced: $out"
[[ $out == *"error_frame=1"* ]] || fail "replaced connection got no ERROR: $out"
for n in 2 3; do
	grep -q '^result:' "$T/dup$n.out" && fail "dup$n closed too: $(cat "$T/dup$n.out")"
done
ok "third connection of one certificate replaced the first: $out"
wait_counter replaced-per-agent 1
expect_eq "replaced-per-agent" "$(counter replaced-per-agent)" 1
grep -q "agent dup (127.0.0.1:[0-9]*): replaced by a newer connection of this agent" \
	"$T/server.log" || fail "no log line for the replacement"
kill "$d2" "$d3" 2>/dev/null || true
wait "$d2" "$d3" 2>/dev/null || true

wait "$s3" || fail "slow3 helper failed: $(cat "$T/slow3.out")"
out=$(tail -1 "$T/slow3.out")
[[ $out == "result: closed "* ]] || fail "TLS record trickle outlived the idle timeout: $out"
ms=$(sed -n 's/.*after_ms=\([0-9]*\).*/\1/p' <<<"$out")
[ "$ms" -ge 30000 ] || fail "slow3 closed before the idle timeout: $out"
ok "TLS record trickle closed at the idle timeout: $out"
wait_counter idle-timeouts 1
expect_eq "idle-timeouts" "$(counter idle-timeouts)" 1
grep -q "agent slow3 (127.0.0.1:[0-9]*): no whole frame for 33 s, closing" "$T/server.log" \
	|| fail "no log line for the idle timeout"

kill -0 "$SERVER_PID" || fail "server died"
r=$(replay --bundle "$H/agents/good" --stream 2 --events 100)
[[ $r == "result: ok"* ]] || fail "server no longer serves: $r"
ok "server still serving"
stop_server
