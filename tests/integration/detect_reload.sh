#!/usr/bin/env bash
# Detection through the real protocol (replay client, real TLS, real SQLite): an alert is made
# exactly once per (event, rule) also when every batch is sent twice; SIGHUP reloads the rule
# directory, a refused file is logged with its reason and does not stop the others, and a
# directory that became unreadable keeps the rules in use.
. "$(dirname "$0")/collector_lib.bash"

# replay's records: /usr/bin/{cc,ld,make,sh,sed,awk,grep,cat} with "-O2 -c fileN.c -o fileN.o"
R=$T/rules
mkdir -p "$R"
cat >"$R/make.yml" <<'EOF'
title: make compiles
id: 11111111-0000-0000-0000-000000000001
level: low
logsource:
    category: process_creation
    product: linux
detection:
    selection:
        Image|endswith: '/make'
        CommandLine|contains|all:
            - ' -c '
            - '.c'
    condition: selection
EOF
deploy alpha
start_server --rules "$R"
grep -q "rules $R: 1 loaded, 0 refused (start)" "$T/server.log" || fail "rules not loaded"

r=$(replay --bundle "$H/agents/alpha" --stream 7 --events 4000 --batch 300 --passes 2)
[[ $r == "result: ok"* ]] || fail "two passes: $r"
expect_eq "rows after two passes" "$(q "SELECT count(*) FROM events WHERE stream_id=7")" 4000
make_execs=$("$PT" --home "$H" events --json | jq -c 'select(.process.executable == "/usr/bin/make")' | wc -l)
[ "$make_execs" -gt 0 ] || fail "replay sent no make exec"
expect_eq "alerts: one per matching event, though every batch came twice" \
	"$(q "SELECT count(*) FROM alerts")" "$make_execs"
expect_eq "each alert's event is a make exec" \
	"$("$PT" --home "$H" alerts --json | jq -r .event.process.executable | sort -u)" "/usr/bin/make"

# A second rule, a broken one, and one with an unmapped field; SIGHUP.
sed -e 's/11111111-0000-0000-0000-000000000001/22222222-0000-0000-0000-000000000002/' \
	-e "s|'/make'|'/grep'|" -e 's/make compiles/grep compiles/' "$R/make.yml" >"$R/grep.yml"
printf 'title: [broken\n' >"$R/broken.yml"
sed -e 's/Image|endswith/OriginalFileName/' "$R/make.yml" >"$R/unmapped.yml"
kill -HUP "$SERVER_PID"
for _ in $(seq 100); do
	grep -q "rules $R: 2 loaded, 2 refused (SIGHUP)" "$T/server.log" && break
	sleep 0.1
done
grep -q "rules $R: 2 loaded, 2 refused (SIGHUP)" "$T/server.log" || fail "no reload line"
grep -q "broken.yml refused: YAML" "$T/server.log" || fail "broken file not logged"
grep -q "unmapped.yml refused: field 'OriginalFileName' is not recorded by proctrail" \
	"$T/server.log" || fail "unmapped field not logged"
ok "SIGHUP: 2 loaded, the broken and the unmapped file refused with their reasons"

r=$(replay --bundle "$H/agents/alpha" --stream 8 --events 2000 --batch 250)
[[ $r == "result: ok"* ]] || fail "after reload: $r"
grep_new=$("$PT" --home "$H" events --json |
	jq -c 'select(.process.executable == "/usr/bin/grep" and .proctrail.stream_id == 8)' | wc -l)
[ "$grep_new" -gt 0 ] || fail "replay sent no grep exec on stream 8"
expect_eq "grep alerts, from the reloaded set only (stream 8)" \
	"$(q "SELECT count(*) FROM alerts WHERE rule_id = '22222222-0000-0000-0000-000000000002'")" \
	"$grep_new"
expect_eq "no (event, rule) twice" "$(q "SELECT count(*) - count(DISTINCT event || rule_id) FROM alerts")" 0

# An unreadable directory on reload: logged, the rules stay.
mv "$R" "$R.gone"
kill -HUP "$SERVER_PID"
for _ in $(seq 100); do
	grep -q "the rules loaded before stay in use" "$T/server.log" && break
	sleep 0.1
done
grep -q "the rules loaded before stay in use" "$T/server.log" || fail "no failed-reload line"
before=$(q "SELECT count(*) FROM alerts")
r=$(replay --bundle "$H/agents/alpha" --stream 9 --events 800 --batch 200)
[[ $r == "result: ok"* ]] || fail "after failed reload: $r"
[ "$(q "SELECT count(*) FROM alerts")" -gt "$before" ] || fail "rules dropped by a failed reload"
ok "a failed reload keeps the rules in use"
stop_server
