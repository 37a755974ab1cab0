"""A fake Slack Socket Mode websocket endpoint on loopback (aiohttp server in its own thread)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from aiohttp import web


class FakeSocketMode:
    """Accepts one client at a time, says hello like Slack, pushes envelopes, records what comes back."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self._loop = asyncio.new_event_loop()
        self._ws: web.WebSocketResponse | None = None
        self._connected = threading.Event()
        self._ready = threading.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        # What Slack sends first on every Socket Mode connection.
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0PULSE001"}})
        self._ws = ws
        self._connected.set()
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                self.received.append(json.loads(message.data))
        return ws

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/link", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> FakeSocketMode:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        async def shut_down() -> None:
            if self._ws is not None and not self._ws.closed:
                await self._ws.close()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shut_down(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def wait_connected(self, timeout: float = 10) -> bool:
        return self._connected.wait(timeout)

    def send(self, envelope: dict) -> None:
        assert self._ws is not None, "no client connected"
        asyncio.run_coroutine_threadsafe(self._ws.send_json(envelope), self._loop).result(5)

    def wait_for(self, predicate, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.02)
        return False
