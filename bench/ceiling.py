"""Figure D: the local stack's own ceiling for the service's kind of write.

Copies real enrolment documents (those the service wrote in C) into a scratch collection,
then, for a few seconds, replaces them as fast as one client can, each replace guarded by
`{_id, rev}` and carrying the next revision, in unordered bulk commands of the service's chunk
size, one command at a time: the service's write with no logic around it. The service's
writes per second divided by this is the distance between the service and its database.
Also times plain inserts of the same documents (what a shadow replay writes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, ReplaceOne

from services.storage.bulk import DEFAULT_BULK_CHUNK, DEFAULT_INSERT_CHUNK
from services.storage.revisions import next_rev

__all__ = ["Ceiling", "measure_ceiling"]

_SAMPLE = 2_000


@dataclass(frozen=True)
class Ceiling:
    writes_per_s: float  # guarded replaces
    inserts_per_s: float
    documents: int
    mean_bytes: float


async def measure_ceiling(uri: str, source_db: str, scratch_db: str, seconds: float) -> Ceiling:
    """D on `_SAMPLE` documents of `source_db`'s enrolments (the scratch database is dropped)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    try:
        docs = await client[source_db]["enrolments"].find({}).limit(_SAMPLE).to_list()
        if not docs:
            raise RuntimeError(f"no enrolment documents in {source_db} to copy")
        coll = client[scratch_db]["enrolments"]
        await client.drop_database(scratch_db)
        started = time.perf_counter()
        for i in range(0, len(docs), DEFAULT_INSERT_CHUNK):
            await coll.insert_many(docs[i : i + DEFAULT_INSERT_CHUNK], ordered=False)
        inserts = len(docs) / (time.perf_counter() - started)
        size = sum(len(str(d)) for d in docs) / len(docs)
        writes = await _replace_for(coll, docs, seconds)
        return Ceiling(writes, inserts, len(docs), size)
    finally:
        await client.drop_database(scratch_db)
        await client.close()


async def _replace_for(coll: Any, docs: list[dict[str, Any]], seconds: float) -> float:
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for i in range(0, len(docs), DEFAULT_BULK_CHUNK):
            ops = []
            for doc in docs[i : i + DEFAULT_BULK_CHUNK]:
                current = doc.get("rev")
                doc["rev"] = next_rev(current)  # what the revision guard lets through
                ops.append(ReplaceOne({"_id": doc["_id"], "rev": current}, doc))
            result = await coll.bulk_write(ops, ordered=False)
            if result.matched_count != len(ops):
                raise RuntimeError("a guarded replace of the ceiling probe did not match")
            done += len(ops)
            if time.perf_counter() - started >= seconds:
                break
    return done / (time.perf_counter() - started)
