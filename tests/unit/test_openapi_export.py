"""The committed OpenAPI document is the one the routes produce (regenerate: make schemas)."""

from __future__ import annotations

import json

from api.openapi import OPENAPI_PATH, document, render

REGENERATE = "run `make schemas` and commit schemas/openapi.json"


def test_the_committed_openapi_document_matches_the_routes() -> None:
    committed = OPENAPI_PATH.read_text(encoding="utf-8") if OPENAPI_PATH.exists() else None
    assert committed == render(), f"schemas/openapi.json is out of date: {REGENERATE}"


def test_it_is_openapi_3_1_with_every_route_of_contract_9() -> None:
    spec = document()
    assert spec["openapi"].startswith("3.1")
    routes = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert routes >= {
        ("POST", "/v1/batches"),
        ("GET", "/v1/batches/{batchId}"),
        ("GET", "/v1/batches"),
        ("PATCH", "/v1/batches/{batchId}"),
        ("POST", "/v1/batches/{batchId}/cancel"),
        ("POST", "/v1/batches/{batchId}/enrolments"),
        ("DELETE", "/v1/batches/{batchId}/enrolments/{userId}"),
        ("GET", "/v1/batches/{batchId}/enrolments"),
        ("GET", "/v1/batches/{batchId}/enrolments/{userId}"),
        ("GET", "/v1/users/{userId}/enrolments"),
        ("POST", "/v1/progress"),
    }
    json.dumps(spec)  # serialisable as served
