"""Conditional writes and their read-back, shared by the store's pieces.

Every write of a guarded document (batch, course, enrolment) is conditional on the `rev` it
read and writes the next revision; the write is then read back. On MongoDB the condition is
atomic. FerretDB 1.x checks it in a query before a separate write, so it is made atomic by
`devstack/ferretdb/rev_guard.sql` (PostgreSQL refuses a revision that is not the stored one's
successor); the read-back is how a writer learns that it lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.storage.bulk import BulkWriter
from services.storage.errors import mongo_errors
from services.storage.lookup import IdLookup

__all__ = ["GuardedWrites"]

Raw = dict[str, Any]


class GuardedWrites:
    """The lookup strategy and the bulk writer, and the guarded single-document `$set`."""

    def __init__(self, lookup: IdLookup, bulk: BulkWriter) -> None:
        self.lookup = lookup
        self.bulk = bulk

    async def stored_revs(self, coll: AsyncCollection[Raw], keys: Iterable[str]) -> dict[str, Any]:
        """The stored revision of each document that exists."""
        async with mongo_errors():
            found = await self.lookup.by_ids(coll, keys, {"rev": 1})
        return {raw["_id"]: raw.get("rev") for raw in found}

    async def set_if_current(
        self, coll: AsyncCollection[Raw], key: str, rev: str | None, fields: dict[str, Any]
    ) -> bool:
        """`$set` these fields (their `rev` the successor of `rev`) if the document still has
        `rev`; True when the stored revision is then ours (the write won)."""
        async with mongo_errors():
            await coll.update_one({"_id": key, "rev": rev}, {"$set": fields})
            raw = await coll.find_one({"_id": key}, {"rev": 1})
        return raw is not None and raw.get("rev") == fields["rev"]
