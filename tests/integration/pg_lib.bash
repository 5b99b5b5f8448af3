# Shared by the PostgreSQL tests (sourced after collector_lib.bash or delivery_lib.bash, which
# give T, fail and ok): a cluster of the test's own (initdb into $T/pg, a unix socket there,
# no TCP port), stopped on exit by pg_stop. pg_start exits 77 (skip) without the server
# binaries.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PGDIR=$T/pg
SOCK=$PGDIR/sock
URL="postgresql://postgres@/proctrail?host=$SOCK"

pg_stop() {
	[ -f "$PGDIR/data/postmaster.pid" ] &&
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1
	return 0
}

pg_start() {
	if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || ! id postgres >/dev/null 2>&1; then
		echo "skip: PostgreSQL server binaries or the postgres user missing (scripts/install-deps.sh)"
		exit 77
	fi
	[ "$(id -u)" -eq 0 ] || { echo "skip: the cluster runs as postgres (runuser needs root)"; exit 77; }
	command -v psql >/dev/null || fail "psql missing (scripts/install-deps.sh)"
	mkdir -p "$SOCK"
	chown -R postgres "$PGDIR"
	runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres --no-sync \
		>"$T/initdb.log" 2>&1 || { cat "$T/initdb.log"; fail "initdb"; }
	runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 300 \
		-o "-k $SOCK -c listen_addresses='' -c fsync=on -c synchronous_commit=on" start >/dev/null ||
		{ cat "$PGDIR/log"; fail "pg_ctl start"; }
	runuser -u postgres -- "$PGBIN/createdb" -h "$SOCK" proctrail || fail "createdb"
	ok "PostgreSQL cluster on $SOCK"
}

pq() {
	psql -X -q -A -t -h "$SOCK" -U postgres -d proctrail -c "$1"
}
