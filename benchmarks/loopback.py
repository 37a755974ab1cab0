"""Serve an ASGI app on a free loopback port in the current (child) process, for the benchmarks."""

from __future__ import annotations


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
