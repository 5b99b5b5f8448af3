#!/usr/bin/env bash
# Edge cases of the executing process, each a real exec: a setuid binary run by an
# unprivileged user, exec from a thread that is not the group leader, failed execs (never
# reported as execs), and a process in its own mount namespace.
. "$(dirname "$0")/helpers/sensor-lib.sh"
sensor_setup
agent_start
cd "$T"

# 1. setuid root binary run by nobody: effective user 0, real user 65534, flagged
cp "$H" "$T/suid"
chown root:root "$T/suid"
chmod 4755 "$T/suid"
setpriv --reuid=65534 --regid=65534 --clear-groups "$T/suid" sleep 0.01 || fail "setuid run failed"
sx=".event.action == \"exec\" and .process.executable == \"$T/suid\""
wait_for "$sx" >/dev/null || fail "no exec for the setuid binary"
expect "$sx" '.process.user.id == "0" and .process.real_user.id == "65534" and .proctrail.setuid == true'
expect "$sx" ".process.group.id == \"65534\" and .process.hash.sha256 == \"$(sha256sum "$H" | cut -d' ' -f1)\""

# 2. exec from a thread that is not the leader: recorded once, with the process's pid, the
#    thread that called exec, and the process's entity id (de_thread keeps the start time)
"$H" thread /usr/bin/ls ls-from-thread "$T" > thread.out & p=$!
wait $p
tid=$(sed -n 's/^tid //p' thread.out)
[ -n "$tid" ] && [ "$tid" != "$p" ] || fail "the helper did not exec from a thread ($tid, $p)"
wait_for ".event.action == \"exit\" and .process.pid == $p" >/dev/null || fail "no exit after the thread exec"
tx=".event.action == \"exec\" and .process.args[0] == \"ls-from-thread\""
expect "$tx" ".process.pid == $p and .process.thread.id == $tid and .process.executable == \"/usr/bin/ls\""
helper_eid=$(jq -r "select(.event.action == \"exec\" and .process.pid == $p and .process.args[1] == \"thread\") | .process.entity_id" "$OUT")
[ -n "$helper_eid" ] || fail "no exec record for the helper itself"
expect "$tx" ".process.entity_id == \"$helper_eid\""
[ "$(count ".event.action == \"exit\" and .process.pid == $p")" = 1 ] || fail "exactly one exit for the thread-exec process"
expect ".event.action == \"exit\" and .process.pid == $p" ".process.exit_code == 0 and .process.entity_id == \"$helper_eid\""

# 3. failed execs: missing file, no exec permission, unknown format: none is an exec record
printf 'not executable\n' > "$T/noperm"
chmod 644 "$T/noperm"
printf '\001\002\003garbage' > "$T/badformat"
chmod 755 "$T/badformat"
"$H" failexec /nonexistent/x "$T/noperm" "$T/badformat" & p=$!
wait $p; rc=$?
[ $rc = 7 ] || fail "failexec helper exited $rc"
wait_for ".event.action == \"exit\" and .process.pid == $p" >/dev/null || fail "no exit for failexec"
expect ".event.action == \"exit\" and .process.pid == $p" '.process.exit_code == 7'
[ "$(count ".event.action == \"exec\" and .process.pid == $p")" = 1 ] || fail "a failed exec was reported"
[ "$(count ".event.action == \"exec\" and (.process.executable | test(\"noperm|badformat|nonexistent\"))")" = 0 ] ||
	fail "a failed exec was reported by path"

# 4. a process in its own mount namespace, running a binary from a tmpfs mounted only there:
#    the path is the one inside the namespace; hashed through /proc/PID/exe
mkdir "$T/mnt"
unshare -m sh -c "mount -t tmpfs tmpfs '$T/mnt' && cp '$H' '$T/mnt/nsbin' && exec '$T/mnt/nsbin' sleep 1" &
p=$!
wait $p || fail "mount namespace run failed"
[ -e "$T/mnt/nsbin" ] && fail "the tmpfs leaked out of the namespace"
nx=".event.action == \"exec\" and .process.executable == \"$T/mnt/nsbin\""
wait_for "$nx" >/dev/null || fail "no exec in the mount namespace"
expect "$nx" ".process.pid == $p and .process.hash.sha256 == \"$(sha256sum "$H" | cut -d' ' -f1)\""
agent_stop
echo PASS
