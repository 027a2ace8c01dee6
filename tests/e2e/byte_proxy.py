"""A TCP proxy that counts the bytes of every connection it carries, an
independent view of a client's whole bytes on the wire (HTTP/2 frames, TLS
records and all). Prints "listening on 127.0.0.1:PORT"; after each connection
closes, rewrites COUNTS (JSON): connections opened and closed, bytes from the
client ("up") and from the server ("down").
    byte_proxy.py TARGET_HOST:PORT COUNTS"""
import asyncio
import json
import os
import sys

host, port = sys.argv[1].rsplit(":", 1)
counts = {"opened": 0, "closed": 0, "up": 0, "down": 0}


async def pipe(reader, writer, direction):
    try:
        while data := await reader.read(65536):
            counts[direction] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def carry(client_reader, client_writer):
    counts["opened"] += 1
    try:
        server_reader, server_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(client_reader, server_writer, "up"),
                             pipe(server_reader, client_writer, "down"))
    finally:
        client_writer.close()
        counts["closed"] += 1
        # Whole or not at all, for a reader polling the file.
        with open(sys.argv[2] + ".new", "w") as out:
            json.dump(counts, out)
        os.replace(sys.argv[2] + ".new", sys.argv[2])


async def main():
    server = await asyncio.start_server(carry, "127.0.0.1", 0)
    print(f"listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.sleep(300)  # bounded: a test is over long before


asyncio.run(main())
