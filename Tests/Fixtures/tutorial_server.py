#!/usr/bin/env python3
"""A line-for-line port of the async-std tutorial's final a-chat server, used by our tests to
check that our client and benchmark work against the tutorial's behaviour (no login rules, no
notices, duplicate logins silently ignored, unknown recipients dropped, a disconnecting peer's
queue thrown away). The only addition: with port 0 it prints `listening on HOST:PORT` so a test
can find it.

    python3 tutorial_server.py [PORT]      (default 8080)
"""
import asyncio
import sys

peers = {}  # name -> asyncio.Queue of str; owned by the broker, as in the tutorial
events = None


async def broker():
    while True:
        event = await events.get()
        kind = event[0]
        if kind == "message":
            _, sender, to, msg = event
            for addr in to:
                queue = peers.get(addr)
                if queue is not None:
                    queue.put_nowait(f"from {sender}: {msg}\n")
        elif kind == "new_peer":
            _, name, writer, shutdown = event
            if name not in peers:  # Entry::Occupied(..) => ()
                queue = asyncio.Queue()
                peers[name] = queue
                asyncio.ensure_future(client_writer(name, queue, writer, shutdown))
        elif kind == "disconnect":
            _, name = event
            peers.pop(name, None)


async def client_writer(name, queue, writer, shutdown):
    try:
        while True:
            get = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({get, shutdown}, return_when=asyncio.FIRST_COMPLETED)
            if shutdown in done:
                get.cancel()
                break
            writer.write(get.result().encode())
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        events.put_nowait(("disconnect", name))


async def read_line(reader):
    # BufReader::lines(): split on \n, drop a trailing \r\n or \n, fail on invalid UTF-8.
    raw = await reader.readline()
    if not raw:
        return None
    if raw.endswith(b"\n"):
        raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
    return raw.decode("utf-8")


def rust_trim(text):
    # str::trim removes Unicode White_Space, which str.strip() (no argument) matches closely.
    return text.strip(" \t\n\x0b\x0c\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                      "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


async def client(reader, writer):
    print(f"Accepting from: {writer.get_extra_info('peername')}", flush=True)
    shutdown = asyncio.get_running_loop().create_future()
    try:
        name = await read_line(reader)
        if name is None:
            return
        events.put_nowait(("new_peer", name, writer, shutdown))
        while True:
            line = await read_line(reader)
            if line is None:
                break
            idx = line.find(":")
            if idx < 0:
                continue
            dest = [rust_trim(n) for n in line[:idx].split(",")]
            msg = rust_trim(line[idx + 1:])
            events.put_nowait(("message", name, dest, msg))
    except (UnicodeDecodeError, ConnectionError, OSError, ValueError) as error:
        print(error, file=sys.stderr, flush=True)
    finally:
        # Dropping _shutdown_sender: the writer stops, the socket closes with both halves gone.
        if not shutdown.done():
            shutdown.set_result(None)
        await asyncio.sleep(0)
        writer.close()


async def main():
    global events
    events = asyncio.Queue()
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    server = await asyncio.start_server(client, "127.0.0.1", port, limit=1 << 30)
    asyncio.ensure_future(broker())
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
