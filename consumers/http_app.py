"""Building the HTTP application of a process from its Service (the composition root's part
for HTTP): the API of contract 9 with its collaborators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import ApiDeps, Authenticator, RateLimiter, create_app
from consumers.bootstrap import Service, sdk_publisher
from services.storage import InMemoryRateLimits

__all__ = ["http_app"]

API_SOURCE = "batch-service-api"


@asynccontextmanager
async def http_app(service: Service) -> AsyncIterator[FastAPI]:
    """The app (the API unless `api_enabled` is false), its command publisher started."""
    settings = service.settings
    store = service.stores.rate_limits if settings.api_rate_limit_shared else InMemoryRateLimits()
    limiter = RateLimiter(store, settings.api_rate_limit_per_minute, settings.api_rate_limit_lock_s)
    commands = sdk_publisher(settings, source=API_SOURCE)
    async with commands:
        deps = ApiDeps(
            settings, service.stores, commands, service.clock, Authenticator(settings), limiter
        )
        yield create_app(deps, api=settings.api_enabled)
