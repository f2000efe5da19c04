#!/usr/bin/env python3
"""Budget pressure that comes and goes, against a chat-server binary it starts itself.

Two loops with a 1 MB queue budget between them; six logins that never read (receive buffers of
4 KiB), each flooded by a sender of its own with 6,000 lines of 1 KB, and one that reads about
100 KB/s. Prints when each never-reading login was cut off (its connection left ESTABLISHED,
which comes a second after the cut-off, when its last output is given up) and how many times the
server logged `queue budget exceeded` and `recovered`: once per loop and episode since 14efe3b,
20 to 27 times in 8 s before.

    python3 Tools/budget-episodes.py .build/release/chat-server
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

binary = sys.argv[1]
log_path = os.path.join(tempfile.mkdtemp(), "server.log")
server = subprocess.Popen(
    [binary, "--port", "0", "--stall-timeout", "10", "--queue-budget-bytes", "1000000",
     "--soft-queue-bytes", "200000", "--max-queue-bytes", "400000", "--event-loops", "2"],
    stdout=subprocess.PIPE, stderr=open(log_path, "wb"))
port = int(server.stdout.readline().decode().rsplit(":", 1)[1])


def logged_in(name, receive_buffer=None):
    client = socket.socket()
    if receive_buffer:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    client.connect(("127.0.0.1", port))
    client.sendall(name.encode() + b"\n")
    return client


COUNT = 6
readers = [logged_in("d%d" % i, 4096) for i in range(COUNT)]
slow = logged_in("slow", 4096)
senders = [logged_in("s%d" % i) for i in range(COUNT + 1)]
time.sleep(0.3)
start = time.time()


def flood(sender, recipient):
    for first in range(0, 6000, 50):
        sender.sendall(b"".join(b"%s: %d %s\n" % (recipient, n, b"b" * 1000) for n in range(first, first + 50)))


for index, sender in enumerate(senders):
    recipient = b"d%d" % index if index < COUNT else b"slow"
    threading.Thread(target=flood, args=(sender, recipient), daemon=True).start()

cut_off = {}


def watch(index, reader):
    while time.time() - start < 20:
        if reader.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] != 1:  # 1: ESTABLISHED
            cut_off["d%d" % index] = round(time.time() - start, 2)
            return
        time.sleep(0.02)


watchers = [threading.Thread(target=watch, args=(i, r)) for i, r in enumerate(readers)]
for watcher in watchers:
    watcher.start()
taken = 0
slow.settimeout(10)
while time.time() - start < 8:
    data = slow.recv(8192)
    if not data:
        break
    taken += len(data)
    time.sleep(0.05)
for watcher in watchers:
    watcher.join()
server.terminate()
server.wait()
lines = open(log_path).read().splitlines()
print("left ESTABLISHED, s after the flood began:", dict(sorted(cut_off.items())))
print("the slow reader took", taken, "bytes in 8 s")
print("queue budget exceeded:", sum(line.endswith("] queue budget exceeded") for line in lines),
      "recovered:", sum(line.endswith("] queue budget recovered") for line in lines))
