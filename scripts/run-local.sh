#!/usr/bin/env bash
# `make run` (as root): a local proctrail deployment under ./var (or $PROCTRAIL_HOME).
#
# First use creates the CA, the collector's certificate and an agent enrollment named after this
# host. Then it starts proctrail-server (as the unprivileged `proctrail` user, SQLite database in
# var/proctrail.db) and the local agent delivering to it over mutual TLS, prints where to look,
# and runs until Ctrl-C, when it stops both (the server commits and acknowledges what it has).
set -euo pipefail
cd "$(dirname "$0")/.."

H=${PROCTRAIL_HOME:-$PWD/var}
B=${BUILD:-build}
LISTEN=127.0.0.1:7443
SERVICE_USER=proctrail

if [ "$(id -u)" -ne 0 ]; then
	echo "run-local: the agent loads eBPF programs: run as root (make run)" >&2
	exit 1
fi
for bin in "$B/proctrail" "$B/proctrail-server" "$B/proctrail-agent"; do
	[ -x "$bin" ] || { echo "run-local: $bin missing: run make first" >&2; exit 1; }
done

# Agent names are [A-Za-z0-9._-]; a host name may hold more.
NAME=$(hostname -s 2>/dev/null || echo local)
NAME=$(printf '%s' "$NAME" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-64)
[ -n "$NAME" ] || NAME=local

mkdir -p "$H"
chmod 755 "$H"
if [ ! -f "$H/pki/ca.crt" ]; then
	"$B/proctrail" --home "$H" pki init
fi
if [ ! -f "$H/agents/$NAME/agent.crt" ]; then
	"$B/proctrail" --home "$H" enroll "$NAME"
fi
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		"$SERVICE_USER"
	echo "run-local: created system user $SERVICE_USER for the collector"
fi
# The collector, once unprivileged, writes the database (and its WAL) in $H.
chown "$SERVICE_USER": "$H"
for f in "$H"/proctrail.db "$H"/proctrail.db-wal "$H"/proctrail.db-shm; do
	[ -e "$f" ] && chown "$SERVICE_USER": "$f"
done
mkdir -p "$H/spool"
chmod 700 "$H/spool"

SERVER_PID= AGENT_PID=
stop() {
	trap - INT TERM EXIT
	echo
	echo "run-local: stopping"
	[ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	echo "run-local: stopped; the data stays in $H (proctrail events --json still reads it)"
	exit 0
}
trap stop INT TERM EXIT

: >"$H/server.log"
"$B/proctrail-server" --home "$H" --listen "$LISTEN" --user "$SERVICE_USER" \
	>>"$H/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do
	grep -q "listening on $LISTEN" "$H/server.log" && break
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		cat "$H/server.log" >&2
		echo "run-local: proctrail-server did not start (is $LISTEN already in use?)" >&2
		SERVER_PID=
		exit 1
	fi
	sleep 0.1
done

A=$H/agents/$NAME
"$B/proctrail-agent" --collector "$LISTEN" --ca "$A/ca.crt" --cert "$A/agent.crt" \
	--key "$A/agent.key" --spool-dir "$H/spool" >"$H/agent.log" 2>&1 &
AGENT_PID=$!
sleep 1
if ! kill -0 "$AGENT_PID" 2>/dev/null; then
	echo "run-local: the agent stopped at once; its log ($H/agent.log):" >&2
	tail -20 "$H/agent.log" >&2
	AGENT_PID=
	echo "run-local: the collector keeps running; replay traffic with build/bench/replay --bundle $A" >&2
fi

cat <<MSG

proctrail is running:
  collector  $LISTEN (TLS 1.3, mutual auth)   log: $H/server.log   db: $H/proctrail.db
  agent      '$NAME' -> $LISTEN               log: $H/agent.log    spool: $H/spool

Look at what it records (run anything, e.g. ls, in another terminal):
  $B/proctrail events --json | tail
  $B/proctrail events --json --limit 5 | jq .process.executable
  $B/proctrail agents --json | jq .

Ctrl-C stops the agent and the collector.
MSG

while kill -0 "$SERVER_PID" 2>/dev/null; do
	sleep 1
done
echo "run-local: proctrail-server exited; its log:" >&2
tail -20 "$H/server.log" >&2
SERVER_PID=
stop
