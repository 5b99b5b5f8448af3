#!/usr/bin/env bash
# The pinned ring keeps recording while no agent runs: events produced while the agent was
# stopped (cleanly or by kill -9) are printed by the next run, and what one run printed is
# not printed again. A full ring becomes a loss record, never a silent gap. --uninstall
# detaches the programs and removes the pins.
. "$(dirname "$0")/helpers/sensor-lib.sh"
sensor_setup
cd "$T"
agent_start
marker1=$LAST_MARKER
agent_stop

/bin/echo "while-down-$$-a" >/dev/null
agent_start
wait_for ".event.action == \"exec\" and .process.args[1] == \"while-down-$$-a\"" >/dev/null ||
	fail "an exec made while the agent was stopped was not printed by the next run"
[ "$(count ".process.args[1]? == \"$marker1\"")" = 1 ] || fail "the first run's records were printed again"

# a second agent on the same pins is refused: it would release records the first has not taken
"$AGENT" --stdout --pin-dir "$PIN" > second.out 2> second.err && fail "a second agent ran on the same pins"
grep -q "in use by another running agent" second.err || fail "second agent: $(cat second.err)"
kill -0 "$AGENT_PID" || fail "the first agent died"

# kill -9: nothing to clean up, the next run still finds the pinned ring
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
/bin/echo "while-killed-$$-b" >/dev/null
agent_start
wait_for ".event.action == \"exec\" and .process.args[1] == \"while-killed-$$-b\"" >/dev/null ||
	fail "an exec made after kill -9 was not printed by the next run"
[ "$(count ".process.args[1]? == \"while-down-$$-a\"")" = 1 ] || fail "records printed twice after kill -9"
agent_stop

# pins left by programs of another record layout are replaced, not read
old_link=$(bpftool link show pinned "$PIN/link_exec" | sed -n 's/^\([0-9]*\):.*/\1/p')
bpftool map update pinned "$PIN/loss" key 16 0 0 0 value 0 0 0 0 0 0 0 0 || fail "cannot fake an old layout"
agent_start
grep -q "record layout 0" "$OUT.err" || fail "no warning about the old layout"
new_link=$(bpftool link show pinned "$PIN/link_exec" | sed -n 's/^\([0-9]*\):.*/\1/p')
[ -n "$new_link" ] && [ "$new_link" != "$old_link" ] || fail "old programs were kept ($old_link, $new_link)"
bpftool link show id "$old_link" >/dev/null 2>&1 && fail "old link $old_link still attached"
agent_stop

# --uninstall: pins gone, links detached
link_id=$(bpftool link show pinned "$PIN/link_exec" | sed -n 's/^\([0-9]*\):.*/\1/p')
[ -n "$link_id" ] || fail "no pinned exec link"
"$AGENT" --uninstall --pin-dir "$PIN" || fail "uninstall failed"
[ ! -e "$PIN" ] || fail "pin directory still there"
bpftool link show id "$link_id" >/dev/null 2>&1 && fail "link $link_id still attached after uninstall"

# a tiny ring and a stopped agent: what does not fit is counted and reported as a loss
: > "$OUT"
agent_start --ring-bytes 8192
kill -STOP "$AGENT_PID"
"$H" quick 200 > quick.pids
kill -CONT "$AGENT_PID"
lost=$(wait_for '.event.action == "loss" and .proctrail.loss.counter == "ring_full"' 60 |
	jq -s 'map(.proctrail.loss.count) | add') || fail "no ring_full loss record"
[ "$lost" -gt 0 ] || fail "loss count is $lost"
# One pass over the output with the pids as a set: a loop of one jq per pid re-read the whole
# file 200 times, which took minutes on a host busy with other execs.
seen=$(jq -c --slurpfile pids <(jq -s . quick.pids) \
	'select((.event.action == "exec" or .event.action == "exit") and
		(.process.pid | IN($pids[0][])))' "$OUT" | wc -l)
# 400 records were produced for the children; each is printed or counted as lost
[ $((seen + lost)) -ge 400 ] || fail "printed $seen + lost $lost < 400 produced"
echo "printed $seen, lost $lost"
agent_stop
# A restarted agent does not report the same losses again. The ring is still 8 KiB and the
# machine may be busy, so new losses may come: what the restarted agent reports must not exceed
# what the kernel counted since the last run's report (slot 8+1 of the pinned loss map keeps
# that); re-reporting the old total would exceed it by $lost.
reported_ring_full() {
	bpftool -j map lookup pinned "$PIN/loss" key 9 0 0 0 | jq '[.formatted.values[].value] | add'
}
before=$(reported_ring_full) || fail "cannot read the reported-loss slot"
lines_before=$(wc -l < "$OUT")
agent_start
# agent_start saw its marker printed; a second marker printed after that means the loop has
# gone past its first look at the loss counters
/bin/true "pt-after-restart-$$"
wait_for ".process.args[1]? == \"pt-after-restart-$$\"" >/dev/null || fail "second marker not printed"
agent_stop
after=$(reported_ring_full) || fail "cannot read the reported-loss slot"
printed=$(tail -n +$((lines_before + 1)) "$OUT" | jq -s '[.[] | select(.event.action == "loss" and
	.proctrail.loss.counter == "ring_full") | .proctrail.loss.count] | add // 0')
[ "$printed" -le $((after - before)) ] ||
	fail "losses reported again after a restart: printed $printed, new since the last report $((after - before))"
echo PASS
