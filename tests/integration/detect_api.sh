#!/usr/bin/env bash
# Rules through the API (docs/api.md /api/v1/rules), with a real agent (eBPF) and the collector
# confined (Landlock: the rule directory writable only because of --rules-upload yes):
# an uploaded rule alerts on the behaviour it describes; a rule that does not compile is
# refused with its reason and changes nothing (the old rules still alert); a file refused at
# load is listed with its reason; a deleted rule alerts no more; a read-only token gets 403.
# Then: uploads off -> 409, no --rules -> 409.
. "$(dirname "$0")/api_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"

deploy api-agent
R=$T/rules
mkdir -p "$R"
cp "$ROOT/tests/integration/sigma/proc_creation_lnx_auditctl_clear_rules.yml" "$R/"
printf 'title: broken\nlogsource: [\n' >"$R/zz_broken.yml"
chown -R nobody "$R"   # the service user writes here (docs/detection.md)
operator adm admin
operator ana read
start_api --rules "$R" --rules-upload yes
grep -q "confined: Landlock on" "$T/server.log" || echo "note: Landlock not in this kernel"

api ana /api/v1/rules >"$T/rules.json"
expect_eq "GET /api/v1/rules (read role)" "$(status)" 200
expect_eq "the loaded rule" "$(jq -r '.rules[] | select(.state == "loaded") | .id' "$T/rules.json")" \
	bed26dea-4525-47f4-b24a-76e30e44ffb0
jq -e '.rules[] | select(.file == "zz_broken.yml" and .state == "refused" and
	(.reason | startswith("YAML")))' "$T/rules.json" >/dev/null ||
	fail "refused file not listed with its reason: $(cat "$T/rules.json")"
ok "a file refused at load is listed with its reason"

TOK=ptapi$$tok
ID=5e1f0000-0000-4000-8000-0000000000$((10 + $$ % 90))
cat >"$T/up.yml" <<EOT
title: API-uploaded probe
id: $ID
level: high
logsource:
    category: process_creation
    product: linux
detection:
    selection:
        CommandLine|contains: '$TOK'
    condition: selection
EOT
api ana /api/v1/rules/probe.yml -X PUT --data-binary "@$T/up.yml" >/dev/null
expect_eq "PUT with a read-only token" "$(status)" 403
[ ! -e "$R/probe.yml" ] || fail "a read-only PUT wrote the file"
for bad in probe.txt .hidden.yml a%2Fb.yml; do
	api adm "/api/v1/rules/$bad" -X PUT --data-binary "@$T/up.yml" >/dev/null
	expect_eq "PUT $bad (bad name)" "$(status)" 400
done
api adm /api/v1/rules/probe.yml -X PUT --data-binary "@$T/up.yml" >"$T/put.json"
expect_eq "PUT probe.yml (admin)" "$(status)" 200
jq -e --arg id "$ID" '.rules[] | select(.file == "probe.yml" and .state == "loaded" and
	.id == $id and .level == "high")' "$T/put.json" >/dev/null || fail "PUT answer: $(cat "$T/put.json")"
expect_eq "the file's mode" "$(stat -c %a "$R/probe.yml")" 640
cmp -s "$T/up.yml" "$R/probe.yml" || fail "the file written differs from the body"
grep -q "rules $R: 2 loaded, 1 refused (API: put probe.yml by adm)" "$T/server.log" ||
	fail "no reload line for the upload"
ok "uploaded rule written (0640) and loaded, the reload logged as SIGHUP's is"

PIN=/sys/fs/bpf/ptapi_$$
mkdir -p "$T/spool"
A=$H/agents/api-agent
"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" --key "$A/agent.key" \
	--spool-dir "$T/spool" --pin-dir "$PIN" >"$T/agent.log" 2>&1 &
AGENT_PID=$!
BIN=$(mktemp -d /run/ptapi.XXXXXX)
stop_agent() {
	kill -TERM "$AGENT_PID" 2>/dev/null || true
	wait "$AGENT_PID" 2>/dev/null || true
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1 || true
	rm -rf "$BIN"
}
trap 'stop_agent; cleanup' EXIT
for _ in $(seq 300); do
	grep -q "agent api-agent .* connected" "$T/server.log" && break
	kill -0 "$AGENT_PID" 2>/dev/null || { tail -20 "$T/agent.log"; fail "agent exited"; }
	sleep 0.1
done
grep -q "agent api-agent .* connected" "$T/server.log" || fail "agent never connected"
cp /bin/true "$BIN/auditctl"

# wait_alert RULE COMMAND_LINE: until an alert of RULE on that exact command line is listed
# (the token is in other command lines too: this test's jq and curl)
wait_alert() {
	for _ in $(seq 300); do
		api ana "/api/v1/alerts?rule=$1&limit=1000" >"$T/al.json"
		[ "$(status)" = 200 ] || fail "alerts: $(status)"
		[ -n "$(jq -c --arg t "$2" '.alerts[] | select(.event.process.command_line == $t)' "$T/al.json")" ] && return 0
		sleep 0.2
	done
	fail "no alert of rule $1 for '$2'"
}
n_alerts() { # RULE COMMAND_LINE
	api ana "/api/v1/alerts?rule=$1&limit=1000" |
		jq -c --arg t "$2" '.alerts[] | select(.event.process.command_line == $t)' | wc -l
}
/bin/true "run1-$TOK"
wait_alert "$ID" "/bin/true run1-$TOK"
ok "the uploaded rule alerted on the real exec"

# A rule that does not compile: 422 with the reason, nothing written, nothing reloaded.
sed 's/CommandLine|contains/OriginalFileName|contains/' "$T/up.yml" >"$T/bad.yml"
api adm /api/v1/rules/bad.yml -X PUT --data-binary "@$T/bad.yml" >"$T/bad.json"
expect_eq "PUT of a rule with an unmapped field" "$(status)" 422
expect_eq "its reason" "$(jq -r .error "$T/bad.json")" \
	"rule refused: field 'OriginalFileName' is not recorded by proctrail"
printf 'title: [oops\n' >"$T/bad2.yml"
api adm /api/v1/rules/probe.yml -X PUT --data-binary "@$T/bad2.yml" >"$T/bad2.json"
expect_eq "PUT of broken YAML over the loaded rule" "$(status)" 422
jq -r .error "$T/bad2.json" | grep -q "^rule refused: YAML" || fail "reason: $(cat "$T/bad2.json")"
[ ! -e "$R/bad.yml" ] || fail "a refused rule was written"
cmp -s "$T/up.yml" "$R/probe.yml" || fail "a refused PUT changed the file"
[ -z "$(ls -A "$R" | grep '^\.')" ] || fail "temporary files left: $(ls -A "$R")"
expect_eq "reloads after the refusals" "$(grep -c "rules $R: .* (API: " "$T/server.log")" 1
/bin/true "run2-$TOK"
(cd / && exec -a auditctl "$BIN/auditctl" -D -k "run2-$TOK")
wait_alert "$ID" "/bin/true run2-$TOK"
wait_alert bed26dea-4525-47f4-b24a-76e30e44ffb0 "auditctl -D -k run2-$TOK"
ok "refused uploads changed nothing: the uploaded and the old rule still alert"

# Delete: no more alerts of it. The old rule's alert on a later exec shows that exec was
# evaluated, so the missing alert is not a delay.
api ana /api/v1/rules/probe.yml -X DELETE >/dev/null
expect_eq "DELETE with a read-only token" "$(status)" 403
api adm /api/v1/rules/probe.yml -X DELETE >"$T/del.json"
expect_eq "DELETE probe.yml" "$(status)" 200
[ ! -e "$R/probe.yml" ] || fail "file still there"
expect_eq "listed after delete" "$(jq -r '.rules[] | select(.file == "probe.yml") | .file' "$T/del.json")" ""
api adm /api/v1/rules/probe.yml -X DELETE >/dev/null
expect_eq "DELETE again" "$(status)" 404
/bin/true "run3-$TOK"
(cd / && exec -a auditctl "$BIN/auditctl" -D -k "run3-$TOK")
wait_alert bed26dea-4525-47f4-b24a-76e30e44ffb0 "auditctl -D -k run3-$TOK"
expect_eq "alerts of the deleted rule for a later exec" "$(n_alerts "$ID" "/bin/true run3-$TOK")" 0
expect_eq "its alerts before, each once" \
	"$(n_alerts "$ID" "/bin/true run1-$TOK") $(n_alerts "$ID" "/bin/true run2-$TOK")" "1 1"
ok "a deleted rule alerts no more"
api adm /api/v1/rules -X POST >/dev/null
expect_eq "POST /api/v1/rules" "$(status)" 405
stop_agent
trap cleanup EXIT
stop_server

# Uploads off: listing works, changes answer 409. No --rules: 409.
start_api --rules "$R"
api ana /api/v1/rules >/dev/null
expect_eq "GET with uploads off" "$(status)" 200
api adm /api/v1/rules/probe.yml -X PUT --data-binary "@$T/up.yml" >"$T/off.json"
expect_eq "PUT with uploads off" "$(status)" 409
jq -r .error "$T/off.json" | grep -q -- "--rules-upload" || fail "reason: $(cat "$T/off.json")"
[ ! -e "$R/probe.yml" ] || fail "written with uploads off"
stop_server
start_api
api ana /api/v1/rules >"$T/none.json"
expect_eq "GET without --rules" "$(status)" 409
jq -r .error "$T/none.json" | grep -q -- "--rules DIR" || fail "reason: $(cat "$T/none.json")"
ok "uploads off and no rule directory answer 409 with the reason"
stop_server
