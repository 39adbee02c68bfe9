"""A TCP relay that puts a loopback server at a network distance, for `make bench`.

Every chunk crossing the relay, either way, is delivered half a round trip after
it arrived, in order, so each request and its answer cost one round trip, as they
do between a CI runner and a remote index. Nothing else is modelled: no bandwidth
limit, no loss. It runs as its own process, so its work never shares the
interpreter lock of a client measured in the bench.

    python -m tests.netdelay UPSTREAM_PORT RTT_MS    # prints the port it listens on
"""

from __future__ import annotations

import asyncio
import sys


async def _carry(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not data:  # the sender closed its side
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    delivering = asyncio.create_task(deliver())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((loop.time() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((loop.time() + delay, b""))
    try:
        await delivering
    except ConnectionError:
        pass


async def _relay(upstream_port: int, delay: float, client_reader: asyncio.StreamReader,
                 client_writer: asyncio.StreamWriter) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(_carry(client_reader, server_writer, delay), _carry(server_reader, client_writer, delay))
    for writer in (server_writer, client_writer):
        writer.close()


async def serve(upstream_port: int, rtt_ms: float) -> None:
    server = await asyncio.start_server(
        lambda r, w: _relay(upstream_port, rtt_ms / 2000, r, w), "127.0.0.1", 0, backlog=256)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2])))
