"""What FastAPI cannot say about the API by itself: the bearer scheme, and the problem
details every operation may answer with (RFC 9457, `application/problem+json`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi"]

_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable, one per rule"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "requestId": {"type": ["string", "null"]},
    },
}
_WHY = {
    "400": "malformed or invalid input (per-field `errors`)",
    "401": "no bearer token, or a bad one",
    "403": "a valid token without the right",
    "404": "unknown batch, learner or route",
    "409": "already enrolled or waitlisted",
    "422": "a business rule, named in `code`",
    "429": "too many requests (`Retry-After`)",
    "500": "the service failed (no internals shown)",
    "503": "Kafka or MongoDB cannot be reached (`Retry-After`)",
}


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at `/openapi.json` (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _completed(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_SUNBIRD = {
    "type": "object",
    "required": ["id", "ver", "ts", "params", "responseCode", "result"],
    "properties": {
        "id": {"type": "string"},
        "ver": {"type": "string"},
        "ts": {"type": "string"},
        "params": {
            "type": "object",
            "required": ["resmsgid", "msgid", "err", "status", "errmsg"],
            "properties": {
                "resmsgid": {"type": ["string", "null"]},
                "msgid": {"type": ["string", "null"]},
                "err": {"type": ["string", "null"]},
                "status": {"type": "string"},
                "errmsg": {"type": ["string", "null"]},
            },
        },
        "responseCode": {"type": "string"},
        "result": {"type": "object"},
    },
}
_SUNBIRD_STATUSES = {
    "200": "OK (Sunbird's envelope)",
    "400": "CLIENT_ERROR: Sunbird's code in params.err",
    "401": "UNAUTHORIZED_USER",
    "404": "RESOURCE_NOT_FOUND",
    "429": "TOO_MANY_REQUESTS",
    "500": "SERVER_ERROR",
    "503": "SERVICE_UNAVAILABLE",
}


def _completed(spec: dict[str, Any]) -> dict[str, Any]:
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {})["ProblemDetails"] = _PROBLEM
    components["schemas"]["SunbirdResponse"] = _SUNBIRD
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    problem = {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    }
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/SunbirdResponse"}}}
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            operation["security"] = [{"bearer": []}]
            if operation.pop("x-sunbird", False):
                operation["responses"] = {
                    s: {"description": why, "content": envelope}
                    for s, why in _SUNBIRD_STATUSES.items()
                }
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's own validation answer: ours is 400
            for status, why in _WHY.items():
                responses[status] = {"description": why, "content": problem}
    return spec
