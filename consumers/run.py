"""`batch-service run`: consume until SIGTERM or SIGINT, finish the batch in hand, exit 0."""

from __future__ import annotations

import asyncio
import signal

import structlog

from consumers.bootstrap import Service, bootstrap
from consumers.http_app import http_app
from consumers.http_server import HttpServer
from consumers.logs import configure_logging
from consumers.upgrade import upgrade_documents
from services.settings import Settings
from telemetry import tracing

__all__ = ["run_service", "stop_on_signals"]

log = structlog.get_logger("batch_service")


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def run_service(settings: Settings, *, consume: bool = True) -> int:
    """Run the service in the foreground (`consume=False`: the HTTP API alone, `batch-service
    api`); returns the exit status."""
    configure_logging(settings.log_level)
    stop = stop_on_signals()
    log.info("starting", kafka=settings.kafka_bootstrap, db=settings.db, group=settings.group_id)
    with tracing(settings) as traced:
        if traced:
            log.info("tracing", endpoint=settings.otlp_endpoint, ratio=settings.trace_sample_ratio)
        return await _serve(settings, stop, consume)


async def _serve(settings: Settings, stop: asyncio.Event, consume: bool) -> int:
    async with bootstrap(settings, stop=stop) as service, http_app(service) as app:
        service.health.needs_partitions = consume
        server = HttpServer(app, settings.http_host, settings.http_port)
        await server.start()
        try:
            if consume:
                await _consume(service, stop)
            else:
                await stop.wait()
        finally:
            await server.stop()
    log.info("stopped")
    return 0


async def _consume(service: Service, stop: asyncio.Event) -> None:
    await upgrade_documents(service)
    loop = service.consumer_loop()
    await loop.start()
    try:
        log.info("consuming", topics=list(service.topics.inbound))
        await loop.run(stop)
    finally:
        await loop.stop()
