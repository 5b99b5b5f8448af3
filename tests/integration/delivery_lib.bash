# Shared by the delivery (store-and-forward) integration tests; sourced, not run.
# A throwaway deployment: real proctrail-server on 127.0.0.1 (TLS 1.3, SQLite), a real
# proctrail-agent in collector mode with its own BPF pin directory, and a uniquely named
# executable whose execs the tests count (the machine runs other processes too).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${BUILD:-$ROOT/build}
PT=$B/proctrail
SERVER=$B/proctrail-server
AGENT=$B/proctrail-agent

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: needs root (BPF)"
	exit 77
fi
for bin in "$PT" "$SERVER" "$AGENT"; do
	[ -x "$bin" ] || { echo "missing $bin: run make first"; exit 1; }
done
command -v jq >/dev/null || { echo "jq missing (scripts/install-deps.sh)"; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 missing (scripts/install-deps.sh)"; exit 1; }

T=$(mktemp -d /tmp/proctrail-delivery.XXXXXX)
chmod 755 "$T"   # the collector runs as nobody
H=$T/var
SPOOL=$T/spool
PIN=/sys/fs/bpf/ptd_$$_$RANDOM
NAME=dlv-$$
SERVER_PID=
AGENT_PID=
PORT=
MOUNTED=
BIN=
AGENT_FLAGS=()

delivery_cleanup() {
	set +e
	if [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; then
		kill -TERM "$AGENT_PID"; wait "$AGENT_PID"
	fi
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID"; wait "$SERVER_PID"
	fi
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1
	[ -n "$MOUNTED" ] && umount "$MOUNTED"
	rm -rf "$T"
}
trap delivery_cleanup EXIT

fail() {
	echo "FAIL: $*"
	# server.start is the running collector's log; server.log has the ones before it.
	for f in server.log server.start agent.log; do
		if [ -f "$T/$f" ]; then
			echo "---- $f (last lines)"
			grep -v 'debug: uplink: sent' "$T/$f" | tail -25
		fi
	done
	exit 1
}

ok() { echo "ok: $*"; }

expect_eq() { # what got want
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	ok "$1 = $3"
}

deploy() {
	"$PT" --home "$H" pki init >/dev/null
	"$PT" --home "$H" enroll "$NAME" >/dev/null
	chown -R nobody "$H"
	chown -R root "$H/agents"
}

# start_server [flags]: same port on every restart, so the agent finds it again.
start_server() {
	local tries
	for tries in 1 2 3 4 5; do
		[ -n "$PORT" ] || PORT=$((20000 + RANDOM % 20000))
		: >"$T/server.start"
		"$SERVER" --home "$H" --listen "127.0.0.1:$PORT" --user nobody "$@" \
			>"$T/server.start" 2>&1 &
		SERVER_PID=$!
		for _ in $(seq 300); do
			if grep -q "listening on 127.0.0.1:$PORT" "$T/server.start"; then
				cat "$T/server.start" >>"$T/server.log"
				return 0
			fi
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		cat "$T/server.start" >>"$T/server.log"
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		grep -q "Address already in use" "$T/server.start" && [ -z "${KEEP_PORT:-}" ] && PORT=
	done
	fail "server did not start"
}

stop_server() {
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=
}

# start_agent [extra flags]: returns once the sensor is attached and the agent collects.
start_agent() {
	local log=$T/agent.log
	local start
	: >>"$log"
	start=$(wc -l <"$log")
	"$AGENT" --collector "127.0.0.1:$PORT" --ca "$H/agents/$NAME/ca.crt" \
		--cert "$H/agents/$NAME/agent.crt" --key "$H/agents/$NAME/agent.key" \
		--spool-dir "$SPOOL" --pin-dir "$PIN" --backoff-min-ms 100 --backoff-max-ms 1000 \
		--timeout-ms 10000 "${AGENT_FLAGS[@]}" "$@" >>"$log" 2>&1 &
	AGENT_PID=$!
	for _ in $(seq 600); do
		if tail -n +"$((start + 1))" "$log" | grep -q "collecting:"; then
			return 0
		fi
		kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited at start"
		sleep 0.05
	done
	fail "agent did not start"
}

stop_agent() {
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID" || fail "agent exited with $? on SIGTERM"
	AGENT_PID=
}

kill9_agent() {
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	AGENT_PID=
}

# A copy of true(1) with its own bytes, so its execs are ours alone.
make_bin() {
	BIN=$T/storm-$$-$RANDOM
	cp /bin/true "$BIN"
	head -c 64 /dev/urandom >>"$BIN"
	chmod 755 "$BIN"
}

# storm FIRST LAST [PAUSE_EVERY PAUSE_S]: execs $BIN with arguments FIRST..LAST, in order.
storm() {
	local i=$1 last=$2 every=${3:-0} pause=${4:-0}
	while [ "$i" -le "$last" ]; do
		"$BIN" "$i"
		if [ "$every" -gt 0 ] && [ $((i % every)) -eq 0 ]; then
			sleep "$pause"
		fi
		i=$((i + 1))
	done
}

# The argument of every stored exec of $BIN, one per line (duplicates kept). Selected by the
# binary's hash (an index on the collector), then checked by path as well.
stored_args() {
	local sha
	sha=$(sha256sum "$BIN" | cut -d' ' -f1)
	"$PT" --home "$H" events --json --sha256 "$sha" --agent "$NAME" 2>/dev/null |
		jq -r --arg p "$BIN" 'select(.event.action == "exec" and .process.executable == $p)
			| .process.args[1]'
}

# wait_stored N SECONDS: until N execs of $BIN are stored (by its hash), or time runs out.
wait_stored() {
	local n=$1 secs=$2 got=0 sha
	sha=$(sha256sum "$BIN" | cut -d' ' -f1)
	for _ in $(seq $((secs * 2))); do
		got=$(q "SELECT count(*) FROM events WHERE sha256 = X'$sha'" 2>/dev/null || echo 0)
		[ "$got" -ge "$n" ] && return 0
		sleep 0.5
	done
	echo "wait_stored: $got of $n after ${secs}s"
	return 0
}

# wait_args FIRST LAST SECONDS: until every argument FIRST..LAST has a stored exec.
wait_args() {
	local first=$1 last=$2 secs=$3 got=0
	for _ in $(seq $((secs * 2))); do
		got=$(stored_args | awk -v a="$first" -v b="$last" '$1 >= a && $1 <= b' | sort -u | wc -l)
		[ "$got" -ge $((last - first + 1)) ] && return 0
		sleep 0.5
	done
	echo "wait_args: $got of $((last - first + 1)) after ${secs}s"
	return 0
}

q() {
	sqlite3 -cmd ".timeout 5000" "$H/proctrail.db" "$1"
}

# check_exactly_once FIRST LAST: every argument FIRST..LAST stored exactly once; prints the
# numbers missing and duplicated.
check_exactly_once() {
	local first=$1 last=$2
	stored_args | sort -n >"$T/got"
	seq "$first" "$last" >"$T/want"
	local dups missing
	dups=$(uniq -d "$T/got" | wc -l)
	missing=$(comm -23 <(sort "$T/want") <(sort -u "$T/got") | wc -l)
	MISSING=$missing
	DUPS=$dups
	echo "stored $(wc -l <"$T/got") of $((last - first + 1)); missing $missing; duplicated $dups"
}

# Sum of the counts of the LOSS records the collector stored for this agent, all counters.
reported_losses() {
	agent_json | jq '[.loss[] | .reported] | add // 0'
}

agent_json() {
	"$PT" --home "$H" agents --json | jq -c --arg n "$NAME" 'select(."agent.id" == $n)'
}
