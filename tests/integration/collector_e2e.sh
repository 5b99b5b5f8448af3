#!/usr/bin/env bash
# End to end through the real collector: storage over mutual TLS, ACK only after commit
# (the replay client checks, at every ACK, that the acknowledged rows are already visible to
# another SQLite reader), raw and zstd batches, several connections, the CLI reading it back,
# binary prevalence, pull mode with COLLECT, and a clean SIGTERM.
. "$(dirname "$0")/collector_lib.bash"

deploy alpha beta
start_server --collect-interval 1 --ping-interval 1

r=$(replay --bundle "$H/agents/alpha" --events 5000 --batch 250 --window 4 --verify-db "$H/proctrail.db")
[[ $r == "result: ok"* ]] || fail "alpha raw: $r"
ok "alpha: $r"
r=$(replay --bundle "$H/agents/beta" --events 3000 --batch 1000 --zstd --connections 3 --verify-db "$H/proctrail.db")
[[ $r == "result: ok"* ]] || fail "beta zstd: $r"
ok "beta: $r"

expect_eq "alpha rows" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='alpha'")" 5000
expect_eq "beta rows" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='beta'")" 9000
expect_eq "alpha seqs 1..5000 exactly once" \
	"$(q "SELECT count(DISTINCT seq) || ',' || min(seq) || ',' || max(seq) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='alpha'")" "5000,1,5000"

# The CLI prints the agent's ECS objects plus the collector's identity fields.
n=$("$PT" --home "$H" events --json | wc -l)
expect_eq "events --json lines" "$n" 14000
"$PT" --home "$H" events --json --agent alpha --limit 5 >"$T/ev.json"
expect_eq "events --limit 5" "$(wc -l <"$T/ev.json")" 5
jq -e -s 'all(.[]; .agent.id == "alpha" and .agent.name == "alpha" and .host.name == "alpha"
	and .event.action == "exec" and (.process.hash.sha256 | length) == 64)' "$T/ev.json" >/dev/null \
	|| fail "events --json objects: $(head -1 "$T/ev.json")"
ok "events --json objects carry agent.id, agent.name, host.name and the hash"
sha=$(jq -r '.process.hash.sha256' <"$T/ev.json" | head -1)
ns=$("$PT" --home "$H" events --json --sha256 "$sha" | jq -r .process.hash.sha256 | sort -u)
expect_eq "events --sha256 filter" "$ns" "$sha"

# Prevalence: the replay pool has 64 binaries, run by both agents.
expect_eq "binaries" "$(q "SELECT count(*) FROM binaries")" 128
expect_eq "binary execs" "$(q "SELECT sum(execs) FROM binaries")" 14000
expect_eq "max hosts per binary" "$(q "SELECT max(hosts) FROM binaries")" 1

"$PT" --home "$H" agents --json >"$T/agents.json"
expect_eq "agents listed" "$(jq -r '."agent.id"' "$T/agents.json" | sort | tr '\n' ' ')" "alpha beta "
jq -e 'select(."agent.id"=="beta") | .events == 9000 and .unexplained_gaps == 0' "$T/agents.json" >/dev/null \
	|| fail "agents --json: $(cat "$T/agents.json")"
ok "agents --json reports events and no gaps"

# Pull mode: nothing is sent before COLLECT (collect-interval 1 s), then everything is.
r=$(replay --bundle "$H/agents/alpha" --mode pull --stream 77 --events 500 --batch 100 --verify-db "$H/proctrail.db")
[[ $r == "result: ok"* ]] || fail "pull mode: $r"
expect_eq "pull-mode rows" "$(q "SELECT count(*) FROM events WHERE stream_id=77")" 500

# PING every second: an agent connected for 3 s answers with PONG, stored as its health.
r=$(replay --bundle "$H/agents/beta" --stream 99 --events 1500 --batch 100 --window 1 --pace-ms 200)
[[ $r == "result: ok"* ]] || fail "paced run: $r"
[ "$(q "SELECT last_pong_ns IS NOT NULL AND health IN ('ok','disconnected') FROM agents WHERE name='beta'")" = 1 ] \
	|| fail "no PONG recorded: $(q "SELECT * FROM agents WHERE name='beta'")"
ok "PONG recorded in the agents table"

stop_server
grep -q "stopped; every acknowledged batch is committed" "$T/server.log" || fail "no clean stop"
ok "SIGTERM: clean stop"
expect_eq "integrity" "$(q "PRAGMA integrity_check")" ok
