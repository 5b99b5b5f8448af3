#!/usr/bin/env bash
# The CLI over the HTTP API (real collector, real TLS, SQLite; the replay client as agents):
# found with no flags as on a `make run` host (HOME/api.url, HOME/operators/local.token,
# HOME/pki/ca.crt) and with --url/--token-file/--ca from elsewhere; events --json carries the
# collector's ECS objects, oldest first, across pages; filters; tables; tree; binaries;
# agents; --follow over Server-Sent Events; a refused token and a wrong CA are clear errors.
. "$(dirname "$0")/api_lib.bash"

deploy alpha beta
operator local read
start_api
URL="https://127.0.0.1:$APORT"

# From "an operator's own machine": nothing in HOME, everything by flag.
r=$(replay --bundle "$H/agents/alpha" --stream 3 --events 2500 --batch 250)
[[ $r == "result: ok"* ]] || fail "replay alpha: $r"
r=$(replay --bundle "$H/agents/beta" --stream 4 --events 30 --batch 10)
[[ $r == "result: ok"* ]] || fail "replay beta: $r"
OWN=(--url "$URL" --token-file "$T/local.token" --ca "$H/pki/ca.crt")
"$PT" --home "$T/nowhere" "${OWN[@]}" events --json >"$T/all.json" 2>"$T/err" || fail "events --json by flags: $(cat "$T/err")"
expect_eq "every event, across pages of 1000" "$(wc -l <"$T/all.json")" 2530
jq -e -s 'map(.proctrail.event_id | tonumber) | . == sort' "$T/all.json" >/dev/null || fail "not oldest first"
ok "oldest first"
# the same bytes as the API's own objects
curl -sS --cacert "$H/pki/ca.crt" -H "Authorization: Bearer $(cat "$T/local.token")" \
	"$URL/api/v1/events?agent=beta&limit=1000" | jq -c '.events | reverse | .[]' >"$T/curl.json"
"$PT" --home "$T/nowhere" events "${OWN[@]}" --json --agent beta | jq -c . >"$T/cli.json"
cmp -s "$T/curl.json" "$T/cli.json" || fail "events --json --agent beta differs from the API's objects"
ok "events --json prints the API's ECS objects"

# On the collector host: no flags.
echo "$URL" >"$H/api.url"
mkdir -p -m 700 "$H/operators"
cp "$T/local.token" "$H/operators/local.token"
SHA=$(jq -r 'select(.["agent"].name == "alpha") | .process.hash.sha256 // empty' "$T/all.json" | awk 'NR == 1')
want=$(jq -r --arg s "$SHA" 'select(.process.hash.sha256 == $s) | .proctrail.event_id' "$T/all.json" | wc -l)
expect_eq "events --json --sha256" "$("$PT" --home "$H" events --json --sha256 "$SHA" | wc -l)" "$want"
expect_eq "events --json --limit 7 --agent alpha: the 7 newest" \
	"$("$PT" --home "$H" events --json --limit 7 --agent alpha | jq -r .proctrail.event_id | tr '\n' ' ')" \
	"$(jq -r 'select(.agent.name == "alpha") | .proctrail.event_id' "$T/all.json" | tail -7 | tr '\n' ' ')"
EXE=$(jq -r '.process.executable // empty' "$T/all.json" | awk 'NR == 1')
want=$(jq -r --arg e "$EXE" 'select(.process.executable == $e) | .proctrail.event_id' "$T/all.json" | wc -l)
expect_eq "--exe" "$("$PT" --home "$H" events --json --exe "$EXE" | wc -l)" "$want"
want=$(jq -r 'select((.process.executable // "") | startswith("/usr/bin/c")) | 1' "$T/all.json" | wc -l)
expect_eq "--exe-prefix" "$("$PT" --home "$H" events --json --exe-prefix /usr/bin/c | wc -l)" "$want"
expect_eq "--exe-glob" "$("$PT" --home "$H" events --json --exe-glob '/usr/bin/c?' | wc -l)" \
	"$(jq -r 'select((.process.executable // "") | test("^/usr/bin/c.$")) | 1' "$T/all.json" | wc -l)"
expect_eq "--cmdline-contains" "$("$PT" --home "$H" events --json --cmdline-contains 'file12.c' | wc -l)" \
	"$(jq -r 'select((.process.args // []) | join(" ") | contains("file12.c")) | 1' "$T/all.json" | wc -l)"
PID=$(jq -r '.process.pid' "$T/all.json" | awk 'NR == 1')
expect_eq "--pid" "$("$PT" --home "$H" events --json --pid "$PID" | jq -r .process.pid | sort -u)" "$PID"
expect_eq "--since 1h --host beta" "$("$PT" --home "$H" events --json --since 1h --host beta | wc -l)" 30

# Tables: aligned, one line per event plus the titles, local times.
"$PT" --home "$H" events --agent beta --limit 5 >"$T/table.txt"
expect_eq "table lines" "$(wc -l <"$T/table.txt")" 6
head -1 "$T/table.txt" | grep -q '^TIME  *HOST  *ACTION' || fail "table head: $(head -1 "$T/table.txt")"
[ "$(awk '{ print index($0, "beta") }' <(tail -5 "$T/table.txt") | sort -u)" = "$(head -1 "$T/table.txt" | awk '{ print index($0, "HOST") }')" ] ||
	fail "HOST column not aligned: $(cat "$T/table.txt")"
ok "events table aligned"
"$PT" --home "$H" agents >"$T/agents.txt"
grep -q '^alpha ' "$T/agents.txt" && grep -q '^beta ' "$T/agents.txt" || fail "agents table: $(cat "$T/agents.txt")"
"$PT" --home "$H" agents --json | jq -e -s 'map(."agent.id") == ["alpha","beta"] and (.[0].events == 2500) and (.[0].unexplained_gaps == 0)' >/dev/null ||
	fail "agents --json: $("$PT" --home "$H" agents --json)"
ok "agents: table and --json"
"$PT" --home "$H" binaries --max-hosts 1 --limit 5 >"$T/bins.txt"
expect_eq "binaries table lines" "$(wc -l <"$T/bins.txt")" 6
expect_eq "binaries SHA: hosts" "$("$PT" --home "$H" binaries --json "$SHA" | jq .hosts)" 1
"$PT" --home "$H" binaries "$SHA" | grep -q '^alpha ' || fail "binaries SHA table: $("$PT" --home "$H" binaries "$SHA")"
ENT=$(jq -r 'select(.process.entity_id) | .process.entity_id' "$T/all.json" | tail -1)
"$PT" --home "$H" tree "$ENT" >"$T/tree.txt" || fail "tree: $(cat "$T/tree.txt")"
grep -q "^ *\* " "$T/tree.txt" || fail "tree marks the process: $(cat "$T/tree.txt")"
"$PT" --home "$H" tree --json "$ENT" | jq -e --arg e "$ENT" '.process.entity_id == $e' >/dev/null || fail "tree --json"
ok "binaries and tree"

# --follow: events stored after it started arrive, as JSON lines. Nothing tells when the
# stream is open, so batches are sent until one arrives whole (the later ones must).
"$PT" --home "$H" events --follow --json --agent beta >"$T/follow.json" 2>"$T/follow.err" &
FPID=$!
got=0
for i in $(seq 30); do
	r=$(replay --bundle "$H/agents/beta" --stream $((100 + i)) --events 5 --batch 5)
	[[ $r == "result: ok"* ]] || fail "replay beta $i: $r"
	for _ in $(seq 25); do
		got=$(jq -r --argjson s $((100 + i)) 'select(.proctrail.stream_id == $s) | 1' "$T/follow.json" | wc -l)
		[ "$got" -ge 5 ] && break 2
		sleep 0.2
	done
done
kill -TERM "$FPID"; wait "$FPID" || true
expect_eq "a batch sent while following arrives whole" "$got" 5
jq -e -s 'all(.agent.name == "beta")' "$T/follow.json" >/dev/null || fail "--follow --agent beta let another agent through"

# Refusals are clear.
echo "pt_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" >"$T/bad.token"
"$PT" --home "$H" --token-file "$T/bad.token" agents >"$T/o" 2>"$T/e" && fail "a wrong token was accepted"
grep -q "401" "$T/e" || fail "401 not reported: $(cat "$T/e")"
"$PT" --home "$H" --ca /etc/ssl/certs/ca-certificates.crt agents >"$T/o" 2>"$T/e" && fail "a foreign CA was accepted"
grep -qi "certificate" "$T/e" || fail "TLS failure not reported: $(cat "$T/e")"
ok "a wrong token (401) and a foreign CA are refused, with a message"
stop_server
