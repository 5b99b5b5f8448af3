#!/usr/bin/env python3
"""Exec-to-row latency (bench/compare.sh): polls the collector's SQLite database every 2 ms
for new exec rows and, for each row whose exec happened after the start, takes the time it was
first seen minus the exec's own time (events.time_ns, the agent's wall clock: same host, same
clock). The polling adds up to 2 ms plus one query.

    latency.py DB SECONDS   ->   lat_rows=N lat_p50_ms=X lat_p99_ms=Y lat_max_ms=Z
"""
import sqlite3
import sys
import time


def main():
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
    end = time.monotonic() + float(sys.argv[2])
    start_ns = time.time_ns()
    last = db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
    lat = []
    while time.monotonic() < end:
        rows = db.execute("SELECT id, time_ns FROM events WHERE id > ? AND type = 1", (last,)).fetchall()
        now = time.time_ns()
        for rid, t in rows:
            last = max(last, rid)
            if t is not None and t >= start_ns:
                lat.append((now - t) / 1e6)
        if not rows:
            row = db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]
            last = max(last, row)
        time.sleep(0.002)
    lat.sort()
    if not lat:
        print("lat_rows=0")
        return 0
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print("lat_rows=%d lat_p50_ms=%.1f lat_p99_ms=%.1f lat_max_ms=%.1f" % (len(lat), q(0.5), q(0.99), lat[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
