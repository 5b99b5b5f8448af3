#!/usr/bin/env bash
# Cost of delivery: agent CPU (user+sys of the process, from /proc) at a fixed exec rate, in
# collector mode (queue, spool with group commit, TLS uplink to a local collector) against
# --stdout (the sensor alone), interleaved A/B, median of ROUNDS. Root; after `make bench`.
#
#   bench/delivery.sh [RATE=1600] [SECONDS=20] [ROUNDS=3]
set -u
cd "$(dirname "$0")/.."
RATE=${1:-1600} SECS=${2:-20} ROUNDS=${3:-3}
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
for b in build/proctrail build/proctrail-server build/proctrail-agent build/bench/exec_spawn; do
	[ -x "$b" ] || { echo "missing $b: make bench"; exit 1; }
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

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

one() { # mode -> prints % of one core
	local pin=/sys/fs/bpf/pt-bench-delivery a b t0 t1
	if [ "$1" = collector ]; then
		build/proctrail-agent --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" \
			--key "$A/agent.key" --spool-dir "$T/spool" --pin-dir "$pin" >>"$T/agent.log" 2>&1 &
	else
		build/proctrail-agent --stdout --pin-dir "$pin" >/dev/null 2>>"$T/agent.log" &
	fi
	AP=$!
	sleep 2
	a=$(ticks $AP); t0=$(date +%s.%N)
	build/bench/exec_spawn -r "$RATE" -s "$SECS" >/dev/null 2>&1
	b=$(ticks $AP); t1=$(date +%s.%N)
	kill $AP; wait $AP; AP=
	build/proctrail-agent --uninstall --pin-dir "$pin" 2>/dev/null
	echo "($b - $a) / $(getconf CLK_TCK) / ($t1 - $t0) * 100" | bc -l
}

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }

: >"$T/collector"; : >"$T/stdout"
for _ in $(seq "$ROUNDS"); do
	one collector >>"$T/collector"
	one stdout >>"$T/stdout"
done
echo "agent CPU at $RATE exec/s, ${SECS}s x $ROUNDS rounds, interleaved (median, % of one core):"
echo "  collector mode (sensor + queue + spool + TLS uplink): $(median <"$T/collector")"
echo "  --stdout (sensor alone, output to /dev/null):         $(median <"$T/stdout")"
