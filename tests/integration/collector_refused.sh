#!/usr/bin/env bash
# Refused, with nothing stored: no client certificate, a certificate from another CA, a revoked
# certificate (revoked while the server runs: it reloads the CRL at the next handshake), and a
# HELLO claiming another agent's name.
. "$(dirname "$0")/collector_lib.bash"

deploy alpha mallory late
# A second deployment: its CA is unknown to ours.
"$PT" --home "$T/other" pki init >/dev/null
"$PT" --home "$T/other" enroll alpha >/dev/null
# The impostor pins our CA (so it accepts our server) but presents the other CA's certificate.
mkdir -p "$T/impostor/alpha"
cp "$H/pki/ca.crt" "$T/impostor/alpha/ca.crt"
cp "$T/other/agents/alpha/agent.crt" "$T/other/agents/alpha/agent.key" "$T/impostor/alpha/"
"$PT" --home "$H" revoke mallory >/dev/null
start_server

nothing_stored() {
	expect_eq "$1: agents" "$(q "SELECT count(*) FROM agents")" 0
	expect_eq "$1: events" "$(q "SELECT count(*) FROM events")" 0
}

r=$(replay --bundle "$H/agents/alpha" --no-cert --events 10)
[[ $r == "result: refused"* ]] || fail "no certificate accepted: $r"
grep -q "refused: no client certificate" "$T/server.log" || fail "no log line for the missing certificate"
nothing_stored "no certificate"

r=$(replay --bundle "$T/impostor/alpha" --events 10)
[[ $r == "result: refused"* ]] || fail "other CA accepted: $r"
grep -q "client certificate: unable to get local issuer certificate" "$T/server.log" \
	|| fail "no log line for the foreign CA"
nothing_stored "another CA"

r=$(replay --bundle "$H/agents/mallory" --events 10)
[[ $r == "result: refused"* ]] || fail "revoked accepted: $r"
grep -q "client certificate: certificate revoked" "$T/server.log" || fail "no log line for revocation"
nothing_stored "revoked"

r=$(replay --bundle "$H/agents/alpha" --name mallory --events 10)
[[ $r == "result: error code=2 "* ]] || fail "identity claim accepted: $r"
nothing_stored "HELLO naming another agent"

# Revocation while running: 'late' works, is revoked, and is refused at its next handshake.
r=$(replay --bundle "$H/agents/late" --events 10)
[[ $r == "result: ok"* ]] || fail "late before revocation: $r"
"$PT" --home "$H" revoke late >/dev/null
r=$(replay --bundle "$H/agents/late" --events 10 --stream 2)
[[ $r == "result: refused"* ]] || fail "late accepted after revocation: $r"
expect_eq "late's rows (first run only)" "$(q "SELECT count(*) FROM events")" 10
expect_eq "late's streams" "$(q "SELECT count(*) FROM streams")" 1
stop_server
