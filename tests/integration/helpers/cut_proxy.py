#!/usr/bin/env python3
"""A TCP relay on loopback that cuts the network after a send and before its answer.

usage: cut_proxy.py LISTEN_PORT TARGET_PORT CUTS STATUS_FILE

Relays each connection to 127.0.0.1:TARGET_PORT. For the first CUTS connections it picks a
byte count (2 KiB to 64 KiB); once the client has sent that much, the chunk that crossed it is
delivered to the target, nothing more is relayed either way, and the connection is closed as
soon as the target answers (its ACK, swallowed) or after 5 s of silence. So the target has
stored what the client sent, and the client never learns it. Later connections are relayed
untouched. STATUS_FILE holds
"cuts N connections M", rewritten after each change, for the test to wait on.
"""
import os
import random
import selectors
import socket
import sys
import time


def main():
    listen_port, target_port, cuts, status = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    done = conns = 0
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen_port))
    ls.listen(64)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    pairs = {}

    def write_status():
        with open(status + ".tmp", "w") as f:
            f.write(f"cuts {done} connections {conns}\n")
        os.replace(status + ".tmp", status)

    def close(c):
        peer = pairs[c]["peer"]
        for s in (c, peer):
            if s in pairs:
                sel.unregister(s)
                del pairs[s]
            s.close()

    write_status()
    while True:
        now = time.monotonic()
        for c in [c for c, st in pairs.items() if st.get("cut_at") and now - st["cut_at"] > 5]:
            if c in pairs:
                done += 1
                close(c)
                write_status()
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            if s is ls:
                client, _ = ls.accept()
                try:
                    target = socket.create_connection(("127.0.0.1", target_port))
                except OSError:
                    client.close()
                    continue
                conns += 1
                budget = random.randint(2048, 65536) if conns <= cuts else None
                pairs[client] = {"peer": target, "budget": budget}
                pairs[target] = {"peer": client, "budget": None}
                sel.register(client, selectors.EVENT_READ, None)
                sel.register(target, selectors.EVENT_READ, None)
                write_status()
                continue
            if s not in pairs:
                continue
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                close(s)
                continue
            st = pairs[s]
            if st.get("cut_at") or pairs[st["peer"]].get("cut_at"):
                # the cut is made: what the target says now (the ACK) is swallowed
                if not st.get("cut_at"):
                    done += 1
                    close(s)
                    write_status()
                continue
            try:
                st["peer"].sendall(data)
            except OSError:
                close(s)
                continue
            if st["budget"] is not None:
                st["budget"] -= len(data)
                if st["budget"] <= 0:
                    st["cut_at"] = time.monotonic()


if __name__ == "__main__":
    main()
