#!/usr/bin/env bash
# Block by SHA-256, for real: the collector's policy reaches the agent (also one that was
# offline when the policy changed), and fanotify refuses the exec with EPERM -- by name, copy,
# hard link, symlink and memfd -- while an unblocked binary and the same binary changed by one
# byte run. `ld.so ./bin` cannot be stopped (the loader maps the file, it never execs it): it
# runs, and the exec of ld.so with the file in its arguments is what the collector records.
# Audit mode reports "would have blocked". Guardrails: malformed hash, /bin/sh, a policy the
# agent refuses (its own binary) is reported and not half-applied. Fail open: an agent stopped
# with SIGSTOP does not stall execs (its watchdog allows them); a killed one holds nothing.
# Allow cache: a second exec of an allowed file makes no permission event (the agent's
# per-event debug line, and the kernel's own list of the group's marks in fdinfo); a policy
# change flushes it (the file, then blocked, is refused); a one-byte write in place clears it
# (the new content, blocked, is refused); audited files are never cached; the bound flushes;
# a write through a shared mapping is not seen by the kernel (runs once, reported not_stopped).
. "$(dirname "$0")/collector_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF, fanotify)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"
command -v python3 >/dev/null || fail "python3 missing"

fail() {
	echo "FAIL: $*"
	echo "---- agent log"; tail -30 "$T/agent.log" 2>/dev/null || true
	echo "---- server log"; tail -30 "$T/server.log" 2>/dev/null || true
	if [ -n "${PT_DEBUG_HOLD:-}" ]; then echo "holding $T"; sleep "$PT_DEBUG_HOLD"; fi
	exit 1
}
deploy blk-agent
start_server --ping-interval 1
PIN=/sys/fs/bpf/ptb_$$
mkdir -p "$T/spool" "$T/bin"
A=$H/agents/blk-agent
AGENT_PID=
GUARD_PID=
start_agent() {
	"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" \
		--key "$A/agent.key" --spool-dir "$T/spool" --pin-dir "$PIN" --allow-policy yes \
		--policy-decide-ms 500 "$@" >>"$T/agent.log" 2>&1 &
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
trap '[ -n "$GUARD_PID" ] && kill "$GUARD_PID" 2>/dev/null; stop_agent;
      "$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1 || true; cleanup' EXIT

# wait_log FILE REGEX: polls the log line the program writes
wait_log() {
	for _ in $(seq 300); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		[ -z "$AGENT_PID" ] || kill -0 "$AGENT_PID" 2>/dev/null ||
			{ tail -20 "$T/agent.log"; fail "agent exited"; }
		sleep 0.1
	done
	tail -20 "$T/agent.log"
	fail "no line /$2/ in $1"
}
# try PATH [ARGS]: "ok" if the exec worked and the program exited 0, else the errno name
try() {
	python3 - "$@" <<'PY'
import errno, os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    except OSError as e:
        os.write(2, (errno.errorcode.get(e.errno, str(e.errno)) + "\n").encode())
        os._exit(100 + e.errno)
_, st = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(st)
print("ok" if code == 0 else (errno.errorcode.get(code - 100, "exit%d" % code) if code > 100 else "exit%d" % code))
PY
}
events() { "$PT" --home "$H" events --json; }
agent_field() { "$PT" --home "$H" agents --json | jq -r "select(.\"agent.name\"==\"blk-agent\") | $1"; }

# Binaries of our own: /bin/true with a tag appended, so no other process shares the hash.
mk() { cp /bin/true "$1"; printf 'proctrail-block-test %s %s\n' "$$" "$2" >>"$1"; chmod 755 "$1"; }
BIN=$T/bin/victim; mk "$BIN" victim
FINE=$T/bin/fine; mk "$FINE" fine
AUD=$T/bin/audited; mk "$AUD" audited
# a blocked binary that lives long enough for the sensor to hash it from the running process
SLEEPER=$T/bin/sleeper; cp /bin/sleep "$SLEEPER"; printf 'proctrail-block-test %s sleeper\n' "$$" >>"$SLEEPER"
SLEEP_SHA=$(sha256sum "$SLEEPER" | cut -d' ' -f1)
SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
AUD_SHA=$(sha256sum "$AUD" | cut -d' ' -f1)
expect_eq "victim runs before any policy" "$(try "$BIN")" ok

# ---- guardrails at the collector
out=$("$PT" --home "$H" policy block 1234 --reason x 2>&1) && fail "a malformed hash was accepted"
grep -q "malformed SHA-256" <<<"$out" || fail "malformed hash: unclear error: $out"
ok "malformed hash refused: $out"
out=$("$PT" --home "$H" policy block "$(sha256sum /bin/sh | cut -d' ' -f1)" --reason x 2>&1) &&
	fail "blocking /bin/sh was accepted"
grep -q "refused" <<<"$out" || fail "blocking /bin/sh: unclear error: $out"
ok "blocking the shell refused: $out"
out=$("$PT" --home "$H" policy block "$SHA" 2>&1) && fail "a block without --reason was accepted"

# ---- policy made while the agent is offline (it never connected yet)
"$PT" --home "$H" policy block "$SHA" --reason "test victim" --all >/dev/null
"$PT" --home "$H" policy block "$AUD_SHA" --reason "audit only" --audit >/dev/null
"$PT" --home "$H" policy block "$SLEEP_SHA" --reason "memfd payload" --agent blk-agent >/dev/null
V=$("$PT" --home "$H" policy list --json | jq -s 'map(.added_version) | max')
expect_eq "policy list holds the rules" "$("$PT" --home "$H" policy list --json | wc -l)" 3

start_agent
wait_log "$T/agent.log" "policy version $V applied"
ok "agent that was offline applied version $V on connect"

# ---- enforcement
expect_eq "blocked binary" "$(try "$BIN")" EPERM
cp "$BIN" "$T/bin/renamed-copy"
expect_eq "a copy under another name" "$(try "$T/bin/renamed-copy")" EPERM
ln "$BIN" "$T/bin/hardlink"
expect_eq "a hard link" "$(try "$T/bin/hardlink")" EPERM
ln -s "$BIN" "$T/bin/symlink"
expect_eq "a symlink" "$(try "$T/bin/symlink")" EPERM
cat >"$T/memfd.py" <<'PY'
import os, sys
fd = os.memfd_create("pt-block-test", 0)
os.write(fd, open(sys.argv[1], "rb").read())
os.execv("/proc/self/fd/%d" % fd, ["memfd-victim", "1"])
PY
# Linux refuses fanotify marks on its internal memfd mount (docs/sensor.md): where the agent
# says so, the memfd exec runs and is reported "not stopped" from the sensor's record.
if grep -q "memfd execs cannot be checked before they run" "$T/agent.log"; then
	MEMFD_WANT=ok MEMFD_DECISION=not_stopped
else
	MEMFD_WANT=exit101 MEMFD_DECISION=blocked
fi
expect_eq "a blocked file from a memfd" "$(try /usr/bin/python3 "$T/memfd.py" "$SLEEPER" 2>/dev/null)" "$MEMFD_WANT"
expect_eq "an unblocked binary" "$(try "$FINE")" ok
cp "$BIN" "$T/bin/changed"
printf 'X' | dd of="$T/bin/changed" bs=1 seek=$(($(stat -c %s "$BIN") - 2)) conv=notrunc status=none
expect_eq "the binary changed by one byte" "$(try "$T/bin/changed")" ok
expect_eq "audit rule: runs" "$(try "$AUD")" ok
LDSO=
for l in /lib64/ld-linux-x86-64.so.2 /lib/ld-linux-aarch64.so.1; do [ -x "$l" ] && { LDSO=$l; break; }; done
[ -n "$LDSO" ] || fail "no dynamic loader found"
expect_eq "ld.so ./bin (not stoppable by fanotify: the loader maps it)" \
	"$(try "$LDSO" "$BIN")" ok

# ---- what the collector holds
blocked() { events | jq -c --arg s "$1" 'select(.event.action=="exec_blocked" and .process.hash.sha256==$s)'; }
for _ in $(seq 300); do
	[ "$(blocked "$SHA" | wc -l)" -ge 4 ] && [ "$(blocked "$AUD_SHA" | wc -l)" -ge 1 ] &&
		[ "$(blocked "$SLEEP_SHA" | wc -l)" -ge 1 ] && break
	sleep 0.2
done
blocked "$SHA" >"$T/blocked.json"
expect_eq "exec_blocked records (name, copy, hard link, symlink)" "$(wc -l <"$T/blocked.json")" 4
expect_eq "blocked: decision" "$(jq -r .proctrail.decision "$T/blocked.json" | sort -u)" blocked
expect_eq "blocked: policy version" "$(jq -r .proctrail.policy_version "$T/blocked.json" | sort -u)" "$V"
expect_eq "blocked: a rule id" "$(jq -r '.proctrail.rule_id > 0' "$T/blocked.json" | sort -u)" true
expect_eq "blocked: file size" "$(jq -r .file.size "$T/blocked.json" | sort -u)" "$(stat -c %s "$BIN")"
expect_eq "blocked: parent known" "$(jq -r '.process.parent.pid > 0' "$T/blocked.json" | sort -u)" true
expect_eq "memfd: reported as $MEMFD_DECISION" \
	"$(blocked "$SLEEP_SHA" | jq -r '[.proctrail.decision, (.file.path | startswith("memfd:pt-block-test"))] | join(",")' | sort -u)" \
	"$MEMFD_DECISION,true"
jq -r .file.path "$T/blocked.json" | grep -qx "$BIN" || fail "no path in exec_blocked"
expect_eq "audit: would have blocked" "$(blocked "$AUD_SHA" | jq -r '[.proctrail.decision, .event.type[0]] | join(",")' | sort -u)" \
	"would_have_blocked,allowed"
ldso_run() {
	events | jq -c --arg l "$LDSO" --arg b "$BIN" 'select(.event.action=="exec" and
		((.process.args // [])[0] // "") == $l and ((.process.args // [])[1] // "") == $b)'
}
for _ in $(seq 60); do [ -n "$(ldso_run)" ] && break; sleep 0.5; done
[ -n "$(ldso_run)" ] || fail "the ld.so run is not recorded"
ok "ld.so ./bin recorded as an exec of ld.so naming the file"
for _ in $(seq 100); do [ "$(agent_field .policy_version)" = "$V" ] && break; sleep 0.1; done
expect_eq "agents: enforced version" "$(agent_field .policy_version)" "$V"
[ "$(agent_field .policy_since)" != null ] || fail "agents: no policy_since"
ok "agents: since $(agent_field .policy_since)"

# ---- a policy the agent must refuse (its own binary; the collector's check bypassed): reported,
# and the previous version stays whole
ASHA=$(sha256sum "$AGENT" | cut -d' ' -f1)
out=$("$PT" --home "$H" policy block "$ASHA" --reason x 2>&1) && fail "blocking the agent was accepted"
ok "collector refuses blocking the agent: $out"
q "INSERT INTO policy_versions VALUES((SELECT max(version)+1 FROM policy_versions), 0, 'test', 'raw');
   INSERT INTO policy_rules(sha256, agent, audit, reason, created_ns, added_version)
   VALUES(X'$ASHA', NULL, 0, 'raw', 0, (SELECT max(version) FROM policy_versions));"
V2=$(q "SELECT max(version) FROM policy_versions")
wait_log "$T/agent.log" "policy version $V2 refused"
for _ in $(seq 100); do [ "$(agent_field .policy_result_version)" = "$V2" ] && break; sleep 0.1; done
expect_eq "agents: refusal reported" "$(agent_field '[.policy_result_version, .policy_result_code] | join(",")')" "$V2,7"
expect_eq "agents: still enforces" "$(agent_field .policy_version)" "$V"
expect_eq "old policy still whole" "$(try "$BIN")" EPERM
q "UPDATE policy_rules SET removed_version=$V2 WHERE added_version=$V2"   # drop it again

# ---- fail open: a stopped agent (its fail-open watchdog answers), then a killed one
# The guard resumes the agent after 8 s whatever happens; its sleep must be running before the
# stop (starting it would be an exec, and execs are what a broken watchdog would stall).
( sleep 8; kill -CONT "$AGENT_PID" 2>/dev/null ) & GUARD_PID=$!
for _ in $(seq 100); do pgrep -P "$GUARD_PID" -x sleep >/dev/null && break; sleep 0.05; done
pgrep -P "$GUARD_PID" -x sleep >/dev/null || fail "guard did not start"
kill -STOP "$AGENT_PID"
start=$(date +%s%N)
r=$(timeout 20 "$FINE" && echo ok || echo "failed $?")
ms=$((($(date +%s%N) - start) / 1000000))
kill -CONT "$AGENT_PID"
kill "$GUARD_PID" 2>/dev/null || true; GUARD_PID=
expect_eq "exec while the agent is stopped" "$r" ok
[ "$ms" -lt 7000 ] || fail "exec waited ${ms} ms for a stopped agent"
ok "exec while the agent was stopped took ${ms} ms (watchdog bound 500 ms)"
expect_eq "after SIGCONT it blocks again" "$(try "$BIN")" EPERM
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=
expect_eq "killed agent: nothing blocked (group closed)" "$(try "$BIN")" ok

# ---- restarted while the collector is down: the saved policy is enforced at once
stop_server
start_agent
wait_log "$T/agent.log" "policy: saved version $V, 3 rule\\(s\\) applied"
expect_eq "restarted without a collector: still blocked" "$(try "$BIN")" EPERM
stop_agent
start_server --ping-interval 1
A_PORT_CHANGED=1

# ---- a change made while the agent is offline reaches it when it returns
"$PT" --home "$H" policy unblock "$SHA" >/dev/null
V3=$(q "SELECT max(version) FROM policy_versions")
start_agent
wait_log "$T/agent.log" "policy version $V3 applied"
expect_eq "unblocked after the agent came back" "$(try "$BIN")" ok
expect_eq "other rules still there" "$("$PT" --home "$H" policy list --json | jq -r .sha256 | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$AUD_SHA" "$SLEEP_SHA" | sort | tr '\n' ' ')"
stop_agent

# ---- a policy the agent cannot apply (over its policy-max-rules) is reported, not half-applied
start_agent --policy-max-rules 1
for _ in $(seq 300); do [ "$(agent_field .policy_result_code)" = 4 ] && break; sleep 0.1; done
expect_eq "too large: reported" "$(agent_field '[.policy_result_version, .policy_result_code] | join(",")')" "$V3,4"
agent_field .policy_result_message | grep -q "over this agent's limit of 1" ||
	fail "too large: message $(agent_field .policy_result_message)"
expect_eq "too large: no rule applied (the sleeper runs)" "$(try "$SLEEPER" 0)" ok
stop_agent
stop_server

# ---- the allow cache (the agent's debug lines: "event dev M:m ino I: ..." before each answer)
start_server --ping-interval 1
: >"$T/agent.log"
start_agent -v
wait_log "$T/agent.log" "policy version $V3 applied"
devino() { stat -c 'dev %Hd:%Ld ino %i' "$1"; }
events_of() { grep -c "enforce: event $(devino "$1"):" "$T/agent.log" || true; }
CACHED=$T/bin/cached; mk "$CACHED" cached
expect_eq "cached: first exec" "$(try "$CACHED")" ok
wait_log "$T/agent.log" "enforce: allow mark on $(devino "$CACHED")\$"
expect_eq "cached: the first exec made one event" "$(events_of "$CACHED")" 1
for i in 1 2 3; do expect_eq "cached: exec $((i + 1))" "$(try "$CACHED")" ok; done
# An event is logged before its answer, so one would be there when the exec returned.
expect_eq "cached: later execs made no permission event" "$(events_of "$CACHED")" 1
hexino=$(printf '%x' "$(stat -c %i "$CACHED")")
# Only the group's own fdinfo: the agent's other fds (one per permission event, the execs of
# this very pipeline among them) close while they are read, and grep would exit 2 on those.
group_fdinfo() {
	local fd
	for fd in /proc/"$AGENT_PID"/fd/*; do
		if [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:[fanotify]" ]; then
			cat /proc/"$AGENT_PID"/fdinfo/"${fd##*/}"
		fi
	done
}
im=$(group_fdinfo | sed -n "s/^fanotify ino:$hexino .*ignored_mask:\([0-9a-f]*\).*/\1/p")
im=${im%%$'\n'*}
[ -n "$im" ] && [ $((0x$im & 0x40000)) -ne 0 ] ||
	fail "no ignore mark for FAN_OPEN_EXEC_PERM on the cached file in the group's fdinfo ($im)"
ok "the kernel holds the ignore mark (ignored_mask 0x$im)"

# a policy change flushes it: the cached file, now blocked, is refused at once
"$PT" --home "$H" policy block "$(sha256sum "$CACHED" | cut -d' ' -f1)" --reason "cache flush" >/dev/null
V4=$(q "SELECT max(version) FROM policy_versions")
wait_log "$T/agent.log" "version $V4: allow cache flushed \([1-9][0-9]* mark"
wait_log "$T/agent.log" "policy version $V4 applied"
expect_eq "cached, then blocked: refused (flushed)" "$(try "$CACHED")" EPERM
expect_eq "cached, then blocked: an event again" "$(events_of "$CACHED")" 2

# a one-byte write in place clears the mark: its new content, blocked, is refused
MOD=$T/bin/modified; mk "$MOD" modified
cp "$MOD" "$T/modified.next"
at=$(($(stat -c %s "$MOD") - 2))
printf 'Y' | dd of="$T/modified.next" bs=1 seek=$at conv=notrunc status=none
"$PT" --home "$H" policy block "$(sha256sum "$T/modified.next" | cut -d' ' -f1)" --reason "changed" >/dev/null
V5=$(q "SELECT max(version) FROM policy_versions")
wait_log "$T/agent.log" "policy version $V5 applied"
expect_eq "before the write: runs" "$(try "$MOD")" ok
wait_log "$T/agent.log" "enforce: allow mark on $(devino "$MOD")\$"
expect_eq "before the write: cached" "$(try "$MOD")" ok
expect_eq "before the write: one event" "$(events_of "$MOD")" 1
printf 'Y' | dd of="$MOD" bs=1 seek=$at conv=notrunc status=none
cmp -s "$MOD" "$T/modified.next" || fail "the in-place write did not make the blocked content"
expect_eq "written in place, new content blocked: refused" "$(try "$MOD")" EPERM

# an audited file is asked about at every exec, never cached
expect_eq "audited: runs" "$(try "$AUD")" ok
expect_eq "audited: runs again" "$(try "$AUD")" ok
expect_eq "audited: an event at each exec" "$(events_of "$AUD")" 2
grep -q "allow mark on $(devino "$AUD")\$" "$T/agent.log" && fail "an audited file was cached"
ok "audited file not cached"

# what the cache cannot see (docs/sensor.md): Linux reports no modify for a write through a
# shared mapping, so the mark stays and the changed file runs once unchecked; the sensor's
# exec record hashes it after the fact and reports it not_stopped
MM=$T/bin/mapped; mk "$MM" mapped
cp "$MM" "$T/mapped.next"
mat=$(($(stat -c %s "$MM") - 2))
printf 'Z' | dd of="$T/mapped.next" bs=1 seek=$mat conv=notrunc status=none
MM_SHA=$(sha256sum "$T/mapped.next" | cut -d' ' -f1)
"$PT" --home "$H" policy block "$MM_SHA" --reason "mapped" >/dev/null
V6=$(q "SELECT max(version) FROM policy_versions")
wait_log "$T/agent.log" "policy version $V6 applied"
expect_eq "mapped: runs before the write" "$(try "$MM")" ok
wait_log "$T/agent.log" "enforce: allow mark on $(devino "$MM")\$"
python3 - "$MM" "$mat" <<'PY'
import mmap, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    m[int(sys.argv[2])] = ord("Z")
    m.flush()
    m.close()
PY
cmp -s "$MM" "$T/mapped.next" || fail "the mapped write did not make the blocked content"
expect_eq "mapped write: runs unchecked (no modify event)" "$(try "$MM")" ok
expect_eq "mapped write: no permission event" "$(events_of "$MM")" 1
for _ in $(seq 150); do [ -n "$(blocked "$MM_SHA")" ] && break; sleep 0.2; done
expect_eq "mapped write: reported" "$(blocked "$MM_SHA" | jq -r .proctrail.decision | sort -u)" not_stopped
stop_agent

# the bound: at 2 marks every mark is dropped, counted in the summary at exit
start_agent -v --policy-allow-cache-marks 2
wait_log "$T/agent.log" "policy version $V6 applied"
for n in b1 b2 b3 b4; do
	mk "$T/bin/$n" "$n"
	expect_eq "bound: $n runs" "$(try "$T/bin/$n")" ok
done
wait_log "$T/agent.log" "allow cache full \(2 marks\): flushed"
expect_eq "bound: b1 asked again after the flush" "$(try "$T/bin/b1")" ok
stop_agent
grep -Eq "permission events.* [1-9][0-9]* at the bound of 2\$" "$T/agent.log" ||
	fail "no summary with flushes at the bound: $(grep 'permission events' "$T/agent.log" | tail -1)"
ok "summary: $(grep 'permission events' "$T/agent.log" | tail -1 | sed 's/.*enforce: //')"
stop_server
