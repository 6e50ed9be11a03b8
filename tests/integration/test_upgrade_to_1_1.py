"""Upgrading: documents as v1.0 wrote them (tests/fixtures/v1_0_documents.json) get the v1.1
fields when the current service starts on them, without a rebuild by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from consumers.bootstrap import bootstrap
from consumers.upgrade import SCHEMA_VERSION, upgrade_documents
from services.clock import ManualClock
from services.settings import Settings
from testkit.expect import certificate_ids_of, status_event_id
from testkit.harness import read_all

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "v1_0_documents.json"


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$date"}:
            return datetime.fromisoformat(value["$date"])
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


async def test_documents_written_by_v1_0_are_upgraded_at_start(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> None:
    written = json.loads(FIXTURE.read_text())
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        db=mongo_db_name,
        topic_prefix=topic_prefix,
    )
    clock = ManualClock(datetime(2026, 3, 15, tzinfo=UTC))
    async with bootstrap(settings, clock=clock) as service:
        maintenance = service.stores.maintenance
        for name in ("batches", "courses", "enrolments"):
            await maintenance.replace_all(name, _decoded(written[name]))

        await upgrade_documents(service)  # what `run` does first
        assert await maintenance.schema_version() == SCHEMA_VERSION
        await service.pipeline.idle()  # the sweep settles every batch
        await service.pipeline.tick()  # and the clock sets batch status

        docs = {name: await maintenance.dump(name) for name in ("batches", "enrolments")}
        learners = {d["userId"]: d for d in docs["enrolments"].values()}
        assert {u: (d["enrolmentStatus"], d["refusedReason"]) for u, d in learners.items()} == {
            "u1": ("enrolled", None),
            "u2": ("enrolled", None),
            "u3": ("refused", "enrolment-closed"),
            "u4": ("not-enrolled", None),
        }
        assert learners["u1"]["enrolled"] is True and learners["u1"]["certificates"]
        assert all(d["outbox"] == [] and not d["hasOutbox"] for d in learners.values())
        batch = docs["batches"]["batch-1"]
        assert (batch["status"], batch["waitlistedCount"], batch["enrolledCount"]) == (
            "ongoing",
            0,
            2,
        )
        assert batch["maximumCapacity"] is None and "appliedOffsets" not in batch

        statuses = certificate_ids_of(
            await read_all(kafka_bootstrap, service.topics.enrolment_status)
        )
        opening = {u: learners[u]["request"]["eventId"] for u in ("u1", "u2")}
        refused = learners["u3"]["facts"]["enrolments"][0]["id"]
        assert sorted(statuses) == sorted(
            [
                status_event_id("batch-1", "u1", "seated", opening["u1"]),
                status_event_id("batch-1", "u2", "seated", opening["u2"]),
                status_event_id("batch-1", "u3", "refused", refused),
            ]
        ), "each current status announced once"
        certificates = await read_all(kafka_bootstrap, service.topics.certificates, timeout_s=1)
        assert certificates == [], "a certificate v1.0 announced is not announced again"

        await upgrade_documents(service)  # a second start: nothing to do
        assert await service.stores.refresh.pending() == {}
