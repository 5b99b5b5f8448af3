#!/usr/bin/env bash
# `make run` (as root): a local proctrail deployment under ./var (or $PROCTRAIL_HOME).
#
# First use creates the CA, the collector's certificate and an agent enrollment named after this
# host. Then it starts proctrail-server (as the unprivileged `proctrail` user, SQLite database in
# var/db/proctrail.db) and the local agent delivering to it over mutual TLS, prints where to
# look, and runs until Ctrl-C, when it stops both (the server commits and acknowledges what it
# has). `--prepare-only` makes or checks the layout and exits (tests, or to look before running).
#
# Layout (docs/operations.md, "Local deployment"; docs/security.md for why): everything is
# root's and not writable by the collector's user, except var/db/ (0700, that user's), which
# holds only the database and its WAL. So the collector cannot make root overwrite a file
# (a log), sign with a substitute CA (pki/, agents/) or spool somewhere else (spool/).
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

H=${PROCTRAIL_HOME:-$PWD/var}
case $H in /*) ;; *) H=$PWD/$H ;; esac
H=${H%/}
B=${BUILD:-build}
LISTEN=127.0.0.1:7443
API=${PROCTRAIL_API:-127.0.0.1:8443}
SERVICE_USER=${PROCTRAIL_SERVICE_USER:-proctrail}
DB_DIR=$H/db
DB_FILES=(proctrail.db proctrail.db-wal proctrail.db-shm)
PREPARE_ONLY=0

case ${1:-} in
"") ;;
--prepare-only) PREPARE_ONLY=1 ;;
*) echo "usage: $0 [--prepare-only]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "run-local: the agent loads eBPF programs: run as root (make run)" >&2
	exit 1
fi
for bin in "$B/proctrail" "$B/proctrail-server" "$B/proctrail-agent"; do
	[ -x "$bin" ] || { echo "run-local: $bin missing: run make first" >&2; exit 1; }
done

refuse() {
	echo "run-local: $*" >&2
	echo "run-local: refusing to go on (docs/security.md, \"The service user can make root overwrite files\")" >&2
	exit 1
}

# Agent names are [A-Za-z0-9._-]; a host name may hold more.
NAME=$(hostname -s 2>/dev/null || echo local)
NAME=$(printf '%s' "$NAME" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-64)
[ -n "$NAME" ] || NAME=local

if ! id "$SERVICE_USER" >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
		"$SERVICE_USER"
	echo "run-local: created system user $SERVICE_USER for the collector"
fi
SERVICE_UID=$(id -u "$SERVICE_USER")
[ "$SERVICE_UID" -ne 0 ] || refuse "the service user $SERVICE_USER is root"

# Whoever may rename entries of $H's parent could swap $H itself.
PARENT=$(dirname "$H")
read -r puid pmode < <(stat -L -c '%u %a' "$PARENT")
if [ "$puid" -eq "$SERVICE_UID" ] || { [ $((8#$pmode & 8#1002)) -eq 2 ]; }; then
	refuse "$PARENT (the parent of $H) is writable by $SERVICE_USER or by everybody"
fi

# $H first: once it is root's 0755, only root adds, renames or removes its entries, so what
# is checked below stays checked. (An older layout gave $H to the service user.)
[ -L "$H" ] && refuse "$H is a symbolic link"
[ -e "$H" ] || mkdir -- "$H"
[ -d "$H" ] || refuse "$H is not a directory"
chown -h root:root -- "$H"
chmod 755 -- "$H"

for e in pki agents spool db operators api.url server.log agent.log "${DB_FILES[@]}"; do
	[ -L "$H/$e" ] && refuse "$H/$e is a symbolic link (left by someone who could write $H?)"
done

# The CA key and the agents' keys: every file and directory root's, none writable by others,
# no links; otherwise the next `enroll` could use a substitute CA.
# pki/operators.tsv is root's too, readable by the service user's group (0640): the collector
# re-reads it when an operator is added or revoked, but the service user cannot add one.
for d in pki agents operators; do
	[ -e "$H/$d" ] || continue
	[ -d "$H/$d" ] || refuse "$H/$d is not a directory"
	bad=$(find "$H/$d" \( -type l -o ! -user 0 -o -perm /022 \) -print -quit)
	[ -z "$bad" ] || refuse "$bad is a link, not root's, or writable by others: was $H/$d replaced?"
done
if [ ! -f "$H/pki/ca.crt" ]; then
	"$B/proctrail" --home "$H" pki init
fi
if [ ! -f "$H/agents/$NAME/agent.crt" ]; then
	"$B/proctrail" --home "$H" enroll "$NAME"
fi
# The API's local operator (admin); its token only in operators/ (root's, 0700).
OPS=$H/pki/operators.tsv
if [ -e "$OPS" ]; then
	[ -f "$OPS" ] && [ ! -L "$OPS" ] && [ "$(stat -c %h -- "$OPS")" -eq 1 ] ||
		refuse "$OPS is not a plain file"
fi
[ -e "$H/operators" ] || mkdir -m 700 -- "$H/operators"
chmod 700 -- "$H/operators"
if [ ! -s "$H/operators/local.token" ]; then
	"$B/proctrail" --home "$H" pki operator local --role admin \
		--token-file "$H/operators/local.token" >/dev/null
fi
chmod 600 -- "$H/operators/local.token"
chown -h "root:$(id -gn "$SERVICE_USER")" -- "$OPS"
chmod 640 -- "$OPS"
echo "https://$API" >"$H/api.url"

# The database directory: the only thing the service user gets. A database an older layout
# kept in $H moves into it; it must be plain files (no link, one name: a hard link to another
# file would be chowned to the service user with it).
old=()
for f in "${DB_FILES[@]}"; do
	[ -e "$H/$f" ] || continue
	read -r links owner kind < <(stat -c '%h %u %F' -- "$H/$f")
	if [[ $kind != "regular file" && $kind != "regular empty file" ]] || [ "$links" -ne 1 ] ||
		{ [ "$owner" -ne 0 ] && [ "$owner" -ne "$SERVICE_UID" ]; }; then
		refuse "$H/$f is not a plain file of root or $SERVICE_USER (type $kind, $links links, uid $owner)"
	fi
	old+=("$f")
done
if [ -e "$DB_DIR" ]; then
	[ -d "$DB_DIR" ] || refuse "$DB_DIR is not a directory"
	chown -h root:root -- "$DB_DIR"   # the service user cannot add names while we move
else
	mkdir -m 700 -- "$DB_DIR"
fi
chmod 700 -- "$DB_DIR"
if [ "${#old[@]}" -gt 0 ]; then
	for f in "${DB_FILES[@]}"; do
		[ -e "$DB_DIR/$f" ] || [ -L "$DB_DIR/$f" ] || continue
		refuse "both $H/$f (older layout) and $DB_DIR/$f exist: keep one"
	done
	for f in "${old[@]}"; do
		mv -- "$H/$f" "$DB_DIR/$f"
		chown -h "$SERVICE_USER": -- "$DB_DIR/$f"
	done
	echo "run-local: moved the database (${old[*]}) from $H into $DB_DIR"
fi
chown -h "$SERVICE_USER": -- "$DB_DIR"

# The agent's spool (root's, 0700; the agent checks it again when it opens it).
if [ -e "$H/spool" ]; then
	[ -d "$H/spool" ] || refuse "$H/spool is not a directory"
	[ "$(stat -c %u -- "$H/spool")" -eq 0 ] || refuse "$H/spool is not root's: was it replaced?"
else
	mkdir -m 700 -- "$H/spool"
fi
chmod 700 -- "$H/spool"

# Anything else an older layout's service user left in $H is not used; say so.
while IFS= read -r f; do
	echo "run-local: warning: $f is not root's and not used (left by an older layout?)" >&2
done < <(find "$H" -mindepth 1 -maxdepth 1 ! -user 0 ! -path "$DB_DIR")

# Logs: new files each run (O_EXCL through noclobber), never written through an old name.
new_log() {
	rm -f -- "$1"
	(set -C; : >"$1")
}

if [ "$PREPARE_ONLY" -eq 1 ]; then
	echo "run-local: $H prepared (db: $DB_DIR, owned by $SERVICE_USER)"
	exit 0
fi

SERVER_PID= AGENT_PID=
stop() {
	trap - INT TERM EXIT
	echo
	echo "run-local: stopping"
	[ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	echo "run-local: stopped; the data stays in $H (proctrail events --json still reads it)"
	exit 0
}
trap stop INT TERM EXIT

new_log "$H/server.log"
new_log "$H/agent.log"
"$B/proctrail-server" --home "$H" --db "$DB_DIR/proctrail.db" --listen "$LISTEN" \
	--api "$API" --user "$SERVICE_USER" >>"$H/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do
	grep -q "listening on $LISTEN" "$H/server.log" && break
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		cat "$H/server.log" >&2
		echo "run-local: proctrail-server did not start (is $LISTEN or $API already in use?)" >&2
		SERVER_PID=
		exit 1
	fi
	sleep 0.1
done

A=$H/agents/$NAME
"$B/proctrail-agent" --collector "$LISTEN" --ca "$A/ca.crt" --cert "$A/agent.crt" \
	--key "$A/agent.key" --spool-dir "$H/spool" >>"$H/agent.log" 2>&1 &
AGENT_PID=$!
sleep 1
if ! kill -0 "$AGENT_PID" 2>/dev/null; then
	echo "run-local: the agent stopped at once; its log ($H/agent.log):" >&2
	tail -20 "$H/agent.log" >&2
	AGENT_PID=
	echo "run-local: the collector keeps running; replay traffic with build/bench/replay --bundle $A" >&2
fi

cat <<MSG

proctrail is running:
  collector  $LISTEN (TLS 1.3, mutual auth)   log: $H/server.log   db: $DB_DIR/proctrail.db
  agent      '$NAME' -> $LISTEN               log: $H/agent.log    spool: $H/spool

  HTTP API   https://$API (docs/api.md)   operator 'local' (admin), token: $H/operators/local.token
    curl --cacert $H/pki/ca.crt -H "Authorization: Bearer \$(cat $H/operators/local.token)" \\
      https://$API/api/v1/events?limit=5

Web console: open https://$API/ in a browser on this machine (or through an SSH tunnel:
  ssh -L 8443:$API HOST). The certificate is the deployment's own: trust $H/pki/ca.crt
  or accept it once. Sign in with operator name 'local' and the token printed by
    cat $H/operators/local.token   (as root)
  (docs/console.md).

Look at what it records (run anything, e.g. ls, in another terminal; no flags needed here):
  $B/proctrail events --since 10m           a table, local times, escaped
  $B/proctrail events --follow              new events as they arrive
  $B/proctrail events --json --limit 5 | jq .process.executable
  $B/proctrail tree ENTITY_ID               a process with its ancestors and children
  $B/proctrail binaries --max-hosts 1       binaries seen on one host only
  $B/proctrail agents                       health, queue, losses, gaps, silence

Ctrl-C stops the agent and the collector.
MSG

while kill -0 "$SERVER_PID" 2>/dev/null; do
	sleep 1
done
echo "run-local: proctrail-server exited; its log:" >&2
tail -20 "$H/server.log" >&2
SERVER_PID=
stop
