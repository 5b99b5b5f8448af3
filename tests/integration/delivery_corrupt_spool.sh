#!/usr/bin/env bash
# A damaged spool: a flipped bit, a zero-length record, an absurd length, a broken frame
# magic, a truncated tail, and foreign files in the directory. The agent starts, delivers the
# rest, and reports what it skipped: a LOSS record whose sequence range covers exactly the
# damaged records, so the collector sees no unexplained gap.
. "$(dirname "$0")/delivery_lib.bash"

deploy
PORT=$((20000 + RANDOM % 20000))
KEEP_PORT=1
make_bin
start_agent          # no collector yet: everything stays in the spool
storm 1 300
sleep 1
stop_agent

python3 - "$SPOOL" >"$T/damage" <<'PY'
import os, struct, sys
d = sys.argv[1]
segs = sorted(f for f in os.listdir(d) if f.startswith("seg-") and f.endswith(".pts"))
frames = []
for s in segs:
    b = open(os.path.join(d, s), "rb").read()
    off = 40
    while off + 28 <= len(b):
        magic, ln, seq = struct.unpack(">IIQ", b[off:off + 16])
        frames.append((s, off, ln, seq))
        off += 28 + ln
assert len(frames) > 100, len(frames)
def patch(seg, off, data):
    with open(os.path.join(d, seg), "r+b") as f:
        f.seek(off); f.write(data)
n = len(frames)
picks = [frames[n // 5], frames[2 * n // 5], frames[3 * n // 5], frames[4 * n // 5]]
s, off, ln, seq = picks[0]; patch(s, off + 28 + ln // 2, bytes([open(os.path.join(d, s), "rb").read()[off + 28 + ln // 2] ^ 0x10]))
s, off, ln, seq = picks[1]; patch(s, off + 4, struct.pack(">I", 0))
s, off, ln, seq = picks[2]; patch(s, off + 4, struct.pack(">I", 0x7fffffff))
s, off, ln, seq = picks[3]; patch(s, off, b"XTR1")
# Torn tail: the newest segment ends in half a frame.
s, off, ln, seq = frames[-1]
os.truncate(os.path.join(d, s), off + 28 + ln // 2)
print("damaged", " ".join(str(p[3]) for p in picks))
print("torn", seq)
print("last", frames[-2][3])
PY
echo "notes from an operator" >"$SPOOL/README.txt"
mkdir "$SPOOL/old"
: >"$SPOOL/seg-garbage.pts"
cat "$T/damage"
damaged=$(sed -n 's/^damaged //p' "$T/damage")
torn=$(sed -n 's/^torn //p' "$T/damage")
last=$(sed -n 's/^last //p' "$T/damage")

start_server
start_agent
grep -q "foreign file .*README.txt" "$T/agent.log" || fail "foreign file not logged"
grep -q "torn tail of" "$T/agent.log" || fail "torn tail not logged"
[ "$(grep -c "corrupt bytes" "$T/agent.log")" -eq 4 ] || fail "want 4 corrupt regions logged"
ok "agent started over a damaged spool and logged what it skipped"

# The stream the spool has always had (SQLite stores it as a signed 64-bit integer, as bash
# arithmetic reads it).
stream_hex=$(sed -n 's/.*spool: .*: stream \([0-9a-f]*\),.*/\1/p' "$T/agent.log" | tail -1)
[ -n "$stream_hex" ] || fail "no stream id in the agent log"
stream=$((16#$stream_hex))
want=$((last - 4))
for _ in $(seq 60); do
	got=$(q "SELECT count(*) FROM events e JOIN agents a ON a.id = e.agent
		WHERE a.name = '$NAME' AND e.stream_id = $stream AND e.seq <= $last")
	[ "$got" -ge "$want" ] && break
	sleep 0.5
done
expect_eq "undamaged records delivered (seq 1..$last but 4)" "$got" "$want"
for s in $damaged; do
	expect_eq "damaged seq $s not stored" "$(q "SELECT count(*) FROM events WHERE stream_id = $stream AND seq = $s")" 0
done
for _ in $(seq 20); do
	q "SELECT l.first_seq, l.last_seq FROM loss_ranges l JOIN agents a ON a.id = l.agent
		WHERE a.name = '$NAME' AND l.stream_id = $stream AND l.counter = 5" | tr '|' ' ' >"$T/losses"
	[ "$(wc -l <"$T/losses")" -ge 4 ] && break
	sleep 0.5
done
cat "$T/losses"
covered=$(awk '{ for (s = $1; s <= $2; s++) print s }' "$T/losses" | sort -n | tr '\n' ' ')
expect_eq "LOSS ranges cover exactly the damaged records" "$covered" "$(tr ' ' '\n' <<<"$damaged" | sort -n | tr '\n' ' ')"
expect_eq "unexplained gaps" "$(agent_json | jq -r .unexplained_gaps)" 0
[ -f "$SPOOL/README.txt" ] && [ -d "$SPOOL/old" ] || fail "foreign files were touched"
ok "foreign files left alone"
# The stream goes on after the damage: new execs are delivered.
storm 301 400
wait_args 301 400 30
n=$(stored_args | awk '$1 > 300' | sort -un | wc -l)
expect_eq "execs after recovery delivered" "$n" 100
stop_agent
