"""Building the HTTP application of a process from its Service (the composition root's part
for HTTP): the API of contract 9 with its collaborators, and the probes and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from api import ApiDeps, Authenticator, ProbeSources, RateLimiter, create_app, probes_router
from consumers.bootstrap import Service, sdk_publisher
from services.errors import BatchServiceError
from services.storage import InMemoryRateLimits

__all__ = ["http_app", "probe_sources"]

API_SOURCE = "batch-service-api"
log = structlog.get_logger("batch_service.http")


@asynccontextmanager
async def http_app(service: Service) -> AsyncIterator[FastAPI]:
    """The app (the API unless `api_enabled` is false; the probes always), its command
    publisher started."""
    settings = service.settings
    store = service.stores.rate_limits if settings.api_rate_limit_shared else InMemoryRateLimits()
    limiter = RateLimiter(store, settings.api_rate_limit_per_minute, settings.api_rate_limit_lock_s)
    commands = sdk_publisher(settings, source=API_SOURCE)
    async with commands:
        deps = ApiDeps(
            settings, service.stores, commands, service.clock, Authenticator(settings), limiter
        )
        probes = probes_router(probe_sources(service))
        yield create_app(deps, api=settings.api_enabled, extra_routers=(probes,))


def probe_sources(service: Service) -> ProbeSources:
    """The probes' view of a process: its loop's heartbeat and clock, its dependencies, its metrics
    (the outbox gauges read from MongoDB at each scrape)."""

    async def metrics() -> tuple[bytes, str]:
        try:
            async with asyncio.timeout(service.settings.readiness_timeout_s):
                pending, oldest = await service.stores.outbox.stats()
            service.metrics.outbox(pending, oldest, service.clock.now())
        except (BatchServiceError, TimeoutError) as exc:  # the last values stay
            log.warning("outbox_stats_unavailable", error=repr(exc))
        return service.metrics.render()

    return ProbeSources(
        alive=service.health.alive,
        silent_for_s=service.health.silent_for_s,
        tick_running_for_s=service.health.tick_running_for_s,
        readiness=service.readiness,
        metrics=metrics,
    )
