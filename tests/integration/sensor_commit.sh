#!/usr/bin/env bash
# The commit protocol on the real kernel ring, through the sensor API: records a consumer read
# but did not commit are delivered again, at the same ring positions, by the next run; committed
# ones are not; pt_sensor_skip_until() skips what a consumer already holds.
. "$(dirname "$0")/helpers/sensor-lib.sh"
sensor_setup
cd "$T"
P=$T/probe
cc -O2 -Wall -I"$REPO/include" -I"$REPO/agent" -I"$REPO/bpf" -I"$REPO/build/bpf" \
	-o "$P" "$REPO/tests/integration/helpers/pt_sensor_probe.c" \
	"$REPO/build/libagent.a" "$REPO/build/libproctrail.a" -lbpf -lelf -lz -lcrypto -lpthread ||
	fail "cannot build the probe"

run_probe() { # out secs mode [skip]
	local out=$1; shift
	"$P" "$PIN" "$@" > "$out" 2>"$out.err" &
	PROBE=$!
	for _ in $(seq 1 600); do grep -q ready "$out" && return 0; sleep 0.05; done
	fail "probe did not start: $(cat "$out.err")"
}

# run 1 reads three execs and commits nothing
run_probe r1 3 nocommit
for i in 1 2 3; do /bin/true "ptc-$$-$i"; done
wait $PROBE || fail "probe 1 failed: $(cat r1.err)"
[ "$(grep -c '^exec' r1)" = 3 ] || fail "run 1 saw $(grep -c '^exec' r1) of 3 execs"

# run 2 gets the same three again, same positions (nothing was committed); commits them
run_probe r2 2 commit
wait $PROBE || fail "probe 2 failed"
diff <(grep '^exec' r1) <(grep '^exec' r2) || fail "uncommitted records not delivered again identically"

# run 3: committed records are gone; a new exec is seen
run_probe r3 2 commit
/bin/true "ptc-$$-4"
wait $PROBE || fail "probe 3 failed"
[ "$(grep '^exec' r3 | awk '{print $3}')" = "ptc-$$-4" ] || fail "run 3 saw: $(cat r3)"

# run 4 and 5: three uncommitted execs; a consumer holding up to the second skips them
run_probe r4 2 nocommit
for i in 5 6 7; do /bin/true "ptc-$$-$i"; done
wait $PROBE
[ "$(grep -c '^exec' r4)" = 3 ] || fail "run 4 saw $(cat r4)"
second=$(grep -e "ptc-$$-6" r4 | awk '{print $2}')
run_probe r5 2 commit "$second"
wait $PROBE
[ "$(grep '^exec' r5 | awk '{print $3}')" = "ptc-$$-7" ] || fail "skip_until($second) left: $(cat r5)"
[ "$(grep -e "ptc-$$-7" r5 | awk '{print $2}')" = "$(grep -e "ptc-$$-7" r4 | awk '{print $2}')" ] ||
	fail "ring position changed between runs"
echo PASS
