#!/usr/bin/env python3
"""The queue-budget attack of docs/benchmark.md, against a running chat-server.

1,000 logins that never read (receive buffers of 4 KiB) and one attacker sending 2 KB lines to
all of them for 30 s; prints the server's resident and peak memory (VmRSS, VmHWM, in MiB) at the
start, at the end of the attack, and once the readers have left.

    chat-server --port 18090 --event-loops 2 --log-level error &
    python3 Tools/budget-attack.py $! 18090
"""
import socket
import sys
import threading
import time

from server_process import memory

pid, port = sys.argv[1], int(sys.argv[2])


print("start", memory(pid))
readers = []
for index in range(1000):
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader.connect(("127.0.0.1", port))
    reader.sendall(f"r{index}\n".encode())
    readers.append(reader)
time.sleep(1)

attacker = socket.create_connection(("127.0.0.1", port))
attacker.sendall(b"attacker\n")
line = (",".join(f"r{index}" for index in range(1000)) + ": " + "x" * 2000 + "\n").encode()
stopped = False


def take_notices():
    # The attacker reads what it is sent, so that only the readers are slow.
    attacker.settimeout(1)
    while not stopped:
        try:
            if not attacker.recv(65536):
                break
        except socket.timeout:
            pass
        except OSError:
            break


threading.Thread(target=take_notices, daemon=True).start()
sent = 0
start = time.time()
attacker.settimeout(0.5)
while time.time() - start < 30:
    try:
        attacker.sendall(line)
        sent += len(line)
    except socket.timeout:
        pass
    except OSError:
        break
print(f"attacker sent {sent / 1e6:.1f} MB in 30 s; server {memory(pid)}")
for reader in readers:
    reader.close()
time.sleep(3)
print("after the readers left", memory(pid))
stopped = True
