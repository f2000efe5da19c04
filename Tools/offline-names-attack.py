#!/usr/bin/env python3
"""The offline-names attack of docs/benchmark.md, against a running chat-server.

2,000 logins, each sending one 64 KiB line that names 13,105 logins nobody uses, and never
reading: every name earns its sender a notice, so each line costs the server a notice per name.
While they pour in, an unrelated pair, logged in once they have started, sends one message;
prints how long the pair took to log in and its message to arrive, the server's CPU seconds, and
its resident and peak memory (VmRSS, VmHWM, in MiB).

    chat-server --port 18091 --event-loops 2 --log-level error &
    python3 Tools/offline-names-attack.py $! 18091
"""
import itertools
import resource
import socket
import string
import sys
import threading
import time

from server_process import cpu_seconds, memory

pid, port = sys.argv[1], int(sys.argv[2])
senders = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
# A socket each, more than the usual soft limit of 1,024 descriptors.
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)


names, size = [], 0
for letters in itertools.product(string.ascii_letters + string.digits, repeat=3):
    name = "q" + "".join(letters)
    if size + len(name) + 1 > 65536 - 10:
        break
    names.append(name)
    size += len(name) + 1
line = (",".join(names) + ": x\n").encode()


def pair(result):
    sender = socket.create_connection(("127.0.0.1", port))
    reader = socket.create_connection(("127.0.0.1", port))
    # Each is logged in once its message to itself comes back; the backlog delays that too.
    start = time.monotonic()
    for connection, login in ((sender, b"pair-sender"), (reader, b"pair-reader")):
        connection.sendall(login + b"\n" + login + b": here\n")
        connection.recv(100)
    result["login"] = time.monotonic() - start
    start = time.monotonic()
    sender.sendall(b"pair-reader: hello\n")
    reader.recv(100)
    result["seconds"] = time.monotonic() - start


print(f"start {memory(pid)}, {len(names)} names a line")
cpu_before = cpu_seconds(pid)
result = {}
connections = []
for index in range(senders):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(b"attacker%d\n" % index + line)
    connections.append(connection)
    if index == min(100, senders - 1):
        measuring = threading.Thread(target=pair, args=(result,))
        measuring.start()
measuring.join()
print(f"the pair took {result['login']:.2f} s to log in, then its message {result['seconds']:.2f} s")
while True:
    used = cpu_seconds(pid)
    time.sleep(1)
    if cpu_seconds(pid) == used:
        break
print(f"answered: {cpu_seconds(pid) - cpu_before:.1f} s of server CPU, {memory(pid)}")
for connection in connections:
    connection.close()
time.sleep(2)
print("after", memory(pid))
