#!/usr/bin/env bash
# The HTTP API over real TLS against a real collector and SQLite, fed by the replay client:
# 401 without a valid token, 403 for the read role on an admin endpoint, the session cookie
# and its CSRF header, a revoked operator shut out, every events filter compared with the
# stored rows, cursor paging that visits every event once, bad parameters refused by name.
. "$(dirname "$0")/api_lib.bash"

deploy a1 a2
operator alice admin
operator bob read
start_api
replay --bundle "$H/agents/a1" --events 400 --batch 50 >/dev/null
replay --bundle "$H/agents/a2" --events 300 --batch 50 --hostname "h<2>" >/dev/null
expect_eq "stored" "$(q 'SELECT count(*) FROM events')" 700

# -- authentication
api - /api/v1/whoami >/dev/null
expect_eq "no token: status" "$(status)" 401
expect_eq "no token: body" "$(cat "$T/body")" '{"error":"unauthorized"}'
curl -sS --cacert "$H/pki/ca.crt" -o "$T/body" -w '%{http_code}' \
	-H "Authorization: Bearer pt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
	"https://127.0.0.1:$APORT/api/v1/events" >"$T/status"
expect_eq "wrong token: status" "$(status)" 401
expect_eq "wrong token sees nothing" "$(cat "$T/body")" '{"error":"unauthorized"}'
expect_eq "whoami (read)" "$(api bob /api/v1/whoami | jq -c .)" '{"operator":"bob","role":"read"}'
expect_eq "whoami (admin)" "$(api alice /api/v1/whoami | jq -r .role)" admin
api bob /api/v1/operators >/dev/null
expect_eq "read role on an admin endpoint" "$(status)" 403
expect_eq "admin endpoint for admin" "$(api alice /api/v1/operators | jq -r '[.operators[].name] | join(",")')" "alice,bob"
curl -sS -D "$T/headers" --cacert "$H/pki/ca.crt" -o /dev/null \
	-H "Authorization: Bearer $(cat "$T/bob.token")" "https://127.0.0.1:$APORT/api/v1/whoami"
grep -qi '^Cache-Control: no-store' "$T/headers" || fail "Cache-Control missing"
grep -qi '^X-Content-Type-Options: nosniff' "$T/headers" || fail "nosniff missing"
grep -qi '^Content-Type: application/json' "$T/headers" || fail "Content-Type missing"
ok "every answer carries Cache-Control, nosniff, Content-Type"

# -- session cookie
curl -sS --cacert "$H/pki/ca.crt" -D "$T/headers" -o /dev/null -w '%{http_code}' -X POST \
	-d "{\"operator\":\"bob\",\"token\":\"$(cat "$T/bob.token")\"}" \
	"https://127.0.0.1:$APORT/api/v1/session" >"$T/status"
expect_eq "sign in" "$(status)" 204
COOKIE=$(sed -n 's/^Set-Cookie: \(pt_session=[0-9a-f]*\);.*/\1/Ip' "$T/headers" | tr -d '\r')
[ -n "$COOKIE" ] || fail "no session cookie"
grep -i '^Set-Cookie:' "$T/headers" | grep -q 'HttpOnly; Secure; SameSite=Strict; Max-Age=43200' ||
	fail "cookie attributes: $(grep -i '^Set-Cookie' "$T/headers")"
expect_eq "whoami by cookie" "$(api - /api/v1/whoami -H "Cookie: $COOKIE" | jq -r .operator)" bob
api - /api/v1/session -X DELETE -H "Cookie: $COOKIE" >/dev/null
expect_eq "sign out by cookie without the CSRF header" "$(status)" 403
api - /api/v1/session -X DELETE -H "Cookie: $COOKIE" -H "X-Proctrail-CSRF: 1" >/dev/null
expect_eq "sign out" "$(status)" 204
api - /api/v1/whoami -H "Cookie: $COOKIE" >/dev/null
expect_eq "cookie after sign out" "$(status)" 401
curl -sS --cacert "$H/pki/ca.crt" -o /dev/null -w '%{http_code}' -X POST \
	-d '{"operator":"alice","token":"'"$(cat "$T/bob.token")"'"}' \
	"https://127.0.0.1:$APORT/api/v1/session" >"$T/status"
expect_eq "sign in with another operator's token" "$(status)" 401

# -- paging: every event once, newest first
all_events alice "limit=37" >"$T/every.json"
expect_eq "paged events" "$(wc -l <"$T/every.json")" 700
expect_eq "each event once" "$(jq -r .proctrail.event_id "$T/every.json" | sort -u | wc -l)" 700
expect_eq "newest first, the stored ids" "$(jq -r .proctrail.event_id "$T/every.json" | md5sum)" \
	"$(q 'SELECT id FROM events ORDER BY id DESC' | md5sum)"
expect_eq "agent.name and host.name" "$(jq -r '[.agent.id, .agent.name, .host.name] | join(",")' "$T/every.json" | sort | uniq -c | awk '{print $1, $2}' | tr '\n' ' ')" \
	"400 a1,a1,a1 300 a2,a2,h<2> "

# -- each filter against the full set, filtered by jq
check() { # name query jq-predicate
	local got want
	all_events alice "$2&limit=50" >"$T/f.json"
	got=$(jq -r .proctrail.event_id "$T/f.json" | sort -n | tr '\n' ' ')
	want=$(jq -r "select($3) | .proctrail.event_id" "$T/every.json" | sort -n | tr '\n' ' ')
	[ -n "$want" ] || fail "$1: the check selects nothing (bad test)"
	[ "$(jq -r .proctrail.event_id "$T/every.json" | wc -l)" -gt "$(wc -w <<<"$want")" ] ||
		fail "$1: the check selects everything (bad test)"
	[ "$got" = "$want" ] || fail "filter $1: got '$got', want '$want'"
	ok "filter $1: $(wc -w <<<"$want") events, the same as selected from all"
}
E=$(jq -r 'select(.process.executable == "/usr/bin/make") | .' "$T/every.json" | jq -s -c '.[7]')
SHA=$(jq -r .process.hash.sha256 <<<"$E")
ENT=$(jq -r .process.entity_id <<<"$E")
PID=$(jq -r .process.pid <<<"$E")
TS=$(jq -r '."@timestamp"' <<<"$E")
all_checks() {
check agent "agent=a2" '.agent.name == "a2"'
check host "host=h%3C2%3E" '.host.name == "h<2>"'
check exe "exe=/usr/bin/make" '.process.executable == "/usr/bin/make"'
check exe_prefix "exe_prefix=/usr/bin/c" '.process.executable | startswith("/usr/bin/c")'
check exe_glob "exe_glob=/usr/bin/%5Bcs%5D%3F*" '.process.executable | test("^/usr/bin/[cs].")'
check name "name=grep" '.process.name == "grep"'
check sha256 "sha256=$SHA" ".process.hash.sha256 == \"$SHA\""
check entity_id "entity_id=$ENT" ".process.entity_id == \"$ENT\""
check pid "pid=$PID" ".process.pid == $PID"
check cmdline "cmdline=file1.c%20-o" '.process.args | join(" ") | contains("file1.c -o")'
check "agent + cmdline" "agent=a1&cmdline=file2" '.agent.name == "a1" and (.process.args | join(" ") | contains("file2"))'
check "cmdline, 2 bytes (no trigram: the scan)" "cmdline=e7" '.process.args | join(" ") | contains("e7")'
check to "to=$TS" "(.\"@timestamp\" <= \"$TS\")"
check from "from=$TS" "(.\"@timestamp\" >= \"$TS\")"
check "agent + from" "agent=a2&from=$TS" ".agent.name == \"a2\" and (.\"@timestamp\" >= \"$TS\")"
}
all_checks
# Committed but not yet in the lookup tables: with the fill mark moved back, the newer half of
# the events is read from the events table itself, and every answer must stay the same.
for _ in $(seq 100); do
	[ "$(q "SELECT value FROM meta WHERE key='key_indexed_upto'")" = 700 ] && break
	sleep 0.1
done
q "UPDATE meta SET value='350' WHERE key='key_indexed_upto'"
all_checks
# A database from before the trigram index: its command lines up to cmdline_fts_from are not
# in it, and those epochs are scanned; the answers stay the same.
q "UPDATE meta SET value='700' WHERE key='key_indexed_upto'"
q "DELETE FROM cmdline_fts; UPDATE meta SET value='350' WHERE key='cmdline_fts_from'"
all_checks
q "UPDATE meta SET value='350' WHERE key='key_indexed_upto'"
all_events alice "limit=41" >"$T/every2.json"
expect_eq "paging with an unindexed tail" "$(jq -r .proctrail.event_id "$T/every2.json" | md5sum)" \
	"$(jq -r .proctrail.event_id "$T/every.json" | md5sum)"
all_events alice "user=1000&limit=1000" >"$T/f.json"
expect_eq "filter user (numeric id)" "$(wc -l <"$T/f.json")" 700
all_events alice "user=0" >"$T/f.json"
expect_eq "filter user matching nobody" "$(wc -l <"$T/f.json")" 0
all_events alice "action=exit" >"$T/f.json"
expect_eq "filter action" "$(wc -l <"$T/f.json")" 0
all_events alice "from=1h&action=exec&limit=1000" >"$T/f.json"
expect_eq "relative age" "$(wc -l <"$T/f.json")" 700
all_events alice "to=1h" >"$T/f.json"
expect_eq "an hour ago: none yet" "$(wc -l <"$T/f.json")" 0

# FTS5 syntax in the substring is text: quotes and operators match nothing here, no error
api bob "/api/v1/events?cmdline=file1%22%20OR%20%22make" >/dev/null
expect_eq "cmdline with quotes and OR: status" "$(status)" 200
expect_eq "cmdline with quotes and OR: none" "$(jq '.events | length' "$T/body")" 0
api bob "/api/v1/events?cmdline=-o%20*" >/dev/null
expect_eq "cmdline with a star: none" "$(jq '.events | length' "$T/body")" 0

ID=$(jq -r .proctrail.event_id <<<"$E")
expect_eq "event by id" "$(api bob "/api/v1/events/$ID" | jq -c .)" "$(jq -c . <<<"$E")"
api bob /api/v1/events/999999 >/dev/null
expect_eq "missing event" "$(status)" 404

# -- bad parameters are refused by name
for bad in "limit=0" "limit=1001" "cursor=zzz" "from=yesterday" "pid=-1" "sha256=12" "bogus=1" \
	"action=fork" "limit=5&limit=6" "entity_id=xyz"; do
	api bob "/api/v1/events?$bad" >/dev/null
	expect_eq "400 for $bad" "$(status)" 400
	name=${bad%%=*}
	jq -e --arg n "$name" '.error | startswith($n)' "$T/body" >/dev/null ||
		fail "$bad: error does not name the parameter: $(cat "$T/body")"
done

# -- revoking an operator shuts it out at once (the file is re-read when it changes)
"$PT" --home "$H" pki operator bob --revoke >/dev/null
api bob /api/v1/whoami >/dev/null
expect_eq "revoked operator" "$(status)" 401

# -- agents and binaries
api alice /api/v1/agents >"$T/agents.json"
expect_eq "agents" "$(jq -r '[.agents[] | "\(.name):\(.host):\(.connected):\(.gaps)"] | join(" ")' "$T/agents.json")" \
	"a1:a1:false:0 a2:h<2>:false:0"
jq -e '.agents[0].silent_seconds >= 0 and (.agents[0].counters | type) == "object"' "$T/agents.json" >/dev/null ||
	fail "agents: $(cat "$T/agents.json")"
expect_eq "binaries (replay hashes are per agent)" "$(api alice '/api/v1/binaries?max_hosts=1&limit=1000' | jq '.binaries | length')" 128
expect_eq "binary by hash" "$(api alice "/api/v1/binaries/$SHA" | jq -c '[.hosts, (.agents | length), .paths]')" '[1,1,["/usr/bin/make"]]'
# paths and size from binary_paths (with the unindexed tail above the mark) are what the
# execs themselves say: the same page once the table is emptied (a database from before it)
api alice '/api/v1/binaries?limit=1000' | jq -S . >"$T/bins.json"
api alice "/api/v1/binaries/$SHA" | jq -S . >"$T/bin1.json"
[ "$(q 'SELECT count(*) FROM binary_paths')" -gt 0 ] || fail "binary_paths is empty"
q "DELETE FROM binary_paths"
expect_eq "binaries page without binary_paths" "$(api alice '/api/v1/binaries?limit=1000' | jq -S . | md5sum)" "$(md5sum <"$T/bins.json")"
expect_eq "binary without binary_paths" "$(api alice "/api/v1/binaries/$SHA" | jq -S . | md5sum)" "$(md5sum <"$T/bin1.json")"
jq -e '.binaries | all(.size != null and (.paths | length) == 1)' "$T/bins.json" >/dev/null ||
	fail "binaries: size or paths missing: $(head -c 300 "$T/bins.json")"
N=$(jq -r "select(.process.hash.sha256 == \"$SHA\") | .proctrail.event_id" "$T/every.json" | wc -l)
expect_eq "binary exec count" "$(api alice "/api/v1/binaries/$SHA" | jq .execs)" "$N"
stop_server
