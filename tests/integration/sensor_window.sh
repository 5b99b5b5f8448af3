#!/usr/bin/env bash
# The agent maps a 1 MiB window of the ring, moved as it reads (agent/ring.c, docs/sensor.md).
# With a 2 MiB ring and records of about 3.3 KB, 3000 execs are some 5 laps of the ring and 10
# moves of the window; a backlog larger than the window (the agent stopped) and a restart in the
# middle (reading resumes at the kernel's consumer position, anywhere in a page) must still give
# every exec exactly once with its arguments intact, and no more than the window may be mapped.
. "$(dirname "$0")/helpers/sensor-lib.sh"
sensor_setup
cd "$T"
pad=$(printf 'w%.0s' $(seq 1 3000))
spawn() { # first last
	local i
	for ((i = $1; i <= $2; i++)); do /bin/true "win-$$-$i" "$pad"; done
}
# bytes of the agent's address space mapped from BPF maps (the ring's pages, some data maps)
bpf_mapped() {
	local range rest s=0
	while read -r range rest; do
		[[ $rest == *bpf-map* ]] && s=$((s + 16#${range#*-} - 16#${range%-*}))
	done < "/proc/$AGENT_PID/maps"
	echo "$s"
}

agent_start --ring-bytes 2097152
spawn 1 1000
most=$(bpf_mapped)
kill -STOP "$AGENT_PID"
spawn 1001 1350   # about 1.15 MB: more than the window, less than the ring (the rest of the
                  # host fills it too, more since its records carry context and forks)
kill -CONT "$AGENT_PID"
spawn 1351 2000
m=$(bpf_mapped); [ "$m" -gt "$most" ] && most=$m
agent_stop
spawn 2001 2300   # no agent: the next one reads these from the pinned ring
agent_start
spawn 2301 3000
wait_for ".process.args[1]? == \"win-$$-3000\"" 120 >/dev/null || fail "the last exec never came"
m=$(bpf_mapped); [ "$m" -gt "$most" ] && most=$m
agent_stop

[ "$(count '.event.action == "loss"')" = 0 ] || fail "loss records: $(jq -c 'select(.event.action == "loss")' "$OUT")"
jq -r --arg p "win-$$-" --arg pad "$pad" 'select(.event.action == "exec" and
	((.process.args[1]? // "") | startswith($p))) | "\(.process.args[1]) \(.process.args[2] == $pad)"' \
	"$OUT" | sort > seen
for ((i = 1; i <= 3000; i++)); do echo "win-$$-$i true"; done | sort > spawned
diff spawned seen > diff.out || fail "execs missing, repeated or altered: $(head -5 diff.out)"
# the ring's 4 MiB (its data mapped twice) were mapped whole before the window
[ "$most" -le $(((1 << 20) + (128 << 10))) ] || fail "$most bytes of BPF maps mapped"
echo "3000 execs, each once; at most $most bytes of BPF maps mapped"
echo PASS
