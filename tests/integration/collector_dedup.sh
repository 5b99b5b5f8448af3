#!/usr/bin/env bash
# Resends are deduplicated by (agent, stream, seq): exactly one row per event, whether the
# same batches come again on one connection or after a reconnect that ignores nothing.
. "$(dirname "$0")/collector_lib.bash"

deploy alpha
start_server

# Every batch sent twice on the same connection (the second pass is all duplicates).
r=$(replay --bundle "$H/agents/alpha" --stream 5 --events 4000 --batch 300 --passes 2 --verify-db "$H/proctrail.db")
[[ $r == "result: ok"* ]] || fail "two passes: $r"
expect_eq "rows after two passes" "$(q "SELECT count(*) FROM events WHERE stream_id=5")" 4000
expect_eq "duplicates counted" "$(q "SELECT duplicates FROM agents WHERE name='alpha'")" 4000

# A reconnect on the same stream: WELCOME says 4000 is held, so nothing is resent...
r=$(replay --bundle "$H/agents/alpha" --stream 5 --events 4000 --batch 300)
[[ $r == *"acked=0 "* ]] || fail "reconnect should send nothing: $r"
ok "WELCOME's acked seq stops a resend: $r"
# ...and a resend from seq 1 anyway (an agent that lost its ACK state) is still one row each,
# with a zstd body this time.
r=$(replay --bundle "$H/agents/alpha" --stream 5 --events 6000 --batch 500 --passes 2 --zstd)
[[ $r == "result: ok"* ]] || fail "overlapping resend: $r"
expect_eq "rows after overlapping resend" "$(q "SELECT count(*) FROM events WHERE stream_id=5")" 6000
expect_eq "distinct (stream, seq)" "$(q "SELECT count(*) FROM (SELECT DISTINCT stream_id, seq FROM events)")" 6000
expect_eq "unexplained gaps" "$(q "SELECT count(*) FROM gaps")" 0
stop_server
