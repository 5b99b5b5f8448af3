#!/usr/bin/env bash
# Revocation is complete (docs/security.md, "Revocation is incomplete"):
#  - `revoke NAME` revokes every certificate ever issued to NAME, also an older one no longer on
#    disk; `revoke --serial HEX` revokes one; a re-enrolled name gets a new, valid serial;
#  - a connection that is already open is closed with ERROR once the CRL is reloaded (SIGHUP, or
#    the collector's poll of the file without a signal), and nothing more of it is stored;
#  - a CRL that becomes unreadable or invalid fails closed: open connections are closed, new ones
#    refused, with the reason in the log, until a valid CRL is back;
#  - at start-up a configured but invalid CRL is fatal.
. "$(dirname "$0")/collector_lib.bash"

deploy alpha bravo
# alpha's first certificate, kept aside: a renewal leaves it valid, and not on disk any more.
mkdir -p "$T/old" && cp -r "$H/agents/alpha" "$T/old/alpha"
"$PT" --home "$H" enroll --renew alpha >/dev/null
# A certificate's serial as the register and the collector write it: hex, no leading zeros.
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | sed 's/^0*//'; }
old_serial=$(serial_of "$T/old/alpha/agent.crt")
new_serial=$(serial_of "$H/agents/alpha/agent.crt")
[ "$old_serial" != "$new_serial" ] || fail "renewal reused the serial"
expect_eq "register: alpha's certificates" \
	"$("$PT" --home "$H" pki list | awk '$2 == "alpha" && $5 == "valid"' | wc -l)" 2
start_server

# stream_rows STREAM: rows stored for one replay stream.
stream_rows() { q "SELECT count(*) FROM events WHERE stream_id = $1"; }

# open_conn BUNDLE STREAM OUT: a long-running paced connection in the background (a batch of 10
# every 50 ms for far longer than the test), returning once the collector stored some of it.
open_conn() {
	"$REPLAY" --connect "127.0.0.1:$PORT" --timeout 120 --bundle "$1" --stream "$2" \
		--events 1000000 --batch 10 --pace-ms 50 >"$3" 2>&1 &
	BG_PID=$!
	for _ in $(seq 600); do
		[ "$(stream_rows "$2")" -gt 0 ] && return 0
		kill -0 "$BG_PID" 2>/dev/null || fail "paced connection ended early: $(tail -1 "$3")"
		sleep 0.1
	done
	fail "paced connection stored nothing"
}

# conn_ends OUT SECONDS: waits for the background connection to end; prints its result line,
# or "still open" (called in $(...), where fail could not end the test).
conn_ends() {
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$BG_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$BG_PID" 2>/dev/null; then
		kill "$BG_PID"
		wait "$BG_PID" || true
		echo "still open after $2 s"
		return 0
	fi
	wait "$BG_PID" || true
	tail -1 "$1"
}

# stable STREAM: the stream's row count once it no longer grows (the collector committed what
# it had), or "growing".
stable() {
	local a b
	a=$(stream_rows "$1")
	for _ in $(seq 50); do
		sleep 0.2
		b=$(stream_rows "$1")
		[ "$a" = "$b" ] && { echo "$b"; return 0; }
		a=$b
	done
	echo growing
}

log_has() { # PATTERN SECONDS
	for _ in $(seq $(($2 * 10))); do
		grep -q -- "$1" "$T/server.log" && return 0
		sleep 0.1
	done
	fail "no log line matching '$1'"
}

r=$(replay --bundle "$T/old/alpha" --events 10 --stream 1)
[[ $r == "result: ok"* ]] || fail "old certificate before revocation: $r"
ok "the older certificate works before revocation"

# 1. revoke NAME + SIGHUP closes an open connection.
open_conn "$H/agents/alpha" 2 "$T/alpha.out"
"$PT" --home "$H" revoke alpha >/dev/null
kill -HUP "$SERVER_PID"
r=$(conn_ends "$T/alpha.out" 30)
[[ $r == "result: error code=2 message=certificate serial $new_serial is revoked"* ]] \
	|| fail "open connection after revoke + SIGHUP: $r"
ok "open connection closed with ERROR after revoke + SIGHUP"
log_has "CRL: .* reloaded (SIGHUP)" 30
log_has "closed 1 connection with a revoked certificate" 30
n=$(stable 2)
[ "$n" != growing ] || fail "stream 2 still growing after the close"
sleep 1
expect_eq "stream 2 rows after the close" "$(stream_rows 2)" "$n"

# 2. The older certificate of the same name is revoked too.
r=$(replay --bundle "$T/old/alpha" --events 10 --stream 3)
[[ $r == "result: refused"* ]] || fail "older certificate accepted after revoke NAME: $r"
expect_eq "older certificate's rows" "$(stream_rows 3)" 0
ok "the older certificate is refused"

# 3. Re-enrolling a revoked name issues a new, valid serial.
"$PT" --home "$H" enroll alpha >/dev/null
r=$(replay --bundle "$H/agents/alpha" --events 10 --stream 4)
[[ $r == "result: ok"* ]] || fail "re-enrolled alpha: $r"
ok "re-enrolled alpha is accepted"

# 4. revoke --serial, no signal: the collector's poll of the file closes the connection.
bravo_serial=$(serial_of "$H/agents/bravo/agent.crt")
open_conn "$H/agents/bravo" 5 "$T/bravo.out"
"$PT" --home "$H" revoke --serial "$bravo_serial" >/dev/null
r=$(conn_ends "$T/bravo.out" 30)
[[ $r == "result: error code=2 message=certificate serial $bravo_serial is revoked"* ]] \
	|| fail "open connection after revoke --serial: $r"
log_has "reloaded (file changed)" 30
ok "revoke --serial takes effect on an open connection without SIGHUP"
expect_eq "register: bravo revoked" \
	"$("$PT" --home "$H" pki list | awk '$2 == "bravo" {print $5}')" revoked

# 5. A CRL replaced by garbage: open connections closed, new ones refused, the log says why.
cp "$H/pki/crl.pem" "$T/crl.good"
open_conn "$H/agents/alpha" 6 "$T/alpha6.out"
echo "not a CRL" >"$H/pki/crl.new" && mv "$H/pki/crl.new" "$H/pki/crl.pem"
r=$(conn_ends "$T/alpha6.out" 30)
[[ $r == "result: error code=6 message=the collector has no valid CRL"* ]] \
	|| fail "open connection with a garbage CRL: $r"
log_has "failing closed" 30
r=$(replay --bundle "$H/agents/alpha" --events 10 --stream 7)
[[ $r == "result: refused"* ]] || fail "accepted without a valid CRL: $r"
log_has "refusing a connection: no valid CRL: .*crl.pem" 30
expect_eq "rows without a valid CRL" "$(stream_rows 7)" 0
ok "garbage CRL: fail closed"

cp "$T/crl.good" "$H/pki/crl.new" && mv "$H/pki/crl.new" "$H/pki/crl.pem"
log_has "is valid again" 30
r=$(replay --bundle "$H/agents/alpha" --events 10 --stream 8)
[[ $r == "result: ok"* ]] || fail "valid CRL restored, still refused: $r"
ok "valid CRL again: admitted"

# 6. An unreadable CRL (the collector runs as nobody when we are root).
if [ "$(id -u)" -eq 0 ]; then
	before=$(grep -c "failing closed" "$T/server.log")
	chmod 000 "$H/pki/crl.pem"
	for _ in $(seq 300); do
		[ "$(grep -c "failing closed" "$T/server.log")" -gt "$before" ] && break
		sleep 0.1
	done
	grep "failing closed" "$T/server.log" | tail -1 | grep -q "Permission denied" \
		|| fail "no 'Permission denied' for an unreadable CRL"
	r=$(replay --bundle "$H/agents/alpha" --events 10 --stream 9)
	[[ $r == "result: refused"* ]] || fail "accepted with an unreadable CRL: $r"
	chmod 644 "$H/pki/crl.pem"
	for _ in $(seq 300); do
		[ "$(grep -c "is valid again" "$T/server.log")" -ge 2 ] && break
		sleep 0.1
	done
	r=$(replay --bundle "$H/agents/alpha" --events 10 --stream 10)
	[[ $r == "result: ok"* ]] || fail "readable CRL again, still refused: $r"
	ok "unreadable CRL: fail closed, then admitted again"
fi
stop_server

# 7. Start-up with an invalid CRL is fatal, with the reason.
echo "garbage" >"$H/pki/crl.pem"
rc=0
timeout 30 "$SERVER" --home "$H" --listen "127.0.0.1:$PORT" "${USER_FLAG[@]}" \
	>"$T/start.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "server started with an invalid CRL (rc $rc)"
grep -q "CRL" "$T/start.log" || fail "start-up failure does not name the CRL: $(cat "$T/start.log")"
ok "invalid CRL at start-up is fatal: $(grep CRL "$T/start.log" | head -1)"
