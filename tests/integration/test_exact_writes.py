"""Against the real server: its answers to conditional writes are exact (the probe says so),
so a save that wins is not read back, and a save that loses is still found out."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from pymongo import monitoring

from schemas.documents import EnrolmentDoc
from services.storage import MongoStore


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.seen[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def counted(
    mongodb_uri: str, mongo_db_name: str
) -> AsyncIterator[tuple[MongoStore, _Commands]]:
    commands = _Commands()
    async with MongoStore.connect(
        mongodb_uri, mongo_db_name, timeout_ms=20_000, event_listeners=[commands]
    ) as mongo:
        await mongo.create_indexes()
        yield mongo, commands


async def test_the_probe_finds_exact_answers_and_a_winning_save_is_not_read_back(
    counted: tuple[MongoStore, _Commands],
) -> None:
    mongo, commands = counted
    assert mongo.exact_write_answers, "MongoDB, or FerretDB with the raising guard"
    docs = [EnrolmentDoc(batchId="b", userId=f"u{i}") for i in range(20)]
    assert await mongo.documents.save_enrolments(docs) == set()
    stored = await mongo.documents.get_enrolments(d.key for d in docs)
    commands.seen.clear()
    changed = [d.model_copy(update={"progressStatus": 1}) for d in stored.values()]
    assert await mongo.documents.save_enrolments(changed) == set()
    assert commands.seen["find"] == 0, commands.seen
    assert commands.seen["update"] >= 1


async def test_a_save_computed_from_an_old_revision_loses_and_says_so(
    counted: tuple[MongoStore, _Commands],
) -> None:
    mongo, _ = counted
    [doc] = [EnrolmentDoc(batchId="b", userId="u")]
    await mongo.documents.save_enrolments([doc])
    [read] = (await mongo.documents.get_enrolments([doc.key])).values()
    winner = read.model_copy(update={"progressStatus": 2})
    late = read.model_copy(update={"progressStatus": 1})
    others = [EnrolmentDoc(batchId="b", userId=f"v{i}") for i in range(3)]
    assert await mongo.documents.save_enrolments([winner]) == set()
    assert await mongo.documents.save_enrolments([late, *others]) == {doc.key}
    [final] = (await mongo.documents.get_enrolments([doc.key])).values()
    assert final.progressStatus == 2
    assert len(await mongo.documents.get_enrolments(o.key for o in others)) == 3


async def test_a_cached_document_another_writer_changed_loses_and_is_read_afresh(
    mongodb_uri: str, mongo_db_name: str
) -> None:
    commands = _Commands()
    ours = MongoStore.connect(
        mongodb_uri, mongo_db_name, timeout_ms=20_000, cache_size=10, event_listeners=[commands]
    )
    theirs = MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000)
    async with ours, theirs:
        await ours.create_indexes()
        doc = EnrolmentDoc(batchId="b", userId="u")
        await ours.documents.save_enrolments([doc])
        commands.seen.clear()
        [cached] = (await ours.documents.get_enrolments([doc.key])).values()
        assert commands.seen["find"] == 0, "what this process wrote is not read again"
        [stored] = (await theirs.documents.get_enrolments([doc.key])).values()
        assert (
            await theirs.documents.save_enrolments(
                [stored.model_copy(update={"progressStatus": 2})]
            )
            == set()
        )
        stale = cached.model_copy(update={"progressStatus": 1})
        assert await ours.documents.save_enrolments([stale]) == {doc.key}, "the write loses"
        [fresh] = (await ours.documents.get_enrolments([doc.key])).values()
        assert fresh.progressStatus == 2 and commands.seen["find"] >= 1, "read afresh"


async def test_a_document_guessed_new_that_existed_is_read_next_time_not_guessed_again(
    mongodb_uri: str, mongo_db_name: str
) -> None:
    ours = MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000, cache_size=1000)
    theirs = MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000)
    async with ours, theirs:
        await ours.create_indexes()
        # Many new learners: the cache learns that what it does not hold is new.
        await ours.documents.save_enrolments(
            [EnrolmentDoc(batchId="b", userId=f"new{i}") for i in range(150)]
        )
        known = EnrolmentDoc(batchId="b", userId="theirs")
        await theirs.documents.save_enrolments([known])  # written by another instance
        got = await ours.documents.get_enrolments([known.key], may_guess_new=True)
        assert got == {}, "guessed new, unread"
        assert await ours.documents.save_enrolments([known]) == {known.key}, "the insert loses"
        got = await ours.documents.get_enrolments([known.key], may_guess_new=True)
        assert known.key in got, "read this time: the fold folds into the stored document"
