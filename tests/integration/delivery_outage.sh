#!/usr/bin/env bash
# Collector down for PT_OUTAGE_SECONDS (default 120) under load: the agent spools; after the
# collector returns nothing is missing and nothing is duplicated.
. "$(dirname "$0")/delivery_lib.bash"

OUTAGE=${PT_OUTAGE_SECONDS:-120}

deploy
start_server
make_bin
start_agent
storm 1 200
wait_stored 200 30
check_exactly_once 1 200
expect_eq "missing before the outage" "$MISSING" 0

KEEP_PORT=1
stop_server
ok "collector stopped for ${OUTAGE}s"
# Load: execs in bursts of 25 every 0.1 s, for the whole outage.
end=$((SECONDS + OUTAGE))
next=201
while [ "$SECONDS" -lt "$end" ]; do
	storm "$next" $((next + 24))
	next=$((next + 25))
	sleep 0.1
done
total=$((next - 1))
kill -0 "$AGENT_PID" || fail "agent died during the outage"
spooled=$(du -sk "$SPOOL" | cut -f1)
echo "outage over: $total execs so far, spool ${spooled} KiB"
start_server
# And the load goes on while it catches up.
storm $((total + 1)) $((total + 500)) 50 0.05
total=$((total + 500))
wait_stored "$total" 120
check_exactly_once 1 "$total"
expect_eq "missing after the outage" "$MISSING" 0
expect_eq "duplicated after the outage" "$DUPS" 0
expect_eq "unexplained gaps" "$(agent_json | jq -r .unexplained_gaps)" 0
stop_agent
