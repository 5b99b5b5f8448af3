#!/usr/bin/env bash
# A fresh host joins with one command, and both programs behave as systemd services:
#   - `proctrail pki bundle NAME --collector ... -o FILE`, `proctrail-agent --join FILE`;
#     a bundle whose key is not the certificate's is refused and writes nothing;
#   - the collector and the agent, started from their configuration files as the units do,
#     send READY=1 to $NOTIFY_SOCKET, RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM;
#   - SIGHUP applies a changed file (the collector's rate, the agent's metrics interval) and
#     names a setting that needs a restart; a file that does not parse changes nothing;
#   - the agent's metrics textfile is rewritten atomically with its counters.
. "$(dirname "$0")/collector_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF)"
	exit 77
fi
AGENT=$B/proctrail-agent
SINK=$ROOT/tests/integration/helpers/notify_sink.py
deploy
ETC=$T/etc
mkdir -p "$T/spool"
chmod 700 "$T/spool"
AGENT_PID= SINK_PIDS=()
PIN=/sys/fs/bpf/ptj_$$
stop_all() {
	set +e
	[ -z "$AGENT_PID" ] || { kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; } 2>/dev/null
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1
	for p in "${SINK_PIDS[@]}"; do kill "$p"; wait "$p"; done 2>/dev/null
	cleanup
}
trap 'stop_all' EXIT

wait_for() { # file regex what [tries of 0.1 s]
	for _ in $(seq "${4:-300}"); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "$3 (no /$2/ in $1)"
}

sink() { # name: starts a notification socket, sets NOTIFY
	python3 "$SINK" "$T/$1.sock" "$T/$1.notify" &
	SINK_PIDS+=($!)
	wait_for "$T/$1.notify" '^listening$' "notify sink $1 started"
}

# ---- the collector from its configuration file, under a stand-in service manager ----
sink collector
PORT=$((20000 + RANDOM % 20000))
chown nobody "$H"
cat >"$T/collector.conf" <<CONF
home = $H
listen = 127.0.0.1:$PORT
user = nobody
ping-interval = 1
max-records-per-sec = 100000
CONF
NOTIFY_SOCKET=$T/collector.sock "$SERVER" --config "$T/collector.conf" >>"$T/server.log" 2>&1 &
SERVER_PID=$!
wait_for "$T/collector.notify" '^READY=1$' "collector READY=1"
ok "collector: READY=1 once listening"
grep -q "listening on 127.0.0.1:$PORT" "$T/server.log" || fail "READY=1 before listening"

sed -i 's/^max-records-per-sec = .*/max-records-per-sec = 4242/; s/^ping-interval = .*/ping-interval = 7/' \
	"$T/collector.conf"
kill -HUP "$SERVER_PID"
wait_for "$T/server.log" 'SIGHUP: configuration reloaded: max-records-per-sec 4242' "collector reload applied"
wait_for "$T/server.log" 'SIGHUP: changed setting ping-interval takes effect only at restart' \
	"collector names the setting that needs a restart"
wait_for "$T/collector.notify" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$' "collector RELOADING=1"
for _ in $(seq 100); do [ "$(grep -c '^READY=1$' "$T/collector.notify")" -ge 2 ] && break; sleep 0.1; done
expect_eq "collector READY=1 again after the reload" "$(grep -c '^READY=1$' "$T/collector.notify")" 2
echo 'max-records-per-sec = lots' >>"$T/collector.conf"
kill -HUP "$SERVER_PID"
wait_for "$T/server.log" 'SIGHUP: configuration not reloaded: .*max-records-per-sec' \
	"a bad file is refused with its reason"
grep -q 'is not a number' "$T/server.log" || fail "the refusal does not say why"
sed -i '$d' "$T/collector.conf"
ok "collector: SIGHUP applies the file, names restart-only settings, refuses a bad file"

# ---- a host joins from one bundle ----
"$PT" --home "$H" pki bundle joiner --collector "127.0.0.1:$PORT" -o "$T/joiner.bundle" >/dev/null
expect_eq "bundle mode" "$(stat -c %a "$T/joiner.bundle")" 600
"$PT" --home "$H" pki bundle joiner --collector "127.0.0.1:$PORT" -o "$T/joiner.bundle" \
	>/dev/null 2>&1 && fail "a bundle overwrote an existing file"
# a tampered bundle: another agent's key
"$PT" --home "$H" enroll other >/dev/null
otherkey=$(base64 -w0 "$H/agents/other/agent.key")
sed "s|^key = .*|key = $otherkey|" "$T/joiner.bundle" >"$T/bad.bundle"
if "$AGENT" --join "$T/bad.bundle" --etc "$T/badetc" --no-start >"$T/badjoin.log" 2>&1; then
	fail "a bundle with a foreign key was accepted"
fi
grep -q "key does not belong to cert" "$T/badjoin.log" || fail "refusal reason: $(cat "$T/badjoin.log")"
[ ! -e "$T/badetc/agent.conf" ] || fail "a refused join wrote agent.conf"
ok "a bundle with a foreign key is refused, nothing written"

"$AGENT" --join "$T/joiner.bundle" --etc "$ETC" --spool-dir "$T/spool" --no-start >"$T/join.log" 2>&1 ||
	fail "join: $(cat "$T/join.log")"
expect_eq "key mode" "$(stat -c %a "$ETC/agent.key")" 600
grep -qx "collector = 127.0.0.1:$PORT" "$ETC/agent.conf" || fail "agent.conf lacks the collector"
cmp -s "$ETC/agent.crt" "$H/agents/joiner/agent.crt" || fail "joined certificate differs"
ok "joined: $(head -1 "$T/join.log")"

# ---- the joined agent from the written file, under a stand-in service manager ----
sink agent
cat >>"$ETC/agent.conf" <<CONF
pin-dir = $PIN
metrics-file = $T/agent.prom
metrics-interval-ms = 60000
CONF
NOTIFY_SOCKET=$T/agent.sock "$AGENT" --config "$ETC/agent.conf" >"$T/agent.log" 2>&1 &
AGENT_PID=$!
wait_for "$T/agent.notify" '^READY=1$' "agent READY=1"
wait_for "$T/server.log" "agent joiner .* connected" "the joined agent connected"
ok "agent: READY=1, the joined agent connected"

# the metrics file: written at start; after SIGHUP with a short interval, rewritten with traffic
[ -s "$T/agent.prom" ] || fail "no metrics file at start"
grep -q '^proctrail_agent_connected{agent="joiner"} ' "$T/agent.prom" || fail "metrics lack connected"
sed -i 's/^metrics-interval-ms = .*/metrics-interval-ms = 200/; s/^pin-dir = .*/pin-dir = \/sys\/fs\/bpf\/elsewhere/' \
	"$ETC/agent.conf"
kill -HUP "$AGENT_PID"
wait_for "$T/agent.log" 'SIGHUP: configuration reloaded' "agent reload"
wait_for "$T/agent.log" 'SIGHUP: changed: pin-dir; these take effect only at restart' \
	"agent names the restart-only setting"
wait_for "$T/agent.notify" '^RELOADING=1' "agent RELOADING=1"
for _ in $(seq 100); do [ "$(grep -c '^READY=1$' "$T/agent.notify")" -ge 2 ] && break; sleep 0.1; done
expect_eq "agent READY=1 again after the reload" "$(grep -c '^READY=1$' "$T/agent.notify")" 2
BIN=$T/mark-$$
cp /bin/true "$BIN"
for _ in $(seq 50); do "$BIN"; done
wait_for "$T/agent.prom" '^proctrail_agent_connected\{agent="joiner"\} 1$' "metrics: connected 1"
# acknowledged records go up once the storm is delivered (the file is rewritten every 200 ms)
for _ in $(seq 300); do
	acked=$(sed -n 's/^proctrail_agent_acked_records_total{agent="joiner"} //p' "$T/agent.prom")
	[ "${acked:-0}" -ge 50 ] && break
	sleep 0.1
done
[ "${acked:-0}" -ge 50 ] || fail "acked records in the metrics: ${acked:-none}"
grep -q '^proctrail_agent_ack_latency_seconds_count{agent="joiner"} [1-9]' "$T/agent.prom" ||
	fail "no ACK latency samples"
ls "$T"/agent.prom.tmp 2>/dev/null && fail "temporary metrics file left behind"
command -v promtool >/dev/null || fail "promtool missing (scripts/install-deps.sh: prometheus)"
promtool check metrics <"$T/agent.prom" >"$T/promtool.log" 2>&1 || fail "promtool: $(cat "$T/promtool.log")"
ok "agent metrics: connected, $acked records acknowledged, ACK latency histogram; promtool clean"

# ---- stopping: STOPPING=1 from both, clean exits ----
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exited with $? on SIGTERM"
AGENT_PID=
wait_for "$T/agent.notify" '^STOPPING=1$' "agent STOPPING=1"
stop_server
wait_for "$T/collector.notify" '^STOPPING=1$' "collector STOPPING=1"
ok "STOPPING=1 from both, exit 0"
