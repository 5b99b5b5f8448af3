#!/usr/bin/env bash
# Cost of blocking by SHA-256 (docs/benchmarks.md, "Blocking"). Root; run from the repository
# root after `make bench`. Interleaved rounds of exec throughput (bench/exec_spawn running a
# private copy of /bin/true) under four setups:
#   none      nothing running
#   agent     proctrail-agent in collector mode, no policy (sensor only, no permission mark)
#   nocache10k the same agent enforcing a policy of 10,000 hashes, allow cache off
#             (policy-allow-cache no: every exec asks the agent, as before the cache)
#   agent10k  the same agent enforcing a policy of 10,000 hashes (fanotify marks on, its
#             allow cache on: the default)
#   fapo10k   Debian's fapolicyd enforcing the same 10,000 hashes (deny rules), everything
#             else allowed -- never its default rules, which deny untrusted execs machine-wide
#
#   bench/block.sh [rounds] [secs] [procs] [agent flags for agent10k...]
#                                              defaults 5 rounds, 5 s, 2 spawners
# Also printed: the agent's CPU per exec (agent_us, agent10k_us) and, for agent10k, the
# permission events it answered per exec timed (perm10k; with its allow cache, near 0).
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
SECS=${2:-5}
PROCS=${3:-2}
shift $(($# < 3 ? $# : 3))
B=build
AGENT=$B/proctrail-agent
SERVER=$B/proctrail-server
PT=$B/proctrail
SPAWN=$B/bench/exec_spawn
NHASH=10000
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
for x in "$AGENT" "$SERVER" "$PT" "$SPAWN"; do [ -x "$x" ] || { echo "run make bench first ($x)"; exit 1; }; done
TMP=$(mktemp -d /tmp/pt-block-bench-XXXXXX)
chmod 755 "$TMP"
H=$TMP/var
PIN=/sys/fs/bpf/pt-block-bench-$$
SPID= APID= FPID=
FAPO_RULES=/etc/fapolicyd/compiled.rules
FAPO_CONF=/etc/fapolicyd/fapolicyd.conf

fapo_stop() {
	[ -n "$FPID" ] || return 0
	kill -TERM "$FPID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$FPID" 2>/dev/null
	FPID=
}
agent_stop() {
	[ -n "$APID" ] || return 0
	kill -TERM "$APID" 2>/dev/null; wait "$APID" 2>/dev/null
	APID=
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1
}
restore_fapo() {
	for f in "$FAPO_RULES" "$FAPO_CONF" /etc/fapolicyd/fapolicyd.rules; do
		if [ -e "$TMP/saved.$(basename "$f")" ]; then cp -p "$TMP/saved.$(basename "$f")" "$f"
		elif [ -e "$TMP/created.$(basename "$f")" ]; then rm -f "$f"; fi
	done
}
trap 'fapo_stop; agent_stop; [ -n "$SPID" ] && kill "$SPID" 2>/dev/null; restore_fapo; rm -rf "$TMP"' EXIT

BIN=$TMP/true-copy
cp /bin/true "$BIN"
printf 'block bench %s\n' "$$" >>"$BIN"

# 10,000 hashes, the same list for both enforcers: random ones and, last, the hash of a copy
# the setup checks each enforcer refuses (so both really enforce the list they were given)
BLK=$TMP/listed-copy
cp /bin/true "$BLK"
printf 'block bench listed %s\n' "$$" >>"$BLK"
python3 -c "import os; [print(os.urandom(32).hex()) for _ in range($NHASH - 1)]" >"$TMP/hashes"
sha256sum "$BLK" | cut -d' ' -f1 >>"$TMP/hashes"
refuses() { # NAME: the listed copy must not run
	if timeout 10 "$BLK" 2>/dev/null; then echo "$1 does not refuse a listed hash: stopping"; exit 1; fi
}

# ---- the collector with a 10,000-rule policy (written in one transaction)
"$PT" --home "$H" pki init >/dev/null && "$PT" --home "$H" enroll bench-agent >/dev/null || exit 1
chown nobody "$H"
PORT=$((20000 + RANDOM % 20000))
"$SERVER" --home "$H" --listen "127.0.0.1:$PORT" --user nobody >"$TMP/server.log" 2>&1 &
SPID=$!
for _ in $(seq 300); do grep -q "listening on" "$TMP/server.log" && break; sleep 0.1; done
DB=$H/proctrail.db
{
	echo "BEGIN;"
	echo "INSERT INTO policy_versions VALUES(1, 0, 'bench', 'bench $NHASH');"
	awk '{printf "INSERT INTO policy_rules(sha256, agent, audit, reason, created_ns, added_version) VALUES(X'"'"'%s'"'"', NULL, 0, '"'"'bench'"'"', 0, 1);\n", $1}' "$TMP/hashes"
	echo "COMMIT;"
} | sqlite3 -cmd ".timeout 5000" "$DB" || exit 1
A=$H/agents/bench-agent
agent_start() { # [--allow-policy yes]
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1
	: >"$TMP/agent.log"
	"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" --key "$A/agent.key" \
		--spool-dir "$TMP/spool" --pin-dir "$PIN" --hash-memfd no "$@" >"$TMP/agent.log" 2>&1 &
	APID=$!
	local want="uplink: connected"
	[ $# -gt 0 ] && want="policy version 1 applied"
	for _ in $(seq 600); do grep -q "$want" "$TMP/agent.log" && break; sleep 0.1; done
	grep -q "$want" "$TMP/agent.log" || { tail "$TMP/agent.log"; echo "agent did not start"; exit 1; }
	[ $# -gt 0 ] && refuses proctrail-agent
	sleep 0.5
}

# ---- fapolicyd: our rules only, our config, foreground, stopped after each round
fapo_start() {
	command -v fapolicyd >/dev/null || return 1
	for f in "$FAPO_RULES" "$FAPO_CONF" /etc/fapolicyd/fapolicyd.rules; do
		if [ -e "$f" ] && [ ! -e "$TMP/saved.$(basename "$f")" ] && [ ! -e "$TMP/created.$(basename "$f")" ]; then
			cp -p "$f" "$TMP/saved.$(basename "$f")"
		elif [ ! -e "$f" ]; then : >"$TMP/created.$(basename "$f")"; fi
	done
	{
		awk '{print "deny perm=execute all : sha256hash=" $1}' "$TMP/hashes"
		echo "allow perm=any all : all"
	} >"$TMP/fapo.rules"
	cp "$TMP/fapo.rules" "$FAPO_RULES"
	cp "$TMP/fapo.rules" /etc/fapolicyd/fapolicyd.rules
	cat >"$FAPO_CONF" <<-EOF
	permissive = 0
	nice_val = 14
	q_size = 800
	uid = root
	gid = root
	do_stat_report = 0
	detailed_report = 0
	db_max_size = 100
	subj_cache_size = 1549
	obj_cache_size = 8191
	watch_fs = ext2,ext3,ext4,tmpfs,xfs,vfat,iso9660,btrfs,overlay
	trust = file
	integrity = none
	syslog_format = rule,dec,perm,auid,pid,exe,:,path,ftype,trust
	rpm_sha256_only = 0
	allow_filesystem_mark = 0
	EOF
	fapolicyd --debug-deny >"$TMP/fapo.log" 2>&1 &
	FPID=$!
	for _ in $(seq 600); do grep -qi "starting to listen" "$TMP/fapo.log" && break
		kill -0 "$FPID" 2>/dev/null || break; sleep 0.1; done
	grep -qi "starting to listen" "$TMP/fapo.log" || { tail "$TMP/fapo.log"; fapo_stop; return 1; }
	# it must allow what is not listed, or stop here
	timeout 10 "$BIN" || { echo "fapolicyd refuses an unlisted exec: stopping"; fapo_stop; exit 1; }
	refuses fapolicyd
	sleep 0.5
}

# rate [agent]: exec/s; with the agent, also its CPU (all threads) in microseconds per exec
# (AGENT_US): a figure the machine's other load inflates far less than a rate
AGENT_US=NA
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rate() {
	local t0=0 out execs
	[ $# -gt 0 ] && t0=$(ticks "$APID")
	out=$("$SPAWN" -p "$PROCS" -s "$SECS" "$BIN")
	execs=$(sed -n 's/.*execs=\([0-9]*\).*/\1/p' <<<"$out")
	[ $# -gt 0 ] && AGENT_US=$(awk -v t="$(($(ticks "$APID") - t0))" -v hz="$(getconf CLK_TCK)" \
		-v n="$execs" 'BEGIN { printf "%.1f", n ? t * 1e6 / hz / n : 0 }')
	EXECS=$execs
	sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$out"
}
# permission events the enforcing agent answered in its last run, per exec timed (its exit
# summary; other processes' execs on the machine count too)
perm_per_exec() {
	awk -v n="$EXECS" '/permission events/ { for (i = 1; i < NF; i++) if ($(i + 1) == "permission") e = $i }
		END { printf "%.3f", n ? e / n : 0 }' "$TMP/agent.log"
}

cpu_ticks() { awk '/^cpu /{t=0; for(i=2;i<=NF;i++) t+=$i; print t, $9}' /proc/stat; }
read -r T0 S0 < <(cpu_ticks)
W0=$(date +%s)
echo "# cpu: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(nproc) cpus; $ROUNDS rounds x $SECS s, $PROCS spawners"
for r in $(seq "$ROUNDS"); do
	n=$(rate)
	agent_start; rate agent >"$TMP/r"; a=$(cat "$TMP/r"); au=$AGENT_US; agent_stop
	agent_start --allow-policy yes --policy-allow-cache no; rate agent >"$TMP/r"; c=$(cat "$TMP/r")
	cu=$AGENT_US; agent_stop; ce=$(perm_per_exec)
	agent_start --allow-policy yes "$@"; rate agent >"$TMP/r"; p=$(cat "$TMP/r"); pu=$AGENT_US; agent_stop
	pe=$(perm_per_exec)
	if fapo_start; then f=$(rate); fapo_stop; else f=NA; fi
	echo "round $r none=$n agent=$a nocache10k=$c agent10k=$p fapo10k=$f agent_us=$au nocache10k_us=$cu agent10k_us=$pu perm_nocache10k=$ce perm10k=$pe"
done | tee "$TMP/rounds"
python3 - "$TMP/rounds" <<'PY'
import statistics, sys
rows = [dict(kv.split("=") for kv in l.split()[2:]) for l in open(sys.argv[1]) if l.startswith("round")]
def med(k):
    v = [float(r[k]) for r in rows if r[k] != "NA"]
    return (statistics.median(v), min(v), max(v)) if v else None
n = med("none")
for k in ("none", "agent", "nocache10k", "agent10k", "fapo10k"):
    m = med(k)
    if not m:
        print(f"{k}: not run"); continue
    ratios = [float(r[k]) / float(r["none"]) for r in rows if r[k] != "NA"]
    print(f"{k}: median {m[0]:.0f} exec/s (min {m[1]:.0f}, max {m[2]:.0f}); ratio to none: "
          f"median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
for k in ("agent_us", "nocache10k_us", "agent10k_us", "perm_nocache10k", "perm10k"):
    m = med(k)
    if m:
        print(f"{k}: median {m[0]:.3f} (min {m[1]:.3f}, max {m[2]:.3f})" + (
            " agent CPU us per exec" if k.endswith("_us") else " permission events per exec"))
PY
read -r T1 S1 < <(cpu_ticks)
awk -v t="$((T1 - T0))" -v s="$((S1 - S0))" -v w="$(($(date +%s) - W0))" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" \
	'BEGIN { printf "steal %.2f%% over %ds; load %s\n", t ? 100 * s / t : 0, w, l }'
