#!/usr/bin/env bash
# The sensor's basic contract, with real execs: an `ls` is recorded with its absolute path,
# arguments, cwd, parent, user and the SHA-256 sha256sum computes; its exit follows with the
# code; exit codes and signals are told apart; processes that exec and exit within
# microseconds are recorded completely; a multi-threaded process has exactly one exit.
. "$(dirname "$0")/helpers/sensor-lib.sh"
sensor_setup
agent_start

cd "$T"
ls_sha=$(sha256sum /usr/bin/ls | cut -d' ' -f1)
sh -c 'echo $$ > sh.pid; exec /bin/ls -la /' >/dev/null
shpid=$(cat sh.pid)
wait_for ".event.action == \"exit\" and .process.pid == $shpid" >/dev/null || fail "no exit for ls"

ex=".event.action == \"exec\" and .process.pid == $shpid and .process.name == \"ls\""
expect "$ex" '.process.executable == "/usr/bin/ls" and .file.path == "/usr/bin/ls"'
expect "$ex" '.process.args == ["/bin/ls", "-la", "/"] and .process.args_count == 3'
expect "$ex" ".process.working_directory == \"$T\""
expect "$ex" ".process.hash.sha256 == \"$ls_sha\" and .proctrail.hash_status == \"ok\""
expect "$ex" ".process.parent.pid == $$ and .process.user.id == \"0\""
expect "$ex" '(.process.entity_id | test("^[0-9a-f]{32}$")) and (.process.parent.entity_id | test("^[0-9a-f]{32}$"))'
expect "$ex" ".file.size == $(stat -c %s /usr/bin/ls) and .file.inode == \"$(stat -c %i /usr/bin/ls)\""
expect "$ex" '(.["@timestamp"] | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{9}Z$"))'
expect "$ex" '.event.category == ["process"] and .event.type == ["start"] and (.event.sequence | type) == "number"'
# the sh that exec'd ls is the same process: both execs carry the same entity id
eid=$(jq -r "select($ex) | .process.entity_id" "$OUT")
[ "$(count ".event.action == \"exec\" and .process.pid == $shpid and .process.entity_id == \"$eid\"")" = 2 ] ||
	fail "exec of sh and of ls in one process should share the entity id"
expect ".event.action == \"exit\" and .process.pid == $shpid" ".process.exit_code == 0 and .process.entity_id == \"$eid\" and .event.type == [\"end\"]"
# the exec comes before the exit
first=$(jq -r "select(.process.pid == $shpid) | .event.action" "$OUT" | tail -1)
[ "$first" = exit ] || fail "exit is not the last record of the process"

# exit code, and a terminating signal
sh -c 'echo $$ > c.pid; exit 3'
cpid=$(cat c.pid)
wait_for ".event.action == \"exit\" and .process.pid == $cpid" >/dev/null || fail "no exit for exit 3"
expect ".event.action == \"exit\" and .process.pid == $cpid" '.process.exit_code == 3 and .proctrail.signal == 0'
"$H" sleep 30 & spid=$!
sleep 0.2
kill -KILL $spid; wait $spid 2>/dev/null
wait_for ".event.action == \"exit\" and .process.pid == $spid" >/dev/null || fail "no exit for the killed process"
expect ".event.action == \"exit\" and .process.pid == $spid" '.proctrail.signal == 9 and .process.exit_code == 137'

# 300 processes that exec /bin/true and exit at once: every one has its exec and its exit
"$H" quick 300 > quick.pids || fail "quick children failed"
summarize() { # one line per record of a quick child: pid action executable-or-code
	jq -r '[.process.pid, .event.action, (if .event.action == "exit" then .process.exit_code else .process.executable end)] | @tsv' "$OUT" |
		awk 'NR == FNR { want[$1] = 1; next } ($1 in want)' quick.pids -
}
for _ in $(seq 1 200); do
	[ "$(summarize | grep -c $'\texit\t')" -ge 300 ] && break
	sleep 0.05
done
sleep 0.2
summarize > quick.seen
missing=$(awk -F'\t' '$2 == "exec" && $3 == "/usr/bin/true" { e[$1]++ } $2 == "exit" && $3 == 0 { x[$1]++ }
	END { while ((getline p < "quick.pids") > 0) if (e[p] != 1 || x[p] != 1) { print p, e[p] + 0, x[p] + 0; n++ }
	      exit n > 0 }' quick.seen) || fail "quick processes incomplete (pid exec exit): $missing"
[ "$(wc -l < quick.seen)" = 600 ] || fail "expected 600 records for the quick children, got $(wc -l < quick.seen)"

# threads: one exit record for the process, with the group's exit code
"$H" threads 5 & tpid=$!
wait $tpid
wait_for ".event.action == \"exit\" and .process.pid == $tpid" >/dev/null || fail "no exit for threads"
sleep 0.2
[ "$(count ".event.action == \"exit\" and .process.pid == $tpid")" = 1 ] || fail "a multi-threaded process must have one exit"
expect ".event.action == \"exit\" and .process.pid == $tpid" '.process.exit_code == 5'

# no loss was reported
[ "$(count '.event.action == "loss"')" = 0 ] || fail "loss records appeared"
# every line is valid JSON (jq would have failed above otherwise) and has a sequence
[ "$(jq -s 'map(.event.sequence) | (. == (sort | unique))' "$OUT")" = true ] || fail "sequence not increasing"
agent_stop
echo PASS
