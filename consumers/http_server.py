"""The HTTP server (uvicorn) inside the service's event loop: started, its address logged,
stopped with the rest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import structlog
import uvicorn

__all__ = ["HttpServer"]

log = structlog.get_logger("batch_service.http")


class _OwnSignals(uvicorn.Server):
    """uvicorn, leaving SIGTERM and SIGINT to the service (which stops HTTP last)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Serves an ASGI app on host:port (port 0: a free one, logged)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
        )
        self._server = _OwnSignals(config)
        self._task: asyncio.Task[None] | None = None
        self.address = ""

    async def start(self) -> str:
        """Listen; returns `http://host:port` once bound (raises if binding failed)."""
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # the bind failed: raise what uvicorn raised
                raise OSError("the HTTP server stopped before it started")
            await asyncio.sleep(0.02)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        self.address = f"http://{host}:{port}"
        log.info("http_listening", address=self.address)
        return self.address

    async def stop(self) -> None:
        """Finish the requests in hand, then close."""
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
