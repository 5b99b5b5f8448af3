# Shared by tests/integration/sensor_*.sh: start a real agent on its own pin directory, make
# real execs, and query the JSON lines it printed with jq. Sourced, not run.
#
#   sensor_setup            root check (exit 77), temp dir $T, helper binary $H, cleanup trap
#   agent_start [args]      start `proctrail-agent --stdout` on pin dir $PIN, output in $OUT;
#                           $LAST_MARKER is the argument of the exec it waited for
#   agent_stop              SIGTERM and wait
#   wait_for FILTER [secs]  wait until a line matches the jq select(FILTER); prints matches
#   count FILTER            how many lines match now
#   fail MSG                print MSG and the agent's stderr, exit 1

set -u
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
AGENT=$REPO/build/proctrail-agent
AGENT_PID=
OUT=
PIN=

fail() {
	echo "FAIL: $*" >&2
	[ -n "$OUT" ] && [ -f "$OUT.err" ] && { echo "--- agent stderr" >&2; tail -20 "$OUT.err" >&2; }
	exit 1
}

sensor_cleanup() {
	if [ -n "$AGENT_PID" ]; then
		kill -TERM "$AGENT_PID" 2>/dev/null; kill -CONT "$AGENT_PID" 2>/dev/null
		wait "$AGENT_PID" 2>/dev/null
	fi
	[ -n "$PIN" ] && "$AGENT" --uninstall --pin-dir "$PIN" 2>/dev/null
	[ -n "${T:-}" ] && rm -rf "$T"
}

sensor_setup() {
	if [ "$(id -u)" != 0 ]; then
		echo "needs root (BPF)"
		exit 77
	fi
	command -v jq >/dev/null || fail "jq is not installed"
	[ -x "$AGENT" ] || fail "$AGENT not built"
	# the tests run binaries from $T, one of them setuid, as nobody: a mount with noexec or
	# nosuid (a hardened /tmp) would change what they test
	local base=
	for d in /tmp /var/tmp "$REPO/build"; do
		[ -d "$d" ] || continue
		if ! findmnt -no OPTIONS --target "$d" | grep -qE '(^|,)(noexec|nosuid)(,|$)'; then
			base=$d
			break
		fi
	done
	[ -n "$base" ] || fail "no directory on a mount without noexec/nosuid"
	T=$(mktemp -d "$base/pt-sensor-XXXXXX")
	chmod 755 "$T"
	PIN=/sys/fs/bpf/pt-test-$$
	OUT=$T/out.json
	trap sensor_cleanup EXIT
	H=$T/pt_exec_helper
	cc -O2 -Wall -pthread -o "$H" "$REPO/tests/integration/helpers/pt_exec_helper.c" ||
		fail "cannot compile the helper"
}

# Starts the agent and returns once it is seen recording (a marker exec shows up).
agent_start() {
	local marker="pt-ready-$$-$RANDOM" before

	before=$(grep -c "recording every exec" "$OUT.err" 2>/dev/null)
	"$AGENT" --stdout --pin-dir "$PIN" --poll-ms 20 "$@" >>"$OUT" 2>>"$OUT.err" &
	AGENT_PID=$!
	for _ in $(seq 1 600); do
		[ "$(grep -c "recording every exec" "$OUT.err")" -gt "${before:-0}" ] && break
		kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited at start"
		sleep 0.05
	done
	LAST_MARKER=$marker
	/bin/true "$marker"
	wait_for ".process.args[1]? == \"$marker\"" 60 >/dev/null || fail "agent never showed the marker exec"
}

agent_stop() {
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID" || fail "agent exited with $?"
	AGENT_PID=
}

count() {
	jq -c "select($1)" "$OUT" 2>/dev/null | wc -l
}

wait_for() {
	local filter=$1 secs=${2:-60} i
	for ((i = 0; i < secs * 20; i++)); do
		if [ "$(count "$filter")" -gt 0 ]; then
			jq -c "select($filter)" "$OUT"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# jq -e on the single line matching FILTER: asserts CHECK (a jq boolean expression).
expect() {
	local filter=$1 check=$2 line
	line=$(jq -c "select($filter)" "$OUT" | head -1)
	[ -n "$line" ] || fail "no line matches: $filter"
	jq -e "$check" <<<"$line" >/dev/null || fail "line matching [$filter] fails [$check]: $line"
}
