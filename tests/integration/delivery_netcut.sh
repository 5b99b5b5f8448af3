#!/usr/bin/env bash
# The network cut after a send and before its ACK, PT_NETCUT_CUTS times (default 8; `make
# reliability` runs hundreds): the agent delivers through a relay on loopback that, after a
# random number of bytes, passes the agent's data on to the collector and then drops the
# connection, so the collector stores the batch but its ACK never reaches the agent. The agent
# must resend, the collector must recognise the resend: every exec stored exactly once.
. "$(dirname "$0")/delivery_lib.bash"

CUTS=${PT_NETCUT_CUTS:-8}
PER=${PT_NETCUT_EXECS:-150}

deploy
start_server
COLLECTOR_PORT=$PORT
RELAY_PORT=$((20000 + RANDOM % 20000))
while [ "$RELAY_PORT" = "$COLLECTOR_PORT" ]; do RELAY_PORT=$((20000 + RANDOM % 20000)); done
python3 "$(dirname "$0")/helpers/cut_proxy.py" "$RELAY_PORT" "$COLLECTOR_PORT" "$CUTS" \
	"$T/relay.status" >"$T/relay.log" 2>&1 &
RELAY_PID=$!
trap 'kill "$RELAY_PID" 2>/dev/null; delivery_cleanup' EXIT
for _ in $(seq 300); do [ -s "$T/relay.status" ] && break; sleep 0.1; done
[ -s "$T/relay.status" ] || fail "relay did not start: $(cat "$T/relay.log")"

make_bin
PORT=$RELAY_PORT start_agent
next=1
# storms until the relay has made every cut; the deadline only bounds a failure
for _ in $(seq 200); do
	storm "$next" $((next + PER - 1))
	next=$((next + PER))
	read -r _ cuts _ conns <"$T/relay.status"
	[ "$cuts" -ge "$CUTS" ] && break
done
total=$((next - 1))
[ "$cuts" -ge "$CUTS" ] || fail "relay made $cuts of $CUTS cuts over $conns connections"
echo "storm: $total execs; $cuts cuts over $conns connections"
wait_args 1 "$total" 180
check_exactly_once 1 "$total"
expect_eq "missing execs" "$MISSING" 0
expect_eq "duplicated execs" "$DUPS" 0
expect_eq "reported losses" "$(reported_losses)" 0
# the collector's WELCOME tells the agent what it stored after the last ACK the agent saw
lost_acks=$(grep -c "collector already stored .* (ACK lost)" "$T/agent.log" || true)
[ "$lost_acks" -ge 1 ] || fail "no cut fell between a stored batch and its ACK"
echo "batches stored whose ACK was cut: $lost_acks; resends recognised as duplicates: $(agent_json | jq -r .duplicates)"
stop_agent
ok "$total execs through $cuts cuts after a send: each stored exactly once"
