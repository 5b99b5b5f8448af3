#!/usr/bin/env bash
# A real proctrail-agent, connected and delivering, is cut off by `proctrail revoke` alone (the
# collector polls its CRL; no signal, no restart): the collector closes the open connection
# with ERROR, refuses every reconnection, and stores nothing the agent produced afterwards.
. "$(dirname "$0")/delivery_lib.bash"

deploy
start_server
make_bin
start_agent
storm 1 50
wait_stored 50 30
check_exactly_once 1 50
expect_eq "missing before the revocation" "$MISSING" 0

"$PT" --home "$H" revoke "$NAME" >/dev/null
for _ in $(seq 300); do
	grep -q "closed 1 connection with a revoked certificate" "$T/server.start" && break
	sleep 0.1
done
# The start log is copied once; the running server writes to server.start.
log=$T/server.start
grep -q "closed 1 connection with a revoked certificate" "$log" \
	|| fail "open connection not closed within 30 s of revoke"
grep -q "agent $NAME .*certificate serial .* is revoked; closing" "$log" \
	|| fail "no log line naming the revoked agent"
ok "open connection of the real agent closed after revoke, without SIGHUP"
# Informational only: the ERROR is sent before the close, but an agent busy writing can see
# the connection reset before it reads it; what matters is asserted above and below.
if grep -q "uplink: collector error 2: certificate serial .* is revoked" "$T/agent.log"; then
	ok "the agent was told why"
else
	echo "note: the agent's log does not show the ERROR (connection reset first)"
fi

before=$(grep -c "client certificate: certificate revoked" "$log" || true)
storm 51 100
# The agent retries within its 1 s backoff: two refused handshakes after the storm show it
# tried to deliver 51..100 and was refused.
for _ in $(seq 600); do
	now=$(grep -c "client certificate: certificate revoked" "$log" || true)
	[ "$now" -ge $((before + 2)) ] && break
	sleep 0.1
done
[ "$now" -ge $((before + 2)) ] || fail "no refused reconnection after the revocation"
kill -0 "$AGENT_PID" || fail "agent died"
expect_eq "execs stored after the revocation" \
	"$(stored_args | awk '$1 > 50' | wc -l)" 0
ok "reconnections refused, nothing more stored"
