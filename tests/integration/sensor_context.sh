#!/usr/bin/env bash
# The context of every exec, with real execs: a shell pipeline names its parent's executable
# and arguments; su and sudo change the user, not the login user; setsid with and without a
# pty makes a session leader (and a terminal); a new pid namespace gives a vpid; cgroups shaped
# as docker's and systemd-nspawn's name the container; a parent started before the agent is
# known (seeded from /proc); a parent that ran and exited while the agent was stopped is known
# from the pinned ring; an exit carries its executable and lifetime. Only our own processes
# are looked at (markers in the arguments): other agents run on this machine too.
. "$(dirname "$0")/helpers/sensor-lib.sh"
sensor_setup
command -v sudo >/dev/null || fail "sudo is not installed (scripts/install-deps.sh)"
M=ctx$$
cd "$T"

# a parent that starts before the agent and runs a child once the agent records
mkfifo pre.fifo
sh -c "read x < pre.fifo; /bin/true $M-pre; :" & PRE=$!

agent_start
echo go > pre.fifo
wait $PRE
ex() { echo ".event.action == \"exec\" and .process.args[1]? == \"$M-$1\""; }
wait_for "$(ex pre)" >/dev/null || fail "no exec of the child of the early parent"
expect "$(ex pre)" ".process.parent.pid == $PRE and .process.parent.executable == \"/usr/bin/dash\""
expect "$(ex pre)" ".process.parent.args == [\"sh\", \"-c\", \"read x < pre.fifo; /bin/true $M-pre; :\"]"
expect "$(ex pre)" '.proctrail.parent.known == true and .proctrail.parent.seeded == true'

# a pipeline: each stage's parent is the shell, with its arguments and command line
sh -c "/bin/echo $M-pipe | /bin/grep -c $M-pipe > /dev/null; :" & SH=$!
wait $SH
gx=".event.action == \"exec\" and .process.name == \"grep\" and .process.parent.pid == $SH"
wait_for "$gx" >/dev/null || fail "no exec of grep"
expect "$gx" ".process.command_line == \"/bin/grep -c $M-pipe\" and .process.args_count == 3"
expect "$gx" ".process.parent.executable == \"/usr/bin/dash\" and .process.parent.name == \"dash\""
expect "$gx" ".process.parent.command_line == \"sh -c /bin/echo $M-pipe | /bin/grep -c $M-pipe > /dev/null; :\""
expect "$gx" '.process.parent.args_count == 3 and .proctrail.parent.seeded == false'
expect "$gx" '.process.user.name == "root" and .user.name == "root" and .process.group.name == "root"'
PG=$(ps -o pgid= -p $$ | tr -d ' ')
expect "$gx" ".process.group_leader.pid == $PG and .process.session_leader.pid == $(ps -o sid= -p $$ | tr -d ' ')"
wait_for ".event.action == \"exit\" and .process.pid == $SH" >/dev/null || fail "no exit of the shell"
expect ".event.action == \"exit\" and .process.pid == $SH" \
	'.process.executable == "/usr/bin/dash" and .process.name == "dash" and .proctrail.lifetime_ns > 0 and (.process.start | type) == "string"'

# an entry point (a program named sshd): the shell it starts leads the session that entered
cp /usr/bin/dash "$T/sshd"
"$T/sshd" -c "sh -c '/bin/true $M-ssh; :'; :"
wait_for "$(ex ssh)" >/dev/null || fail "no exec under the sshd stand-in"
expect "$(ex ssh)" '.process.entry_leader.entry_meta.type == "sshd" and .process.entry_leader.executable == "/usr/bin/dash"'
expect "$(ex ssh)" '.process.entry_leader.entity_id == .process.parent.entity_id'

# su and sudo: the user changes, the login user stays (the kernel's login uid, set here as a
# login would: daemon, uid 1)
sh -c "echo 1 > /proc/self/loginuid && su -s /bin/sh nobody -c '/bin/true $M-su; :'"
sh -c "echo 1 > /proc/self/loginuid && sudo -u nobody /bin/true $M-sudo"
for k in su sudo; do
	wait_for "$(ex $k)" >/dev/null || fail "no exec under $k"
	expect "$(ex $k)" '.process.user.id == "65534" and .process.user.name == "nobody" and .user.name == "nobody"'
	expect "$(ex $k)" '.process.group.name == "nogroup" and .proctrail.login_user.id == "1" and .proctrail.login_user.name == "daemon"'
done
expect "$(ex sudo)" '.process.parent.name == "sudo" and (.process.parent.command_line | endswith("-sudo"))'

# setsid without a terminal: its own session and group, no tty
setsid /bin/true "$M-setsid"
wait_for "$(ex setsid)" >/dev/null || fail "no exec under setsid"
expect "$(ex setsid)" '.process.session_leader.pid == .process.pid and .process.session_leader.entity_id == .process.entity_id'
expect "$(ex setsid)" '.process.session_leader.executable == "/usr/bin/true" and .process.session_leader.name == "true"'
expect "$(ex setsid)" '.process.group_leader.pid == .process.pid and .process.interactive == false and .process.tty == null'
# a pty (script -qc): a session led by the shell script starts, interactive, with a terminal
script -qc "/bin/true $M-pty; :" /dev/null > /dev/null
wait_for "$(ex pty)" >/dev/null || fail "no exec under script"
expect "$(ex pty)" '.process.interactive == true and .process.tty.char_device.major >= 136 and .process.tty.char_device.major <= 143'
expect "$(ex pty)" '.process.session_leader.pid == .process.parent.pid and .process.session_leader.executable == .process.parent.executable'

# a new pid namespace: sh is 1 in it, its child 2
unshare --pid --fork /bin/sh -c "/bin/true $M-ns; :"
wait_for "$(ex ns)" >/dev/null || fail "no exec in the pid namespace"
expect "$(ex ns)" '.process.vpid == 2 and .process.pid != 2 and .process.parent.args[0] == "/bin/sh"'

# cgroups named as docker (systemd driver) and systemd-nspawn name them
CG=$(findmnt -t cgroup2 -no TARGET | head -1)
[ -n "$CG" ] || fail "no cgroup v2 hierarchy mounted"
ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
D=$CG/pt-test-$$.slice/docker-$ID.scope
N=$CG/pt-test-$$.slice/systemd-nspawn@pt$$.service/payload
cleanup_cg() { rmdir "$D" "$N" "$CG/pt-test-$$.slice/systemd-nspawn@pt$$.service" "$CG/pt-test-$$.slice" 2>/dev/null; }
trap 'cleanup_cg; sensor_cleanup' EXIT
mkdir -p "$D" "$N" || fail "cannot create cgroups under $CG"
sh -c "echo \$\$ > $D/cgroup.procs && exec /bin/true $M-docker"
sh -c "echo \$\$ > $N/cgroup.procs && exec /bin/true $M-nspawn"
for k in docker nspawn; do wait_for "$(ex $k)" >/dev/null || fail "no exec in the $k cgroup"; done
expect "$(ex docker)" ".container.id == \"$ID\" and .container.runtime == \"docker\""
expect "$(ex docker)" ".proctrail.cgroup_path == \"/pt-test-$$.slice/docker-$ID.scope\""
expect "$(ex nspawn)" ".container.id == \"pt$$\" and .container.runtime == \"systemd-nspawn\""
expect "$gx" '.container == null'

# context survives a restart: a parent that ran and exited while the agent was stopped is
# known from the records the pinned ring kept
agent_stop
sh -c "/bin/true $M-down; :"
agent_start
wait_for "$(ex down)" >/dev/null || fail "no exec from while the agent was stopped"
expect "$(ex down)" '.process.parent.executable == "/usr/bin/dash" and .proctrail.parent.seeded == false'
expect "$(ex down)" ".process.parent.command_line == \"sh -c /bin/true $M-down; :\""
# a parent nobody can know: never invented
[ "$(count ".event.action == \"exec\" and .proctrail.parent.known == false and .process.parent.executable != null")" = 0 ] ||
	fail "a record names an executable for a parent it says is unknown"
agent_stop
echo PASS
