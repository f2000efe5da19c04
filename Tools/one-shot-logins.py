#!/usr/bin/env python3
"""A script that logs in, sends one line and closes without waiting for anything, N times in a
row, as docs/protocol.md promises it may: bob, logged in on the same server, must hear every
line, in order.

    chat-server --port 18600 --event-loops 2 &
    python3 Tools/one-shot-logins.py 18600 2000

Prints how many lines bob heard, how many came after a later one, how many never came (a
connection refused as online), and when the last came, counted from the first connection.
"""
import socket
import sys
import time


def main(port, rounds):
    bob = socket.create_connection(("127.0.0.1", port))
    bob.sendall(b"bob\n")
    time.sleep(0.2)
    started = time.monotonic()
    for i in range(rounds):
        alice = socket.create_connection(("127.0.0.1", port))
        alice.sendall(b"alice\nbob: %d\n" % i)
        alice.close()
    bob.settimeout(3)
    received = b""
    last_heard = started
    try:
        while chunk := bob.recv(65536):
            received += chunk
            last_heard = time.monotonic()
    except socket.timeout:
        pass
    heard = [int(line.split(b": ")[1]) for line in received.splitlines() if line.startswith(b"from alice")]
    late = sum(1 for earlier, later in zip(heard, heard[1:]) if later < earlier)
    print(f"heard {len(heard)} of {rounds}, out of order {late}, never heard {rounds - len(set(heard))}, "
          f"last heard after {last_heard - started:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
