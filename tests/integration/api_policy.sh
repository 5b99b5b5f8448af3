#!/usr/bin/env bash
# /api/v1/policy over real TLS with a real agent: a read operator may list but not change
# (403); an admin blocks a binary (the agent refuses its exec with EPERM and /api/v1/agents
# shows the version it enforces and since when), a malformed hash and a missing reason are
# 400 with the parameter named, unblocking makes a new version and the binary runs again.
. "$(dirname "$0")/api_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF, fanotify)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"

deploy pol-agent
operator reader read
operator boss admin
start_api --ping-interval 1
PIN=/sys/fs/bpf/ptp_$$
mkdir -p "$T/spool" "$T/bin"
A=$H/agents/pol-agent
"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" --key "$A/agent.key" \
	--spool-dir "$T/spool" --pin-dir "$PIN" --allow-policy yes >"$T/agent.log" 2>&1 &
AGENT_PID=$!
trap 'kill -TERM "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null;
      "$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1 || true; cleanup' EXIT
for _ in $(seq 300); do grep -q "agent pol-agent .* connected" "$T/server.log" && break; sleep 0.1; done
grep -q "agent pol-agent .* connected" "$T/server.log" || fail "agent did not connect"

BIN=$T/bin/apivictim
cp /bin/true "$BIN"; printf 'api policy test %s\n' "$$" >>"$BIN"
SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
"$BIN" || fail "the binary does not run before any policy"

api reader /api/v1/policy >"$T/list.json"
expect_eq "read role lists" "$(status),$(jq -c .rules "$T/list.json")" "200,[]"
api reader /api/v1/policy/block -X POST -d "{\"sha256\":\"$SHA\",\"reason\":\"x\"}" >/dev/null
expect_eq "read role may not block" "$(status)" 403
api boss /api/v1/policy/block -X POST -d '{"sha256":"12zz","reason":"x"}' >"$T/err.json"
expect_eq "malformed hash" "$(status)" 400
grep -q "malformed SHA-256" "$T/err.json" || fail "unclear error: $(cat "$T/err.json")"
api boss /api/v1/policy/block -X POST -d "{\"sha256\":\"$SHA\"}" >"$T/err.json"
expect_eq "missing reason" "$(status),$(jq -r .error "$T/err.json")" "400,reason: required"
api boss /api/v1/policy/block -X POST -d "{\"sha256\":\"$(sha256sum /bin/sh | cut -d' ' -f1)\",\"reason\":\"x\"}" >"$T/err.json"
expect_eq "blocking the shell" "$(status)" 400
api boss /api/v1/policy/block -X POST -d "{\"sha256\":\"$SHA\",\"reason\":\"api test\",\"agent\":\"pol-agent\"}" >"$T/v.json"
expect_eq "admin blocks" "$(status)" 200
V=$(jq .version "$T/v.json")
for _ in $(seq 300); do grep -q "policy version $V applied" "$T/agent.log" && break; sleep 0.1; done
grep -q "policy version $V applied" "$T/agent.log" || fail "agent did not apply version $V"
if "$BIN" 2>"$T/exec.err"; then fail "blocked binary ran"; fi
grep -q "Operation not permitted" "$T/exec.err" || fail "not EPERM: $(cat "$T/exec.err")"
ok "blocked over the API: $(cat "$T/exec.err")"
api reader /api/v1/policy >"$T/list.json"
expect_eq "listed" "$(jq -r '.rules[0] | [.sha256, .agent, .mode, .operator] | join(",")' "$T/list.json")" \
	"$SHA,pol-agent,block,api:boss"
for _ in $(seq 100); do
	api reader /api/v1/agents >"$T/agents.json"
	[ "$(jq '.agents[0].policy_version' "$T/agents.json")" = "$V" ] && break
	sleep 0.1
done
expect_eq "agents: version enforced" "$(jq '.agents[0].policy_version' "$T/agents.json")" "$V"
[ "$(jq -r '.agents[0].policy_since' "$T/agents.json")" != null ] || fail "agents: no policy_since"
api boss /api/v1/policy/unblock -X POST -d "{\"sha256\":\"$SHA\"}" >"$T/v.json"
expect_eq "admin unblocks" "$(status)" 200
V2=$(jq .version "$T/v.json")
[ "$V2" -gt "$V" ] || fail "unblock did not make a new version"
for _ in $(seq 300); do grep -q "policy version $V2 applied" "$T/agent.log" && break; sleep 0.1; done
"$BIN" || fail "unblocked binary does not run"
ok "unblocked: runs again (version $V2)"
api boss /api/v1/policy/unblock -X POST -d "{\"sha256\":\"$SHA\"}" >/dev/null
expect_eq "nothing left to unblock" "$(status)" 404
