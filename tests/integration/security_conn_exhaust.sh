#!/usr/bin/env bash
# Unauthenticated connections must not exhaust the collector (issue 14, finding 2).
#  1. Hundreds of plain TCP connections that never start a handshake, from eight addresses,
#     reopened whenever the collector closes them: the per-address share
#     (--max-handshakes-per-address) and the handshake pool (--max-handshakes) hold them; a real
#     agent from another address still gets a place in the full pool, connects and delivers
#     while they are held, and handshakes do not count against --max-connections. A handshake
#     trickled one byte at a time is closed 15 s after its accept all the same.
#  2. The collector under `ulimit -n 256` lowers its limits to fit at start. With 200 of its
#     descriptors taken (inherited, as a leak elsewhere would take them) accept() fails with
#     EMFILE: the listener pauses instead of spinning, the log stays small, and once the flood
#     is gone a real agent is served again.
. "$(dirname "$0")/collector_lib.bash"

HOLD=$T/pt_tcp_hold
cc -O2 -Wall -o "$HOLD" "$ROOT/tests/integration/helpers/pt_tcp_hold.c" \
	|| fail "cannot compile pt_tcp_hold"
SOURCES=127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9

counter() {
	grep "counters:" "$T/server.log" | tail -1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p"
}
wait_counter() { # NAME MIN: the deadline only bounds a failure
	for _ in $(seq 600); do
		[ "$(counter "$1")" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.1
	done
	fail "counter $1 did not reach $2 (last: $(counter "$1"))"
}
HOLD_PIDS=()
hold() { # helper arguments...
	"$HOLD" --connect "127.0.0.1:$PORT" "$@" >>"$T/hold.out" 2>&1 &
	HOLD_PIDS+=($!)
}
stop_hold() {
	local p
	for p in "${HOLD_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	HOLD_PIDS=()
}
trap 'stop_hold; cleanup' EXIT

deploy good
# ---- 1: the handshake pool, with established agents apart
# max-connections 16 is far below the flood: before the fix every connection counted against it.
start_server --max-connections 16 --max-handshakes 32 --max-handshakes-per-address 8 \
	--stats-interval 1
t_start=$SECONDS
# A handshake that is never idle: one byte of a ClientHello every 300 ms, for 25 s.
"$HOLD" --connect "127.0.0.1:$PORT" --from 127.0.0.10 --per-source 1 --trickle-ms 300 \
	--seconds 25 >"$T/trickle.out" 2>&1 &
trickle=$!
# One address over its share of 8, then seven more that fill the pool of 32 between them. The
# first must hold its 8 before the others start: in a pool already full it would only win
# places by eviction, down to a fair share of 4, and never reach its own limit (on a busy
# machine the seven were sometimes first).
hold --from 127.0.0.2 --per-source 40 --reopen-ms 200
wait_counter refused-per-address 1
hold --from "$SOURCES" --per-source 20 --reopen-ms 200
wait_counter handshaking 32
wait_counter refused-handshakes-full 1
ok "flood held: 1 x 40 + 7 x 20 connections, pool full ($(grep counters: "$T/server.log" | tail -1 | sed 's/.*counters: //'))"

r=$(replay --bundle "$H/agents/good" --events 2000 --batch 200 --verify-db "$H/proctrail.db")
[[ $r == "result: ok"* ]] || fail "a real agent during the flood: $r"
ok "real agent delivered during the flood: $r"
expect_eq "rows" "$(q "SELECT count(*) FROM events")" 2000
[ "$(counter refused-max-connections)" = 0 ] || fail "an agent was refused for max-connections"
wait_counter evicted-handshakes 1
ok "stale handshakes evicted: $(counter evicted-handshakes)"
# Refusals are counted, their warnings rate-limited: 10 lines per 10 s.
n=$(grep -c "refusing a connection\|in the TLS handshake to admit" "$T/server.log" || true)
allowed=$(( 10 * ((SECONDS - t_start) / 10 + 2) ))
refusals=$(( $(counter refused-per-address) + $(counter refused-handshakes-full) + $(counter evicted-handshakes) ))
[ "$n" -le "$allowed" ] || fail "$n refusal lines in $((SECONDS - t_start)) s: not rate-limited"
ok "$refusals refusals counted, $n logged"
grep -q "refused connections: [0-9]* similar lines suppressed" "$T/server.log" \
	|| fail "no summary line for the suppressed refusals"
stop_hold
wait "$trickle" || fail "trickling helper: $(cat "$T/trickle.out")"
out=$(tail -1 "$T/trickle.out")
[[ $out == *"closed_by_server="[1-9]* ]] || fail "a trickled handshake outlived its deadline: $out"
ok "trickled handshake closed at its deadline: $out"
stop_server

# ---- 2: descriptors
: >"$T/server.log"
REAL_SERVER=$SERVER
SERVER=$T/server-ulimit
cat >"$SERVER" <<EOF
#!/bin/bash
ulimit -n 256
for fd in \$(seq 20 219); do eval "exec \$fd</dev/null"; done
exec "$REAL_SERVER" "\$@"
EOF
chmod 755 "$SERVER"
start_server --stats-interval 1
grep -q "RLIMIT_NOFILE is 256: max-connections 10000 -> 168, max-handshakes 128 -> 56" \
	"$T/server.log" || fail "limits not fitted to RLIMIT_NOFILE 256"
ok "limits fitted to RLIMIT_NOFILE 256"
# 420 connections: more than the collector has descriptors.
hold --from "$SOURCES" --per-source 60 --reopen-ms 500
wait_counter accept-pauses 3
ok "listener paused on EMFILE: $(grep counters: "$T/server.log" | tail -1 | sed 's/.*counters: //')"
cpu0=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
sleep 2
cpu1=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
ok "collector CPU while paused: $(( (cpu1 - cpu0) * 100 / $(getconf CLK_TCK) / 2 ))% of a core"
stop_hold
emfile=$(grep -c "Too many open files" "$T/server.log" || true)
lines=$(wc -l <"$T/server.log")
[ "$emfile" -lt 100 ] || fail "$emfile EMFILE lines in the log"
[ "$lines" -lt 2000 ] || fail "$lines lines in the log"
ok "log stayed small: $emfile EMFILE lines, $lines lines in all"

# The flood is gone; its descriptors come back and the collector serves again.
r=$(replay --bundle "$H/agents/good" --stream 2 --events 500 --batch 100)
[[ $r == "result: ok"* ]] || fail "a real agent after the flood: $r"
ok "real agent served after the flood: $r"
kill -0 "$SERVER_PID" || fail "server died"
stop_server
