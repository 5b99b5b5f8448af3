#!/usr/bin/env bash
# The web console in Debian's headless Chromium, driven by playwright-core (tests/browser/
# console.mjs), against a real collector (API over TLS, SQLite) and a real eBPF agent: sign in,
# find an exec by its hash, open its tree, the live view shows an exec made during the test,
# the rules page lists the rules and a refused one's reason, an admin uploads and deletes one and fetches a sample of the binary (its SHA-256 checked),
# the binary page shows the right host count, a hostile file name shows as text. A second real
# agent runs in a UTS namespace of its own (another host name), so every exec of the test is
# seen from two hosts.
# The CLI's tables and --json are checked against the same deployment.
# SHOTS_DIR=docs/console keeps the screenshots (docs/console.md); by default they are thrown away.
. "$(dirname "$0")/api_lib.bash"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (eBPF agent)"
	exit 77
fi
AGENT=$B/proctrail-agent
[ -x "$AGENT" ] || fail "missing $AGENT"
[ -x /usr/bin/chromium ] || fail "chromium missing (scripts/install-deps.sh)"
command -v node >/dev/null && command -v npm >/dev/null || fail "node/npm missing (scripts/install-deps.sh)"

# playwright-core from npm into the git-ignored tests/browser/node_modules (the version the
# lock file pins); no browser download: it drives /usr/bin/chromium.
BR=$ROOT/tests/browser
if [ ! -f "$BR/node_modules/playwright-core/package.json" ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$BR" --no-audit --no-fund >"$T/npm.log" 2>&1 ||
		{ cat "$T/npm.log"; fail "npm ci playwright-core"; }
fi

deploy browser-agent browser-agent2
operator local read
operator adm admin
# a Sigma rule on this test's own binary, for the alerts page
mkdir -p "$T/rules"
cat >"$T/rules/findme.yml" <<'EOF_RULE'
title: findme binary ran
id: 0c0c0c0c-0000-0000-0000-00000000f1d0
level: high
logsource:
    category: process_creation
    product: linux
detection:
    selection:
        Image|contains: '/findme-'
        CommandLine|endswith: ' one'
    condition: selection
EOF_RULE
# refused at load: a field proctrail does not have, named with markup
printf '%s\n' 'title: hostile' 'logsource: {category: process_creation, product: linux}' \
	'detection:' '    selection:' '        "<img src=x onerror=window.__pwned=2>": y' \
	'    condition: selection' >"$T/rules/hostile.yml"
chown -R nobody "$T/rules"   # the Rules page's uploads (--rules-upload)
start_api --ping-interval 1 --rules "$T/rules" --rules-upload yes
URL="https://127.0.0.1:$APORT"
# the CLI finds the API as on a `make run` host: HOME/api.url and HOME/operators/local.token
echo "$URL" >"$H/api.url"
mkdir -p -m 700 "$H/operators"
cp "$T/local.token" "$H/operators/local.token"

PIN=/sys/fs/bpf/ptb_$$
PIN2=/sys/fs/bpf/ptb2_$$
mkdir -p "$T/spool" "$T/spool2"
A=$H/agents/browser-agent
A2=$H/agents/browser-agent2
"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A/ca.crt" --cert "$A/agent.crt" --key "$A/agent.key" \
	--spool-dir "$T/spool" --pin-dir "$PIN" >"$T/agent.log" 2>&1 &
AGENT_PID=$!
unshare --uts sh -c 'hostname "$1" && shift && exec "$@"' sh "console-host-b-$$" \
	"$AGENT" --collector "127.0.0.1:$PORT" --ca "$A2/ca.crt" --cert "$A2/agent.crt" \
	--key "$A2/agent.key" --spool-dir "$T/spool2" --pin-dir "$PIN2" >"$T/agent2.log" 2>&1 &
AGENT2_PID=$!
stop_agent() {
	kill -TERM "$AGENT_PID" "$AGENT2_PID" 2>/dev/null || true
	wait "$AGENT_PID" "$AGENT2_PID" 2>/dev/null || true
	"$AGENT" --uninstall --pin-dir "$PIN" >/dev/null 2>&1 || true
	"$AGENT" --uninstall --pin-dir "$PIN2" >/dev/null 2>&1 || true
}
trap 'stop_agent; cleanup' EXIT
for n in browser-agent browser-agent2; do
	for _ in $(seq 300); do
		grep -q "agent $n .* connected" "$T/server.log" && break
		kill -0 "$AGENT_PID" 2>/dev/null && kill -0 "$AGENT2_PID" 2>/dev/null ||
			{ tail -20 "$T/agent.log" "$T/agent2.log"; fail "an agent exited"; }
		sleep 0.1
	done
	grep -q "agent $n .* connected" "$T/server.log" ||
		{ tail -20 "$T/agent.log" "$T/agent2.log"; fail "agent $n never connected"; }
done

# A binary only this test has (true plus random bytes: its own SHA-256), run by a shell so
# its tree has a parent; a hostile name: markup, quotes, an escape sequence; a binary for the
# live view, run only once the browser watches.
mkdir -p "$T/bin" "$T/live" "$T/h/<script>window.__pwned=1<"
BIN=$T/bin/findme-$$
cp /bin/true "$BIN"
head -c 64 /dev/urandom >>"$BIN"
SHA=$(sha256sum "$BIN" | cut -d' ' -f1)
HOSTILE=$T/h/'<script>window.__pwned=1</script>"'"'"$'\e[31m'evil
cp /bin/true "$HOSTILE"
LIVE=$T/live/live-$$
cp /bin/true "$LIVE"
head -c 64 /dev/urandom >>"$LIVE"
sh -c "'$BIN'; '$BIN' one; '$BIN' two"
"$HOSTILE"

wait_events() { # what: CLI filter args; want: count at least
	local want=$1 n=0
	shift
	for _ in $(seq 300); do
		n=$("$PT" --home "$H" events --json "$@" 2>/dev/null | wc -l)
		[ "$n" -ge "$want" ] && return 0
		sleep 0.2
	done
	fail "events $*: $n, want $want"
}
wait_events 6 --sha256 "$SHA"
wait_events 2 --exe "$HOSTILE"
ok "the agent's execs are stored"

# The same facts through the CLI (its table escapes, its --json keeps the bytes).
"$PT" --home "$H" events --agent browser-agent --sha256 "$SHA" >"$T/table.txt"
expect_eq "table rows for the hash" "$(grep -c -- "${SHA:0:12}" "$T/table.txt")" 3
"$PT" --home "$H" events --agent browser-agent --wide --exe "$HOSTILE" >"$T/hostile.txt"
LC_ALL=C grep -q $'\e' "$T/hostile.txt" && fail "an ESC reached the table"
grep -qF '<script>window.__pwned=1</script>"'"'"'\x1b[31mevil' "$T/hostile.txt" || fail "hostile path not shown escaped: $(cat "$T/hostile.txt")"
ok "the CLI table shows the hostile path escaped"
[ "$("$PT" --home "$H" events --json --agent browser-agent --exe "$HOSTILE" | jq -r .process.executable)" = "$HOSTILE" ] ||
	fail "events --json does not carry the path verbatim"
ENTITY=$("$PT" --home "$H" events --json --agent browser-agent --sha256 "$SHA" --limit 1 | jq -r .process.entity_id)
"$PT" --home "$H" tree "$ENTITY" >"$T/tree.txt"
grep -q "^ *\* findme-$$ " "$T/tree.txt" || fail "tree: $(cat "$T/tree.txt")"
ok "proctrail tree draws the process"

# Prevalence: the hosts that ran the binary, counted from its events.
HOSTS=$("$PT" --home "$H" events --json --sha256 "$SHA" | jq -r '.host.name' | sort -u | wc -l)
expect_eq "hosts of the test binary (from its events)" "$HOSTS" 2
expect_eq "proctrail binaries SHA agrees" "$("$PT" --home "$H" binaries --json "$SHA" | jq .hosts)" "$HOSTS"

SHOTS=${SHOTS_DIR:-$T/shots}
case $SHOTS in /*) ;; *) SHOTS=$ROOT/$SHOTS ;; esac
PT_URL=$URL PT_TOKEN=$(cat "$T/local.token") PT_SHA=$SHA PT_BIN=$BIN PT_HOSTILE=$HOSTILE \
PT_HOSTS=$HOSTS PT_LIVE_BIN=$LIVE PT_SHOTS=$SHOTS \
PT_PROFILE=$T/chromium-profile PT_ADMIN_TOKEN=$(cat "$T/adm.token") NODE_PATH=$BR/node_modules \
	timeout 300 node "$BR/console.mjs" 2>&1 | tee "$T/browser.log"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || fail "browser test exited $rc"
ok "browser checks passed ($(grep -c '^ok:' "$T/browser.log"))"
stop_agent
stop_server
