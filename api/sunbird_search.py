"""Sunbird's batch search over the batches the native list reads: its filters (a value or a
list each, a status as a number or a numeric string, as Sunbird's clients send them), its
`offset` and `limit`, and its `count` of every match, as Elasticsearch gives them to Sunbird."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from api import routes_batches as batches
from api.auth import Caller
from api.deps import ApiDeps
from api.sunbird_views import batch_of

__all__ = ["SEARCH_COUNT_CAP", "search_batches"]

# A search's `count` is every batch that matches, as Elasticsearch counts its hits for Sunbird,
# exact up to this many (Elasticsearch's own default for `track_total_hits`): counting reads
# the matches a page of 100 at a time.
SEARCH_COUNT_CAP = 10_000


async def search_batches(caller: Caller, deps: ApiDeps, req: dict[str, Any]) -> dict[str, Any]:
    """The `result` of a search: see `api.routes_sunbird.search`."""
    given = req.get("filters")
    filters: dict[str, Any] = given if isinstance(given, dict) else {}
    statuses = _one_or_many(filters, "status", lambda v: _STATUS_OF.get(str(v)))
    courses = _one_or_many(filters, "courseId", lambda v: v if isinstance(v, str) else None)
    types = _one_or_many(filters, "enrollmentType", lambda v: v if isinstance(v, str) else None)
    # `limit` 0 asks for the count only, as Elasticsearch's `size` 0 does.
    limit, offset = _bounded(req.get("limit"), 0, 100, 100), _bounded(req.get("offset"), 0)
    # Sunbird's search filters as Elasticsearch does: a value that is no status matches
    # nothing (an empty list after the mapping), a filter not given matches everything.
    if set() in (statuses, courses, types):
        return {"response": {"count": 0, "content": []}}
    only = next(iter(statuses)) if statuses is not None and len(statuses) == 1 else None
    matches: list[Any] = []
    for course in sorted(courses) if courses is not None else [None]:
        cursor: str | None = None
        while len(matches) < SEARCH_COUNT_CAP:
            page = await batches.list_batches(caller, deps, course, only, cursor, 100)
            matches += [
                b
                for b in page.items
                if (statuses is None or b.status in statuses)
                and (types is None or b.enrollmentType in types)
            ]
            if (cursor := page.nextCursor) is None:
                break
    content = [batch_of(b) for b in matches[offset : offset + limit]]
    return {"response": {"count": min(len(matches), SEARCH_COUNT_CAP), "content": content}}


_STATUS_OF: dict[str, Literal["upcoming", "ongoing", "completed"]] = {
    "0": "upcoming",
    "1": "ongoing",
    "2": "completed",
}


def _one_or_many(filters: dict[str, Any], name: str, read: Callable[[Any], Any]) -> set[Any] | None:
    """A search filter's accepted values (None: not given, every batch matches it)."""
    if name not in filters:
        return None
    given = filters[name]
    values = given if isinstance(given, list) else [given]
    return {v for v in map(read, values) if v is not None}


def _bounded(value: Any, low: int, high: int | None = None, default: int = 0) -> int:
    """An integer request field within bounds (the default when it is not an integer)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return default
    return max(low, value if high is None else min(value, high))
