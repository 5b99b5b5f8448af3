#!/usr/bin/env bash
# N simulated agents (bench/loadgen: a certificate each, from the test CA) on one collector on
# this machine: the collector's memory and CPU per connected agent, idle (PING/PONG only) and
# under a fleet-wide event rate, and the check that every acknowledged record is stored once.
#
#   bench/fleet.sh [AGENTS=10000] [RATE=20000] [SECONDS=20] [HOLD=20] [CONNECT_RATE=500]
#
# Memory: the collector's VmRSS with every agent connected minus before the first one, over N.
# CPU: the collector's utime+stime (/proc/PID/stat) over the hold (idle) and the run (RATE).
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${1:-10000} RATE=${2:-20000} SECS=${3:-20} HOLD=${4:-20} CRATE=${5:-500}
B=${BUILD:-build}
make --no-print-directory -s -j2 "$B/proctrail-server" "$B/proctrail" "$B/bench/loadgen"
T=$(mktemp -d /tmp/proctrail-fleet.XXXXXX)
chmod 755 "$T"
H=$T/var
SERVER_PID= LG_PID=
cleanup() {
	[ -z "$LG_PID" ] || kill "$LG_PID" 2>/dev/null || true
	[ -z "$SERVER_PID" ] || { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; } || true
	rm -rf "$T"
}
trap cleanup EXIT
"$B/proctrail" --home "$H" pki init >/dev/null
USER_FLAG=()
if [ "$(id -u)" -eq 0 ]; then chown nobody "$H"; USER_FLAG=(--user nobody); fi
ulimit -n "$(ulimit -Hn)"
PORT=$((20000 + RANDOM % 20000))
"$B/proctrail-server" --home "$H" --listen "127.0.0.1:$PORT" "${USER_FLAG[@]}" \
	--max-connections "$AGENTS" --max-handshakes 256 --stats-interval 0 >"$T/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do grep -q "listening on" "$T/server.log" && break; sleep 0.1; done
grep -q "listening on" "$T/server.log" || { cat "$T/server.log"; exit 1; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$SERVER_PID/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
HZ=$(getconf CLK_TCK)
rss0=$(rss)
"$B/bench/loadgen" --home "$H" --connect "127.0.0.1:$PORT" --agents "$AGENTS" --rate "$RATE" \
	--seconds "$SECS" --hold "$HOLD" --sources 250 --connect-rate "$CRATE" --verify-db "$H/proctrail.db" \
	>"$T/loadgen.log" 2>&1 &
LG_PID=$!
for _ in $(seq 3000); do grep -q '^holding' "$T/loadgen.log" && break;
	kill -0 "$LG_PID" 2>/dev/null || break; sleep 0.1; done
grep -q '^holding' "$T/loadgen.log" || { cat "$T/loadgen.log"; tail "$T/server.log"; exit 1; }
sleep 2     # the last WELCOMEs' HELLO jobs committed
rss1=$(rss) c0=$(cpu_ticks) t0=$(date +%s.%N)
est=$(grep -o 'established=[0-9]*' "$T/server.log" | tail -1 || true)
sleep $((HOLD - 4))
c1=$(cpu_ticks) t1=$(date +%s.%N)
for _ in $(seq 100); do grep -q '^result:' "$T/loadgen.log" && break; sleep 0.5; done
c2=$(cpu_ticks) t2=$(date +%s.%N)
wait "$LG_PID" || true
LG_PID=
cat "$T/loadgen.log"
n=$(sed -n 's/^connected \([0-9]*\) agents.*/\1/p' "$T/loadgen.log")
# the rate reached (the generator is one thread: on a busy machine it may not reach RATE)
rate=$(sed -n 's/^result:.* events_per_sec=\([0-9]*\).*/\1/p' "$T/loadgen.log")
awk -v n="$n" -v r0="$rss0" -v r1="$rss1" -v c0="$c0" -v c1="$c1" -v c2="$c2" \
	-v t0="$t0" -v t1="$t1" -v t2="$t2" -v hz="$HZ" -v rate="${rate:-1}" 'BEGIN {
	printf "collector RSS: %.1f MiB before, %.1f MiB with %d agents: %.1f KiB per agent\n",
		r0 / 1024, r1 / 1024, n, (r1 - r0) / n;
	idle = (c1 - c0) / hz / (t1 - t0);
	busy = (c2 - c1) / hz / (t2 - t1);
	printf "collector CPU idle (PING/PONG): %.1f %% of a core, %.2f us/s per agent\n",
		idle * 100, idle * 1e6 / n;
	printf "collector CPU at %d events/s (reached): %.1f %% of a core, %.2f us per event\n",
		rate, busy * 100, busy * 1e6 / rate;
}'
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /'
