#!/usr/bin/env bash
# proctrail against its peers, side by side, in one run (`make bench`, `make bench QUICK=1`).
# Root. Installs the peers (bench/peers-install.sh), then measures, with every monitor in the
# same interleaved rounds (order rotated per round):
#   none; proctrail --stdout (pt); proctrail delivering to a local collector (ptc); auditd with
#   one execve rule, log_format RAW (araw) and ENRICHED (aenr); auditd RAW + laurel (laurel);
#   libbpf-tools' execsnoop or bpftrace printing execs (floor); and, when PT_AGENT_BEFORE names
#   another agent binary, that build in --stdout mode (ptb) for a before/after in the same run.
# Then loss, the agent's stop, hash, latency, ingest, footprint and a perf profile of the agent.
# Raw lines go to $OUT/raw.txt (key=value), bench/report.py turns them into docs/benchmarks.md's
# generated section and the PNG plots.
#
#   bash bench/compare.sh            full form (< 30 min)
#   QUICK=1 bash bench/compare.sh    short form (< 5 min): fewer rates, rounds and seconds
#   env: PT_AGENT_BEFORE=path  BENCH_OUT=dir (build/bench-results)  BENCH_DOC=file (docs/benchmarks.md)
#        BENCH_ONLY="cpu loss stop hash latency ingest footprint perf" (a subset, for development)
#        BENCH_MONS="none pt ptb" (a subset of the monitors)
#        BENCH_RATES, BENCH_PACED_ROUNDS, BENCH_MAX_ROUNDS, BENCH_PACED_SECS, BENCH_MAX_SECS
set -u
cd "$(dirname "$0")/.."
QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] || QUICK=1
B=build
AGENT=$B/proctrail-agent
SPAWN=$B/bench/exec_spawn
OUT=${BENCH_OUT:-$B/bench-results}
ONLY=${BENCH_ONLY:-cpu loss stop hash latency ingest footprint perf}
[ "$(id -u)" = 0 ] || { echo "compare.sh: needs root" >&2; exit 1; }
for b in "$AGENT" $B/proctrail $B/proctrail-server "$SPAWN" $B/bench/hash_miss $B/bench/live_sleepers \
	$B/bench/sqlite_insert $B/bench/replay; do
	[ -x "$b" ] || { echo "compare.sh: missing $b (make bench-build)" >&2; exit 1; }
done

if [ "$QUICK" = 1 ]; then
	RATES="100 1600" PACED_ROUNDS=1 PACED_SECS=3 MAX_ROUNDS=2 MAX_SECS=2
	LOSS_SECS=10 STOPS="5" HASH_BINS=50 LAT_SECS=4 INGEST_RUNS=1 INGEST_EVENTS=100000
	INGEST_CONFIGS="1:1000:8 100:500:4" LIVE=1000 PERF_SECS=5
else
	RATES="100 333 1000 1600" PACED_ROUNDS=2 PACED_SECS=5 MAX_ROUNDS=15 MAX_SECS=3
	LOSS_SECS=60 STOPS="10 30" HASH_BINS=200 LAT_SECS=10 INGEST_RUNS=2 INGEST_EVENTS=300000
	INGEST_CONFIGS="1:1000:8 100:500:4 1000:100:2" LIVE=10000 PERF_SECS=20
fi
# single settings may be overridden (a longer before/after, say)
RATES=${BENCH_RATES:-$RATES} PACED_ROUNDS=${BENCH_PACED_ROUNDS:-$PACED_ROUNDS}
MAX_ROUNDS=${BENCH_MAX_ROUNDS:-$MAX_ROUNDS} PACED_SECS=${BENCH_PACED_SECS:-$PACED_SECS}
MAX_SECS=${BENCH_MAX_SECS:-$MAX_SECS}
mkdir -p "$OUT"
T=$(mktemp -d /tmp/pt-compare.XXXXXX)
chmod 755 "$T"
RAW=$OUT/raw.txt
: >"$RAW"
PIN=/sys/fs/bpf/pt-compare-$$
MON= MPID= MPROGS= SRV= LIVEPID= PERFPID= SPAWNPID=
AUDIT_ENABLED0=$(auditctl -s 2>/dev/null | sed -n 's/^enabled \([0-9]\).*/\1/p')
BPF_STATS0=$(sysctl -n kernel.bpf_stats_enabled)

log() { echo "compare: $*" >&2; }
rec() { echo "$*" >>"$RAW"; }

# Every peer that affects the whole machine (an audit rule, auditd, laurel) is removed after
# each round and, whatever happens, here.
cleanup() {
	trap - EXIT INT TERM
	[ -n "$SPAWNPID" ] && kill "$SPAWNPID" 2>/dev/null
	[ -n "$PERFPID" ] && kill -INT "$PERFPID" 2>/dev/null
	[ -n "$LIVEPID" ] && kill -TERM "$LIVEPID" 2>/dev/null
	mon_stop
	[ -n "$SRV" ] && { kill -TERM "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; }
	"$AGENT" --uninstall --pin-dir "$PIN" 2>/dev/null
	[ -n "$BPF_STATS0" ] && sysctl -qw kernel.bpf_stats_enabled="$BPF_STATS0"
	[ -n "$AUDIT_ENABLED0" ] && auditctl -e "$AUDIT_ENABLED0" >/dev/null 2>&1
	wait 2>/dev/null
	[ -n "$TRACEFS_MOUNTED" ] && umount /sys/kernel/tracing 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- peers ------------------------------------------------------------------------------------
# The floor's syscall tracepoints need tracefs; mounted here when missing, unmounted at the end.
TRACEFS_MOUNTED=
if [ ! -d /sys/kernel/tracing/events/syscalls ] && mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; then
	TRACEFS_MOUNTED=1
fi
HAVE_AUDIT=0 HAVE_LAUREL=0 FLOOR=
command -v auditd >/dev/null && command -v auditctl >/dev/null && HAVE_AUDIT=1
[ -x /usr/sbin/laurel ] && HAVE_LAUREL=1
if [ -x /usr/sbin/execsnoop ] && /usr/sbin/execsnoop --help 2>&1 | grep -q -i 'trace exec'; then
	FLOOR=execsnoop
elif command -v bpftrace >/dev/null; then
	FLOOR=bpftrace
fi
MONS="none pt ptc"
[ -n "${PT_AGENT_BEFORE:-}" ] && MONS="$MONS ptb"
[ "$HAVE_AUDIT" = 1 ] && MONS="$MONS araw aenr"
[ "$HAVE_AUDIT" = 1 ] && [ "$HAVE_LAUREL" = 1 ] && MONS="$MONS laurel"
[ -n "$FLOOR" ] && MONS="$MONS floor"
[ -n "${BENCH_MONS:-}" ] && MONS=$BENCH_MONS
KAUDITD=$(ps -e -o pid=,comm= | awk '$2 == "kauditd" { print $1; exit }')

# auditd with its own configuration directory, log and plugin directory: nothing under
# /etc/audit is changed, and laurel runs only when the laurel round asks for it.
audit_conf() { # name format laurel(0|1)
	local d=$T/audit-$1
	mkdir -p "$d/plugins" "$d/log"
	cat >"$d/auditd.conf" <<-EOF
	local_events = yes
	write_logs = yes
	log_file = $d/log/audit.log
	log_group = root
	log_format = $2
	flush = INCREMENTAL_ASYNC
	freq = 50
	max_log_file = 1000
	num_logs = 2
	max_log_file_action = ROTATE
	space_left = 10
	space_left_action = IGNORE
	admin_space_left = 5
	admin_space_left_action = IGNORE
	disk_full_action = IGNORE
	disk_error_action = IGNORE
	q_depth = 2000
	overflow_action = SYSLOG
	plugin_dir = $d/plugins
	EOF
	chmod 0640 "$d/auditd.conf"
	if [ "$3" = 1 ]; then
		mkdir -p "$d/laurel"
		sed -e "s|^directory = .*|directory = \"$d/laurel\"|" /etc/laurel/config.toml >"$d/laurel.toml"
		chmod 0640 "$d/laurel.toml"
		chown _laurel "$d/laurel" 2>/dev/null
		printf 'active = yes\ndirection = out\ntype = always\nformat = string\npath = /usr/sbin/laurel\nargs = --config %s\n' \
			"$d/laurel.toml" >"$d/plugins/laurel.conf"
		chmod 0640 "$d/plugins/laurel.conf"
	fi
	echo "$d"
}

children() { ps -e -o pid=,ppid= | awk -v p="$1" '$2 == p { print $1 }'; }

audit_start() { # conf dir, laurel
	if [ -s /var/run/auditd.pid ] && kill -0 "$(cat /var/run/auditd.pid)" 2>/dev/null; then
		log "an auditd already runs (pid $(cat /var/run/auditd.pid)): auditd rounds skipped"
		return 1
	fi
	rm -f /var/run/auditd.pid
	auditd -c "$1" || return 1
	for _ in $(seq 100); do [ -s /var/run/auditd.pid ] && break; sleep 0.05; done
	MPID=$(cat /var/run/auditd.pid 2>/dev/null)
	[ -n "$MPID" ] || return 1
	auditctl -e 1 >/dev/null
	auditctl -a always,exit -F arch=b64 -S execve -k ptbench >/dev/null
	if [ "$2" = 1 ]; then
		for _ in $(seq 100); do [ -n "$(children "$MPID")" ] && break; sleep 0.05; done
	fi
	sleep 0.3
}

audit_stop() {
	auditctl -d always,exit -F arch=b64 -S execve -k ptbench >/dev/null 2>&1
	# the other monitors' rounds run with auditing as it was before the run
	[ -n "$AUDIT_ENABLED0" ] && auditctl -e "$AUDIT_ENABLED0" >/dev/null 2>&1
	if [ -n "$MPID" ]; then
		kill -TERM "$MPID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$MPID" 2>/dev/null || break; sleep 0.05; done
	fi
}

prog_ids() { bpftool -j prog show 2>/dev/null | jq -r '.[].id' | sort -n; }

pt_progs() { # pin dir -> program ids of its links
	local l
	for l in link_exec link_exit; do
		bpftool -j link show pinned "$1/$l" 2>/dev/null | jq -r .prog_id
	done | tr '\n' ' '
}

wait_pins() { for _ in $(seq 200); do [ -e "$PIN/link_exit" ] && return 0; sleep 0.05; done; return 1; }

NSPOOL=0
mon_start() { # monitor
	MON=$1 MPID= MPROGS=
	case $1 in
	none) ;;
	pt | ptb)
		local a=$AGENT
		[ "$1" = ptb ] && a=$PT_AGENT_BEFORE
		"$a" --uninstall --pin-dir "$PIN" 2>/dev/null
		"$a" --stdout --pin-dir "$PIN" >/dev/null 2>"$T/agent.err" &
		MPID=$!
		wait_pins || log "$1: no pins"
		MPROGS=$(pt_progs "$PIN")
		;;
	ptc)
		NSPOOL=$((NSPOOL + 1))
		"$AGENT" --uninstall --pin-dir "$PIN" 2>/dev/null
		"$AGENT" --collector "127.0.0.1:$PORT" --ca "$BUNDLE/ca.crt" --cert "$BUNDLE/agent.crt" \
			--key "$BUNDLE/agent.key" --spool-dir "$T/spool$NSPOOL" --pin-dir "$PIN" \
			>/dev/null 2>"$T/agent.err" &
		MPID=$!
		wait_pins || log "ptc: no pins"
		MPROGS=$(pt_progs "$PIN")
		;;
	araw) audit_start "$(audit_conf raw RAW 0)" 0 || MON= ;;
	aenr) audit_start "$(audit_conf enr ENRICHED 0)" 0 || MON= ;;
	laurel) audit_start "$(audit_conf laurel RAW 1)" 1 || MON= ;;
	floor)
		local before
		before=$(prog_ids)
		if [ "$FLOOR" = execsnoop ]; then
			/usr/sbin/execsnoop >/dev/null 2>"$T/floor.err" &
		else
			bpftrace -e 'tracepoint:syscalls:sys_enter_execve { printf("%d %s %s\n", pid, comm, str(args->filename)); }' \
				>/dev/null 2>"$T/floor.err" &
		fi
		MPID=$!
		for _ in $(seq 200); do
			MPROGS=$(comm -13 <(echo "$before") <(prog_ids) | while read -r id; do
				bpftool -j prog show id "$id" | jq -r 'select((.name // "") | startswith("pt_") | not) | .id'
			done | tr '\n' ' ')
			[ -n "${MPROGS// /}" ] && break
			sleep 0.05
		done
		;;
	esac
	sleep 0.5
}

LAST_SUMMARY=
mon_stop() {
	case $MON in
	pt | ptb | ptc)
		kill -TERM "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null
		LAST_SUMMARY=$(sed -n 's/.*summary: //p' "$T/agent.err" | tail -1)
		"$AGENT" --uninstall --pin-dir "$PIN" 2>/dev/null
		;;
	araw | aenr | laurel) audit_stop ;;
	floor) kill -INT "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null ;;
	esac
	MON= MPID= MPROGS=
}

# --- measuring ---------------------------------------------------------------------------------
# Nanoseconds on CPU of a process: the sum over its threads (schedstat); when the thread list
# changed in between, the process's utime+stime (10 ms ticks, which keep ended threads).
HZ=$(getconf CLK_TCK)
proc_ns() { # pid -> "sched_ns tick_ns tasklist"
	[ -d "/proc/$1" ] || { echo "0 0 -"; return; }
	local s t l
	s=$(cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }')
	t=$(awk -v hz="$HZ" '{ printf "%d", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat" 2>/dev/null)
	l=$(ls /proc/"$1"/task 2>/dev/null | tr '\n' ,)
	echo "$s ${t:-0} ${l:-none}"
}

# auditd's plugins (laurel) are its children; the other monitors are one process
mon_pids() {
	[ -n "$MPID" ] || return 0
	echo "$MPID"
	[ "$MON" = laurel ] && children "$MPID"
	return 0
}

declare -A SNAP
snap() { # tag -> SNAP[tag,pid]
	local p pids
	pids=$(mon_pids | tr '\n' ' ')
	for p in $pids; do SNAP[$1,$p]=$(proc_ns "$p"); done
	SNAP[$1,pids]=$pids
	# the agent's main thread alone (the sensor: ring, decoding, output), without its hash workers
	SNAP[$1,main]=$(awk '{ print $1 }' "/proc/$MPID/task/$MPID/schedstat" 2>/dev/null || echo 0)
	SNAP[$1,kaudit]=$( [ -n "$KAUDITD" ] && cat "/proc/$KAUDITD/schedstat" | awk '{ print $1 }' || echo 0)
	SNAP[$1,bpf]=$(bpf_ns)
	SNAP[$1,procs]=$(awk '$1 == "processes" { print $2 }' /proc/stat)
	SNAP[$1,cpu]=$(awk '$1 == "cpu" { print $2+$3+$4+$5+$6+$7+$8+$9, $9 }' /proc/stat)
	SNAP[$1,t]=$(date +%s%N)
}

bpf_ns() {
	[ -n "${MPROGS// /}" ] || { echo 0; return; }
	local ids
	ids=$(echo "$MPROGS" | tr -s ' ' '\n' | grep . | jq -s -c .)
	bpftool -j prog show 2>/dev/null | jq --argjson ids "$ids" \
		'[.[] | select(.id as $i | $ids | index($i)) | .run_time_ns // 0] | add // 0'
}

# monitor CPU between two snapshots: processes (and their children) + kauditd for auditd
mon_delta() { # a b -> "mon_ns kaudit_ns bpf_ns procs steal_pct"
	local a=$1 b=$2 p ns=0 x y
	for p in ${SNAP[$b,pids]}; do
		x=${SNAP[$a,$p]:-"0 0 -"}; y=${SNAP[$b,$p]}
		read -r xs xt xl <<<"$x"; read -r ys yt yl <<<"$y"
		if [ "$xl" = "$yl" ]; then ns=$((ns + ys - xs)); else ns=$((ns + yt - xt)); fi
	done
	local k=0
	case $MON in araw | aenr | laurel) k=$((SNAP[$b,kaudit] - SNAP[$a,kaudit])) ;; esac
	read -r ta sa <<<"${SNAP[$a,cpu]}"; read -r tb sb <<<"${SNAP[$b,cpu]}"
	local main=0
	case $MON in pt | ptb | ptc) main=$((${SNAP[$b,main]:-0} - ${SNAP[$a,main]:-0})) ;; esac
	echo "mon_ns=$ns main_ns=$main kaudit_ns=$k bpf_ns=$((SNAP[$b,bpf] - SNAP[$a,bpf])) host_procs=$((SNAP[$b,procs] - SNAP[$a,procs])) steal_pct=$(awk -v a="$((tb - ta))" -v s="$((sb - sa))" 'BEGIN { printf "%.2f", a ? 100 * s / a : 0 }') wall_ns=$((SNAP[$b,t] - SNAP[$a,t]))"
}

mem() { # pid -> "rss_kb=N pss_kb=N"
	awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } END { printf "rss_kb=%d pss_kb=%d", r, p }' "/proc/$1/smaps_rollup" 2>/dev/null
}

spawn() { # rate secs -> spawner line (rate 0 = unpaced)
	if [ "$1" = 0 ]; then "$SPAWN" -p 2 -s "$2"; else "$SPAWN" -p 2 -s "$2" -r "$1"; fi
}

field() { sed -n "s/.*\\b$1[ =]\\([0-9.]*\\).*/\\1/p" <<<"$2" | head -1; }

num() { local v; v=$(field "$1" "$2"); echo "${v:-0}"; }
loss_of() { # summary -> total records lost (sensor, queue, spool)
	local s=$1 n=0 k
	for k in ring_full kernel_error hash_queue spool_full queue_full encode spool_corrupt; do
		n=$((n + $(num "$k" "$s")))
	done
	echo "$n"
}

# one monitor, one round: each rate with its own snapshots, then optionally the unpaced run
round() { # monitor round_no with_paced
	local m=$1 r=$2 rate line mm
	mon_start "$m"
	[ -z "$MON" ] && return 0
	local rates=""
	[ "$3" = 1 ] && rates=$RATES
	for rate in $rates 0; do
		local secs=$PACED_SECS
		[ "$rate" = 0 ] && secs=$MAX_SECS
		snap a
		line=$(spawn "$rate" "$secs")
		snap b
		mm=
		case $m in pt | ptb | ptc) mm=$(mem "$MPID") ;; esac
		rec "phase=cpu mon=$m round=$r req=$rate $line $(mon_delta a b) $mm"
	done
	mon_stop
	case $m in pt | ptb | ptc) rec "phase=summary mon=$m round=$r lost=$(loss_of "$LAST_SUMMARY") $LAST_SUMMARY" ;; esac
}

rotate() { # i words... -> words rotated left by i
	local i=$1; shift
	local a=("$@") n=$#
	for ((k = 0; k < n; k++)); do printf '%s ' "${a[$(((k + i) % n))]}"; done
}

start_collector() {
	"$B/proctrail" --home "$T/var" pki init >/dev/null
	"$B/proctrail" --home "$T/var" enroll bench >/dev/null
	chown -R nobody "$T/var"; chown -R root "$T/var/agents"
	PORT=$((20000 + RANDOM % 20000))
	"$B/proctrail-server" --home "$T/var" --listen "127.0.0.1:$PORT" --user nobody \
		--max-records-per-sec 0 --max-bytes-per-sec 0 --max-frames-per-sec 0 >"$T/server.log" 2>&1 &
	SRV=$!
	for _ in $(seq 100); do grep -q listening "$T/server.log" && break; sleep 0.1; done
	BUNDLE=$T/var/agents/bench
	DB=$T/var/db/proctrail.db
	[ -e "$DB" ] || DB=$(find "$T/var" -name '*.db' | head -1)
}

machine() {
	rec "phase=machine quick=$QUICK cpu_model=\"$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)\" cores=$(nproc) kernel=$(uname -r) os=\"$(. /etc/os-release; echo "$PRETTY_NAME")\" load=\"$(cut -d' ' -f1-3 /proc/loadavg)\" date=$(date -u +%Y-%m-%dT%H:%M:%SZ) floor=$FLOOR monitors=\"$MONS\" rates=\"$RATES\" paced_rounds=$PACED_ROUNDS paced_secs=$PACED_SECS max_rounds=$MAX_ROUNDS max_secs=$MAX_SECS auditd=\"$(dpkg-query -W -f='${Version}' auditd 2>/dev/null)\" laurel=\"$(dpkg-query -W -f='${Version}' laurel 2>/dev/null)\" floor_version=\"$(dpkg-query -W -f='${Version}' libbpf-tools 2>/dev/null) $(dpkg-query -W -f='${Version}' bpftrace 2>/dev/null)\" head=$(git rev-parse --short HEAD 2>/dev/null) before=\"${PT_AGENT_BEFORE:-}\" others=\"$(ps -e -o comm= | sort | uniq -c | sort -rn | awk '$1 > 1 || /stress|fuzz|agent|server/ { printf "%s:%d,", $2, $1 }' | head -c 300)\""
}

phase_cpu() {
	local i
	for ((i = 0; i < MAX_ROUNDS; i++)); do
		local paced=0 m
		[ "$i" -lt "$PACED_ROUNDS" ] && paced=1
		for m in $(rotate "$i" $MONS); do
			round "$m" "$i" "$paced"
		done
		log "round $((i + 1))/$MAX_ROUNDS done ($(cut -d' ' -f1 /proc/loadavg))"
	done
}

phase_loss() {
	local line s idle
	mon_start pt
	sleep 2
	idle=$(mem "$MPID")
	rec "phase=idle mon=pt $idle"
	line=$(spawn 0 "$LOSS_SECS")
	sleep 1
	mon_stop
	rec "phase=loss mon=pt secs=$LOSS_SECS $line lost=$(loss_of "$LAST_SUMMARY") $LAST_SUMMARY"
}

phase_stop() {
	local st line
	for st in $STOPS; do
		mon_start pt
		local agent=$MPID
		"$SPAWN" -p 2 -s $((st + 8)) -r 1600 >"$T/spawn.out" &
		SPAWNPID=$!
		sleep 4
		kill -STOP "$agent"; sleep "$st"; kill -CONT "$agent"
		wait "$SPAWNPID"; SPAWNPID=
		sleep 2
		line=$(cat "$T/spawn.out")
		mon_stop
		rec "phase=stop mon=pt stop_s=$st $line lost=$(loss_of "$LAST_SUMMARY") $LAST_SUMMARY"
	done
}

# Hash cache: N copies of /bin/true, each made unique by a trailing byte string, run once
# (cold), again (warm), then 10 % rewritten (new content) and all run again. The cache lives in
# the agent, and its counters come at exit, so each step is one fresh agent that replays the
# steps before it: cold = run 1, warm = run 2 - run 1, after rewrite = run 3 - run 2 (other
# processes on the host add a few hits).
phase_hash() {
	local d=$T/bins i step
	mkdir -p "$d"
	mkbins() { for ((i = 0; i < HASH_BINS; i++)); do cp /bin/true "$d/t$i"; echo "pt-bench $i $1" >>"$d/t$i"; done; }
	runall() { for ((i = 0; i < HASH_BINS; i++)); do "$d/t$i"; done; }
	for step in 1 2 3; do
		mkbins 0
		mon_start pt
		snap a
		runall
		snap b
		rec "phase=hashcpu mon=pt step=$step part=cold $(mon_delta a b)"
		if [ "$step" -ge 2 ]; then
			snap a; runall; snap b
			rec "phase=hashcpu mon=pt step=$step part=warm $(mon_delta a b)"
		fi
		if [ "$step" -ge 3 ]; then
			for ((i = 0; i < HASH_BINS; i += 10)); do cp /bin/true "$d/t$i"; echo "pt-bench $i rewritten" >>"$d/t$i"; done
			snap a; runall; snap b
			rec "phase=hashcpu mon=pt step=$step part=rewrite $(mon_delta a b)"
		fi
		sleep 1
		mon_stop
		rec "phase=hash mon=pt step=$step bins=$HASH_BINS $LAST_SUMMARY"
	done
	local sz f
	for sz in 1 100; do
		f=$T/hash-$sz
		head -c $((sz * 1048576)) /dev/urandom >"$f"
		local runs=$((sz == 1 ? 200 : 5)) sruns=$((sz == 1 ? 21 : 3))
		line=$($B/bench/hash_miss "$f" "$runs")
		local ts=()
		cat "$f" >/dev/null
		for ((i = 0; i < sruns; i++)); do
			local t0 t1
			t0=$(date +%s%N); sha256sum "$f" >/dev/null; t1=$(date +%s%N)
			ts+=($(((t1 - t0) / 1000)))
		done
		rec "phase=hashmiss mib=$sz $line sha256sum_median_us=$(printf '%s\n' "${ts[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
		rm -f "$f"
	done
}

# exec-to-row: the agent streams to the local collector; bench/latency.py polls the database
# and takes, for each new exec row, its arrival time minus the exec's time.
phase_latency() {
	local rate
	for rate in 100 1600; do
		mon_start ptc
		sleep 1
		python3 bench/latency.py "$DB" $((LAT_SECS + 4)) >"$T/lat.out" 2>"$T/lat.err" &
		local lp=$!
		sleep 1
		line=$(spawn "$rate" "$LAT_SECS")
		wait "$lp"
		mon_stop
		rec "phase=latency mon=ptc req=$rate $line $(cat "$T/lat.out")"
	done
}

phase_ingest() {
	local r line c
	for ((r = 0; r < INGEST_RUNS; r++)); do
		rm -f /var/tmp/pt-sqlite-bench.db*
		line=$($B/bench/sqlite_insert /var/tmp/pt-sqlite-bench.db "$INGEST_EVENTS" 8000)
		rm -f /var/tmp/pt-sqlite-bench.db*
		rec "phase=sqlite run=$r $line"
		CONFIGS="$INGEST_CONFIGS" bash bench/ingest.sh 1 "$INGEST_EVENTS" 2>&1 | grep '^run ' | while read -r line; do
			rec "phase=ingest run=$r events=$INGEST_EVENTS ${line#run 1 }"
		done
	done
}

phase_footprint() {
	mon_start pt
	$B/bench/live_sleepers "$LIVE" <"$T/fifo" >"$T/live.out" &
	LIVEPID=$!
	exec 7>"$T/fifo"
	for _ in $(seq 1200); do grep -q ready "$T/live.out" && break; sleep 0.1; done
	sleep 3
	rec "phase=live mon=pt $(cat "$T/live.out") $(mem "$MPID")"
	exec 7>&-
	wait "$LIVEPID"; LIVEPID=
	mon_stop
}

phase_perf() {
	command -v perf >/dev/null || { log "no perf: profile skipped"; return 0; }
	mon_start pt
	"$SPAWN" -p 2 -s $((PERF_SECS + 2)) -r 1600 >/dev/null &
	SPAWNPID=$!
	sleep 1
	perf record -F 4999 -g -p "$MPID" -o "$T/perf.data" -- sleep "$PERF_SECS" >/dev/null 2>&1
	wait "$SPAWNPID"; SPAWNPID=
	mon_stop
	perf report -i "$T/perf.data" --stdio --no-children --sort dso,symbol -g none 2>/dev/null | grep -E '^ +[0-9]' | head -25 >"$OUT/perf.txt"
	rec "phase=perf secs=$PERF_SECS samples=$(perf report -i "$T/perf.data" --stdio 2>/dev/null | sed -n 's/^# Samples: \([0-9]*\).*/\1/p' | head -1)"
}

mkfifo "$T/fifo"
sysctl -qw kernel.bpf_stats_enabled=1
start_collector
machine
log "monitors: $MONS; output in $RAW"
STEAL0=$(awk '$1 == "cpu" { print $2+$3+$4+$5+$6+$7+$8+$9, $9 }' /proc/stat)
T0=$(date +%s)
for p in $ONLY; do
	log "phase $p ($(($(date +%s) - T0)) s)"
	"phase_$p"
done
read -r a0 s0 <<<"$STEAL0"
read -r a1 s1 <<<"$(awk '$1 == "cpu" { print $2+$3+$4+$5+$6+$7+$8+$9, $9 }' /proc/stat)"
rec "phase=end seconds=$(($(date +%s) - T0)) steal_pct=$(awk -v a=$((a1 - a0)) -v s=$((s1 - s0)) 'BEGIN { printf "%.2f", a ? 100 * s / a : 0 }') load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
log "done in $(($(date +%s) - T0)) s"
python3 bench/report.py "$RAW" "${BENCH_DOC:-docs/benchmarks.md}" "$OUT"
