"""Contract 10's operator routes, on the service's port even when the API is off: `/healthz`
(liveness), `/readyz` (readiness) and `/metrics` (Prometheus text). No authentication: they
say nothing about learners, and probes and scrapers carry no tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

__all__ = ["PROBE_PATHS", "ProbeSources", "probes_router"]

PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class ProbeSources:
    """What the routes read, given by the composition root."""

    alive: Callable[[], bool]  # the consumer loop beat recently (or the process does not consume)
    silent_for_s: Callable[[], float]  # since the loop's last beat
    tick_running_for_s: Callable[[], float]  # the clock's attempt in progress (0: none)
    readiness: Callable[[], Awaitable[dict[str, str]]]  # each dependency: `ok`, or why not
    metrics: Callable[[], Awaitable[tuple[bytes, str]]]  # exposition and content type


def probes_router(sources: ProbeSources) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 while the consumer loop makes progress (or idle-polls, or retries) and the
        clock's work is not hanging in a tick; 503 when either has been stuck longer than
        `BATCH_SERVICE_LIVENESS_TIMEOUT_S`: restart me."""
        alive = sources.alive()  # first: the figures below are then at least what it saw
        body = {
            "loopSilentForS": round(sources.silent_for_s(), 1),
            "clockTickRunningForS": round(sources.tick_running_for_s(), 1),
        }
        if alive:
            return JSONResponse({"status": "alive", **body})
        return JSONResponse({"status": "stuck", **body}, status_code=503)

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 when MongoDB and Kafka answer and, when consuming, partitions are assigned;
        503 with each check's answer otherwise: send me no traffic yet."""
        checks = await sources.readiness()
        ready = all(v in ("ok", "assigned") for v in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics")
    async def metrics(request: Request) -> Response:
        body, content_type = await sources.metrics()
        return Response(body, media_type=content_type)

    return router
