#!/usr/bin/env python3
"""A login that moves between the servers of a cluster, as docs/cluster.md promises it may.

`relogin A B N`: alice closes and logs in again at once, N times, alternating between the
servers on ports A and B (the first line goes with the login). Prints how many logins were
refused (the client then retries after 10 ms) and the login times.

`order A B [C] N`: bob logs in on B (or on C, a third server, if given); alice, on A, sends
`bob: last i`, opens her next connection (on B, then A, in turn), closes the old one and sends
`bob: first i+1` with her login. Prints how many of bob's `last i` came after `first i+1`.

`churn A,B,... MOVERS MOVES`: one reader on each server; MOVERS logins at once each send three
numbered lines to every reader, then move to a random server (the next number goes with the
login), MOVES times. Prints what the readers received, and any gap or line out of order.

    chat-server --port 18601 --cluster "$URL" --node-name a &
    chat-server --port 18602 --cluster "$URL" --node-name b &
    python3 Tools/cluster-moves.py relogin 18601 18602 1000
    python3 Tools/cluster-moves.py order 18601 18602 300
"""
import random
import socket
import sys
import threading
import time


def connect(port):
    return socket.create_connection(("127.0.0.1", port))


def login(port, first_lines):
    """Logs in as alice with `first_lines` after the login; returns the socket, its reader and
    the first line the server answered."""
    sock = connect(port)
    sock.sendall(b"alice\n" + first_lines)
    reader = sock.makefile("rb")
    return sock, reader, reader.readline()


def relogin(a, b, rounds):
    refused, times = 0, []
    sock, reader, _ = login(a, b"alice: 0\n")
    for i in range(1, rounds):
        reader.close()
        sock.close()
        port = b if i % 2 else a
        started = time.monotonic()
        sock, reader, answer = login(port, b"alice: %d\n" % i)
        while not answer.startswith(b"from alice"):
            refused += 1
            reader.close()
            sock.close()
            time.sleep(0.01)
            sock, reader, answer = login(port, b"alice: %d\n" % i)
        times.append((time.monotonic() - started) * 1000)
    times.sort()

    def at(share):
        return round(times[int(share * (len(times) - 1))], 1)

    print(f"refused {refused} of {rounds}; login ms p50 {at(.5)} p99 {at(.99)} max {at(1)}")


def order(a, b, bobs, rounds):
    bob = connect(bobs)
    bob.sendall(b"bob\nbob: ready\n")
    heard = bob.makefile("rb")
    assert heard.readline() == b"from bob: ready\n"
    time.sleep(0.5)  # until both servers know where bob is
    sock, reader, answer = login(a, b"alice: in\n")
    assert answer.startswith(b"from alice"), answer
    for i in range(rounds):
        sock.sendall(b"bob: last %d\n" % i)
        following = connect(b if i % 2 == 0 else a)
        reader.close()
        sock.close()
        following.sendall(b"alice\nbob: first %d\nalice: in\n" % (i + 1))
        sock, reader = following, following.makefile("rb")
        answer = reader.readline()
        assert answer.startswith(b"from alice"), answer
    lines = []
    bob.settimeout(10)
    while len(lines) < 2 * rounds:
        line = heard.readline()
        if not line:
            break
        lines.append(line.decode().strip())
    late = [i for i in range(rounds)
            if lines.index(f"from alice: last {i}") > lines.index(f"from alice: first {i + 1}")]
    print(f"bob heard {len(lines)} of {2 * rounds} lines; {len(late)} of {rounds} moves out of order")


def churn(ports, movers, moves):
    readers = []
    for index, port in enumerate(ports):
        sock = connect(port)
        name = b"r%d" % index
        sock.sendall(name + b"\n" + name + b": ready\n")
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"from")
        readers.append((sock, reader))
    time.sleep(0.5)  # until every server knows where the readers are
    to = b", ".join(b"r%d" % index for index in range(len(ports)))
    failures = []

    def move(k):
        name, number = b"m%d" % k, 0
        sock = connect(ports[k % len(ports)])
        sock.sendall(name + b"\n" + name + b": in\n")
        reader = sock.makefile("rb")
        for _ in range(moves + 1):
            answer = reader.readline()
            if answer != b"from " + name + b": in\n":
                return failures.append((name, answer))
            for _ in range(3):
                number += 1
                sock.sendall(b"%s: %d\n" % (to, number))
            following = connect(random.choice(ports))
            reader.close()
            sock.close()
            number += 1
            following.sendall(name + b"\n" + b"%s: %d\n" % (to, number) + name + b": in\n")
            sock, reader = following, following.makefile("rb")
        reader.close()
        sock.close()

    threads = [threading.Thread(target=move, args=(k,)) for k in range(movers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = movers * (moves + 1) * 4
    received, wrong = 0, 0
    for sock, reader in readers:
        sock.settimeout(10)
        last = {}
        try:
            for _ in range(expected):
                sender, _, number = reader.readline().decode().strip()[5:].partition(": ")
                if int(number) != last.get(sender, 0) + 1:
                    wrong += 1
                last[sender] = int(number)
                received += 1
        except (socket.timeout, ValueError):
            pass
    print(f"received {received} of {expected * len(ports)}; {wrong} out of order or after a gap; "
          f"failed logins {failures[:3]}")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "churn":
        churn([int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4]))
        sys.exit()
    numbers = [int(x) for x in sys.argv[2:]]
    if mode == "relogin":
        relogin(*numbers)
    elif len(numbers) == 4:
        order(numbers[0], numbers[1], numbers[2], numbers[3])
    else:
        order(numbers[0], numbers[1], numbers[1], numbers[2])
