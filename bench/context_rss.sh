#!/usr/bin/env bash
# The agent's memory with N live processes in its context table (docs/benchmarks.md, "Context").
# Root; after `make bench`. Two cases:
#   running   the agent runs first, then N processes start (each its own exec: N images)
#   seeded    N processes run first, then the agent starts and reads them from /proc
# Prints the agent's VmRSS, RssAnon and VmHWM (kB) with the N processes live, and the table's
# counts from the agent's summary.
#
#   bench/context_rss.sh [N]     (default 10000)
set -u
cd "$(dirname "$0")/.."
N=${1:-10000}
AGENT=build/proctrail-agent
LIVE=build/bench/live_procs
PIN=/sys/fs/bpf/pt-bench-rss-$$
TMP=$(mktemp -d /tmp/pt-rss-XXXXXX)
APID= LPID=
trap 'stop_all; rm -rf "$TMP"' EXIT
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
[ -x "$AGENT" ] && [ -x "$LIVE" ] || { echo "run make bench first"; exit 1; }

stop_all() {
	[ -n "$LPID" ] && { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; LPID=; }
	[ -n "$APID" ] && { kill -TERM "$APID" 2>/dev/null; wait "$APID" 2>/dev/null; APID=; }
	"$AGENT" --uninstall --pin-dir "$PIN" 2>/dev/null
}
agent_start() {
	"$AGENT" --stdout --pin-dir "$PIN" -v -v >/dev/null 2>"$TMP/agent.err" &
	APID=$!
	for _ in $(seq 600); do grep -q "recording every exec" "$TMP/agent.err" && return; sleep 0.1; done
	echo "agent did not start"; exit 1
}
live_start() {
	"$LIVE" "$N" 3600 >"$TMP/live.out" &
	LPID=$!
	for _ in $(seq 1200); do grep -q ready "$TMP/live.out" && return; sleep 0.1; done
	echo "live_procs did not get ready"; exit 1
}
mem() { grep -E 'VmRSS|RssAnon|VmHWM' "/proc/$APID/status" | tr -s ' \t' ' ' | tr '\n' ' '; }
ticks() { awk '{print $14 + $15}' "/proc/$APID/stat"; }

echo "## agent memory with $N live processes ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg))"
agent_start
sleep 1
echo "running: before: $(mem)"
live_start
# the agent has read every exec when its output stops growing: wait for its CPU to settle
prev=-1; for _ in $(seq 60); do t=$(ticks); [ "$t" = "$prev" ] && break; prev=$t; sleep 1; done
echo "running: $N live: $(mem)"
# the summary is written at exit: stop the agent while the processes still live
kill -TERM "$APID"; wait "$APID"; APID=
kill "$LPID"; wait "$LPID" 2>/dev/null; LPID=
echo "running: $(sed -n 's/.*summary: //p' "$TMP/agent.err" | grep -o 'proc_[a-z]* [0-9]*\|parent_unknown [0-9]*' | tr '\n' ' ')"
"$AGENT" --uninstall --pin-dir "$PIN" 2>/dev/null

live_start
t0=$(date +%s.%N)
agent_start
t1=$(date +%s.%N)
sleep 2
echo "seeded: $N live: $(mem); start to recording $(echo "$t1 - $t0" | bc) s; $(grep -o '[0-9]* processes seeded' "$TMP/agent.err")"
stop_all
