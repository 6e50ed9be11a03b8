"""Replace-or-insert by `_id`, safe when several instances do it at once."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

__all__ = ["replace_by_id"]

_TRIES = 3


async def replace_by_id(
    coll: AsyncCollection[dict[str, Any]], key: Any, body: dict[str, Any]
) -> None:
    """Replace the document `key` with `body`, or insert it where there is none.

    Two upserts of a new `_id` at once both try to insert it, and one loses with a
    duplicate-key error: FerretDB does not retry it, nor does MongoDB in every case. The
    document exists by then, so the loser's next try replaces it (unless an expiry sweep
    removed it meanwhile: then it inserts again, a few times at most). Call inside the
    adapter's error translator."""
    for _ in range(_TRIES - 1):
        try:
            await coll.replace_one({"_id": key}, body, upsert=True)
            return
        except DuplicateKeyError:
            continue
    await coll.replace_one({"_id": key}, body, upsert=True)
