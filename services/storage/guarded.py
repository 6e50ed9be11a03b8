"""Conditional writes and their read-back, shared by the store's pieces.

Every write of a guarded document (batch, course, enrolment) is conditional on the `rev` it
read and writes the next revision. On MongoDB the condition is atomic and the answer's
`matchedCount` says whether the write happened. FerretDB 1.x checks it in a query before a
separate write, so it is made atomic by `devstack/ferretdb/rev_guard.sql` (PostgreSQL refuses
a revision that is not the stored one's successor, and the command fails with "batch-service
revision conflict"). When the answer is exact, a write that matched needs no read-back; a
conflict, a short match, or a server whose guard keeps the row silently (the guard before
v1.1) are settled by reading the revisions back. `probe()` tells which server this is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import structlog
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from services.storage.bulk import BulkWriter
from services.storage.errors import is_revision_conflict, mongo_errors
from services.storage.lookup import IdLookup

__all__ = ["GuardedWrites"]

Raw = dict[str, Any]
log = structlog.get_logger("batch_service.store")


class GuardedWrites:
    """The lookup strategy and the bulk writer, and the guarded single-document `$set`."""

    def __init__(self, lookup: IdLookup, bulk: BulkWriter) -> None:
        self.lookup = lookup
        self.bulk = bulk

    @property
    def exact(self) -> bool:
        return self.bulk.exact

    async def probe(self, coll: AsyncCollection[Raw]) -> bool:
        """Whether this server's answers to conditional writes are exact; remembered for every
        later write. A scratch document is given a revision that is not its successor's:
        MongoDB writes it (its filter is atomic: exact), FerretDB with the raising guard refuses
        it (exact), FerretDB with a silent guard reports a match and keeps the row (not exact:
        read back), FerretDB without a guard writes it (exact answers, but concurrent writers
        can lose updates: logged as an error)."""
        key = f"guard-probe-{uuid.uuid4().hex}"
        async with mongo_errors():
            await coll.insert_one({"_id": key, "rev": "1:probe"})
            try:
                try:
                    answer = await coll.update_one(
                        {"_id": key, "rev": "1:probe"}, {"$set": {"rev": "3:probe"}}
                    )
                except OperationFailure as exc:
                    if not is_revision_conflict(exc):
                        raise
                    self.bulk.exact = True
                    return True
                stored = await coll.find_one({"_id": key}, {"rev": 1})
                silent = answer.matched_count == 1 and (stored or {}).get("rev") == "1:probe"
                self.bulk.exact = not silent
                if not silent and await _is_ferretdb(coll):
                    log.error(
                        "revision_guard_missing",
                        hint="apply devstack/ferretdb/rev_guard.sql to FerretDB's PostgreSQL "
                        "database: without it, concurrent writers can lose updates",
                    )
                return self.bulk.exact
            finally:
                await coll.delete_one({"_id": key})

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
            try:
                answer = await coll.update_one({"_id": key, "rev": rev}, {"$set": fields})
            except OperationFailure as exc:
                if is_revision_conflict(exc):
                    return False
                raise
            if self.exact:
                return answer.matched_count == 1
            raw = await coll.find_one({"_id": key}, {"rev": 1})
        return raw is not None and raw.get("rev") == fields["rev"]


async def _is_ferretdb(coll: AsyncCollection[Raw]) -> bool:
    info = await coll.database.client.admin.command("buildInfo")
    return "ferretdbVersion" in info or "ferretdb" in str(info.get("version", "")).lower()
