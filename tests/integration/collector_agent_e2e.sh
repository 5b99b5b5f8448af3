#!/usr/bin/env bash
# End to end with the real agent: eBPF sensor -> spool -> mutual TLS -> collector -> SQLite.
# An exec storm of a binary only this test runs; every one of its execs must be stored exactly
# once, with the file's real SHA-256, the agent's identity from its certificate, and no gap.
. "$(dirname "$0")/collector_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"

STORM=${STORM:-2000}
deploy e2e-agent
start_server --ping-interval 1
PIN=/sys/fs/bpf/ptc_$$
mkdir -p "$T/spool"
A=$H/agents/e2e-agent
"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" --key "$A/agent.key" \
	--spool-dir "$T/spool" --pin-dir "$PIN" >"$T/agent.log" 2>&1 &
AGENT_PID=$!
stop_agent() {
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || true
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1 || true
}
trap 'stop_agent; cleanup' EXIT

for _ in $(seq 100); do
	grep -q "agent e2e-agent .* connected" "$T/server.log" && break
	kill -0 "$AGENT_PID" 2>/dev/null || { tail -20 "$T/agent.log"; fail "agent exited"; }
	sleep 0.1
done
grep -q "agent e2e-agent .* connected" "$T/server.log" || { tail -20 "$T/agent.log"; fail "agent never connected"; }

# A binary of our own, so the storm's execs are told apart from everything else on the host.
BIN=$T/storm-$$
cp /bin/true "$BIN"
WANT_SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
for _ in $(seq "$STORM"); do "$BIN"; done
ok "storm: $STORM execs of $BIN"

# Its hash is /bin/true's, which others run too: count by path, from the decoded records.
count() {
	"$PT" --home "$H" events --json --sha256 "$WANT_SHA" |
		jq -c --arg p "$BIN" 'select(.process.executable == $p)' >"$T/storm.json"
	wc -l <"$T/storm.json"
}
for _ in $(seq 300); do
	[ "$(count)" -ge "$STORM" ] && break
	sleep 0.2
done
sleep 1     # anything beyond STORM would be a duplicate: give it time to show up
expect_eq "stored execs of the storm binary" "$(count)" "$STORM"

count >/dev/null
expect_eq "every record carries the file's SHA-256" \
	"$(jq -r .process.hash.sha256 "$T/storm.json" | sort -u)" "$WANT_SHA"
expect_eq "distinct processes" "$(jq -r .process.entity_id "$T/storm.json" | sort -u | wc -l)" "$STORM"
expect_eq "executable" "$(jq -r .process.executable "$T/storm.json" | sort -u)" "$BIN"
expect_eq "identity" "$(jq -r '[.agent.id, .agent.name] | join(",")' "$T/storm.json" | sort -u)" "e2e-agent,e2e-agent"
expect_eq "prevalence: hosts" "$(q "SELECT hosts FROM binaries WHERE sha256=X'$WANT_SHA'")" 1

stop_agent
"$PT" --home "$H" agents --json >"$T/agents.json"
expect_eq "unexplained gaps" "$(jq .unexplained_gaps "$T/agents.json")" 0
expect_eq "no duplicate rows" "$(q "SELECT count(*) - count(DISTINCT stream_id || ':' || seq) FROM events")" 0
stop_server
