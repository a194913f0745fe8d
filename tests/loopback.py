"""Run a Sanic app on a free loopback port inside a test, without `app.run` (which owns the loop)."""
from __future__ import annotations

import socket
from contextlib import asynccontextmanager
from typing import AsyncIterator

from sanic import Sanic


@asynccontextmanager
async def serve_sanic(app: Sanic) -> AsyncIterator[str]:
    """Serves ``app`` on 127.0.0.1 and yields its base URL; stops it and frees its name afterwards."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        Sanic._app_registry.pop(app.name, None)
