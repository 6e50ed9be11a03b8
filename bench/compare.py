"""Correctness checks: the service's documents against the pure fold, and B against both."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from schemas.documents import EnrolmentDoc
from schemas.events import event_adapter
from testkit.expect import assert_documents_exact
from testkit.world import World

__all__ = ["DERIVED", "check_exact", "derived_of", "diff_derived", "fold_of"]

DERIVED = (
    "courseId",
    "enrolled",
    "progressStatus",
    "completionPercentage",
    "completedAt",
    "scorePercentage",
)

Docs = dict[str, dict[str, dict[str, Any]]]


def check_exact(docs: Docs, world: World) -> str:
    """'pass', or 'FAIL: <first difference>'."""
    try:
        assert_documents_exact(docs, world)
    except AssertionError as exc:
        return f"FAIL: {exc}"[:300]
    return "pass"


def fold_of(rules: Iterable[dict[str, Any]], facts: Iterable[dict[str, Any]]) -> World:
    """The pure fold of rules (in order) then facts."""
    world = World()
    for raw in [*rules, *facts]:
        event = event_adapter.validate_json(json.dumps(raw).encode())
        world.apply(event)
    return world


def derived_of(doc: EnrolmentDoc) -> dict[str, Any]:
    """The derived values and the certificates of an enrolment (no facts, rev, outbox)."""
    values = doc.model_dump(include=set(DERIVED))
    values["certificates"] = [c.model_dump() for c in doc.certificates]
    return values


def diff_derived(
    got: dict[str, dict[str, Any]], want: dict[str, EnrolmentDoc], keys: Iterable[str]
) -> tuple[int, int, str | None]:
    """(compared, differing, first difference) over `keys`."""
    compared = differing = 0
    first: str | None = None
    for key in keys:
        compared += 1
        raw = got.get(key)
        mine = derived_of(EnrolmentDoc.model_validate(raw)) if raw else None
        theirs = derived_of(want[key])
        if mine != theirs:
            differing += 1
            first = first or f"{key!r}: {mine} != {theirs}"
    return compared, differing, first
