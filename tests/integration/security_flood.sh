#!/usr/bin/env bash
# One agent flooding the collector with frames must not delay the others (issue 14, finding 3).
# A hostile agent with a valid certificate sends PONGs nobody asked for, as fast as TLS takes
# them, reconnecting whenever it is thrown out; then frames of an unknown type, which cost no
# store work but count against its frames/s. Meanwhile a well-behaved agent delivers its records:
# all must be stored, and its HELLO->WELCOME and BATCH->ACK latency must stay far below the
# 17-20 s the flood caused before (the bound is generous for a busy machine). The flooders must
# have been throttled and disconnected, and counted.
. "$(dirname "$0")/collector_lib.bash"

# 5 s: a single TLS handshake took 2.07 s with both cores saturated (CI under stress-ng plus
# concurrent builds), while the flood before the fix stretched WELCOME to 17-29 s and ACK p99
# to 12-20 s, so a regression still fails by a wide margin.
BOUND_MS=${SECURITY_FLOOD_BOUND_MS:-5000}
EVENTS=20000

deploy good bad
start_server

good_run() { # label stream
	"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/good" --stream "$2" \
		--events "$EVENTS" --batch 200 --window 4 --timeout 120 \
		--verify-db "$H/proctrail.db" 2>&1 | tail -1
}

field() { # line name
	sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"
}

check_latency() { # label result-line
	local w p99
	[[ $2 == "result: ok"* ]] || fail "$1: good agent failed: $2"
	w=$(field "$2" welcome_ms)
	p99=$(field "$2" ack_p99_ms)
	awk -v w="$w" -v p="$p99" -v b="$BOUND_MS" 'BEGIN { exit !(w < b && p < b) }' ||
		fail "$1: good agent too slow: welcome ${w} ms, ACK p99 ${p99} ms (bound $BOUND_MS ms)"
	ok "$1: welcome ${w} ms, ACK p50 $(field "$2" ack_p50_ms) ms, p99 ${p99} ms"
}

# Baseline, no flood: the figures the report compares against.
base=$(good_run baseline 1)
check_latency "baseline" "$base"

# flood [replay flags...]: reconnects until $T/stop exists.
flood() {
	while [ ! -e "$T/stop" ]; do
		"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/bad" --events 1 \
			--timeout 30 "$@" >>"$T/flood.out" 2>&1 || true
	done
}

agents_json() {
	"$PT" --home "$H" agents --json | grep '"agent.name":"bad"' || true
}

counter() { # name
	{ agents_json | grep -o "\"$1\":[0-9]*" | cut -d: -f2 | head -1; } || true
}

wait_flooding() {
	for _ in $(seq 300); do
		grep -q "agent bad (.*) connected" "$T/server.log" && return 0
		sleep 0.1
	done
	fail "the flooder never got in"
}

# 1. PONG flood.
rm -f "$T/stop"
flood --pong-flood &
flooder=$!
wait_flooding
sleep 1        # the flood is well under way (more time only makes the old failure worse)
under=$(good_run "pong flood" 2)
touch "$T/stop"
wait "$flooder" || true
check_latency "under a PONG flood" "$under"
grep -q "agent bad (.*): more than 16 PONGs without a PING; closing the connection" \
	"$T/server.log" || fail "the PONG flooder was not disconnected"
n=$(grep -c "more than 16 PONGs without a PING" "$T/server.log")
ok "PONG flooder disconnected $n times"
for _ in $(seq 100); do
	c=$(counter unsolicited_pong)
	[ -n "$c" ] && [ "$c" -gt 16 ] && break
	sleep 0.1
done
[ -n "$c" ] && [ "$c" -gt 16 ] || fail "unsolicited PONGs not counted: $(agents_json)"
ok "unsolicited PONGs counted: $c"

# 2. A flood of frames of an unknown type: skipped, but throttled by max-frames-per-sec
# (back-pressure), and closed once it has stayed over the limit for 10 s.
rm -f "$T/stop"
: >"$T/flood.out"
flood --flood-type 200 --timeout 60 &
flooder=$!
sleep 1
under2=$(good_run "unknown-frame flood" 3)
touch "$T/stop"
check_latency "under an unknown-frame flood" "$under2"
for _ in $(seq 600); do
	grep -q "agent bad (.*): over 1000 frames/s for 10 s; closing the connection" \
		"$T/server.log" && break
	sleep 0.1
done
grep -q "agent bad (.*): over 1000 frames/s for 10 s; closing the connection" "$T/server.log" ||
	fail "the frame flooder was not disconnected"
wait "$flooder" || true
grep -q "result: error code=4 message=over 1000 frames/s" "$T/flood.out" ||
	fail "the frame flooder got no ERROR(LIMIT): $(tail -3 "$T/flood.out")"
grep -q "agent bad (.*): over its frames/s limit" "$T/server.log" || fail "no throttle log line"
for _ in $(seq 300); do
	c=$(counter throttled)
	f=$(counter flood_closed)
	[ -n "$c" ] && [ "$c" -gt 0 ] && [ "${f:-0}" -ge 1 ] && break
	sleep 0.1
done
[ -n "$c" ] && [ "$c" -gt 0 ] && [ "${f:-0}" -ge 1 ] ||
	fail "the frame flooder was not counted: $(agents_json)"
ok "frame flooder throttled $c times, then disconnected ($f)"

expect_eq "good rows" \
	"$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='good'")" \
	$((3 * EVENTS))
expect_eq "bad rows" \
	"$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='bad'")" 0
echo "figures: baseline [$base]"
echo "figures: pong flood [$under]"
echo "figures: frame flood [$under2]"
kill -0 "$SERVER_PID" || fail "server died"
stop_server
