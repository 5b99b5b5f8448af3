# Shared by the collector's integration tests (sourced, not run): a throwaway deployment, a
# real proctrail-server on 127.0.0.1 with real TLS and SQLite, and the replay client as agent.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${BUILD:-$ROOT/build}
PT=$B/proctrail
SERVER=$B/proctrail-server
REPLAY=$B/bench/replay
for bin in "$PT" "$SERVER" "$REPLAY"; do
	[ -x "$bin" ] || { echo "missing $bin: run make first"; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "sqlite3 CLI missing (scripts/install-deps.sh)"; exit 1; }

T=$(mktemp -d /tmp/proctrail-collector.XXXXXX)
chmod 755 "$T"   # the collector runs as nobody when we are root
H=$T/var
SERVER_PID=
PORT=

cleanup() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	if [ -f "$T/server.log" ]; then
		echo "---- server log"
		tail -40 "$T/server.log"
	fi
	exit 1
}

ok() { echo "ok: $*"; }

deploy() {
	"$PT" --home "$H" pki init >/dev/null
	for n in "$@"; do
		"$PT" --home "$H" enroll "$n" >/dev/null
	done
}

# start_server [extra flags...]: waits until the port accepts connections.
start_server() {
	local tries
	# A second start would orphan the first collector (cleanup stops only the last). One just
	# sent SIGKILL is given time to die: a zombie (killed, not yet reaped) is gone.
	for tries in $(seq 100); do
		[ -n "${SERVER_PID:-}" ] && [ -e "/proc/$SERVER_PID" ] &&
			[ "$(awk '{print $3}' "/proc/$SERVER_PID/stat" 2>/dev/null)" != Z ] || break
		[ "$tries" -lt 100 ] || fail "start_server: collector $SERVER_PID still runs (stop_server first)"
		sleep 0.1
	done
	if [ "$(id -u)" -eq 0 ]; then
		chown nobody "$H"
		USER_FLAG=(--user nobody)
	else
		USER_FLAG=()
	fi
	for tries in 1 2 3 4 5; do
		PORT=$((20000 + RANDOM % 20000))
		"$SERVER" --home "$H" --listen "127.0.0.1:$PORT" "${USER_FLAG[@]}" "$@" \
			>>"$T/server.log" 2>&1 &
		SERVER_PID=$!
		for _ in $(seq 300); do
			if grep -q "listening on 127.0.0.1:$PORT" "$T/server.log" 2>/dev/null; then
				return 0
			fi
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	done
	fail "server did not start"
}

stop_server() {
	kill -TERM "$SERVER_PID"
	local rc=0
	wait "$SERVER_PID" || rc=$?
	SERVER_PID=
	[ "$rc" -eq 0 ] || fail "server exited with $rc on SIGTERM"
}

replay() {
	# The result line is what tests judge; a refused run exits 1 by design.
	{ "$REPLAY" --connect "127.0.0.1:$PORT" --timeout 60 "$@" 2>&1 || true; } | tail -1
}

q() {
	sqlite3 -cmd ".timeout 5000" "$H/proctrail.db" "$1"
}

expect_eq() { # what got want
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	ok "$1 = $3"
}
