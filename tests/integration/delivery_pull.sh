#!/usr/bin/env bash
# Pull mode: the agent holds every record (memory, then spool) until the collector sends
# COLLECT; then it sends all of it. Real agent, real collector, real execs.
. "$(dirname "$0")/delivery_lib.bash"

deploy
# COLLECT only on demand (SIGUSR1), never on the schedule during the test.
start_server --collect-interval 3600 --ping-interval 1
make_bin
start_agent --mode pull
N=300
storm 1 "$N"
# Until a PONG says the agent holds the storm: connected and answering. The deadline only
# bounds a failure.
for _ in $(seq 120); do
	j=$(agent_json)
	[ -n "$j" ] && [ "$(jq -r '.agent_next_seq // 0' <<<"$j")" -gt "$N" ] && break
	sleep 0.5
done
[ -n "$j" ] || fail "agent not registered with the collector"
expect_eq "agent mode" "$(jq -r .mode <<<"$j")" "pull"
expect_eq "events stored before COLLECT" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id = e.agent WHERE a.name = '$NAME'")" 0
held=$(jq -r .agent_next_seq <<<"$j")
[ "$held" -gt "$N" ] || fail "PONG says the agent holds only $((held - 1)) records"
ok "agent holds $((held - 1)) records, health reported by PONG"

kill -USR1 "$SERVER_PID"
wait_stored "$N" 30
check_exactly_once 1 "$N"
expect_eq "missing after COLLECT" "$MISSING" 0
expect_eq "duplicated after COLLECT" "$DUPS" 0
# Everything held at COLLECT time went, not just our execs.
total=$(q "SELECT count(*) FROM events e JOIN agents a ON a.id = e.agent WHERE a.name = '$NAME'")
[ "$total" -ge "$((held - 1))" ] || fail "stored $total, agent held $((held - 1))"
ok "all $total held records sent after COLLECT"

# Records made after the COLLECT wait for the next one.
storm $((N + 1)) $((N + 100))
sleep 2
expect_eq "second wave before COLLECT" "$(stored_args | awk -v n="$N" '$1 > n' | wc -l)" 0
kill -USR1 "$SERVER_PID"
wait_stored $((N + 100)) 30
check_exactly_once 1 $((N + 100))
expect_eq "missing after second COLLECT" "$MISSING" 0
expect_eq "duplicated after second COLLECT" "$DUPS" 0
expect_eq "unexplained gaps" "$(agent_json | jq -r .unexplained_gaps)" 0
stop_agent

# A command the configuration disables is refused with ERROR(DISABLED); the agent stays
# connected and keeps holding its records.
start_agent --mode pull --allow-collect no
storm $((N + 101)) $((N + 150))
sleep 2
kill -USR1 "$SERVER_PID"
for _ in $(seq 40); do
	grep -q "ERROR 5: COLLECT disabled by configuration" "$T/server.start" && break
	sleep 0.25
done
grep -q "ERROR 5: COLLECT disabled by configuration" "$T/server.start" || fail "no ERROR(DISABLED) for COLLECT"
ok "COLLECT refused with ERROR(DISABLED)"
sleep 1
expect_eq "records sent without an allowed COLLECT" "$(stored_args | awk -v n=$((N + 100)) '$1 > n' | wc -l)" 0
expect_eq "agent still connected" "$(agent_json | jq -r .connected)" "true"
stop_agent
