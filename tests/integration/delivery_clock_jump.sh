#!/usr/bin/env bash
# The wall clock jumps two hours forward and back again while an agent delivers (a wrong NTP
# step, a VM resumed from a snapshot). Timeouts, backoff and rates run on the monotonic clock,
# so nothing stalls or fires early: every exec is stored exactly once, nothing is reported
# lost, the agent stays connected, and each exec carries the wall time of its moment.
. "$(dirname "$0")/delivery_lib.bash"

JUMP=7200
jumped=0
restore_clock() {
	if [ "$jumped" -ne 0 ]; then
		date -s "@$(( $(date +%s) - jumped ))" >/dev/null
		jumped=0
	fi
}
trap 'restore_clock; delivery_cleanup' EXIT

deploy
start_server --ping-interval 1
make_bin
start_agent
storm 1 200
wait_args 1 200 120

date -s "@$(( $(date +%s) + JUMP ))" >/dev/null
jumped=$JUMP
t_forward=$(date +%s)
storm 201 400
wait_args 201 400 120
restore_clock
t_back=$(date +%s)
storm 401 600
wait_args 401 600 120

check_exactly_once 1 600
expect_eq "missing execs" "$MISSING" 0
expect_eq "duplicated execs" "$DUPS" 0
expect_eq "reported losses" "$(reported_losses)" 0
expect_eq "agent connected" "$(agent_json | jq -r .connected)" "true"
# the execs made while the clock was ahead carry that time, the later ones the real time
sha=$(sha256sum "$BIN" | cut -d' ' -f1)
"$PT" --home "$H" events --json --sha256 "$sha" --agent "$NAME" |
	jq -r 'select(.event.action == "exec") | "\(.process.args[1]) \(.["@timestamp"])"' >"$T/times"
ahead=$(awk '$1 > 200 && $1 <= 400 {print $2}' "$T/times" | sort | awk 'NR == 1')   # head would end sort with SIGPIPE
after=$(awk '$1 > 400 {print $2}' "$T/times" | sort | tail -1)
ahead_s=$(date -d "$ahead" +%s) after_s=$(date -d "$after" +%s)
[ "$ahead_s" -ge $((t_forward - 60)) ] || fail "an exec made with the clock ahead is stamped $ahead"
[ "$after_s" -le $((t_back + 600)) ] || fail "an exec made after the clock came back is stamped $after"
ok "stamps follow the wall clock: ahead $ahead, back $after"
stop_agent
