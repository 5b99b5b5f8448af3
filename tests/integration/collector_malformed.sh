#!/usr/bin/env bash
# A malformed frame, or one over the size limit, closes that one connection with a clear log
# line; another agent sending at the same time keeps working, and the server keeps serving.
. "$(dirname "$0")/collector_lib.bash"

deploy good bad
start_server --max-frame-bytes 65536

# 'good' sends 40 small batches over ~2 s while 'bad' misbehaves.
"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/good" --events 4000 --batch 100 \
	--window 1 --pace-ms 50 --verify-db "$H/proctrail.db" >"$T/good.out" 2>&1 &
good=$!
sleep 0.3
r=$(replay --bundle "$H/agents/bad" --malformed --events 10)
[[ $r == "result: error code=1 "* ]] || fail "malformed frame: $r"
grep -q "agent bad (127.0.0.1:[0-9]*): bad frame header (magic or version); closing the connection" \
	"$T/server.log" || fail "no log line for the malformed frame"
ok "malformed frame refused: $r"

# A batch frame of ~300 KB against a 64 KiB limit.
r=$(replay --bundle "$H/agents/bad" --stream 2 --events 1000 --batch 1000)
[[ $r == "result: error code=4 "* ]] || fail "oversized frame: $r"
grep -q "over the limit of 65536" "$T/server.log" || fail "no log line for the oversized frame"
ok "oversized frame refused: $r"

wait "$good" || fail "good agent failed: $(cat "$T/good.out")"
ok "good agent unaffected: $(cat "$T/good.out")"
expect_eq "good rows" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='good'")" 4000
expect_eq "bad rows" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='bad'")" 0

kill -0 "$SERVER_PID" || fail "server died"
r=$(replay --bundle "$H/agents/good" --stream 3 --events 100)
[[ $r == "result: ok"* ]] || fail "server no longer serves: $r"
ok "server still serving"
stop_server
