#!/usr/bin/env bash
# Ingest benchmark: the replay client (bench/replay.c: real protocol, real TLS 1.3, synthetic
# exec records, no kernel) against a real proctrail-server writing SQLite with durable commits
# (WAL, synchronous=FULL; the ACK only after COMMIT). Fresh database per run, on the disk that
# holds $BENCH_DIR (default /var/tmp), configurations interleaved, median of RUNS.
#
#   bash bench/ingest.sh [RUNS] [EVENTS]        defaults: 3 runs, 1,000,000 events per run
#
# RULES=DIR: every configuration runs twice per round, without and with `--rules DIR` (Sigma
# detection on every stored exec), interleaved. CONFIGS="C:B:W ..." picks configurations.
#
# PG=1: the collector writes PostgreSQL instead (--db postgresql://..., synchronous_commit=on,
# fsync=on): a cluster of the benchmark's own (initdb into $BENCH_DIR, unix socket only), a
# fresh database per run, and each run also prints the CPU seconds of every PostgreSQL
# process (postmaster, its background workers, and the collector's backend once reaped).
#
# Per-agent rate limits are switched off: the figure is the collector's, not the policy's.
# Each run also prints the CPU seconds (user+system) of the server and of the replay client,
# which share the machine's cores, and the load average is printed at the start and the end.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
EVENTS=${2:-1000000}
B=${BUILD:-build}
D=$(mktemp -d "${BENCH_DIR:-/var/tmp}/proctrail-ingest.XXXXXX")
chmod 755 "$D"
PORT=$((20000 + RANDOM % 20000))
SPID=
PG=${PG:-}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
cleanup() {
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null || true
		wait "$SPID" 2>/dev/null || true
	fi
	[ -n "$PG" ] && [ -f "$D/pg/data/postmaster.pid" ] &&
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D/pg/data" -m fast -w stop >/dev/null
	rm -rf "$D"
}
trap cleanup EXIT

"$B/proctrail" --home "$D" pki init >/dev/null
"$B/proctrail" --home "$D" enroll bench >/dev/null
USER_FLAG=()
if [ "$(id -u)" -eq 0 ]; then
	chown nobody "$D"
	USER_FLAG=(--user nobody)
fi

DB_FLAG=()
if [ -n "$PG" ]; then
	mkdir -p "$D/pg/sock"
	chown -R postgres "$D/pg"
	runuser -u postgres -- "$PGBIN/initdb" -D "$D/pg/data" -A trust -U postgres >/dev/null
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$D/pg/data" -l "$D/pg/log" -w -t 300 \
		-o "-k $D/pg/sock -c listen_addresses='' -c fsync=on -c synchronous_commit=on" \
		start >/dev/null
	DB_FLAG=(--db "postgresql://postgres@/bench?host=$D/pg/sock")
	echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), data in $D/pg"
fi
# CPU seconds of the cluster: the postmaster with its reaped children (backends that ended),
# and its live children (checkpointer, WAL writer, a backend still connected)
pg_cpu() {
	local pm hz=$(getconf CLK_TCK)
	pm=$(head -1 "$D/pg/data/postmaster.pid")
	{ awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
	  for c in $(cat "/proc/$pm/task/$pm/children"); do
		awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true
	  done; } | awk -v hz="$hz" '{t += $1} END {printf "%.2f", t / hz}'
}

# connections:batch:window (CONFIGS="1:1000:8 100:500:4" in the environment: a subset)
# connections:batch:window
if [ -n "${CONFIGS:-}" ]; then
	read -r -a CONFIGS <<<"$CONFIGS"
else
	CONFIGS=("1:1000:8" "100:500:4" "1000:100:2")
fi
RULES=${RULES:-}
VARIANTS=("none")
[ -n "$RULES" ] && VARIANTS+=("rules")

run_one() { # conns batch window variant
	local -a rules_flag=()
	[ "$4" = rules ] && rules_flag=(--rules "$RULES")
	local pg0=0 pgline=
	rm -f "$D"/proctrail.db*
	if [ -n "$PG" ]; then
		runuser -u postgres -- "$PGBIN/dropdb" -h "$D/pg/sock" --if-exists bench 2>/dev/null
		runuser -u postgres -- "$PGBIN/createdb" -h "$D/pg/sock" bench
		pg0=$(pg_cpu)
	fi
	: >"$D/server.log"
	"$B/proctrail-server" --home "$D" --listen "127.0.0.1:$PORT" "${USER_FLAG[@]}" \
		--max-records-per-sec 0 --max-bytes-per-sec 0 --max-frames-per-sec 0 --max-per-agent 0 \
		--max-handshakes 1024 --max-handshakes-per-address 0 "${rules_flag[@]}" "${DB_FLAG[@]}" \
		>>"$D/server.log" 2>&1 &
	SPID=$!
	for _ in $(seq 50); do
		grep -q listening "$D/server.log" && break
		sleep 0.1
	done
	local line ccpu scpu
	line=$( { TIMEFORMAT='%U %S'; time "$B/bench/replay" --bundle "$D/agents/bench" \
		--connect "127.0.0.1:$PORT" --connections "$1" --events $((EVENTS / $1)) \
		--batch "$2" --window "$3" --stream 1000 --timeout 600 | tail -1; } 2>"$D/time")
	ccpu=$(awk '{printf "%.2f", $1 + $2}' "$D/time")
	scpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$SPID/stat")
	kill -TERM "$SPID"
	wait "$SPID" || true
	SPID=
	[ -n "$PG" ] && pgline=" pg_cpu_s=$(awk -v a="$(pg_cpu)" -v b="$pg0" 'BEGIN {printf "%.2f", a - b}')"
	echo "$line server_cpu_s=$scpu client_cpu_s=$ccpu$pgline"
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A rates
for r in $(seq "$RUNS"); do
	for c in "${CONFIGS[@]}"; do
		for v in "${VARIANTS[@]}"; do
			IFS=: read -r conns batch window <<<"$c"
			line=$(run_one "$conns" "$batch" "$window" "$v")
			echo "run $r connections=$conns batch=$batch window=$window rules=$v: $line"
			rate=$(sed -n 's/.*events_per_sec=\([0-9]*\).*/\1/p' <<<"$line")
			rates[$c/$v]="${rates[$c/$v]:-} ${rate:-0}"
		done
	done
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in "${CONFIGS[@]}"; do
	for v in "${VARIANTS[@]}"; do
		IFS=: read -r conns batch window <<<"$c"
		med=$(tr ' ' '\n' <<<"${rates[$c/$v]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		echo "median connections=$conns batch=$batch window=$window rules=$v: $med events/s (runs:${rates[$c/$v]})"
	done
done
