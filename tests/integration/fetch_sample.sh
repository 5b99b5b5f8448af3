#!/usr/bin/env bash
# Fetching a sample, for real: a real agent (eBPF sensor) and collector. A unique binary is
# executed, fetched by its hash with `proctrail fetch` and compared byte for byte; a hash the
# agent never executed is refused (not_seen); a file modified after its exec is refused
# (changed); a read-only token gets 403; a transfer cut by a collector restart resumes from
# the offset it had and completes; an agent with allow-sample no answers ERROR(DISABLED).
. "$(dirname "$0")/api_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"

fail() {
	echo "FAIL: $*"
	echo "---- agent log"; tail -30 "$T/agent.log" 2>/dev/null || true
	echo "---- server log"; tail -40 "$T/server.log" 2>/dev/null || true
	exit 1
}
deploy fetch-agent
operator boss admin
operator viewer read
# 4 MiB/s (the least the collector allows): the large sample below takes seconds, so the
# test can freeze it midway
SRV_FLAGS=(--ping-interval 1 --max-bytes-per-sec 4194304 --sample-chunk-bytes 65536)
start_api "${SRV_FLAGS[@]}"
PIN=/sys/fs/bpf/ptf_$$
mkdir -p "$T/spool" "$T/bin"
A=$H/agents/fetch-agent
AGENT_PID=
start_agent() {
	"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" \
		--key "$A/agent.key" --spool-dir "$T/spool" --pin-dir "$PIN" \
		--backoff-max-ms 1000 "$@" >>"$T/agent.log" 2>&1 &
	AGENT_PID=$!
}
stop_agent() {
	if [ -n "$AGENT_PID" ]; then
		kill -CONT "$AGENT_PID" 2>/dev/null || true
		kill -TERM "$AGENT_PID" 2>/dev/null || true
		wait "$AGENT_PID" 2>/dev/null || true
	fi
	AGENT_PID=
}
trap 'stop_agent; "$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1 || true; cleanup' EXIT

wait_for() { # DESCRIPTION COMMAND...: polls until COMMAND succeeds (30 s, then fails)
	local what=$1
	shift
	for _ in $(seq 300); do
		"$@" && return 0
		[ -z "$AGENT_PID" ] || kill -0 "$AGENT_PID" 2>/dev/null || fail "agent exited"
		sleep 0.1
	done
	fail "timed out waiting for: $what"
}
URL="https://127.0.0.1:$APORT"
fetch() { "$PT" --home "$H" --url "$URL" --token-file "$T/boss.token" --ca "$H/pki/ca.crt" fetch "$@"; }
execs_of() { api boss "/api/v1/events?sha256=$1" | jq '[.events[] | select(.event.action=="exec")] | length'; }
seen_exec() { [ "$(execs_of "$1")" -ge 1 ]; }
req_field() { q "SELECT $2 FROM sample_requests WHERE id = $1"; }

# Binaries of our own: /bin/true with a tag appended, so no other process shares the hash.
mk() { cp /bin/true "$1"; printf 'proctrail-fetch-test %s %s\n' "$$" "$2" >>"$1"; chmod 755 "$1"; }
BIN=$T/bin/sample; mk "$BIN" sample
SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
MOD=$T/bin/modified; mk "$MOD" modified
MOD_SHA=$(sha256sum "$MOD" | cut -d' ' -f1)

start_agent
wait_for "agent connected" grep -q "uplink: connected" "$T/agent.log"
"$BIN" || fail "the sample does not run"
"$MOD" || fail "the modified binary does not run"
wait_for "exec of $BIN at the collector" seen_exec "$SHA"
wait_for "exec of $MOD at the collector" seen_exec "$MOD_SHA"

# ---- the binary it ran, byte for byte
fetch "$SHA" --agent fetch-agent -o "$T/got" --timeout 120 2>"$T/err" || fail "fetch: $(cat "$T/err")"
cmp "$BIN" "$T/got" || fail "the fetched sample differs from the binary"
ok "fetched sample is the executed binary ($(stat -c %s "$T/got") bytes)"
expect_eq "stored once, content-addressed" "$(sha256sum "$H/samples/$SHA" | cut -d' ' -f1)" "$SHA"
expect_eq "who asked, from which agent" \
	"$(q "SELECT operator || ' ' || agent || ' ' || state FROM sample_requests WHERE sha256 = '$SHA'")" \
	"api:boss fetch-agent stored"
expect_eq "samples table" "$(q "SELECT agent || ' ' || size FROM samples WHERE sha256 = '$SHA'")" \
	"fetch-agent $(stat -c %s "$BIN")"
# a second request for a stored hash is answered from the store
fetch "$SHA" --agent fetch-agent -o "$T/got2" 2>"$T/err" || fail "second fetch: $(cat "$T/err")"
cmp "$BIN" "$T/got2" || fail "second fetch differs"
expect_eq "requests for that hash" "$(q "SELECT count(*) FROM sample_requests WHERE sha256 = '$SHA'")" 2
expect_eq "asked from the agent once" "$(grep -c "asking fetch-agent for $SHA" "$T/server.log")" 1

# ---- a hash the agent never executed
NEVER=$(printf 'never executed %s' "$$" | sha256sum | cut -d' ' -f1)
fetch "$NEVER" --agent fetch-agent -o "$T/never" --timeout 120 2>"$T/err" && fail "an unseen hash was fetched"
grep -q "refused: not_seen" "$T/err" || fail "unseen hash: unclear error: $(cat "$T/err")"
[ ! -e "$T/never" ] || fail "a file was written for a refused sample"
ok "unseen hash refused: $(cat "$T/err")"

# ---- the file modified after its exec
printf 'X' >>"$MOD"
fetch "$MOD_SHA" --agent fetch-agent -o "$T/mod" --timeout 120 2>"$T/err" && fail "a modified file was sent"
grep -q "refused: changed" "$T/err" || fail "modified file: unclear error: $(cat "$T/err")"
ok "modified after exec refused: $(cat "$T/err")"
[ ! -e "$H/samples/$MOD_SHA" ] && [ ! -e "$H/samples/$MOD_SHA.part" ] || fail "a refused sample left a file"

# ---- roles: a read-only token may see the requests, not make one nor download
api viewer /api/v1/samples -X POST -d "{\"sha256\":\"$SHA\",\"agent\":\"fetch-agent\"}" >/dev/null
expect_eq "read-only token: POST" "$(status)" 403
api viewer "/api/v1/samples/$SHA" >/dev/null
expect_eq "read-only token: download" "$(status)" 403
api viewer "/api/v1/samples?sha256=$SHA" | jq -e '.requests | length == 2' >/dev/null ||
	fail "read-only token: list: $(cat "$T/body")"
expect_eq "read-only token: list" "$(status)" 200
api boss /api/v1/samples -X POST -d '{"sha256":"123","agent":"fetch-agent"}' >/dev/null
expect_eq "malformed hash" "$(status)" 400

# ---- interrupted by a collector restart: resumes from the offset it had, completes
BIG=$T/bin/big
cp /bin/true "$BIG"
head -c $((40 << 20)) /dev/urandom >>"$BIG"
BIG_SHA=$(sha256sum "$BIG" | cut -d' ' -f1)
"$BIG" || fail "the large binary does not run"
wait_for "exec of $BIG at the collector" seen_exec "$BIG_SHA"
ID=$(fetch "$BIG_SHA" --agent fetch-agent --no-wait) || fail "fetch --no-wait"
received_some() { [ "$(req_field "$ID" received)" -gt 0 ] 2>/dev/null; }
wait_for "the first chunks of request $ID" received_some
kill -STOP "$AGENT_PID"   # the transfer stands still, wherever it was
R1=$(req_field "$ID" received)
expect_eq "frozen midway: state" "$(req_field "$ID" state)" transferring
[ "$R1" -lt "$(stat -c %s "$BIG")" ] || fail "transfer finished before it could be cut ($R1 bytes)"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || fail "collector exited badly"
SERVER_PID=
"$SERVER" --home "$H" --listen "127.0.0.1:$PORT" --api "127.0.0.1:$APORT" "${USER_FLAG[@]}" \
	"${SRV_FLAGS[@]}" >>"$T/server.log" 2>&1 &
SERVER_PID=$!
kill -CONT "$AGENT_PID"
stored() { [ "$(req_field "$ID" state)" = stored ]; }
for _ in $(seq 3000); do stored && break; [ "$(req_field "$ID" state)" != refused ] || break; sleep 0.1; done
stored || fail "request $ID: $(req_field "$ID" "state || ' ' || ifnull(reason, '')")"
OFF=$(grep -o "request $ID: asking fetch-agent for $BIG_SHA from offset [0-9]*" "$T/server.log" |
	awk '{print $NF}' | tail -1)
[ "${OFF:-0}" -gt 0 ] || fail "the transfer did not resume (last offset asked: ${OFF:-none})"
ok "resumed at offset $OFF after the restart (had $R1 bytes when cut)"
fetch "$BIG_SHA" -o "$T/big" 2>"$T/err" || fail "download: $(cat "$T/err")"
cmp "$BIG" "$T/big" || fail "the resumed sample differs"
ok "resumed sample is the executed binary ($(stat -c %s "$T/big") bytes)"

# ---- disabled by the agent's configuration
stop_agent
N0=$(grep -c "uplink: connected" "$T/agent.log")
start_agent --allow-sample no
connected_again() { [ "$(grep -c "uplink: connected" "$T/agent.log")" -gt "$N0" ]; }
wait_for "agent connected again" connected_again
"$MOD" || fail "exec"
fetch "$(sha256sum "$MOD" | cut -d' ' -f1)" --agent fetch-agent -o "$T/dis" --timeout 120 2>"$T/err" &&
	fail "a disabled agent sent a sample"
grep -q "refused: disabled" "$T/err" || fail "disabled: unclear error: $(cat "$T/err")"
grep -q "SAMPLE_GET disabled by configuration" "$T/server.log" || fail "no ERROR(DISABLED) from the agent"
ok "allow-sample no: $(cat "$T/err")"
stop_agent
