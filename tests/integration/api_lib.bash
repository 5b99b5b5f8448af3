# Shared by the HTTP API's integration tests (sourced): collector_lib.bash's deployment plus
# the API on a random port over real TLS, operators made with `proctrail pki operator`, curl.
. "$(dirname "${BASH_SOURCE[0]}")/collector_lib.bash"
command -v curl >/dev/null || { echo "curl missing (scripts/install-deps.sh)"; exit 1; }
command -v jq >/dev/null || { echo "jq missing (scripts/install-deps.sh)"; exit 1; }

APORT=

# operator NAME ROLE: token in $T/NAME.token
operator() {
	"$PT" --home "$H" pki operator "$1" --role "$2" --token-file "$T/$1.token" >/dev/null
	# the collector re-reads the file as its service user
	[ "$(id -u)" -ne 0 ] || chown nobody "$H/pki/operators.tsv"
}

# start_api [extra server flags]: collector with --api on a free port.
start_api() {
	local tries
	for tries in 1 2 3 4 5; do
		APORT=$((20000 + RANDOM % 20000))
		start_server --api "127.0.0.1:$APORT" "$@"
		for _ in $(seq 100); do
			grep -q "API listening on https://127.0.0.1:$APORT" "$T/server.log" && return 0
			sleep 0.1
		done
		stop_server
	done
	fail "API did not start"
}

# api TOKEN_NAME PATH [curl args]: body on stdout, HTTP status in $T/status
api() {
	local who=$1 path=$2
	shift 2
	local auth=()
	[ "$who" = "-" ] || auth=(-H "Authorization: Bearer $(cat "$T/$who.token")")
	curl -sS --cacert "$H/pki/ca.crt" "${auth[@]}" -o "$T/body" -w '%{http_code}' "$@" \
		"https://127.0.0.1:$APORT$path" >"$T/status" || fail "curl $path"
	cat "$T/body"
}

status() { cat "$T/status"; }

# all_events TOKEN QUERY: every page of /api/v1/events?QUERY, one event a line
all_events() {
	local who=$1 q=$2 cur= page=0
	: >"$T/all.json"
	while :; do
		api "$who" "/api/v1/events?$q${cur:+&cursor=$cur}" >"$T/page.json"
		[ "$(status)" = 200 ] || fail "events?$q: status $(status): $(cat "$T/page.json")"
		jq -c '.events[]' "$T/page.json" >>"$T/all.json"
		cur=$(jq -r '.next_cursor // empty' "$T/page.json")
		[ -n "$cur" ] || break
		page=$((page + 1))
		[ "$page" -lt 10000 ] || fail "paging does not end"
	done
	cat "$T/all.json"
}
