"""Reading the service's own `/metrics`: the database commands behind "reads and writes per
record" (`batch_service_mongodb_*`, pymongo's command monitoring inside the service)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["DbCounts", "scrape_db_counts"]

_READS = {"find", "getMore", "count", "aggregate"}


@dataclass(frozen=True)
class DbCounts:
    """Documents written (inserted, updated, deleted) and read commands sent, so far."""

    writes: float = 0.0
    reads: float = 0.0

    def __sub__(self, earlier: DbCounts) -> DbCounts:
        return DbCounts(self.writes - earlier.writes, self.reads - earlier.reads)


async def scrape_db_counts(base: str) -> DbCounts:
    """The service's counters now (its `/metrics`)."""
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"{base}/metrics")).text
    writes = reads = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "batch_service_mongodb_documents_written_total":
                writes += sample.value
            elif (
                sample.name == "batch_service_mongodb_commands_total"
                and sample.labels.get("command") in _READS
            ):
                reads += sample.value
    return DbCounts(writes, reads)
