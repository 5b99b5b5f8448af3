#!/usr/bin/env bash
# The collector confines itself once its listener and database are open: no_new_privs, a
# seccomp filter, and Landlock (database directory read-write, CA and CRL directory read-only,
# no new TCP bind or connect). Confined, it still stores, acknowledges, reloads its CRL on SIGHUP
# (the revoked agent is then refused) and stops cleanly; `--confine no` runs it unconfined.
. "$(dirname "$0")/collector_lib.bash"

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (privilege drop)"; exit 77; }
deploy alpha beta
start_server
status=/proc/$SERVER_PID/status
expect_eq "no_new_privs" "$(awk '/^NoNewPrivs:/ {print $2}' "$status")" 1
expect_eq "seccomp mode (2 = filter)" "$(awk '/^Seccomp:/ {print $2}' "$status")" 2
grep -q "confined: Landlock on" "$T/server.log" || fail "no Landlock: $(grep confined "$T/server.log")"
ok "$(grep -o 'confined: .*' "$T/server.log")"
# every thread has the filter, the writer and checkpointer included
for t in /proc/$SERVER_PID/task/*; do
	# a thread that ended after the glob has no status left to read
	mode=$(awk '/^Seccomp:/ {print $2}' "$t/status" 2>/dev/null) || continue
	[ "$mode" = 2 ] || fail "thread $t not filtered"
done
ok "all $(ls /proc/$SERVER_PID/task | wc -l) threads filtered"

r=$(replay --bundle "$H/agents/alpha" --events 2000 --batch 200 --zstd --verify-db "$H/proctrail.db")
[[ $r == "result: ok"* ]] || fail "confined collector did not store: $r"
ok "confined collector stores and acknowledges: $r"

# SIGHUP reloads the CRL from the read-only directory
"$PT" --home "$H" revoke beta >/dev/null
kill -HUP "$SERVER_PID"
for _ in $(seq 300); do grep -q "reloaded" "$T/server.log" && break; sleep 0.1; done
grep -q "reloaded" "$T/server.log" || fail "no reload after SIGHUP"
r=$(replay --bundle "$H/agents/beta" --events 10 || true)
[[ $r != "result: ok"* ]] || fail "revoked agent accepted after a confined reload: $r"
ok "CRL reloaded while confined; revoked agent refused"
stop_server

start_server --confine no
expect_eq "no seccomp with --confine no" "$(awk '/^Seccomp:/ {print $2}' "/proc/$SERVER_PID/status")" 0
stop_server
