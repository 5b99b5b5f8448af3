#!/usr/bin/env bash
# Gaps: sequence numbers never received are recorded per agent as unexplained, until a LOSS
# record covering them arrives; a new stream id is a new sequence space, not a gap.
. "$(dirname "$0")/collector_lib.bash"

deploy alpha
start_server

# Seqs 41..50 never sent.
r=$(replay --bundle "$H/agents/alpha" --stream 9 --events 100 --batch 20 --skip 41-50)
[[ $r == "result: ok"* ]] || fail "run with a hole: $r"
"$PT" --home "$H" agents --json >"$T/a.json"
expect_eq "gap recorded" "$(jq -c '.gaps' "$T/a.json")" '[{"stream_id":9,"first_seq":41,"last_seq":50}]'
expect_eq "unexplained_missing" "$(jq '.unexplained_missing' "$T/a.json")" 10

# The agent resumes at 101 and sends a LOSS record (seq 111) saying 41..50 were lost.
r=$(replay --bundle "$H/agents/alpha" --stream 9 --first-seq 101 --events 10 --loss 41-50)
[[ $r == "result: ok"* ]] || fail "run with LOSS: $r"
"$PT" --home "$H" agents --json >"$T/a.json"
expect_eq "gap explained" "$(jq -c '.gaps' "$T/a.json")" '[]'
expect_eq "loss reported" "$(jq '.loss.spool_corrupt.reported' "$T/a.json")" 10
expect_eq "rows" "$(q "SELECT count(*) FROM events WHERE stream_id=9")" 101

# A new stream starts again at 1: no gap.
r=$(replay --bundle "$H/agents/alpha" --stream 10 --events 50)
[[ $r == "result: ok"* ]] || fail "new stream: $r"
expect_eq "no gap for a new stream" "$(q "SELECT count(*) FROM gaps")" 0

# A new stream whose agent no longer holds 1..29 (HELLO first seq 30): a gap, until explained.
r=$(replay --bundle "$H/agents/alpha" --stream 11 --first-seq 30 --events 20)
[[ $r == "result: ok"* ]] || fail "late start: $r"
expect_eq "gap from HELLO" "$(q "SELECT first_seq || '-' || last_seq FROM gaps WHERE stream_id=11")" "1-29"

# A resend that fills part of a hole trims it.
r=$(replay --bundle "$H/agents/alpha" --stream 12 --events 100 --batch 10 --skip 21-60)
[[ $r == "result: ok"* ]] || fail "hole 21-60: $r"
r=$(replay --bundle "$H/agents/alpha" --stream 12 --events 60 --batch 10 --passes 2 --skip 21-30)
[[ $r == "result: ok"* ]] || fail "partial fill: $r"
expect_eq "trimmed gap" "$(q "SELECT first_seq || '-' || last_seq FROM gaps WHERE stream_id=12")" "21-30"
stop_server
