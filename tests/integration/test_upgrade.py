"""Start-up upgrade: batches written with `appliedOffsets` (before events were remembered by id)
get the ids of the events they applied, read back from the topic; then a replay of those
events rolls nothing back."""

from __future__ import annotations

import json

from consumers.bootstrap import bootstrap
from consumers.parsing import parse_record
from consumers.upgrade import upgrade_documents
from services.ports import Received
from services.settings import Settings
from testkit.harness import publish, read_all
from tests.e2e.test_topic_recreation import CREATED, SHORTENED, ev


async def test_legacy_offsets_become_remembered_ids_and_a_replay_rolls_nothing_back(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> None:
    later = ev(
        "batch.updated",
        "2026-01-09T00:00:00Z",
        "not-applied-yet",
        batchId="b1",
        endDate="2026-02-28",
    )
    await publish(kafka_bootstrap, topic_prefix, [CREATED, SHORTENED, later])
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        db=mongo_db_name,
        topic_prefix=topic_prefix,
    )
    async with bootstrap(settings) as service:
        records = await read_all(kafka_bootstrap, service.topics.batch, timeout_s=2)
        offsets = {json.loads(r.value)["id"]: (r.partition, r.offset) for r in records}
        assert len(offsets) == 3
        partition, shortened_at = offsets[SHORTENED["id"]]
        # What the previous version stored: the batch after CREATED and SHORTENED.
        legacy = {
            **CREATED["data"],
            "_id": "b1",
            "endDate": "2026-01-20",
            "cancelled": False,
            "appliedOffsets": {str(partition): shortened_at},
            "rev": "2:legacy",
        }
        raw_batches = service.stores.maintenance
        await raw_batches.replace_all("batches", [legacy])

        await upgrade_documents(service)
        await upgrade_documents(service)  # idempotent: nothing left to do

        documents = service.stores.documents
        known = await documents.applied_batch_events(
            "b1", [CREATED["id"], SHORTENED["id"], later["id"]]
        )
        assert known == {CREATED["id"], SHORTENED["id"]}, "only what was applied"
        assert await raw_batches.legacy_applied_offsets() == {}
        # The first event read again (a replay from an earlier point): skipped by its id.
        by_id = {json.loads(r.value)["id"]: r for r in records}

        def received(event_id: str) -> list[Received]:
            return [parse_record(by_id[event_id], service.topics, settings.max_event_bytes)]

        await service.pipeline.handle(received(CREATED["id"]))
        batch = (await documents.get_batches(["b1"]))["b1"]
        assert batch.endDate == "2026-01-20", "the old batch.created rolled the batch back"
        await service.pipeline.handle(received(later["id"]))
        batch = (await documents.get_batches(["b1"]))["b1"]
        assert batch.endDate == "2026-02-28", "an event not applied before applies"
