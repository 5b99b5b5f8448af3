#!/usr/bin/env bash
# kill -9 of the agent during an exec storm, ROUNDS times (default 20): every exec the storm
# made is stored exactly once, or covered by a reported loss record (the goal is none).
# The pinned ring buffer keeps events while the agent is dead; the spool keeps what it took.
. "$(dirname "$0")/delivery_lib.bash"

ROUNDS=${PT_KILL9_ROUNDS:-20}
PER=${PT_KILL9_EXECS:-200}

deploy
start_server
make_bin
start_agent
next=1
for r in $(seq "$ROUNDS"); do
	last=$((next + PER - 1))
	storm "$next" "$last" &
	storm_pid=$!
	# Kill at a different point of each storm: early, middle, late.
	sleep "0.$(( (RANDOM % 5) * 2 + 1 ))"
	kill9_agent
	# Sometimes restart while the storm still runs, sometimes after it ended.
	if [ $((r % 2)) -eq 0 ]; then
		wait "$storm_pid"
		start_agent
	else
		start_agent
		wait "$storm_pid"
	fi
	next=$((last + 1))
done
total=$((next - 1))
echo "storm: $total execs over $ROUNDS kill -9 rounds"
wait_stored "$total" 90
check_exactly_once 1 "$total"
expect_eq "duplicated execs" "$DUPS" 0
lost=$(reported_losses)
echo "loss records reported: $lost"
if [ "$MISSING" -gt 0 ]; then
	[ "$lost" -ge "$MISSING" ] || fail "$MISSING execs missing, only $lost reported lost"
	echo "WARNING: $MISSING execs missing but covered by loss records (goal: none)"
fi
ok "every exec stored exactly once or reported lost ($MISSING missing, $lost reported)"
expect_eq "unexplained gaps" "$(agent_json | jq -r .unexplained_gaps)" 0

# A new kernel ring (as after a reboot or a reinstall) numbers its positions from 0 again: the
# agent must not skip its events because the spool saw higher positions in the old ring.
stop_agent
"$AGENT" --uninstall --pin-dir "$PIN" >>"$T/agent.log" 2>&1
start_agent
storm $((total + 1)) $((total + 200))
wait_args $((total + 1)) $((total + 200)) 30
check_exactly_once 1 $((total + 200))
expect_eq "missing after a new kernel ring" "$MISSING" 0
expect_eq "duplicated after a new kernel ring" "$DUPS" 0
grep -q "kernel ring not seen before" "$T/agent.log" || fail "new ring not detected"
stop_agent
