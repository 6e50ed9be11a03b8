"""The FastAPI application: the routes of contract 9, problem answers, a request id on every
answer and log line, OpenAPI 3.1 at `/openapi.json` and Swagger UI at `/docs`."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute

from api import routes_batches, routes_enrolments, routes_progress, routes_sunbird
from api.deps import ApiDeps
from api.openapi_doc import install_openapi
from api.probes import PROBE_PATHS
from api.problems import INTERNAL_ERROR, install_problem_handlers, problem_response
from api.sunbird import SUNBIRD_PATHS, sunbird_routing_error

__all__ = ["API_VERSION", "create_app"]

log = structlog.get_logger("batch_service.api")
API_VERSION = "1.1.0"
_DESCRIPTION = """Batches, enrolments and learner progress (Batch Service, contract v1.1).

Commands become events on the inbound Kafka topics and answer `202 Accepted` with the
event's id; with `?wait=S` (at most 30) they answer `200` with the resulting document once
the service has folded the event. Reads come from the documents. Errors are RFC 9457 problem
details with a stable `code`. Authenticate with a bearer JWT (`sub`, `roles`)."""


def create_app(
    deps: ApiDeps, *, api: bool = True, extra_routers: tuple[APIRouter, ...] = ()
) -> FastAPI:
    """The app over these collaborators: the API's routes (unless `api` is false) and
    `extra_routers` (the probes and metrics the composition root adds)."""
    app = FastAPI(
        title="Batch Service",
        version=API_VERSION,
        description=_DESCRIPTION,
        openapi_url="/openapi.json" if api else None,  # it describes the API: off with it
        docs_url="/docs" if api else None,
        redoc_url=None,
    )
    app.state.deps = deps
    install_problem_handlers(
        app, [(path, sunbird_routing_error) for path in SUNBIRD_PATHS] if api else ()
    )
    install_openapi(app)
    native = (routes_batches.router, routes_enrolments.router, routes_progress.router)
    routers = (*((*native, routes_sunbird.router) if api else ()), *extra_routers)
    for router in routers:
        app.include_router(router)
    # Each route's pattern and methods: a 405 names every method a path takes (`Allow`).
    app.state.route_methods = [
        (route.path_regex, route.methods)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    app.middleware("http")(_request_id)
    return app


async def _request_id(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """A request id (the caller's `X-Request-ID`, or a new one) on the answer and on every
    log line written while the request is handled."""
    given = request.headers.get("x-request-id", "")
    request_id = given if 0 < len(given) <= 128 and given.isprintable() else uuid.uuid4().hex
    request.state.request_id = request_id
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        try:
            response = await call_next(request)
        except Exception as exc:  # an unhandled error: logged whole, answered without internals
            log.error("request_failed", exc_info=exc)
            response = problem_response(request, INTERNAL_ERROR)
        log.log(
            logging.DEBUG if request.url.path in PROBE_PATHS else logging.INFO,
            "http_request",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
    response.headers["X-Request-ID"] = request_id
    return response
