#!/usr/bin/env bash
# HTTP API query benchmark (docs/benchmarks.md, "HTTP API queries"): builds a database of
# EVENTS events from AGENTS agents with the collector's own store (bench/api_query.c), starts
# a real proctrail-server with --api on it and times RUNS requests of each kind over TLS.
#
#   bash bench/api.sh [EVENTS] [AGENTS] [RUNS]     defaults: 10,000,000 1,000 50
#
# The database is kept in $BENCH_DB (default /var/tmp/proctrail-api-EVENTS-AGENTS.db) and
# reused when it exists: building 10 million events takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-10000000}
AGENTS=${2:-1000}
RUNS=${3:-50}
B=${BUILD:-build}
DB=${BENCH_DB:-/var/tmp/proctrail-api-$EVENTS-$AGENTS.db}
D=$(mktemp -d /var/tmp/proctrail-apibench.XXXXXX)
SPID=
cleanup() {
	[ -z "$SPID" ] || { kill -TERM "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }
	rm -rf "$D"
}
trap cleanup EXIT

if [ ! -s "$DB" ]; then
	start=$(date +%s)
	"$B/bench/api_query" build "$DB.tmp" "$EVENTS" "$AGENTS"
	mv "$DB.tmp" "$DB"
	echo "built $DB in $(( $(date +%s) - start )) s ($(du -h "$DB" | cut -f1))"
fi
"$B/proctrail" --home "$D" pki init >/dev/null
"$B/proctrail" --home "$D" pki operator bench --role read --token-file "$D/bench.token" >/dev/null
PORT=$((20000 + RANDOM % 20000)) APORT=$((20000 + RANDOM % 20000))
USER_FLAG=()
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$D"
	chown nobody "$D" "$D/pki/operators.tsv" "$DB"
	USER_FLAG=(--user nobody)
fi
"$B/proctrail-server" --home "$D" --db "$DB" --listen "127.0.0.1:$PORT" \
	--api "127.0.0.1:$APORT" "${USER_FLAG[@]}" >"$D/server.log" 2>&1 &
SPID=$!
for _ in $(seq 600); do
	grep -q "API listening" "$D/server.log" && break
	sleep 0.1
done
grep -q "API listening" "$D/server.log" || { cat "$D/server.log"; exit 1; }
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "database: $EVENTS events, $AGENTS agents, $(du -h "$DB" | cut -f1); $RUNS runs per query"
# one warm-up pass (the page cache), then the measured one
"$B/bench/api_query" query "127.0.0.1:$APORT" "$D/pki/ca.crt" "$D/bench.token" 5 "$EVENTS" "$AGENTS" >/dev/null
"$B/bench/api_query" query "127.0.0.1:$APORT" "$D/pki/ca.crt" "$D/bench.token" "$RUNS" "$EVENTS" "$AGENTS"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
