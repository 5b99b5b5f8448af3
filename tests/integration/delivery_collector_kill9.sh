#!/usr/bin/env bash
# kill -9 of the collector at random points while an agent delivers an exec storm,
# PT_COLLECTOR_KILL9_ROUNDS times (default 6; `make reliability` runs hundreds). A kill can land
# between COMMIT and ACK: the agent then resends what the dead collector already stored, and the
# restarted collector must recognise it. Every exec is stored exactly once, no loss is reported,
# and the collector's sequence bookkeeping shows no unexplained gap.
. "$(dirname "$0")/delivery_lib.bash"

ROUNDS=${PT_COLLECTOR_KILL9_ROUNDS:-6}
PER=${PT_COLLECTOR_KILL9_EXECS:-300}

deploy
PORT=$((20000 + RANDOM % 20000))
KEEP_PORT=1
start_server
make_bin
start_agent
next=1
for r in $(seq "$ROUNDS"); do
	last=$((next + PER - 1))
	storm "$next" "$last" &
	storm_pid=$!
	# a different point of each storm: early, middle, late (the sleep chooses where the kill
	# lands; nothing is asserted on it)
	sleep "0.$(( RANDOM % 9 + 1 ))"
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	if [ $((r % 2)) -eq 0 ]; then
		wait "$storm_pid"
		start_server
	else
		start_server
		wait "$storm_pid"
	fi
	next=$((last + 1))
done
total=$((next - 1))
echo "storm: $total execs over $ROUNDS collector kill -9 rounds"
wait_args 1 "$total" 180
check_exactly_once 1 "$total"
expect_eq "missing execs" "$MISSING" 0
expect_eq "duplicated execs" "$DUPS" 0
expect_eq "reported losses" "$(reported_losses)" 0
expect_eq "unexplained gaps" "$(agent_json | jq -r .unexplained_gaps)" 0
# records the dead collector had committed but not acknowledged, resent and recognised
echo "resent records recognised as duplicates: $(agent_json | jq -r .duplicates)"
kill -0 "$AGENT_PID" || fail "agent died"
stop_agent
stop_server
ok "$total execs, $ROUNDS collector kills: each stored exactly once, none lost"
