#!/usr/bin/env bash
# Edge cases of the executed file, each a real exec: deleted right after it starts, replaced
# by rename after its exec, a memfd, execveat(AT_EMPTY_PATH), a shebang script, and a relative
# path through a symlink. The hash is of the executed file or absent with its reason.
. "$(dirname "$0")/helpers/sensor-lib.sh"
sensor_setup
agent_start
cd "$T"
hsha=$(sha256sum "$H" | cut -d' ' -f1)

# 1. a binary that deletes itself as soon as it runs: hashed through /proc/PID/exe. The agent
# is held stopped until the file has no name, so that its hash worker cannot reach the path
# first (on a busy machine the child may not run before the agent does); the exec waits in
# the ring meanwhile, and the child lives on until its record is out.
cp "$H" "$T/selfdel"
kill -STOP "$AGENT_PID"
"$T/selfdel" selfdelete "$T/selfdel" 120 & p=$!
for _ in $(seq 600); do [ -e "$T/selfdel" ] || break; sleep 0.1; done
kill -CONT "$AGENT_PID"
[ ! -e "$T/selfdel" ] || fail "selfdel did not delete itself"
wait_for ".event.action == \"exec\" and .process.pid == $p" >/dev/null || fail "no exec for selfdel"
kill "$p"; wait "$p" 2>/dev/null || true
expect ".event.action == \"exec\" and .process.pid == $p" \
	".process.executable == \"$T/selfdel\" and .process.hash.sha256 == \"$hsha\" and .proctrail.deleted == true"

# 2. a binary replaced by rename right after its exec: the hash is still of what ran
cp "$H" "$T/selfrep"
"$T/selfrep" selfreplace "$T/selfrep" 1 & p=$!
wait_for ".event.action == \"exec\" and .process.pid == $p" >/dev/null || fail "no exec for selfrep"
wait $p
[ "$(sha256sum "$T/selfrep" | cut -d' ' -f1)" != "$hsha" ] || fail "the file was not replaced"
expect ".event.action == \"exec\" and .process.pid == $p" \
	".process.executable == \"$T/selfrep\" and .process.hash.sha256 == \"$hsha\""

# 3. exec from a memfd: the name is the memfd's, flagged; hashed from the live process
"$H" memfd "$H" memfd-child sleep 1 & p=$!
wait_for ".event.action == \"exec\" and .process.pid == $p and .process.args[0] == \"memfd-child\"" >/dev/null ||
	fail "no exec for the memfd"
wait $p
expect ".event.action == \"exec\" and .process.args[0] == \"memfd-child\"" \
	'(.process.executable | startswith("memfd:pt-test")) and .proctrail.memfd == true'
expect ".event.action == \"exec\" and .process.args[0] == \"memfd-child\"" \
	"(.process.hash.sha256 == \"$hsha\") or (.proctrail.hash_status == \"memfd\" and (.process.hash.sha256 | not))"
expect ".event.action == \"exec\" and .process.args[0] == \"memfd-child\"" ".process.hash.sha256 == \"$hsha\""

# 4. execveat(fd, "", AT_EMPTY_PATH): the path comes from the file, not from a name
cp /usr/bin/ls "$T/viafd"
"$H" execveat "$T/viafd" viafd-child "$T" >/dev/null & p=$!
wait $p
wait_for ".event.action == \"exit\" and .process.pid == $p" >/dev/null || fail "no exit for execveat"
expect ".event.action == \"exec\" and .process.args[0] == \"viafd-child\"" \
	".process.executable == \"$T/viafd\" and .process.pid == $p and .process.hash.sha256 == \"$(sha256sum "$T/viafd" | cut -d' ' -f1)\""

# 5. a shebang script run by a relative name: the interpreter is the executable, the script
#    (absolute) and its hash are recorded too
#    A script written at its exec is not hashed (it cannot be told from one swapped in after
#    it), so these are aged first: poll until their ctime is a second old.
printf '#!/bin/sh\necho script-ran >/dev/null\nexit 4\n' > "$T/s.sh"
chmod +x "$T/s.sh"
printf 'decoy\n' > "$T/decoy"
printf '#!/bin/sh\nln -sf "%s" "$0"\nexit 5\n' "$T/decoy" > "$T/swap.sh"
chmod +x "$T/swap.sh"
for f in s.sh decoy swap.sh; do
	for _ in $(seq 300); do [ $(( $(date +%s) - $(stat -c %Z "$T/$f") )) -ge 2 ] && break; sleep 0.01; done
done
./s.sh script-arg; [ $? = 4 ] || fail "script did not run"
wait_for '.event.action == "exec" and (.process.args | index("script-arg"))' >/dev/null || fail "no exec for the script"
sx='.event.action == "exec" and (.process.args | index("script-arg"))'
expect "$sx" ".process.executable == \"$(readlink -f /bin/sh)\" and .process.hash.sha256 == \"$(sha256sum "$(readlink -f /bin/sh)" | cut -d' ' -f1)\""
expect "$sx" ".proctrail.script.path == \"$T/s.sh\" and .proctrail.script.sha256 == \"$(sha256sum "$T/s.sh" | cut -d' ' -f1)\""

# 5b. a script that swaps its own path for a symlink to an older file once it runs: the hash
#     recorded is the script's (hashed before the swap) or none, never the decoy's
"$T/swap.sh" swap-arg; [ $? = 5 ] || fail "swap script did not run"
[ -L "$T/swap.sh" ] || fail "the script did not swap itself"
wx='.event.action == "exec" and (.process.args | index("swap-arg"))'
wait_for "$wx" >/dev/null || fail "no exec for the swapping script"
expect "$wx" ".proctrail.script.sha256 != \"$(sha256sum "$T/decoy" | cut -d' ' -f1)\""

# 6. a relative path through a symlinked directory: the absolute target is recorded
mkdir "$T/real"
cp /usr/bin/true "$T/real/tru"
ln -s real "$T/link"
./link/tru symlink-arg
wait_for '.event.action == "exec" and .process.args[1] == "symlink-arg"' >/dev/null || fail "no exec via symlink"
expect '.event.action == "exec" and .process.args[1] == "symlink-arg"' \
	".process.executable == \"$T/real/tru\" and .process.args[0] == \"./link/tru\" and .process.hash.sha256 == \"$(sha256sum /usr/bin/true | cut -d' ' -f1)\""

# 7. paths deeper than the kernel's bound: marked cut (".../" and a flag), never passed off as
#    absolute; the hash still comes from the live process. An argv over its bound: flagged,
#    with the real count.
name=$(printf 'd%.0s' $(seq 1 120))
( for _ in $(seq 1 40); do mkdir "$name" && cd "$name" || exit 1; done
  cp "$H" ./deep && ./deep sleep 1 ) || fail "deep directory run failed"
dx='.event.action == "exec" and (.process.executable | endswith("/deep"))'
wait_for "$dx" >/dev/null || fail "no exec for the deep binary"
expect "$dx" '(.process.executable | startswith(".../")) and .proctrail.path_truncated == true'
expect "$dx" '(.process.working_directory | startswith(".../")) and .proctrail.cwd_truncated == true'
expect "$dx" ".process.hash.sha256 == \"$hsha\""
long=$(printf 'x%.0s' $(seq 1 5000))
/bin/true long-argv "$long"
lx='.event.action == "exec" and .process.args[1] == "long-argv"'
wait_for "$lx" >/dev/null || fail "no exec for the long argv"
expect "$lx" '.proctrail.args_truncated == true and .process.args_count == 3 and (.process.args[2] | length) < 5000 and (.process.args[2] | length) > 3000'

# 8. no hash, with the reason, when the executed file cannot be had any more: the agent is
#    stopped (SIGSTOP) so it can only look after the process exited and the file went
kill -STOP "$AGENT_PID"
cp /usr/bin/true "$T/gone"; "$T/gone" gone-arg; rm "$T/gone"
cp /usr/bin/true "$T/chg"; "$T/chg" chg-arg; sleep 0.02; cp /usr/bin/false "$T/chg"
"$H" memfd /usr/bin/true memfd-gone
kill -CONT "$AGENT_PID"
for a in gone-arg chg-arg; do
	wait_for ".event.action == \"exec\" and .process.args[1] == \"$a\"" >/dev/null || fail "no exec for $a"
done
wait_for '.event.action == "exec" and .process.args[0] == "memfd-gone"' >/dev/null || fail "no exec for memfd-gone"
expect '.event.action == "exec" and .process.args[1] == "gone-arg"' '.proctrail.hash_status == "gone" and (.process.hash | not)'
expect '.event.action == "exec" and .process.args[1] == "chg-arg"' '.proctrail.hash_status == "changed" and (.process.hash | not)'
expect '.event.action == "exec" and .process.args[0] == "memfd-gone"' '.proctrail.hash_status == "memfd" and (.process.hash | not)'

# 9. an executable larger than the cap: no hash, reason too_large (second agent, small cap)
agent_stop
agent_start --hash-max-bytes 1000
/usr/bin/ls "$T" >/dev/null
wait_for ".event.action == \"exec\" and .process.args == [\"/usr/bin/ls\", \"$T\"]" >/dev/null || fail "no exec for big ls"
expect ".event.action == \"exec\" and .process.args == [\"/usr/bin/ls\", \"$T\"]" \
	'.proctrail.hash_status == "too_large" and (.process.hash | not)'
agent_stop
echo PASS
