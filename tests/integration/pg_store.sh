#!/usr/bin/env bash
# The collector on PostgreSQL (--db postgresql://...), against a cluster of the test's own
# (initdb into the test's directory, a unix socket there, no TCP port):
#  1. the same replayed batches (replay --seed: identical records) into PostgreSQL and into
#     SQLite give the same `events --json` and `agents --json` (times and addresses aside):
#     a gap left, a resend that fills it, records sent twice, a LOSS record that explains one;
#  2. the time partitions exist (today and tomorrow) and retention drops an old one whole;
#  3. a real agent's exec storm, with the collector killed -9 once part of it is stored, the
#     rest exec'd while no collector runs, then the collector restarted: every exec stored exactly once, none lost, no unexplained gap, no duplicate
#     (agent, stream, seq) row in any partition.
. "$(dirname "$0")/delivery_lib.bash"
. "$(dirname "$0")/pg_lib.bash"

REPLAY=$B/bench/replay
trap 'pg_stop; delivery_cleanup' EXIT
[ -x "$REPLAY" ] || fail "missing $REPLAY"
pg_start

"$PT" --home "$H" pki init >/dev/null
for n in "$NAME" cmp; do "$PT" --home "$H" enroll "$n" >/dev/null; done
chown -R nobody "$H"
chown -R root "$H/agents"

# 1. identical batches into both stores
send() {
	local out
	out=$("$REPLAY" --bundle "$H/agents/cmp" --connect "127.0.0.1:$PORT" --seed 7 --timeout 120 \
		"$@" 2>&1 | tail -1)
	case $out in "result: ok"*) ;; *) fail "replay $*: $out" ;; esac
}
# scenario LABEL DB: the replays against a collector on DB (a URL or a SQLite file)
scenario() {
	local label=$1 db=$2
	start_server --db "$db"
	send --stream 42 --events 3000 --batch 250 --skip 1001-1500   # a gap of 500
	PROCTRAIL_DB=$db "$PT" agents --json | jq -c 'select(."agent.id" == "cmp") | [.unexplained_gaps, .unexplained_missing]' >"$T/gap.$label"
	send --stream 42 --events 3000 --batch 300 --passes 2          # fills it; the rest twice
	send --stream 43 --events 2000 --batch 200 --skip 501-700 --loss 501-700
	stop_server
}
# what differs between two runs whatever the store: wall-clock times and the source port
stable_agents() {
	jq -c 'select(."agent.id" == "cmp") | del(.first_seen, .last_seen, .last_pong, .address)'
}
scenario pg "$URL"
PROCTRAIL_DB=$URL "$PT" events --json >"$T/events.pg"
PROCTRAIL_DB=$URL "$PT" agents --json | stable_agents >"$T/agents.pg"
scenario sqlite "$H/proctrail.db"
PROCTRAIL_DB=$H/proctrail.db "$PT" events --json >"$T/events.sqlite"
PROCTRAIL_DB=$H/proctrail.db "$PT" agents --json | stable_agents >"$T/agents.sqlite"

expect_eq "gap after the first replay (PostgreSQL)" "$(cat "$T/gap.pg")" "[1,500]"
# stream 42: 3000 (the 500 of the gap from the resend); stream 43: 1800 execs and the LOSS
# record. Duplicates: 2500 of the resend's first pass, 3000 of its second.
expect_eq "events stored (PostgreSQL)" "$(wc -l <"$T/events.pg")" 4801
expect_eq "rows in PostgreSQL" "$(pq "SELECT count(*) FROM events")" 4801
expect_eq "duplicate (agent, stream, seq) rows" \
	"$(pq "SELECT count(*) - count(DISTINCT (agent, stream_id, seq)) FROM events")" 0
cmp -s "$T/events.pg" "$T/events.sqlite" ||
	fail "events --json differ: $(diff "$T/events.pg" "$T/events.sqlite" | head -5)"
ok "events --json: PostgreSQL and SQLite give the same $(wc -l <"$T/events.pg") lines"
cmp -s "$T/agents.pg" "$T/agents.sqlite" ||
	fail "agents --json differ: $(diff "$T/agents.pg" "$T/agents.sqlite")"
ok "agents --json: the same (times and address aside)"
expect_eq "agent counts (events, duplicates, gaps, spool-corrupt loss)" \
	"$(jq -c '[.events, .duplicates, .unexplained_gaps, .loss.spool_corrupt.reported]' "$T/agents.pg")" \
	"[4801,5500,0,200]"

# 2. partitions: today's and tomorrow's exist; an old day goes whole with retention
day_ns=$((86400 * 1000000000))
today=$(( $(date -u +%s) / 86400 ))
want_parts="events_$(date -u -d "@$((today * 86400))" +%Y%m%d) events_$(date -u -d "@$(((today + 1) * 86400))" +%Y%m%d)"
parts() {
	pq "SELECT string_agg(c.relname, ' ' ORDER BY c.relname) FROM pg_inherits i
	    JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
}
expect_eq "partitions" "$(parts)" "$want_parts"
# Dedup across partitions: stream 42's rows moved into yesterday's partition (as if stored
# then), and the whole stream resent today: nothing is new, no row is added.
yday=$((today - 1))
pq "CREATE TABLE events_$(date -u -d "@$((yday * 86400))" +%Y%m%d) PARTITION OF events
    FOR VALUES FROM ($((yday * day_ns))) TO ($(((yday + 1) * day_ns)))" >/dev/null
pq "UPDATE events SET stored_ns = stored_ns - $day_ns WHERE stream_id = 42" >/dev/null
want_parts="events_$(date -u -d "@$((yday * 86400))" +%Y%m%d) $want_parts"
start_server --db "$URL"
send --stream 42 --events 3000 --batch 500 --passes 2   # from seq 1, whatever was acked
stop_server
expect_eq "rows after resending a stream stored yesterday" "$(pq "SELECT count(*) FROM events")" 4801
expect_eq "its duplicates counted" "$(PROCTRAIL_DB=$URL "$PT" agents --json | stable_agents | jq .duplicates)" 11500
old=$((today - 40))
pq "CREATE TABLE events_$(date -u -d "@$((old * 86400))" +%Y%m%d) PARTITION OF events
    FOR VALUES FROM ($((old * day_ns))) TO ($(((old + 1) * day_ns)))" >/dev/null
pq "INSERT INTO events(agent, stream_id, seq, type, stored_ns, record)
    VALUES(999999, 1, 1, 1, $((old * day_ns + 1)), '\\x00')" >/dev/null
start_server --db "$URL" --retention-days 30
expect_eq "partitions after retention of 30 days (yesterday's kept)" "$(parts)" "$want_parts"
expect_eq "rows kept" "$(pq "SELECT count(*) FROM events")" 4801
grep -q "partition events_.* dropped" "$T/server.log" || fail "no retention line in the log"
ok "retention dropped the partition of 40 days ago"

# 3. a real agent, the collector killed -9 in the middle of its storm and restarted
q() {
	pq "$(sed -e "s/X'\([0-9a-f]*\)'/'\\\\x\1'::bytea/g" <<<"$1")"
}
export PROCTRAIL_DB=$URL
STORM=${PT_PG_STORM:-1500}
KEEP_PORT=1
make_bin
start_agent
half=$((STORM / 2))
storm 1 "$half" &
storm_pid=$!
wait_stored $((STORM / 8)) 120
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
ok "collector killed -9 with $(q "SELECT count(*) FROM events WHERE sha256 = X'$(sha256sum "$BIN" | cut -d' ' -f1)'") of the storm's execs stored"
# the second half while no collector runs: the agent spools it
storm $((half + 1)) "$STORM"
wait "$storm_pid"
start_server --db "$URL"
wait_args 1 "$STORM" 300
check_exactly_once 1 "$STORM"
expect_eq "missing execs" "$MISSING" 0
expect_eq "duplicated execs" "$DUPS" 0
expect_eq "duplicate (agent, stream, seq) rows" \
	"$(pq "SELECT count(*) - count(DISTINCT (agent, stream_id, seq)) FROM events")" 0
expect_eq "reported losses" "$(reported_losses)" 0
expect_eq "unexplained gaps" "$(agent_json | jq -r .unexplained_gaps)" 0
echo "resent records recognised as duplicates: $(agent_json | jq -r .duplicates)"
stop_agent
stop_server
grep -q -- "--rules is not available" <("$SERVER" --home "$H" --db "$URL" --rules "$T" 2>&1 || true) ||
	fail "--rules with PostgreSQL was not refused"
ok "--rules with a PostgreSQL --db is refused"
ok "PostgreSQL store: same answers as SQLite, partitions, retention, kill -9 without loss or duplicate"
