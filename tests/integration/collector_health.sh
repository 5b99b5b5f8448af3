#!/usr/bin/env bash
# Health from PING/PONG: an agent that answers is 'ok' with its PONG stored; one that stops
# answering for three ping intervals is marked 'stale' while still connected; a closed
# connection is 'disconnected'. COLLECT on demand (SIGUSR1) reaches a pull-mode agent.
. "$(dirname "$0")/collector_lib.bash"

deploy talker mute puller
start_server --ping-interval 1 --collect-interval 3600

health() { q "SELECT health || ',' || connected FROM agents WHERE name='$1'"; }

"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/talker" --events 1600 --batch 100 \
	--window 1 --pace-ms 500 >"$T/talker.out" 2>&1 &
talker=$!
"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/mute" --no-pong --events 1600 \
	--batch 100 --window 1 --pace-ms 500 >"$T/mute.out" 2>&1 &
mute=$!
sleep 5.5   # stale after 3 missed 1 s pings; the clients stay ~8 s
expect_eq "talker while connected" "$(health talker)" "ok,1"
expect_eq "mute while connected" "$(health mute)" "stale,1"
[ "$(q "SELECT last_pong_ns IS NOT NULL FROM agents WHERE name='talker'")" = 1 ] || fail "no PONG stored"
[ "$(q "SELECT last_pong_ns IS NULL FROM agents WHERE name='mute'")" = 1 ] || fail "PONG from mute?"
grep -q "agent mute (127.0.0.1:[0-9]*): no PONG for [0-9]* s, marked stale" "$T/server.log" \
	|| fail "no log line for the stale agent"
wait "$talker" || fail "talker: $(cat "$T/talker.out")"
wait "$mute" || fail "mute: $(cat "$T/mute.out")"
sleep 0.5
expect_eq "talker after it left" "$(health talker)" "disconnected,0"

# Pull mode, COLLECT interval an hour: nothing arrives until SIGUSR1 asks for it.
"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/puller" --mode pull --events 300 \
	--batch 100 >"$T/puller.out" 2>&1 &
puller=$!
sleep 1.5
expect_eq "pull-mode rows before COLLECT" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='puller'")" 0
kill -USR1 "$SERVER_PID"
wait "$puller" || fail "puller: $(cat "$T/puller.out")"
expect_eq "pull-mode rows after COLLECT" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='puller'")" 300
stop_server
