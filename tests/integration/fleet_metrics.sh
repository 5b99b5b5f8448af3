#!/usr/bin/env bash
# The collector's Prometheus metrics at /metrics on the API listener: the API's authentication
# (no token: 401), text exposition that promtool accepts, and figures that follow what was
# stored: records stored and duplicates after a replay and its resend, batches, ACK latency
# samples, established connections while an agent is connected.
. "$(dirname "$0")/api_lib.bash"
command -v promtool >/dev/null || fail "promtool missing (scripts/install-deps.sh: prometheus)"
deploy m1
operator reader read
start_api --ping-interval 1

metric() { # name{labels} -> value ('' if absent)
	awk -v k="$1" '$1 == k { print $2 }' "$T/metrics"
}
scrape() {
	api reader /metrics >"$T/metrics"
	[ "$(status)" = 200 ] || fail "/metrics: status $(status): $(head -c 200 "$T/metrics")"
	promtool check metrics <"$T/metrics" >"$T/promtool.log" 2>&1 ||
		fail "promtool: $(cat "$T/promtool.log")"
}

api - /metrics >/dev/null
expect_eq "/metrics without a token" "$(status)" 401
api reader '/metrics?x=1' >/dev/null
expect_eq "/metrics with a parameter" "$(status)" 400
curl -sS --cacert "$H/pki/ca.crt" -H "Authorization: Bearer $(cat "$T/reader.token")" \
	-D "$T/headers" -o /dev/null "https://127.0.0.1:$APORT/metrics" || fail "curl headers"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/headers" || fail "content type: $(cat "$T/headers")"
scrape
expect_eq "stored before any agent" "$(metric 'proctrail_collector_records_total{outcome="stored"}')" 0
ok "401 without a token, text/plain 0.0.4, promtool clean"

# 3000 records, then the same 3000 again (the agent lost the ACKs): 3000 stored, 3000 duplicates
r=$(replay --bundle "$H/agents/m1" --events 3000 --batch 500 --passes 2)
[[ $r == "result: ok"* ]] || fail "replay: $r"
scrape
expect_eq "records stored" "$(metric 'proctrail_collector_records_total{outcome="stored"}')" 3000
expect_eq "duplicates" "$(metric 'proctrail_collector_records_total{outcome="duplicate"}')" 3000
expect_eq "batches" "$(metric proctrail_collector_batches_total)" 12
expect_eq "ACK latency samples" "$(metric proctrail_collector_ack_latency_seconds_count)" 12
expect_eq "ACK latency +Inf bucket" \
	"$(metric 'proctrail_collector_ack_latency_seconds_bucket{le="+Inf"}')" 12
[ -n "$(metric 'proctrail_collector_agent_lost_records{counter="ring_full"}')" ] ||
	fail "no fleet loss sum for ring_full"
[ -n "$(metric proctrail_collector_writer_lag_seconds)" ] || fail "no writer lag"

# an agent holding its connection (pull mode: it waits for COLLECT, every 60 s) is established
"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/m1" --events 1 --mode pull \
	--timeout 60 >/dev/null 2>&1 &
HOLD=$!
for _ in $(seq 300); do
	scrape
	[ "$(metric 'proctrail_collector_connections{state="established"}')" = 1 ] && break
	sleep 0.1
done
kill "$HOLD" 2>/dev/null || true
wait "$HOLD" 2>/dev/null || true
expect_eq "established while connected" "$(metric 'proctrail_collector_connections{state="established"}')" 1
stop_server
