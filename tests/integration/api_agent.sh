#!/usr/bin/env bash
# The HTTP API with real agents (eBPF in the real kernel): the live stream (SSE) delivers an
# exec made during the test; the tree of a real shell pipeline; a binary seen by two agents
# counts two hosts; a hostile file name and argv come back JSON-escaped, byte for byte.
. "$(dirname "$0")/api_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"

deploy ag1 ag2
operator reader read
start_api --ping-interval 1
PIDS=()
start_agent() { # name
	mkdir -p "$T/spool-$1"
	local A=$H/agents/$1
	"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" \
		--key "$A/agent.key" --spool-dir "$T/spool-$1" --pin-dir "/sys/fs/bpf/pta_$$_$1" \
		>"$T/agent-$1.log" 2>&1 &
	PIDS+=($!)
}
stop_agents() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for n in ag1 ag2; do "$AGENT" --uninstall --pin-dir "/sys/fs/bpf/pta_$$_$n" >/dev/null 2>&1 || true; done
	[ -z "${SSE_PID:-}" ] || kill "$SSE_PID" 2>/dev/null || true
}
trap 'stop_agents; cleanup' EXIT
start_agent ag1
start_agent ag2
for n in ag1 ag2; do
	for _ in $(seq 300); do
		grep -q "agent $n .* connected" "$T/server.log" && break
		sleep 0.1
	done
	grep -q "agent $n .* connected" "$T/server.log" || { tail "$T/agent-$n.log"; fail "$n never connected"; }
done

# -- the live stream: opened first, then an exec of a binary only this test has
# (trailing bytes make its hash unique: /bin/true's hash runs all over this machine)
BIN=$T/live-$$
cp /bin/true "$BIN"
printf 'proctrail api test %s %s' "$$" "$RANDOM" >>"$BIN"
curl -sS -N --cacert "$H/pki/ca.crt" -H "Authorization: Bearer $(cat "$T/reader.token")" \
	"https://127.0.0.1:$APORT/api/v1/events/stream?exe=$BIN&agent=ag1" >"$T/sse.txt" 2>"$T/sse.err" &
SSE_PID=$!
for _ in $(seq 100); do grep -q '^: proctrail events from' "$T/sse.txt" && break; sleep 0.1; done
grep -q '^: proctrail events from' "$T/sse.txt" || fail "stream did not open: $(cat "$T/sse.err")"
"$BIN"
for _ in $(seq 300); do grep -q '^data: ' "$T/sse.txt" && break; sleep 0.1; done
grep -q '^data: ' "$T/sse.txt" || fail "no event on the stream"
grep '^data: ' "$T/sse.txt" | head -1 | cut -c7- >"$T/sse.json"
expect_eq "streamed exec" "$(jq -r '[.process.executable, .agent.name, .event.action] | join(",")' "$T/sse.json")" "$BIN,ag1,exec"
ID=$(jq -r .proctrail.event_id "$T/sse.json")
grep -q "^id: $ID\$" "$T/sse.txt" || fail "SSE id line missing"
expect_eq "the stream's event is the stored one" "$(api reader "/api/v1/events/$ID" | jq -c .)" "$(jq -c . "$T/sse.json")"
kill "$SSE_PID"; wait "$SSE_PID" 2>/dev/null || true; SSE_PID=

# -- a binary both agents saw: two hosts
SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
for _ in $(seq 300); do
	[ "$(api reader "/api/v1/events?exe=$BIN" | jq '.events | length')" -ge 2 ] && break
	sleep 0.2
done
expect_eq "the exec, one per agent" "$(api reader "/api/v1/events?exe=$BIN" | jq -r '[.events[].agent.name] | sort | join(",")')" "ag1,ag2"
api reader "/api/v1/binaries/$SHA" >"$T/bin.json"
expect_eq "binary hosts" "$(jq .hosts "$T/bin.json")" 2
expect_eq "binary agents" "$(jq -r '[.agents[].agent] | sort | join(",")' "$T/bin.json")" "ag1,ag2"
expect_eq "binary execs" "$(jq .execs "$T/bin.json")" 2
jq -e --arg p "$BIN" '.paths | index($p) != null' "$T/bin.json" >/dev/null || fail "binary paths: $(cat "$T/bin.json")"
api reader "/api/v1/binaries?sha256=$SHA" | jq -e '.binaries[0].hosts == 2' >/dev/null || fail "binaries?sha256"

# -- the tree of a real pipeline: sh -> (A | B), each a binary of our own
# (an outer shell of our own too: the test's own shell ran before the agent, so it is not known)
OUT=$T/tout-$$ SH=$T/tsh-$$ A=$T/ta-$$ B=$T/tb-$$
cp /bin/sh "$OUT"; cp /bin/sh "$SH"; cp /bin/echo "$A"; cp /bin/cat "$B"
"$OUT" -c '"$0" -c "$1"; exit 0' "$SH" "'$A' hi | '$B' >/dev/null; exit 3"
for _ in $(seq 300); do
	n=$(api reader "/api/v1/events?agent=ag1&exe_prefix=$T/t&action=exec" | jq '.events | length')
	[ "$n" -ge 3 ] && break
	sleep 0.2
done
ENT=$(api reader "/api/v1/events?agent=ag1&exe=$SH" | jq -r '.events[0].process.entity_id')
[ -n "$ENT" ] && [ "$ENT" != null ] || fail "shell exec not stored"
for _ in $(seq 300); do
	api reader "/api/v1/tree/$ENT" >"$T/tree.json"
	[ "$(jq '.descendants | length' "$T/tree.json")" -ge 2 ] && [ "$(jq .process.exit_code "$T/tree.json")" != null ] && break
	sleep 0.2
done
expect_eq "tree root" "$(jq -r .process.executable "$T/tree.json")" "$SH"
expect_eq "tree children" "$(jq -r '[.descendants[].executable] | sort | join(",")' "$T/tree.json")" \
	"$(printf '%s\n' "$A" "$B" | sort | paste -sd,)"
expect_eq "tree root exit code" "$(jq .process.exit_code "$T/tree.json")" 3
expect_eq "tree root args" "$(jq -c '.process.args[1]' "$T/tree.json")" '"-c"'
# the context the agent knew at exec: the test runs as root, with no container around it
expect_eq "tree root user" "$(jq -r '.process.user' "$T/tree.json")" "$(id -un)"
expect_eq "tree root container" "$(jq -r '.process.container_id // "none"' "$T/tree.json")" none
expect_eq "ancestors: up to the first process the agent knew" \
	"$(jq -r '[.ancestors[].executable] | .[-1]' "$T/tree.json")" "$OUT"
expect_eq "one exec in the root's chain" "$(jq '.process.execs | length' "$T/tree.json")" 1
CHILD=$(jq -r '.descendants[0].entity_id' "$T/tree.json")
expect_eq "a child's tree names the root as parent" "$(api reader "/api/v1/tree/$CHILD" | jq -r '.ancestors[-1].entity_id')" "$ENT"

# -- an exec chain: the same process executing again keeps its entity id
CH=$T/tch-$$
cp /bin/sh "$CH"
"$CH" -c "exec '$A' chained" >/dev/null
for _ in $(seq 300); do
	ENT2=$(api reader "/api/v1/events?agent=ag1&exe=$CH" | jq -r '.events[0].process.entity_id // empty')
	[ -n "$ENT2" ] && [ "$(api reader "/api/v1/tree/$ENT2" | jq '.process.execs | length')" -ge 2 ] && break
	sleep 0.2
done
api reader "/api/v1/tree/$ENT2" >"$T/chain.json"
expect_eq "exec chain in time order" "$(jq -r '[.process.execs[].executable] | join(",")' "$T/chain.json")" "$CH,$A"
expect_eq "the node is its last exec" "$(jq -r .process.executable "$T/chain.json")" "$A"

# -- hostile strings: a file name with markup, quotes, a backslash and an escape sequence
EVIL="$T/x<script>alert(1)<\\script>\"'$(printf '\033[31m')red"
cp /bin/true "$EVIL"
"$EVIL" "<img src=x onerror=alert(1)>" "$(printf 'a\033]0;title\007b')"
ENC=$(jq -rn --arg p "$EVIL" '$p | @uri')
for _ in $(seq 300); do
	api reader "/api/v1/events?agent=ag1&exe=$ENC" >"$T/evil.json"
	[ "$(jq '.events | length' "$T/evil.json")" -ge 1 ] && break
	sleep 0.2
done
expect_eq "hostile path found by exact exe" "$(jq '.events | length' "$T/evil.json")" 1
if LC_ALL=C grep -q "$(printf '\033')" "$T/evil.json"; then fail "a raw ESC byte in the JSON"; fi
if LC_ALL=C grep -q "$(printf '\007')" "$T/evil.json"; then fail "a raw BEL byte in the JSON"; fi
[ "$(jq -r '.events[0].process.executable' "$T/evil.json")" = "$EVIL" ] || fail "hostile path changed"
ok "hostile path round-trips byte for byte"
expect_eq "hostile argv round-trips" "$(jq -r '.events[0].process.args[1]' "$T/evil.json")" "<img src=x onerror=alert(1)>"
grep -q '\\u001b\[31m' "$T/evil.json" || fail "ESC not written as \\u001b"
ok "hostile strings are JSON-escaped"

api reader /api/v1/agents >"$T/agents.json"
expect_eq "agents connected" "$(jq -r '[.agents[] | "\(.name):\(.connected)"] | join(" ")' "$T/agents.json")" "ag1:true ag2:true"
stop_agents
PIDS=()
stop_server
