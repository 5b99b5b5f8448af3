#!/usr/bin/env bash
# An agent restored from an old snapshot of its spool: its stream goes back to sequence numbers
# the collector already stored. The collector flags it (a warning naming the agent, and
# `sequence_regressions` in `proctrail agents --json`) instead of taking it silently, and the
# agent says that the collector holds more than it made.
. "$(dirname "$0")/delivery_lib.bash"

deploy
start_server
make_bin
start_agent
storm 1 100
wait_args 1 100 120
stop_agent
cp -a "$SPOOL" "$T/spool.snapshot"
ok "spool snapshot taken after 100 execs"

start_agent
storm 101 400
wait_args 101 400 120
stop_agent
expect_eq "regressions before the restore" "$(agent_json | jq -r .sequence_regressions)" 0

rm -rf "$SPOOL"
cp -a "$T/spool.snapshot" "$SPOOL"
start_agent
for _ in $(seq 300); do
	[ "$(agent_json | jq -r .sequence_regressions)" -ge 1 ] && break
	sleep 0.2
done
expect_eq "regressions flagged after the restore" "$(agent_json | jq -r .sequence_regressions)" 1
grep -q "agent $NAME (127.0.0.1:[0-9]*): stream [0-9]* went back" "$T/server.start" "$T/server.log" ||
	fail "no warning in the collector's log"
grep -q "uplink: collector acknowledges [0-9]*, beyond our [0-9]*" "$T/agent.log" ||
	fail "the agent did not notice"
ok "the old snapshot is flagged by the collector and noticed by the agent"
stop_agent
