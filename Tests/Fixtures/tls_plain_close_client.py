#!/usr/bin/env python3
"""A TLS client that closes the way many real ones do, not the way NIOSSL's does.

usage: tls_plain_close_client.py PORT CA_FILE LOGIN MODE [LINES]

MODE bare-fin: log in, send LINES lines to itself and the start of one more (no newline), then
    end the TCP stream with a bare FIN and no close_notify (Python's ssl module, Go and most HTTP
    clients can end a stream this way), and read on until the server closes. Prints each line
    received, then "closed".
MODE silent: log in, read until the server ends its output, and never send close_notify, even
    after the server's, nor close: prints each line received, then "closed", and waits to be
    killed (a client that stopped reading does the same).

TLS runs over memory buffers, so that the socket underneath stays this script's to half-close.
"""

import socket
import ssl
import sys
import time

port, ca_file, login, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lines = int(sys.argv[5]) if len(sys.argv) > 5 else 0

context = ssl.create_default_context(cafile=ca_file)
raw = socket.create_connection(("127.0.0.1", port))
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        raw.sendall(outgoing.read())
        data = raw.recv(65536)
        if not data:
            sys.exit("the server closed during the handshake")
        incoming.write(data)
raw.sendall(outgoing.read())

text = login + "\n" + "".join(f"{login}: line {i}\n" for i in range(lines))
if mode == "bare-fin":
    text += f"{login}: unfinished"
tls.write(text.encode())
raw.sendall(outgoing.read())
if mode == "bare-fin":
    raw.shutdown(socket.SHUT_WR)

received = b""
while True:
    data = raw.recv(65536)
    if not data:
        break
    incoming.write(data)
    while True:
        try:
            chunk = tls.read(65536)
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            break
        if not chunk:
            break
        received += chunk
        *complete, received = received.split(b"\n")
        for line in complete:
            print(line.decode(errors="replace"), flush=True)
print("closed", flush=True)
if mode == "silent":
    time.sleep(3600)
