"""How MongoDB operations of the service's shapes scale with the collection's size.

Inserts documents of an enrolment's realistic size into a scratch collection, and times, at
each size, the operations the pipeline issues: a `find` by `_id $in` (get_enrolments and the
rev re-read of save_enrolments), a `replace_one` guarded by `{_id, rev}` (save_enrolments),
a `find_one` by `_id`, and a `count_documents` by batch (recount). On MongoDB these are index
lookups whose cost does not depend on the size; on a server that scans they grow with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pymongo import ASCENDING, MongoClient

__all__ = ["ProbeRow", "probe_store"]

_PAD = "x" * 400  # the bench workload's enrolment documents average ~470 bytes of BSON


@dataclass
class ProbeRow:
    size: int
    find_in_100_ms: float
    replace_id_rev_ms: float
    find_one_id_ms: float
    count_by_batch_ms: float

    def line(self) -> str:
        return (
            f"  {self.size:7,} docs: find _id $in (100 ids) {self.find_in_100_ms:8.1f} ms | "
            f"replace_one {{_id, rev}} {self.replace_id_rev_ms:7.1f} ms | "
            f"find_one {{_id}} {self.find_one_id_ms:6.1f} ms | "
            f"count_documents {{batchId}} {self.count_by_batch_ms:7.1f} ms"
        )


def probe_store(uri: str, db: str, sizes: tuple[int, ...] = (1000, 4000, 8000)) -> list[ProbeRow]:
    """One row per size (the collection is dropped at the end)."""
    client: MongoClient[dict[str, object]] = MongoClient(uri)
    coll = client[db]["probe"]
    coll.drop()
    coll.create_index([("batchId", ASCENDING), ("userId", ASCENDING)], unique=True)
    rows: list[ProbeRow] = []
    try:
        have = 0
        for size in sizes:
            docs: list[dict[str, object]] = [
                {"_id": f"k{i}", "batchId": f"b{i % 5}", "userId": f"u{i}", "rev": "r", "p": _PAD}
                for i in range(have, size)
            ]
            for start in range(0, len(docs), 500):
                coll.insert_many(docs[start : start + 500])
            have = size
            ids = [f"k{i}" for i in range(0, size, max(1, size // 100))][:100]
            started = time.perf_counter()
            list(coll.find({"_id": {"$in": ids}}))
            find_in = time.perf_counter() - started
            started = time.perf_counter()
            for key in ids[:10]:
                coll.replace_one(
                    {"_id": key, "rev": "r"},
                    {"batchId": "b0", "userId": f"u-{key}", "rev": "r", "p": _PAD},
                )
            replace = (time.perf_counter() - started) / 10
            started = time.perf_counter()
            for key in ids[:10]:
                coll.find_one({"_id": key})
            find_one = (time.perf_counter() - started) / 10
            started = time.perf_counter()
            coll.count_documents({"batchId": "b1"})
            count = time.perf_counter() - started
            rows.append(
                ProbeRow(size, find_in * 1000, replace * 1000, find_one * 1000, count * 1000)
            )
    finally:
        coll.drop()
        client.close()
    return rows
