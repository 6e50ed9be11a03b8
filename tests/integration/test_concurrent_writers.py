"""Two service instances writing the same documents at once lose no fact.

Each writer has its own client (its own connections), as two instances would, and folds its
own facts into the same enrolment documents, round after round, concurrently. Every write is
conditional on the revision read; the losing writer must notice and fold again. On FerretDB
this holds because of devstack/ferretdb/rev_guard.sql; without it this test loses facts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from producers.kafka import KafkaPublisher
from schemas.events import event_adapter
from schemas.topics import Topics
from services.pipeline import Pipeline
from services.ports import Received
from services.settings import Settings
from services.storage import MongoStore

WRITERS = 3
ROUNDS = 8
LEARNERS = 12


@pytest.fixture(params=[0, 1000], ids=["no-cache", "cached"])
async def pipelines(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    mongodb_uri: str,
    mongo_db_name: str,
    topic_prefix: str,
) -> AsyncIterator[list[Pipeline]]:
    """Each writer with its own client and, when cached, its own document cache: a cached
    document goes stale as soon as another writer wins, and the write from it must lose."""
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix)
    stores, made = [], []
    publisher = KafkaPublisher(settings, Topics(topic_prefix))
    await publisher.start()
    try:
        for _ in range(WRITERS):
            store = MongoStore.connect(
                mongodb_uri, mongo_db_name, timeout_ms=30_000, cache_size=request.param
            )
            await store.create_indexes()
            stores.append(store)
            made.append(Pipeline(store.stores(), publisher))
        yield made
    finally:
        for store in stores:
            await store.close()
        await publisher.stop()


def _completed(writer: int, rnd: int, learner: int) -> Received:
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": f"w{writer}-r{rnd}-l{learner}",
        "source": "tests",
        "time": f"2026-02-{rnd + 1:02d}T{writer:02d}:00:00Z",
        "type": "content.completed",
        "data": {"batchId": "b.$1", "userId": f"u{learner}", "contentId": f"c-w{writer}-r{rnd}"},
    }
    value = json.dumps(event).encode()
    return Received(
        "t", writer, rnd * LEARNERS + learner, None, value, (), event_adapter.validate_json(value)
    )


async def test_concurrent_writers_of_the_same_documents_lose_no_fact(
    pipelines: list[Pipeline], mongodb_uri: str, mongo_db_name: str
) -> None:
    async def writer(index: int, pipeline: Pipeline) -> None:
        for rnd in range(ROUNDS):
            await pipeline.handle([_completed(index, rnd, n) for n in range(LEARNERS)])

    await asyncio.gather(*(writer(i, p) for i, p in enumerate(pipelines)))

    async with MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=30_000) as store:
        docs = await store.documents.get_enrolments(f"b.$1\nu{n}" for n in range(LEARNERS))
    assert len(docs) == LEARNERS
    wanted = {f"c-w{w}-r{r}" for w in range(WRITERS) for r in range(ROUNDS)}
    for key, doc in docs.items():
        facts = json.dumps(doc.facts.model_dump(mode="json"))
        missing = sorted(c for c in wanted if f'"{c}"' not in facts)
        assert not missing, f"{key!r} lost {len(missing)} facts: {missing[:5]}"
