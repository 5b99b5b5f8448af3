#!/usr/bin/env bash
# The context reaches the collector: an exec recorded by the real agent, delivered over mutual
# TLS and stored, comes back from `proctrail events --json` (the formatter the API uses too)
# with its parent's executable and command line, its session leader, its user's name and its
# login user; the exit with its executable and lifetime. Only our own processes are looked at.
. "$(dirname "$0")/collector_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"

deploy ctx-agent
start_server --ping-interval 1
PIN=/sys/fs/bpf/ptx_$$
mkdir -p "$T/spool"
A=$H/agents/ctx-agent
"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" --key "$A/agent.key" \
	--spool-dir "$T/spool" --pin-dir "$PIN" >"$T/agent.log" 2>&1 &
AGENT_PID=$!
stop_agent() {
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || true
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1 || true
}
trap 'stop_agent; cleanup' EXIT
for _ in $(seq 300); do
	grep -q "agent ctx-agent .* connected" "$T/server.log" && break
	kill -0 "$AGENT_PID" 2>/dev/null || { tail -20 "$T/agent.log"; fail "agent exited"; }
	sleep 0.1
done
grep -q "agent ctx-agent .* connected" "$T/server.log" || { tail -20 "$T/agent.log"; fail "agent never connected"; }

M=ctxc$$
BIN=$T/ctx-true-$$
cp /bin/true "$BIN"
SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
sh -c "echo 1 > /proc/self/loginuid && setsid $BIN $M; :" & SH=$!
wait $SH
sel=".event.action == \"exec\" and .process.executable == \"$BIN\" and .process.args[1] == \"$M\""
line=
for _ in $(seq 300); do
	line=$("$PT" --home "$H" events --json --sha256 "$SHA" | jq -c "select($sel)" | head -1)
	[ -n "$line" ] && break
	sleep 0.2
done
[ -n "$line" ] || { tail -20 "$T/agent.log"; fail "the exec never reached the collector"; }
check() { jq -e "$1" <<<"$line" >/dev/null || fail "stored exec fails [$1]: $line"; }
check ".process.parent.pid == $SH and .process.parent.executable == \"/usr/bin/dash\""
check ".process.parent.command_line == \"sh -c echo 1 > /proc/self/loginuid && setsid $BIN $M; :\""
check ".process.command_line == \"$BIN $M\" and .process.parent.args_count == 3"
check '.process.session_leader.pid == .process.pid and .process.session_leader.name == (.process.executable | split("/") | last)'
check '.process.user.name == "root" and .user.name == "root" and .proctrail.login_user.name == "daemon"'
check '.proctrail.parent.known == true and (.process.vpid | type) == "number" and .process.interactive == false'
ok "exec context stored and served"

pid=$(jq .process.pid <<<"$line")
xsel=".event.action == \"exit\" and .process.pid == $pid and .process.executable == \"$BIN\""
for _ in $(seq 300); do
	x=$("$PT" --home "$H" events --json | jq -c "select($xsel)" | head -1)
	[ -n "$x" ] && break
	sleep 0.2
done
[ -n "$x" ] || fail "the exit never reached the collector with its executable"
jq -e '.proctrail.lifetime_ns > 0 and (.process.start | type) == "string" and .process.name == (.process.executable | split("/") | last)' <<<"$x" >/dev/null ||
	fail "stored exit lacks its lifetime: $x"
ok "exit context stored and served"
stop_agent
stop_server
