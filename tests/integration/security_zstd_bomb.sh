#!/usr/bin/env bash
# Decompression bombs and records of unknown types (issue 14, finding 5). A BATCH whose zstd
# body would expand more than PT_BATCH_ZSTD_RATIO_MAX times (here: 8 MiB of zero-filled records
# of an unknown type in well under 1 KiB) is refused with ERROR(LIMIT) from its header, before
# anything is inflated or stored; so is one carrying more than PT_BATCH_UNKNOWN_BYTES_MAX of
# unknown-type records, compressed or not. Each refusal is counted for the agent. A batch with
# a few unknown-type records is stored whole and counted per type. The database does not grow
# by more than a small bound, and an honest agent next to the bombs keeps its ACK latency.
. "$(dirname "$0")/collector_lib.bash"

# 5 s: a single TLS handshake took 2.07 s with both cores saturated (CI under stress-ng plus
# concurrent builds), while the flood before the fix stretched WELCOME to 17-29 s and ACK p99
# to 12-20 s, so a regression still fails by a wide margin.
BOUND_MS=${SECURITY_FLOOD_BOUND_MS:-5000}
# WAL and pages the stored rows of the test need; the bombs must not add megabytes.
GROWTH_MAX=$((2 << 20))

deploy good bad
start_server

db_bytes() {
	local n=0 f
	for f in "$H/proctrail.db" "$H/proctrail.db-wal"; do
		[ -f "$f" ] && n=$((n + $(stat -c %s "$f")))
	done
	echo "$n"
}

counter() { # name
	{ "$PT" --home "$H" agents --json | grep '"agent.name":"bad"' |
		grep -o "\"$1\":[0-9]*" | cut -d: -f2 | head -1; } || true
}

# An honest agent's records first, so the database has its pages and WAL already.
r=$(replay --bundle "$H/agents/good" --stream 1 --events 5000 --batch 500)
[[ $r == "result: ok"* ]] || fail "good agent: $r"
before=$(db_bytes)

# 1. Ratio bomb: 8 MiB of zeros compressed at zstd level 19.
r=$({ "$REPLAY" --connect "127.0.0.1:$PORT" --timeout 60 --bundle "$H/agents/bad" \
	--stream 2 --events 1 --unknown $((8 << 20)) --unknown-zeros 2>"$T/bomb.err" || true; } | tail -1)
[[ $r == "result: error code=4 "*"RAW_LEN 8388608"* ]] || fail "ratio bomb: $r"
grep -q "agent bad (.*): BATCH refused: RAW_LEN 8388608 for a body of [0-9]* bytes" \
	"$T/server.log" || fail "no log line for the ratio bomb"
ok "ratio bomb refused ($(cat "$T/bomb.err")): $r"

# 2. Within the ratio, but 1 MiB of unknown-type records (random, sent raw).
r=$(replay --bundle "$H/agents/bad" --stream 3 --events 1 --unknown $((1 << 20)))
[[ $r == "result: error code=4 "*"unknown types"* ]] || fail "unknown-record batch: $r"
ok "unknown-record batch over the bound refused: $r"

# 3. A few unknown-type records are stored whole and counted per type.
r=$(replay --bundle "$H/agents/bad" --stream 5 --events 1 --unknown 4096)
[[ $r == "result: ok"* ]] || fail "small unknown-record batch: $r"
expect_eq "unknown rows stored" \
	"$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='bad' AND e.type=32767 AND length(e.record)=512")" 8

after=$(db_bytes)
growth=$((after - before))
[ "$growth" -le "$GROWTH_MAX" ] || fail "database grew by $growth bytes (bound $GROWTH_MAX)"
ok "database grew by $growth bytes (bound $GROWTH_MAX)"

# 4. Several bombs at once while the honest agent delivers: it must not notice.
bombers=()
for i in 1 2 3 4; do
	( for _ in $(seq 10); do
		"$REPLAY" --connect "127.0.0.1:$PORT" --timeout 30 --bundle "$H/agents/bad" \
			--stream $((100 + i)) --events 1 --unknown $((8 << 20)) --unknown-zeros \
			>/dev/null 2>&1 || true
	done ) &
	bombers+=($!)
done
g=$("$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/good" --stream 4 --events 20000 \
	--batch 200 --window 4 --timeout 120 --verify-db "$H/proctrail.db" 2>&1 | tail -1)
wait "${bombers[@]}"
[[ $g == "result: ok"* ]] || fail "good agent under bombs: $g"
p99=$(sed -n 's/.* ack_p99_ms=\([0-9.]*\).*/\1/p' <<<"$g")
awk -v p="$p99" -v b="$BOUND_MS" 'BEGIN { exit !(p < b) }' || fail "good agent too slow: $g"
ok "good agent next to 4 bombers: $g"

expect_eq "bad rows" \
	"$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='bad'")" 8

refused=
for _ in $(seq 100); do
	refused=$(counter batch_refused)
	[ -n "$refused" ] && [ "$refused" -ge 42 ] && break
	sleep 0.1
done
expect_eq "refused batches counted" "$refused" 42
expect_eq "unknown records counted" "$(counter unknown_record_32767)" 8
kill -0 "$SERVER_PID" || fail "server died"
stop_server
