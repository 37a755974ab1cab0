"""Loopback plumbing for the benchmarks: serve an app in a child process, drive it over keep-alive HTTP."""

from __future__ import annotations

import asyncio
import time


def serve_and_report_port(app, pipe, lifespan: str) -> None:
    """Run uvicorn on 127.0.0.1:0 and send the port it got through `pipe` once it listens."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None,
                                           access_log=False, lifespan=lifespan))
    original = server.startup

    async def startup(sockets=None):
        await original(sockets)
        pipe.send(server.servers[0].sockets[0].getsockname()[1])

    server.startup = startup
    server.run()


async def post_one_after_another(
    host: str, port: int, path: str, work: list, expected: int, latencies: list[float] | None = None
) -> int:
    """One keep-alive HTTP/1.1 connection POSTing `work`'s (body, headers) one after another.

    Returns how many answers were not `expected`; appends each request's latency (seconds) to
    `latencies` when given. Each request goes out in a single write: headers and body written
    apart (as httpx does) meet delayed ACKs on loopback (~40 ms each), which measures the kernel."""
    reader, writer = await asyncio.open_connection(host, port)
    bad = 0
    want = str(expected).encode()
    try:
        while work:
            body, headers = work.pop()
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            started = time.perf_counter()
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body
            )
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            await reader.readexactly(length)
            if latencies is not None:
                latencies.append(time.perf_counter() - started)
            bad += status.split()[1] != want
    finally:
        writer.close()
    return bad
