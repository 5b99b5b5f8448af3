#!/usr/bin/env bash
# Sensor benchmarks (docs/benchmarks.md, "Sensor"). Root; run from the repository root after
# `make bench`. Each part prints the lines that go into the document.
#
#   bench/sensor.sh ab [rounds] [secs]     exec throughput: none vs agent vs auditd, interleaved
#   bench/sensor.sh abb [rounds] [secs]    none vs agent vs another build (AGENT2=path), interleaved
#   bench/sensor.sh cost [rounds] [secs]   CPU per exec (agent threads' on-CPU ns + BPF programs), this
#                                          build and AGENT2 interleaved, and what it makes at 1600 exec/s
#   bench/sensor.sh cpu [secs]             agent CPU (user+sys+BPF) at 100, 400, 1600 exec/s
#   bench/sensor.sh loss [secs]            max exec rate for secs (60): loss counters, RSS
#   bench/sensor.sh stop [rate]            SIGSTOP the agent 10 s under load: loss counters
#   bench/sensor.sh hash                   1 MiB cache miss time
#   bench/sensor.sh all
set -u
cd "$(dirname "$0")/.."
AGENT=build/proctrail-agent
AGENT2=${AGENT2:-}
SPAWN=build/bench/exec_spawn
PIN=/sys/fs/bpf/pt-bench
TMP=$(mktemp -d /tmp/pt-bench-XXXXXX)
APID=
trap 'agent_stop 2>/dev/null; audit_stop 2>/dev/null; rm -rf "$TMP"' EXIT

[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
[ -x "$AGENT" ] && [ -x "$SPAWN" ] || { echo "run make bench-build first"; exit 1; }

agent_start() {
	local bin=${RUN_AGENT:-$AGENT}
	"$bin" --uninstall --pin-dir "$PIN" 2>/dev/null
	"$bin" --stdout --pin-dir "$PIN" "$@" >/dev/null 2>"$TMP/agent.err" &
	APID=$!
	for _ in $(seq 1 100); do [ -e "$PIN/link_exit" ] && break; sleep 0.05; done
	sleep 0.5
}

agent_stop() {
	[ -n "$APID" ] || return 0
	kill -TERM "$APID"; wait "$APID"
	APID=
	"${RUN_AGENT:-$AGENT}" --uninstall --pin-dir "$PIN"
}

summary() { sed -n 's/.*summary: //p' "$TMP/agent.err" | tail -1; }
field() { sed -n "s/.*\\b$1 \\([0-9]*\\).*/\\1/p" <<<"$2"; }

# auditd started directly (no systemd here), one execve rule, stopped afterwards
AUDIT_PID=
audit_start() {
	auditd || { echo "auditd failed to start"; exit 1; }
	for _ in $(seq 1 50); do [ -s /var/run/auditd.pid ] && break; sleep 0.1; done
	AUDIT_PID=$(cat /var/run/auditd.pid)
	auditctl -e 1 >/dev/null
	auditctl -a always,exit -F arch=b64 -S execve -k ptbench >/dev/null
	sleep 0.5
}

audit_stop() {
	[ -n "$AUDIT_PID" ] || return 0
	auditctl -D >/dev/null 2>&1
	kill "$AUDIT_PID" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$AUDIT_PID" 2>/dev/null || break; sleep 0.1; done
	AUDIT_PID=
}

rate_of() { sed -n 's/.*rate=\([0-9.]*\).*/\1/p'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

ab() {
	local rounds=${1:-7} secs=${2:-5} i base agent audit
	: > "$TMP/ratio_agent"; : > "$TMP/ratio_audit"
	echo "## exec throughput, 2 spawners of /bin/true, ${secs}s per run, $rounds rounds (none/agent/auditd, order rotated)"
	for ((i = 0; i < rounds; i++)); do
		for kind in $(case $((i % 3)) in 0) echo none agent audit;; 1) echo agent audit none;; 2) echo audit none agent;; esac); do
			case $kind in
			none) base=$("$SPAWN" -p 2 -s "$secs" | rate_of) ;;
			agent) agent_start; agent=$("$SPAWN" -p 2 -s "$secs" | rate_of); agent_stop ;;
			audit) audit_start; audit=$("$SPAWN" -p 2 -s "$secs" | rate_of); audit_stop ;;
			esac
		done
		echo "round $i: none $base/s agent $agent/s auditd $audit/s"
		echo "$agent $base" | awk '{print $1 / $2}' >> "$TMP/ratio_agent"
		echo "$audit $base" | awk '{print $1 / $2}' >> "$TMP/ratio_audit"
	done
	echo "median ratio agent/none:  $(median < "$TMP/ratio_agent")"
	echo "median ratio auditd/none: $(median < "$TMP/ratio_audit")"
}

# none, this agent, and another build of it (AGENT2): what a change costs, in one run
abb() {
	local rounds=${1:-7} secs=${2:-5} i base agent other
	[ -x "$AGENT2" ] || { echo "abb needs AGENT2=path of the other agent build"; exit 1; }
	: > "$TMP/ratio_agent"; : > "$TMP/ratio_other"; : > "$TMP/ratio_ab"
	echo "## exec throughput, 2 spawners of /bin/true, ${secs}s per run, $rounds rounds (none/agent/AGENT2, order rotated)"
	for ((i = 0; i < rounds; i++)); do
		for kind in $(case $((i % 3)) in 0) echo none agent other;; 1) echo agent other none;; 2) echo other none agent;; esac); do
			case $kind in
			none) base=$("$SPAWN" -p 2 -s "$secs" | rate_of) ;;
			agent) agent_start; agent=$("$SPAWN" -p 2 -s "$secs" | rate_of); agent_stop ;;
			other) RUN_AGENT=$AGENT2 agent_start; other=$("$SPAWN" -p 2 -s "$secs" | rate_of)
			       RUN_AGENT=$AGENT2 agent_stop ;;
			esac
		done
		echo "round $i: none $base/s agent $agent/s agent2 $other/s"
		echo "$agent $base" | awk '{print $1 / $2}' >> "$TMP/ratio_agent"
		echo "$other $base" | awk '{print $1 / $2}' >> "$TMP/ratio_other"
		echo "$agent $other" | awk '{print $1 / $2}' >> "$TMP/ratio_ab"
	done
	echo "median ratio agent/none:  $(median < "$TMP/ratio_agent")"
	echo "median ratio agent2/none: $(median < "$TMP/ratio_other")"
	echo "median ratio agent/agent2: $(median < "$TMP/ratio_ab")"
}

# on-CPU ns of the agent's threads (schedstat), BPF programs' run time (ns), execs counted
cost_snapshot() {
	local ns=0 bpf=0 id l t
	for t in /proc/$APID/task/*/schedstat; do ns=$((ns + $(cut -d' ' -f1 "$t"))); done
	for l in link_exec link_exit link_fork; do
		[ -e "$PIN/$l" ] || continue
		id=$(bpftool -j link show pinned "$PIN/$l" | jq .prog_id)
		bpf=$((bpf + $(bpftool -j prog show id "$id" | jq '.run_time_ns // 0')))
	done
	echo "$ns $bpf"
}

# ns per run of each program since it was loaded (the agent loads them fresh each run)
prog_cost() {
	local l id j
	for l in link_exec link_exit link_fork; do
		[ -e "$PIN/$l" ] || continue
		id=$(bpftool -j link show pinned "$PIN/$l" | jq .prog_id)
		j=$(bpftool -j prog show id "$id")
		echo "  $1 $l: $(jq '(.run_time_ns // 0) / ((.run_cnt // 0) + 0.000001) | floor' <<<"$j") ns/run over $(jq '.run_cnt // 0' <<<"$j") runs"
	done
}

cost() {
	local rounds=${1:-4} secs=${2:-10} i kind a b out n
	sysctl -qw kernel.bpf_stats_enabled=1
	echo "## CPU per exec, ${secs}s of 2 unpaced spawners per run, $rounds rounds (this build / AGENT2 alternated)"
	: > "$TMP/cost_agent"; : > "$TMP/cost_other"
	for ((i = 0; i < rounds; i++)); do
		for kind in $( ((i % 2)) && echo other agent || echo agent other); do
			[ "$kind" = other ] && [ ! -x "$AGENT2" ] && continue
			if [ "$kind" = other ]; then RUN_AGENT=$AGENT2 agent_start; else agent_start; fi
			a=$(cost_snapshot)
			out=$("$SPAWN" -p 2 -s "$secs")
			b=$(cost_snapshot)
			prog_cost "$kind" | tee -a "$TMP/prog_$kind"
			if [ "$kind" = other ]; then RUN_AGENT=$AGENT2 agent_stop; else agent_stop; fi
			n=$(sed -n 's/.*execs=\([0-9]*\).*/\1/p' <<<"$out")
			echo "$a $b $n" | awk -v k="$kind" -v r="$i" '{
				user = ($3 - $1) / $5; bpf = ($4 - $2) / $5;
				printf "round %d %s: %d execs, agent %.2f us + bpf %.2f us per exec = %.3f%% of a core at 1600/s\n",
					r, k, $5, user / 1000, bpf / 1000, 100 * (user + bpf) * 1600 / 1e9 }' |
				tee -a "$TMP/cost_$kind"
		done
	done
	sysctl -qw kernel.bpf_stats_enabled=0
	for kind in agent other; do
		[ -s "$TMP/cost_$kind" ] || continue
		echo "median $kind: $(sed -n 's/.*= \([0-9.]*\)% .*/\1/p' "$TMP/cost_$kind" | median)% of a core at 1600/s"
		for l in link_exec link_exit link_fork; do
			grep -q " $l:" "$TMP/prog_$kind" || continue
			echo "median $kind $l: $(sed -n "s/.* $l: \([0-9]*\) ns.*/\1/p" "$TMP/prog_$kind" | median) ns/run"
		done
	done
}

# utime+stime of the agent (ticks) and run time of its BPF programs (ns)
cpu_snapshot() {
	local ticks ns=0 id
	ticks=$(awk '{print $14 + $15}' "/proc/$APID/stat")
	for l in link_exec link_exit link_fork; do
		[ -e "$PIN/$l" ] || continue   # builds before the context had no fork program
		id=$(bpftool -j link show pinned "$PIN/$l" | jq .prog_id)
		ns=$((ns + $(bpftool -j prog show id "$id" | jq '.run_time_ns // 0')))
	done
	echo "$ticks $ns"
}

cpu() {
	local secs=${1:-20} rate a b out hz
	hz=$(getconf CLK_TCK)
	sysctl -qw kernel.bpf_stats_enabled=1
	echo "## agent CPU, ${secs}s per rate (% of one core: user+sys of the agent + BPF programs)"
	for rate in 100 400 1600; do
		agent_start
		a=$(cpu_snapshot)
		out=$("$SPAWN" -p 2 -s "$secs" -r "$rate")
		b=$(cpu_snapshot)
		agent_stop
		echo "$a $b $hz $secs" | awk -v r="$rate" -v o="$out" '{
			user = ($3 - $1) / $5; bpf = ($4 - $2) / 1e9;
			printf "rate %d/s (%s): agent %.3f%%  bpf %.3f%%  total %.3f%% of one core\n",
				r, o, 100 * user / $6, 100 * bpf / $6, 100 * (user + bpf) / $6 }'
		s=$(summary)
		echo "  hash cache: hits $(field hash_hits "$s") misses $(field hash_misses "$s")"
	done
	sysctl -qw kernel.bpf_stats_enabled=0
}

loss() {
	local secs=${1:-60} out s
	echo "## max exec rate for ${secs}s with the agent (2 unpaced spawners)"
	agent_start
	out=$("$SPAWN" -p 2 -s "$secs")
	sleep 1
	echo "spawner: $out"
	echo "agent memory: $(grep -E 'VmHWM|VmRSS|RssAnon|RssFile|RssShmem' "/proc/$APID/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
	agent_stop
	s=$(summary)
	echo "agent: $s"
	echo "loss: ring_full $(field ring_full "$s") kernel_error $(field kernel_error "$s")"
}

stop() {
	local rate=${1:-1600} out s
	echo "## SIGSTOP of the agent for 10 s at $rate exec/s"
	agent_start
	"$SPAWN" -p 2 -s 20 -r "$rate" > "$TMP/spawn.out" &
	local spid=$!
	sleep 5
	kill -STOP "$APID"; sleep 10; kill -CONT "$APID"
	wait "$spid"
	sleep 2
	out=$(cat "$TMP/spawn.out")
	agent_stop
	s=$(summary)
	echo "spawner: $out"
	echo "agent: $s"
	echo "loss: ring_full $(field ring_full "$s") kernel_error $(field kernel_error "$s")"
}

hash() {
	echo "## hash cache miss, 1 MiB file (page cache warm)"
	build/bench/hash_miss 1048576 500
}

case ${1:-all} in
ab) shift; ab "$@" ;;
abb) shift; abb "$@" ;;
cost) shift; cost "$@" ;;
cpu) shift; cpu "$@" ;;
loss) shift; loss "$@" ;;
stop) shift; stop "$@" ;;
hash) hash ;;
all) ab; cpu; loss; stop; hash ;;
*) echo "usage: $0 ab|abb|cost|cpu|loss|stop|hash|all"; exit 2 ;;
esac
