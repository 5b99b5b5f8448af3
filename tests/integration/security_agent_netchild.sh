#!/usr/bin/env bash
# The agent's network side runs in a child process per connection (agent/netchild.c): not
# root, no_new_privs, a seccomp filter, no descriptor but its stdio, the socketpair to the
# agent and the TLS socket, and it cannot open a file or make a socket (it checks that itself
# and says so). Delivery goes through it, and killing it with SIGKILL in the middle of a
# delivery, again and again, loses nothing and duplicates nothing. `--network-child no` keeps
# the TLS in the root agent, as before.
. "$(dirname "$0")/delivery_lib.bash"

# The pid of the agent's network child, or nothing.
netchild_pid() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(awk '/^PPid:/ {print $2}' "$p/status" 2>/dev/null)" = "$AGENT_PID" ] || continue
		# argv[1], not anywhere: the agent's own watchdog is a fork with the agent's argv
		[ "$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | sed -n 2p)" = "--network-child" ] || continue
		basename "$p"
		return 0
	done
}

# wait_netchild [NOT_PID]: the child's pid, once one other than NOT_PID runs (60 s at most).
wait_netchild() {
	local pid
	for _ in $(seq 600); do
		pid=$(netchild_pid)
		if [ -n "$pid" ] && [ "$pid" != "${1:-}" ] && grep -q "^Seccomp:[[:space:]]*2" "/proc/$pid/status" 2>/dev/null; then
			echo "$pid"
			return 0
		fi
		sleep 0.1
	done
	fail "no network child (other than ${1:-none}) within 60 s"
}

status_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

deploy
start_server
make_bin
start_agent
storm 1 100
wait_args 1 100 60
check_exactly_once 1 100
expect_eq "missing through the network child" "$MISSING" 0
expect_eq "duplicated through the network child" "$DUPS" 0

child=$(wait_netchild)
ok "network child $child of agent $AGENT_PID"
expect_eq "agent uid" "$(status_field "$AGENT_PID" Uid)" 0
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$child/status")
expect_eq "child uids (real, effective, saved, fs)" "$uids" "65534 65534 65534 65534"
expect_eq "child gid" "$(status_field "$child" Gid)" 65534
expect_eq "child supplementary groups" "$(awk '/^Groups:/ {print NF - 1}' "/proc/$child/status")" 0
expect_eq "child effective capabilities" "$(status_field "$child" CapEff)" 0000000000000000
expect_eq "child no_new_privs" "$(status_field "$child" NoNewPrivs)" 1
expect_eq "child seccomp mode (2 = filter)" "$(status_field "$child" Seccomp)" 2
# What it holds: stdio, the socketpair (3) and the TLS socket (4), nothing else.
fds=$(ls "/proc/$child/fd" | sort -n | tr '\n' ' ')
expect_eq "child descriptors" "$fds" "0 1 2 3 4 "
for fd in 3 4; do
	[[ $(readlink "/proc/$child/fd/$fd") == socket:* ]] || fail "child fd $fd is not a socket"
done
ok "descriptors 3 and 4 are sockets"
# The child tried to open "/" (readable by everyone) and to make a socket after confining
# itself, and would have refused to go on had either worked.
line=$(grep "proctrail-net\[$child\] info: network child for" "$T/agent.log" | tail -1)
[ -n "$line" ] || fail "the child did not report its confinement"
[[ $line == *'open("/") refused'* && $line == *'socket() refused'* ]] || fail "confinement line: $line"
ok "${line#*info: }"

# SIGKILL of the child in the middle of a delivery, three times: reconnect, resend, dedup.
# The storm pauses 0.2 s every 50 execs, so it outlasts the three kills.
storm 101 1600 50 0.2 &
storm_pid=$!
prev=$child
during=0
for round in 1 2 3; do
	sleep 0.5
	kill -0 "$storm_pid" 2>/dev/null && during=$((during + 1))
	kill -KILL "$prev" 2>/dev/null || true
	prev=$(wait_netchild "$prev")
	ok "round $round: network child killed, a new one ($prev) delivers"
done
wait "$storm_pid"
echo "kills while the storm ran: $during of 3"
wait_args 1 1600 120
check_exactly_once 1 1600
expect_eq "missing after killing the network child 3 times" "$MISSING" 0
expect_eq "duplicated after killing the network child 3 times" "$DUPS" 0
n=$(grep -c "uplink: network child [0-9]* killed by signal 9" "$T/agent.log" || true)
[ "$n" -ge 3 ] || fail "the agent logged $n child deaths by SIGKILL, want 3"
ok "the agent logged each death of its network child ($n)"
kill -0 "$AGENT_PID" || fail "agent died with its child"
expect_eq "unexplained gaps" "$(agent_json | jq -r .unexplained_gaps)" 0

# SIGHUP: the next connection's child reads the certificate files again
kill -HUP "$AGENT_PID"
for _ in $(seq 300); do grep -q "SIGHUP: configuration reloaded" "$T/agent.log" && break; sleep 0.1; done
grep -q "SIGHUP: configuration reloaded (verbosity, metrics file, CA/certificate/key for the next connection)" \
	"$T/agent.log" || fail "SIGHUP not reloaded"
kill -KILL "$prev"
prev=$(wait_netchild "$prev")
storm 1601 1700
wait_args 1601 1700 60
ok "after SIGHUP a new child ($prev) delivers"
stop_agent
netchild_gone=$(ps -o pid= -p "$prev" || true)
expect_eq "network child left after the agent stopped" "$netchild_gone" ""

# The escape hatch: TLS in the agent itself.
start_agent --network-child no
storm 1701 1800
wait_args 1701 1800 60
expect_eq "network child with --network-child no" "$(netchild_pid)" ""
check_exactly_once 1 1800
expect_eq "missing overall" "$MISSING" 0
expect_eq "duplicated overall" "$DUPS" 0
stop_agent
