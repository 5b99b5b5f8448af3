#!/usr/bin/env bash
# Hostile strings from an enrolled agent (docs/security.md, "Log flooding and log injection"
# and "Peer strings shown unsafely"):
#  1. a flood of ERROR(DISABLED) frames whose message plants a fake log line and an ESC
#     sequence: the server log gets neither, and grows by a bounded amount;
#  2. a HELLO whose host name carries bidi, C1 and ESC characters is refused;
#  3. a hostile host name already stored (verbatim, as by an older collector) reaches
#     `proctrail events --json` only as \u escapes.
. "$(dirname "$0")/collector_lib.bash"

deploy good evil
start_server --max-frames-per-sec 0   # the frames/s limit is security_flood's subject; here every ERROR frame must arrive

# 1. 100000 ERROR frames in one burst, each trying to start a line of its own
fake='agent db1 (10.9.9.9:1) connected: stream 1, stream mode, collector holds up to 0'
before=$(stat -c %s "$T/server.log")
r=$(replay --bundle "$H/agents/evil" --events 1 --error-flood 100000 \
	--error-message $'x\n'"$fake"$'\x1b[31m')
[[ $r == "result: ok"* ]] || fail "flooding agent: $r"
# the suppression count is written when the connection is gone
for _ in $(seq 100); do
	grep -q "agent evil (127.0.0.1:[0-9]*): [0-9]* similar lines suppressed" "$T/server.log" && break
	sleep 0.1
done
grep -q "agent evil (127.0.0.1:[0-9]*): [0-9]* similar lines suppressed" "$T/server.log" ||
	fail "no line counting the suppressed ERROR lines"
after=$(stat -c %s "$T/server.log")
grown=$((after - before))
ok "100000 ERROR frames grew the log by $grown bytes"
[ "$grown" -lt 65536 ] || fail "the log grew by $grown bytes for one flooding agent"
! grep -q "^agent db1" "$T/server.log" || fail "a planted line reached the log"
! LC_ALL=C grep -q $'\x1b' "$T/server.log" || fail "a raw ESC reached the log"
grep -qF 'ERROR 5: x\nagent db1 (10.9.9.9:1) connected' "$T/server.log" ||
	fail "the ERROR message is not in the log, escaped"
ok "ERROR messages logged escaped and rate-limited"

# 2. a host name that would rewrite the terminal showing it
r=$(replay --bundle "$H/agents/evil" --stream 2 --events 5 \
	--hostname $'db1\xe2\x80\xae\xc2\x9b31m\x1b[2J')
[[ $r == "result: error code=1 "* ]] || fail "hostile host name: $r"
grep -q "agent evil (127.0.0.1:[0-9]*): HELLO host name or version is not printable" \
	"$T/server.log" || fail "no log line for the refused HELLO"
expect_eq "rows of the refused HELLO" "$(q "SELECT count(*) FROM events WHERE stream_id=2")" 0
expect_eq "hosts with control bytes" \
	"$(q "SELECT count(*) FROM hosts WHERE instr(name, char(27)) OR instr(name, char(8238))")" 0

# 3. stored verbatim, shown escaped
r=$(replay --bundle "$H/agents/good" --stream 3 --events 5)
[[ $r == "result: ok"* ]] || fail "good agent: $r"
stop_server
hostile=$'db1\xe2\x80\xae\xc2\x9b31m\xe2\x80\xa8'
q "UPDATE hosts SET name = CAST(X'$(printf %s "$hostile" | od -An -tx1 | tr -d ' \n')' AS TEXT)
   WHERE name = 'good'"
"$PT" --home "$H" events --json --agent good >"$T/events.json"
expect_eq "events shown" "$(wc -l <"$T/events.json")" 5
for seq in $'\xe2\x80\xae' $'\xc2\x9b' $'\xe2\x80\xa8'; do
	! LC_ALL=C grep -qF "$seq" "$T/events.json" || fail "a raw hostile character in events --json"
done
grep -qF '"name":"db1\u202e\u009b31m\u2028"' "$T/events.json" || fail "host name not escaped: $(head -c 600 "$T/events.json")"
[ "$(jq -r '.host.name' "$T/events.json" | sort -u)" = "$hostile" ] ||
	fail "a JSON reader does not get the stored host name back"
ok "events --json: the stored host name as \\u escapes"
