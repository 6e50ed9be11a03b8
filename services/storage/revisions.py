"""Revisions: every write of a guarded document carries the successor of the revision it read.

A revision is "<n>:<random>": the counter is what `devstack/ferretdb/rev_guard.sql` checks
(FerretDB 1.x), the random part tells apart two writers of the same successor. A write won
only if the stored revision is then the one it carried.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from services.errors import DocumentKeptChanging

__all__ = ["ROUNDS", "body_of", "next_rev", "until_written"]

ROUNDS = 50  # conditional writes tried before giving up (each round re-reads)


def next_rev(current: str | None) -> str:
    """The revision that follows `current`: its counter plus one, and a random part so that
    two writers of the same successor can tell whose write is stored."""
    counter, _, _ = (current or "").partition(":")
    following = int(counter) + 1 if counter.isdigit() and len(counter) <= 18 else 1
    return f"{following}:{os.urandom(8).hex()}"


def body_of(doc: BaseModel, key: str, exclude: set[str] | None = None) -> dict[str, Any]:
    """The stored form of a model: its fields, `_id`, and the successor of its revision."""
    body = doc.model_dump(exclude=exclude)
    body["_id"] = key
    body["rev"] = next_rev(getattr(doc, "rev", None))
    return body


async def until_written(attempt: Callable[[], Awaitable[bool]], what: str) -> None:
    """Repeat a read-modify-write until it wins (True), at most `ROUNDS` times."""
    for _ in range(ROUNDS):
        if await attempt():
            return
    raise DocumentKeptChanging(f"{what} kept changing under a conditional write")
