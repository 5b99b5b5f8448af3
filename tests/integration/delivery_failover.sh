#!/usr/bin/env bash
# Several collector addresses: the first is dead, so the agent fails over to the next and
# delivers everything there; settings come from a --config file (flags override it).
. "$(dirname "$0")/delivery_lib.bash"

deploy
start_server --ping-interval 1
make_bin
dead=$((PORT + 1))
cat >"$T/agent.conf" <<CONF
# proctrail-agent settings for the failover test
collector = 127.0.0.1:$dead
collector = 127.0.0.1:$PORT
ca = $H/agents/$NAME/ca.crt
cert = $H/agents/$NAME/agent.crt
key = $H/agents/$NAME/agent.key
spool-dir = $SPOOL
pin-dir = $PIN
backoff-min-ms = 100
backoff-max-ms = 500
batch-records = 64
compress = none
mode = pull
CONF
"$AGENT" --config "$T/agent.conf" --mode stream >>"$T/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 600); do
	grep -q "collecting:" "$T/agent.log" && break
	sleep 0.05
done
grep -q "collecting: .* stream mode" "$T/agent.log" || fail "agent did not start from its config (flag must win over the file)"
storm 1 500
wait_stored 500 30
check_exactly_once 1 500
expect_eq "missing" "$MISSING" 0
expect_eq "duplicated" "$DUPS" 0
grep -q "uplink: 127.0.0.1:$dead: " "$T/agent.log" || fail "the dead address was not tried"
grep -q "uplink: connected to 127.0.0.1:$PORT" "$T/agent.log" || fail "no failover to the live address"
ok "failed over from :$dead to :$PORT"
# the first PING goes out a ping interval after WELCOME; the deadline only bounds a failure
for _ in $(seq 240); do
	j=$(agent_json)
	[ -n "$j" ] && [ "$(jq -r .last_pong <<<"$j")" != "null" ] && break
	sleep 0.25
done
[ "$(jq -r .last_pong <<<"$j")" != "null" ] || fail "no PONG stored: $j"
ok "PING answered with health: $(jq -c '{queue_depth, spool_bytes, agent_next_seq, agent_acked_seq}' <<<"$j")"

# A bad setting is refused with a clear message, before anything starts.
echo "no-such-setting = 1" >>"$T/agent.conf"
if "$AGENT" --config "$T/agent.conf" >"$T/bad.log" 2>&1; then
	fail "agent accepted an unknown setting"
fi
grep -q "unknown setting 'no-such-setting'" "$T/bad.log" || fail "unclear error: $(cat "$T/bad.log")"
ok "unknown setting refused"
stop_agent
