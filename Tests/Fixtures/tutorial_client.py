#!/usr/bin/env python3
"""A port of the async-std tutorial's a-chat client: it races stdin lines against socket lines,
sends what it reads from stdin followed by \n, prints each line from the server, and stops as
soon as either side ends (the tutorial does not wait for the server after stdin ends).

    python3 tutorial_client.py [PORT]      (default 8080)
"""
import asyncio
import sys


async def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    from_server = asyncio.ensure_future(reader.readline())
    from_stdin = asyncio.ensure_future(stdin.readline())
    while True:
        done, _ = await asyncio.wait({from_server, from_stdin}, return_when=asyncio.FIRST_COMPLETED)
        if from_server in done:
            line = from_server.result()
            if not line:
                break
            sys.stdout.write(line.decode().rstrip("\n").rstrip("\r") + "\n")
            sys.stdout.flush()
            from_server = asyncio.ensure_future(reader.readline())
        if from_stdin in done:
            line = from_stdin.result()
            if not line:
                break
            writer.write(line.rstrip(b"\n").rstrip(b"\r") + b"\n")
            await writer.drain()
            from_stdin = asyncio.ensure_future(stdin.readline())
    writer.close()


if __name__ == "__main__":
    asyncio.run(main())
