#!/usr/bin/env bash
# The agent starts on a read-only spool (a file system remounted read-only after an I/O error)
# that becomes writable later: the agent keeps running, delivery starts once it can, and the
# accounting is exact: what the sensor produced = exec and exit records stored by the collector
# + records reported dropped. (A file system cannot be remounted read-only while the agent holds
# a segment open for writing, so the fault is read-only first, writable after.)
. "$(dirname "$0")/delivery_lib.bash"

deploy
mkdir -p "$SPOOL"
mount -t tmpfs -o size=64m,mode=0700,ro proctrail-test-spool "$SPOOL"
MOUNTED=$SPOOL
start_server
make_bin
start_agent
storm 1 700
kill -0 "$AGENT_PID" || fail "agent died with a read-only spool"
grep -q "Read-only file system" "$T/agent.log" || fail "the spool was never refused (the fault did not happen)"
ok "agent alive with a read-only spool"
mount -o remount,rw "$SPOOL"
storm 701 800
wait_args 1 800 180
check_exactly_once 1 800
ok "made while read-only or after: missing $MISSING, duplicated $DUPS"
expect_eq "duplicated execs" "$DUPS" 0

stop_agent
summary=$(grep "summary:" "$T/agent.log" | tail -1)
echo "$summary"
field() { sed -n "s/.* $1 \([0-9]*\).*/\1/p" <<<"$summary"; }
execs=$(field execs) exits=$(field exits)
dropped=0
for c in spool_full spool_error queue_full encode; do
	v=$(field "$c"); dropped=$((dropped + ${v:-0}))
done
next_seq=$(sed -n 's/.*next seq \([0-9]*\).*/\1/p' <<<"$summary")
stream=$((16#$(sed -n 's/.*stream \([0-9a-f]*\) .*/\1/p' <<<"$summary")))
last=$((next_seq - 1))
# the second run delivers what the first left in its spool
start_agent
for _ in $(seq 120); do
	got=$(q "SELECT count(*) FROM events e JOIN agents a ON a.id = e.agent
		WHERE a.name = '$NAME' AND e.stream_id = $stream AND e.seq <= $last")
	[ "$got" -ge "$last" ] && break
	sleep 0.5
done
expect_eq "records of the first run stored (seq 1..$last)" "$got" "$last"
ee=$(q "SELECT count(*) FROM events e JOIN agents a ON a.id = e.agent
	WHERE a.name = '$NAME' AND e.stream_id = $stream AND e.seq <= $last AND e.type IN (1, 2)")
ok "dropped while read-only: $dropped"
[ "$MISSING" -le "$dropped" ] || fail "$MISSING execs missing, only $dropped reported dropped"
expect_eq "exec+exit stored + dropped = produced by the sensor" "$((ee + dropped))" "$((execs + exits))"
expect_eq "unexplained gaps" "$(agent_json | jq -r .unexplained_gaps)" 0
stop_agent
