#!/usr/bin/env bash
# The HTTP API on PostgreSQL answers as on SQLite: the same replayed batches (replay --seed,
# identical records; --tree: one process tree) into a collector on SQLite and one on a
# PostgreSQL cluster of the test's own, then the same questions to both APIs, every answer
# compared byte for byte after jq -S: events with every filter, the command-line search,
# cursor paging, one event, process trees (root, middle, leaf), binaries and rare binaries
# with paging, a binary's detail, agents (their wall-clock times and source port aside), the
# 404s, the event stream. Documented differences only (docs/api.md): what PostgreSQL does not serve yet answers
# 501 there (policy, samples, rules, alerts).
. "$(dirname "$0")/api_lib.bash"
. "$(dirname "$0")/pg_lib.bash"
trap 'pg_stop; cleanup' EXIT
pg_start

deploy a1 a2
operator alice admin

send() {
	local out
	out=$(replay --seed 7 "$@")
	case $out in "result: ok"*) ;; *) fail "replay $*: $out" ;; esac
}

# what differs between two runs whatever the store: wall-clock times and the source port
norm() {
	case $1 in
	agents*) jq -S '.agents[] |= del(.last_seen, .silent_seconds, .first_seen, .last_pong, .address)' ;;
	*) jq -S . ;;
	esac
}

# ask NAME PATH: the status and the normalised answer into $ANS/NAME
ask() {
	api alice "$2" >"$T/raw"
	{ status; echo; norm "$1" <"$T/raw" 2>/dev/null || cat "$T/raw"; } >"$ANS/$1"
}

# questions: every one asked of the API of the running collector
questions() {
	ask events_all "/api/v1/events?limit=1000"
	all_events alice "limit=97" | jq -S -c . >"$ANS/events_paged"
	ask events_page1 "/api/v1/events?limit=7&user=1000"
	ask events_page2 "/api/v1/events?limit=7&user=1000&cursor=$(jq -r .next_cursor "$T/body")"
	ask agent "/api/v1/events?agent=a2&limit=1000"
	ask host "/api/v1/events?host=h%3C2%3E&limit=1000"
	ask exe "/api/v1/events?exe=/usr/bin/make&limit=1000"
	ask exe_prefix "/api/v1/events?exe_prefix=/usr/bin/c&limit=1000"
	ask exe_glob "/api/v1/events?exe_glob=/usr/bin/%5Bcs%5D%3F*&limit=1000"
	ask name "/api/v1/events?name=grep&limit=1000"
	ask sha256 "/api/v1/events?sha256=$SHA&limit=1000"
	ask entity_id "/api/v1/events?entity_id=$MID"
	ask pid "/api/v1/events?pid=10005"
	ask agent_pid "/api/v1/events?pid=10005&agent=a1"
	ask cmdline "/api/v1/events?cmdline=file1.c%20-o&limit=1000"
	ask cmdline_agent "/api/v1/events?agent=a1&cmdline=file2&limit=1000"
	ask cmdline_short "/api/v1/events?cmdline=e7&limit=1000"
	ask cmdline_quotes "/api/v1/events?cmdline=file1%22%20OR%20%22make"
	ask from "/api/v1/events?from=$TS&limit=1000"
	ask to "/api/v1/events?to=$TS&limit=1000"
	ask agent_from "/api/v1/events?agent=a2&from=$TS&limit=1000"
	ask action "/api/v1/events?action=exit"
	ask event_one "/api/v1/events/$ID"
	ask event_missing "/api/v1/events/999999"
	ask tree_root "/api/v1/tree/$ROOT"
	ask tree_mid "/api/v1/tree/$MID"
	ask tree_leaf "/api/v1/tree/$LEAF"
	ask tree_missing "/api/v1/tree/00000000000000000000000000000000"
	ask binaries "/api/v1/binaries?limit=1000"
	ask rare "/api/v1/binaries?max_hosts=1&limit=1000"
	ask binaries_page1 "/api/v1/binaries?limit=10"
	ask binaries_page2 "/api/v1/binaries?limit=10&cursor=$(jq -r .next_cursor "$T/body")"
	ask binaries_sha "/api/v1/binaries?sha256=$SHA"
	ask binary_one "/api/v1/binaries/$SHA"
	ask binary_one_rare "/api/v1/binaries/$SHA1"
	ask binary_missing "/api/v1/binaries/$(printf '0%.0s' $(seq 64))"
	ask agents "/api/v1/agents"
	ask whoami "/api/v1/whoami"
}

# run LABEL DB: the batches into a collector on DB, then the questions
run() {
	ANS=$T/ans.$1
	mkdir -p "$ANS"
	# no PING during the run: a PONG's queue and counters would depend on timing
	start_api --db "$2" --ping-interval 3600
	send --bundle "$H/agents/a1" --stream 1 --tree --events 600 --batch 100
	# the same records 0-39 (entity ids, hashes), later: a tree's walk starts on a1's
	send --bundle "$H/agents/a2" --stream 2 --first-seq 1001 --events 40 --batch 20 --hostname "h<2>"
	send --bundle "$H/agents/a1" --stream 1 --tree --events 600 --batch 150 --passes 2
	if [ "$1" = sqlite ]; then
		# the values the questions name, taken from SQLite's answers (the same on both)
		api alice "/api/v1/events?limit=1000" >"$T/every.json"
		pick() { jq -r ".events[] | select(.agent.name == \"a1\" and .process.pid == $1) | .$2" "$T/every.json" | head -1; }
		ROOT=$(pick 10000 process.entity_id)
		MID=$(pick 10005 process.entity_id)
		LEAF=$(pick 10599 process.entity_id)
		ID=$(pick 10005 proctrail.event_id)
		TS=$(pick 10300 '"@timestamp"')
		SHA=$(pick 10001 process.hash.sha256)     # a1 and a2 ran it: 2 hosts
		SHA1=$(pick 10063 process.hash.sha256)    # a1 only
		for v in ROOT MID LEAF ID TS SHA SHA1; do
			[ -n "${!v}" ] && [ "${!v}" != null ] || fail "no value for $v in the events"
		done
	fi
	questions
	# the event stream: events stored after it opened, in order
	curl -sS -N --cacert "$H/pki/ca.crt" -H "Authorization: Bearer $(cat "$T/alice.token")" \
		"https://127.0.0.1:$APORT/api/v1/events/stream?agent=a2" >"$T/stream" 2>&1 &
	local cpid=$! i
	for i in $(seq 300); do grep -q '^: proctrail events from' "$T/stream" && break; sleep 0.1; done
	send --bundle "$H/agents/a2" --stream 3 --events 5 --batch 5 --hostname "h<2>"
	for i in $(seq 600); do [ "$(grep -c '^event: event' "$T/stream")" -ge 5 ] && break; sleep 0.1; done
	kill "$cpid" 2>/dev/null || true
	wait "$cpid" 2>/dev/null || true
	grep -v '^: keepalive' "$T/stream" >"$ANS/stream"
	for p in policy samples rules alerts; do
		api alice "/api/v1/$p" >/dev/null
		echo "$(status)" >"$ANS/status_$p"
	done
	if [ "$1" = pg ]; then
		# a restarted PostgreSQL: the API reconnects, the same answer as before
		ask agents_before_restart "/api/v1/agents"
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 300 restart \
			>/dev/null || fail "pg_ctl restart"
		ask agents_after_restart "/api/v1/agents"
		expect_eq "agents after a PostgreSQL restart: status" "$(head -1 "$ANS/agents_after_restart")" 200
		cmp -s "$ANS/agents_before_restart" "$ANS/agents_after_restart" ||
			fail "agents after the restart: $(diff "$ANS/agents_before_restart" "$ANS/agents_after_restart" | head -5)"
		ok "the API reconnected to the restarted PostgreSQL"
	fi
	stop_server
}

run sqlite "$H/proctrail.db"
expect_eq "stored on SQLite" "$(q 'SELECT count(*) FROM events')" 645
run pg "$URL"
expect_eq "stored on PostgreSQL" "$(pq 'SELECT count(*) FROM events')" 645
grep -q "API listening" "$T/server.log" || fail "no API on PostgreSQL"

# The answers are worth comparing: what they hold is checked on SQLite's (then they must be
# the same on PostgreSQL).
S=$T/ans.sqlite
body() { tail -n +2 "$S/$1"; }
expect_eq "events: all of them" "$(body events_all | jq '.events | length')" 640
expect_eq "events: paged, each once" "$(jq -r .proctrail.event_id "$S/events_paged" | sort -u | wc -l)" 640
expect_eq "events by agent" "$(body agent | jq '[.events[] | select(.agent.name == "a2")] | length')" 40
expect_eq "events by entity id (one per agent)" "$(body entity_id | jq '.events | length')" 2
expect_eq "cmdline search" "$(body cmdline | jq '[.events[].process.args | join(" ") | contains("file1.c -o")] | all and length > 0')" true
expect_eq "tree of the root: descendants" "$(body tree_root | jq '[.. | objects | select(has("entity_id") and has("execs"))] | length')" 600
expect_eq "tree of record 5: its ancestors (records 2 and 0)" "$(body tree_mid | jq -r '[.ancestors[].pid] | join(",")')" "10000,10002"
expect_eq "tree of record 5: its children (records 11 and 12)" "$(body tree_mid | jq -r '[.descendants[].pid] | join(",")')" "10011,10012"
expect_eq "tree of a leaf: no descendants" "$(body tree_leaf | jq '.descendants | length')" 0
expect_eq "binaries" "$(body binaries | jq '.binaries | length')" 64
expect_eq "rare binaries (1 host)" "$(body rare | jq '.binaries | length')" 24
expect_eq "a binary of two agents" "$(body binary_one | jq -c '[.hosts, [.agents[].agent]]')" '[2,["a1","a2"]]'
expect_eq "binaries paging" "$(cat "$S/binaries_page1" "$S/binaries_page2" | grep -o '"sha256": "[0-9a-f]*"' | sort -u | wc -l)" 20
expect_eq "event stream: the 5 new events" "$(grep -c '^event: event' "$S/stream")" 5
expect_eq "agents" "$(body agents | jq -c '[.agents[] | [.name, .events, .duplicates]]')" '[["a1",600,1200],["a2",40,0]]'
for f in event_missing tree_missing binary_missing; do
	expect_eq "$f: status" "$(head -1 "$S/$f")" 404
done

# the same answers on PostgreSQL
n=0
for f in "$S"/*; do
	name=$(basename "$f")
	case $name in status_*) continue ;; esac
	[ -s "$T/ans.pg/$name" ] || fail "no answer from PostgreSQL to $name"
	cmp -s "$f" "$T/ans.pg/$name" ||
		fail "$name differs (SQLite <, PostgreSQL >): $(diff "$f" "$T/ans.pg/$name" | head -8)"
	n=$((n + 1))
done
ok "$n answers: PostgreSQL's are SQLite's"

# the documented difference: what PostgreSQL does not serve yet is refused, not empty
for p in policy samples alerts; do
	expect_eq "$p on SQLite" "$(cat "$S/status_$p")" 200
	expect_eq "$p on PostgreSQL" "$(cat "$T/ans.pg/status_$p")" 501
done
expect_eq "rules on SQLite without --rules" "$(cat "$S/status_rules")" 409
expect_eq "rules on PostgreSQL" "$(cat "$T/ans.pg/status_rules")" 501
ok "the API on PostgreSQL: the same answers as on SQLite"
