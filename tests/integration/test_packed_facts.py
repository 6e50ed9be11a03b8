"""Against the real server: an enrolment's facts are stored packed (one BSON binary) while the
contract's fields stay fields, every read gives them back as they were folded, and a document
stored before the packing (facts as fields) is read as it is and packed at its next write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from schemas.documents import (
    AssessmentFacts,
    ContentFacts,
    EnrolmentDoc,
    EnrolmentFact,
    LearnerFacts,
    Submission,
)
from services.storage import MongoStore

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)


def _doc(user: str) -> EnrolmentDoc:
    facts = LearnerFacts(
        enrolments=[EnrolmentFact(id=f"enrol-{user}", kind="created", time=T0)],
        contents=[
            ContentFacts(contentId="c.1 $", completed=[T0 + timedelta(days=1)], progress=[T0]),
            ContentFacts(contentId="c.2", progress=[T0 + timedelta(hours=3)]),
        ],
        assessments=[
            AssessmentFacts(assessmentId="q$0", submissions=[Submission(time=T0, percent=72.5)])
        ],
    )
    return EnrolmentDoc(batchId="b.1", userId=user, courseId="c", progressStatus=1, facts=facts)


@pytest.fixture
async def store(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[MongoStore]:
    async with MongoStore.connect(mongodb_uri, mongo_db_name, timeout_ms=20_000) as mongo:
        await mongo.create_indexes()
        yield mongo


def _same(a: EnrolmentDoc, b: EnrolmentDoc) -> bool:
    return a.model_dump(exclude={"rev"}) == b.model_dump(exclude={"rev"})


async def test_facts_are_stored_packed_and_every_read_unpacks_them(store: MongoStore) -> None:
    docs = [_doc("ada"), _doc("bob")]
    assert await store.documents.save_enrolments(docs) == set()
    raw = await store.documents.enrolments.find_one({"_id": docs[0].key})
    assert raw is not None and isinstance(raw["facts"], bytes), raw
    assert (raw["batchId"], raw["userId"], raw["progressStatus"]) == ("b.1", "ada", 1)
    reads = {
        "get_enrolments": list((await store.documents.get_enrolments([docs[0].key])).values()),
        "enrolments_of_batch": await store.documents.enrolments_of_batch("b.1"),
        "enrolments_of_user": await store.reads.enrolments_of_user("ada", None, 10),
    }
    for how, found in reads.items():
        ada = next(d for d in found if d.userId == "ada")
        assert _same(ada, docs[0]), how
    dumped = (await store.maintenance.dump("enrolments"))[docs[0].key]
    assert EnrolmentDoc.model_validate(dumped).facts == docs[0].facts


async def test_a_document_stored_before_the_packing_is_read_and_packed_at_its_next_write(
    store: MongoStore,
) -> None:
    old = _doc("cyd")
    body = old.model_dump() | {"_id": old.key, "rev": "1:old", "hasOutbox": False}
    await store.documents.enrolments.insert_one(body)  # facts as fields, as before
    [read] = (await store.documents.get_enrolments([old.key])).values()
    assert _same(read, old)
    progressed = read.model_copy(update={"progressStatus": 2})
    assert await store.documents.save_enrolments([progressed]) == set()
    raw = await store.documents.enrolments.find_one({"_id": old.key})
    assert raw is not None and isinstance(raw["facts"], bytes) and raw["progressStatus"] == 2


async def test_documents_put_back_whole_are_stored_packed(store: MongoStore) -> None:
    # `replay --apply`: the shadow's documents, dumped (facts unpacked), replace the live ones.
    doc = _doc("dee")
    logical = doc.model_dump() | {"_id": doc.key, "rev": "3:x", "hasOutbox": False}
    assert await store.maintenance.replace_all("enrolments", [logical]) == 1
    raw = await store.documents.enrolments.find_one({"_id": doc.key})
    assert raw is not None and isinstance(raw["facts"], bytes)
    assert (await store.maintenance.dump("enrolments"))[doc.key]["facts"] == doc.model_dump()[
        "facts"
    ]


async def test_with_packing_off_facts_stay_fields_for_instances_that_cannot_read_them(
    mongodb_uri: str, mongo_db_name: str, store: MongoStore
) -> None:
    # A rolling upgrade's first step (BATCH_SERVICE_STORE_FACTS_PACKED=false): new readers,
    # the old form written, so the older instances still running can read every document.
    async with MongoStore.connect(
        mongodb_uri, mongo_db_name, timeout_ms=20_000, pack_facts=False
    ) as unpacking:
        doc = _doc("eve")
        assert await unpacking.documents.save_enrolments([doc]) == set()
        raw = await unpacking.documents.enrolments.find_one({"_id": doc.key})
        assert raw is not None and isinstance(raw["facts"], dict), raw
        [read] = (await store.documents.get_enrolments([doc.key])).values()
        assert _same(read, doc)
