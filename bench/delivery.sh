#!/usr/bin/env bash
# Cost of delivery: agent CPU (user+sys of the process, from /proc) at a fixed exec rate, in
# collector mode (queue, spool with group commit, TLS uplink to a local collector) against
# --stdout (the sensor alone), interleaved A/B, median of ROUNDS. Root; after `make bench`.
#
#   bench/delivery.sh [RATE=1600] [SECONDS=20] [ROUNDS=3]
#   PT_AGENT=other/build/proctrail-agent bench/delivery.sh ...   (another build, e.g. the last commit)
set -u
cd "$(dirname "$0")/.."
RATE=${1:-1600} SECS=${2:-20} ROUNDS=${3:-3} AGENT=${PT_AGENT:-build/proctrail-agent}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
for b in build/proctrail build/proctrail-server "$AGENT" build/bench/exec_spawn; do
	[ -x "$b" ] || { echo "missing $b: make bench-build"; exit 1; }
done
T=$(mktemp -d /tmp/pt-bench-delivery.XXXXXX)
chmod 755 "$T"
H=$T/var
SP= AP=
trap '[ -n "$AP" ] && kill $AP 2>/dev/null; [ -n "$SP" ] && kill $SP 2>/dev/null; wait; rm -rf "$T"' EXIT
build/proctrail --home "$H" pki init >/dev/null
build/proctrail --home "$H" enroll bench >/dev/null
chown -R nobody "$H"; chown -R root "$H/agents"
PORT=$((20000 + RANDOM % 20000))
build/proctrail-server --home "$H" --listen "127.0.0.1:$PORT" --user nobody >"$T/server.log" 2>&1 &
SP=$!
sleep 1
A=$H/agents/bench

# Nanoseconds on CPU of every thread (schedstat; /proc/PID/stat's clock ticks are 10 ms, too
# coarse for tenths of a percent over 20 s). A thread that ended in between would be missed, so
# the thread list must be the same at both ends; else the ticks (which include ended threads).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%d\n", s }'; }
tasks() { ls /proc/"$1"/task | tr '\n' ' '; }
ticks_ns() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"; }

one() { # mode -> prints % of one core
	local pin=/sys/fs/bpf/pt-bench-delivery a b ka kb ta tb t0 t1
	if [ "$1" = collector ]; then
		"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" \
			--key "$A/agent.key" --spool-dir "$T/spool" --pin-dir "$pin" >>"$T/agent.log" 2>&1 &
	else
		"$AGENT" --stdout --pin-dir "$pin" >/dev/null 2>>"$T/agent.log" &
	fi
	AP=$!
	sleep 2
	ta=$(tasks $AP); a=$(cpu_ns $AP); ka=$(ticks_ns $AP); t0=$(date +%s.%N)
	build/bench/exec_spawn -r "$RATE" -s "$SECS" >/dev/null 2>&1
	tb=$(tasks $AP); b=$(cpu_ns $AP); kb=$(ticks_ns $AP); t1=$(date +%s.%N)
	kill $AP; wait $AP; AP=
	"$AGENT" --uninstall --pin-dir "$pin" 2>/dev/null
	if [ "$ta" != "$tb" ]; then
		echo "note: $1: threads changed during the run; clock ticks used" >&2
		a=$ka b=$kb
	fi
	echo "($b - $a) / 1000000000 / ($t1 - $t0) * 100" | bc -l
}

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] }'; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$T/collector"; : >"$T/stdout"
for _ in $(seq "$ROUNDS"); do
	one collector >>"$T/collector"
	one stdout >>"$T/stdout"
done
echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "agent CPU at $RATE exec/s, ${SECS}s x $ROUNDS rounds, interleaved (median, % of one core):"
echo "  collector mode (sensor + queue + spool + TLS uplink): $(median <"$T/collector")"
echo "  --stdout (sensor alone, output to /dev/null):         $(median <"$T/stdout")"
echo "  delivery (collector minus --stdout, per interleaved pair): $(paste "$T/collector" "$T/stdout" | awk '{ print $1 - $2 }' | median)"
echo "  each round, collector: $(tr '\n' ' ' <"$T/collector" | xargs printf '%.3f ')"
echo "  each round, --stdout:  $(tr '\n' ' ' <"$T/stdout" | xargs printf '%.3f ')"
