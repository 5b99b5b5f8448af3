#!/usr/bin/env python3
"""A stand-in for the service manager's notification socket: binds an AF_UNIX datagram
socket at argv[1] and appends every message it receives to argv[2], one line each
(newlines inside a message become '|'). Runs until killed."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o777)   # the collector sends after it dropped to its service user
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        msg = s.recv(4096).decode("utf-8", "replace")
        f.write(msg.replace("\n", "|") + "\n")
