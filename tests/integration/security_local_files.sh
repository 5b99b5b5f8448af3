#!/usr/bin/env bash
# Local files another local user must not read or turn against root (docs/security.md):
#   - the collector creates its database, WAL and shm 0600 and tightens an existing readable
#     one; it refuses a database path that is a symbolic link;
#   - scripts/run-local.sh --prepare-only leaves only var/db/ to the service user, moves an
#     older layout's database there, and refuses (without writing through them) the links and
#     substitutes the service user could plant while the older layout gave it var/.
. "$(dirname "$0")/collector_lib.bash"

[ "$(id -u)" -eq 0 ] || { echo "skip: needs root (chown, the service user)"; exit 77; }

mode() { stat -c %a -- "$1"; }
owner() { stat -c %U -- "$1"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

# ---- The collector's database files
deploy alpha
start_server
for f in proctrail.db proctrail.db-wal proctrail.db-shm; do
	for _ in $(seq 300); do [ -e "$H/$f" ] && break; sleep 0.1; done
	expect_eq "$f mode" "$(mode "$H/$f")" 600
done
r=$(replay --bundle "$H/agents/alpha" --events 200 --batch 50)
[[ $r == "result: ok"* ]] || fail "replay: $r"
# nobody is the collector here; another local user is a fresh uid.
if setpriv --reuid=4242 --regid=4242 --clear-groups -- cat "$H/proctrail.db" >/dev/null 2>&1; then
	fail "another local user reads the database"
fi
ok "another local user cannot read the database"
stop_server

# An older collector left it world-readable: tightened at start, and said so.
chmod 644 "$H/proctrail.db"
[ ! -e "$H/proctrail.db-wal" ] || chmod 644 "$H/proctrail.db-wal"
start_server
expect_eq "tightened db mode" "$(mode "$H/proctrail.db")" 600
grep -q "proctrail.db was readable by group or others (mode 0644); now 0600" "$T/server.log" \
	|| fail "no log line about the tightened mode"
ok "the tightening is logged"
for _ in $(seq 300); do [ -e "$H/proctrail.db-wal" ] && break; sleep 0.1; done
expect_eq "wal mode after tightening" "$(mode "$H/proctrail.db-wal")" 600
stop_server

# A database path that is a link (the service user owns the directory): refused, and the
# link's target keeps its mode.
echo precious >"$T/victim"
chmod 644 "$T/victim"
ln -s "$T/victim" "$H/linked.db"
rc=0
timeout 60 "$SERVER" --home "$H" --listen "127.0.0.1:$((20000 + RANDOM % 20000))" \
	--user nobody --db "$H/linked.db" >"$T/linked.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "server with a linked --db: exit $rc"
grep -q "linked.db is a symbolic link" "$T/linked.log" || fail "no refusal: $(tail -3 "$T/linked.log")"
expect_eq "link target mode" "$(mode "$T/victim")" 644
expect_eq "link target content" "$(cat "$T/victim")" precious
cp "$H/proctrail.db" "$T/events.db"   # a database with rows, for the migration below

# ---- scripts/run-local.sh --prepare-only
RL=$T/rl
prepare() {
	PROCTRAIL_HOME=$RL PROCTRAIL_SERVICE_USER=nobody BUILD=$B \
		"$ROOT/scripts/run-local.sh" --prepare-only >"$T/prepare.log" 2>&1
}
expect_refusal() { # what pattern
	local rc=0
	prepare || rc=$?
	[ "$rc" -ne 0 ] || fail "$1: prepare went on"
	grep -q -- "$2" "$T/prepare.log" || fail "$1: $(cat "$T/prepare.log")"
	ok "$1: refused"
}
# The older layout: var/ belonged to the service user.
old_layout() {
	rm -rf "$RL"
	prepare || fail "prepare: $(cat "$T/prepare.log")"
	chown nobody: "$RL"
}

prepare || fail "prepare: $(cat "$T/prepare.log")"
expect_eq "home owner/mode" "$(owner "$RL") $(mode "$RL")" "root 755"
expect_eq "pki owner" "$(owner "$RL/pki")" root
expect_eq "spool owner/mode" "$(owner "$RL/spool") $(mode "$RL/spool")" "root 700"
expect_eq "db owner/mode" "$(owner "$RL/db") $(mode "$RL/db")" "nobody 700"
bad=$(find "$RL" -path "$RL/db" -prune -o \( ! -user 0 -o -perm /022 \) -print)
expect_eq "root's and not writable by others, outside db/" "$bad" ""
# the collector re-reads the API's operators as its user, through the group: it can never add one
expect_eq "operators.tsv: root's, 0640" "$(owner "$RL/pki/operators.tsv") $(mode "$RL/pki/operators.tsv")" "root 640"
as_nobody sh -c "echo x >>'$RL/pki/operators.tsv'" 2>/dev/null && fail "nobody added to operators.tsv"
expect_eq "local operator's token: root's, 0600" "$(owner "$RL/operators/local.token") $(mode "$RL/operators/local.token")" "root 600"
# In this layout the service user can do none of the attacks.
as_nobody ln -s /etc/passwd "$RL/server.log" 2>/dev/null && fail "nobody planted a link in home"
as_nobody mv "$RL/pki" "$RL/pki.x" 2>/dev/null && fail "nobody renamed pki"
as_nobody mv "$RL/spool" "$RL/spool.x" 2>/dev/null && fail "nobody renamed spool"
as_nobody touch "$RL/db/x" || fail "nobody cannot write its database directory"
ok "the service user writes db/ and nothing else"

# A log replaced by a link to a root file: not followed (the older script emptied it).
old_layout
echo precious >"$T/victim"
as_nobody ln -s "$T/victim" "$RL/server.log"
expect_refusal "server.log link" "server.log is a symbolic link"
expect_eq "victim content" "$(cat "$T/victim")" precious
expect_eq "home taken back" "$(owner "$RL")" root

# pki/ renamed and replaced by the service user's own CA directory.
old_layout
as_nobody mv "$RL/pki" "$RL/pki.orig"
as_nobody mkdir "$RL/pki"
as_nobody cp "$RL/pki.orig/ca.crt" "$RL/pki/ca.crt"
expect_refusal "substitute pki" "was $RL/pki replaced"
# ... and agents/ replaced: the next enroll would write into the service user's directory.
old_layout
as_nobody mv "$RL/agents" "$RL/agents.orig"
as_nobody mkdir "$RL/agents"
expect_refusal "substitute agents" "was $RL/agents replaced"

# spool/ replaced by a link to the service user's directory: neither chmod'ed nor used.
old_layout
mkdir -m 755 "$T/nobody-spool"
chown nobody: "$T/nobody-spool"
as_nobody mv "$RL/spool" "$RL/spool.orig"
as_nobody ln -s "$T/nobody-spool" "$RL/spool"
expect_refusal "spool link" "spool is a symbolic link"
expect_eq "link target mode" "$(mode "$T/nobody-spool")" 755
# ... or by a directory of its own.
old_layout
as_nobody mv "$RL/spool" "$RL/spool.orig"
as_nobody mkdir "$RL/spool"
expect_refusal "substitute spool" "spool is not root's"

# The older layout's database moves into db/, and the CLI finds it there.
old_layout
cp "$T/events.db" "$RL/proctrail.db"
chown nobody: "$RL/proctrail.db"
chmod 600 "$RL/proctrail.db"
prepare || fail "migration: $(cat "$T/prepare.log")"
grep -q "moved the database" "$T/prepare.log" || fail "no migration message"
[ ! -e "$RL/proctrail.db" ] || fail "the old database is still in home"
expect_eq "migrated db owner" "$(owner "$RL/db/proctrail.db")" nobody
rm -f "$RL/api.url"   # no collector runs here: the CLI reads the database itself
n=$("$PT" --home "$RL" events --json | wc -l)
expect_eq "events --json from db/" "$n" 200
# A database that is a hard link to another file: not moved, not chowned.
old_layout
echo precious >"$T/victim"
chmod 644 "$T/victim"
ln "$T/victim" "$RL/proctrail.db"
expect_refusal "hard-linked database" "not a plain file"
expect_eq "victim owner" "$(owner "$T/victim")" root
# A database in both places: ambiguous, refused.
old_layout
cp "$T/events.db" "$RL/proctrail.db"
cp "$T/events.db" "$RL/db/proctrail.db"
expect_refusal "database in both places" "keep one"

echo "PASS"
