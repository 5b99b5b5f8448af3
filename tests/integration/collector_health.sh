#!/usr/bin/env bash
# Health from PING/PONG: an agent that answers is 'ok' with its PONG stored; one that stops
# answering for three ping intervals is marked 'stale' while still connected; a closed
# connection is 'disconnected'. COLLECT on demand (SIGUSR1) reaches a pull-mode agent.
. "$(dirname "$0")/collector_lib.bash"

deploy talker mute puller
start_server --ping-interval 1 --collect-interval 3600

health() { q "SELECT health || ',' || connected FROM agents WHERE name='$1'"; }

# The clients stay connected for about 30 s (60 batches, one every 500 ms): long enough for the
# states below on a busy machine; the test waits for them, it does not time them.
"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/talker" --events 6000 --batch 100 \
	--window 1 --pace-ms 500 >"$T/talker.out" 2>&1 &
talker=$!
"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/mute" --no-pong --events 6000 \
	--batch 100 --window 1 --pace-ms 500 >"$T/mute.out" 2>&1 &
mute=$!
# until NAME has STATE, or the deadline (which only bounds a failure)
wait_health() {
	for _ in $(seq 100); do
		[ "$(health "$1")" = "$2" ] && return 0
		sleep 0.2
	done
}
wait_health mute "stale,1"    # stale after 3 missed 1 s pings
wait_health talker "ok,1"
expect_eq "talker while connected" "$(health talker)" "ok,1"
expect_eq "mute while connected" "$(health mute)" "stale,1"
[ "$(q "SELECT last_pong_ns IS NOT NULL FROM agents WHERE name='talker'")" = 1 ] || fail "no PONG stored"
[ "$(q "SELECT last_pong_ns IS NULL FROM agents WHERE name='mute'")" = 1 ] || fail "PONG from mute?"
grep -q "agent mute (127.0.0.1:[0-9]*): no PONG for [0-9]* s, marked stale" "$T/server.log" \
	|| fail "no log line for the stale agent"
wait "$talker" || fail "talker: $(cat "$T/talker.out")"
wait "$mute" || fail "mute: $(cat "$T/mute.out")"
wait_health talker "disconnected,0"
expect_eq "talker after it left" "$(health talker)" "disconnected,0"

# Pull mode, COLLECT interval an hour: nothing arrives until SIGUSR1 asks for it.
"$REPLAY" --connect "127.0.0.1:$PORT" --bundle "$H/agents/puller" --mode pull --events 300 \
	--batch 100 >"$T/puller.out" 2>&1 &
puller=$!
# The puller is connected and holding its records before COLLECT is asked for.
for _ in $(seq 100); do
	[ "$(q "SELECT connected FROM agents WHERE name='puller'")" = 1 ] && break
	sleep 0.2
done
sleep 1   # a wrongly sent batch would have time to land
expect_eq "pull-mode rows before COLLECT" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='puller'")" 0
kill -USR1 "$SERVER_PID"
wait "$puller" || fail "puller: $(cat "$T/puller.out")"
expect_eq "pull-mode rows after COLLECT" "$(q "SELECT count(*) FROM events e JOIN agents a ON a.id=e.agent WHERE a.name='puller'")" 300
stop_server
