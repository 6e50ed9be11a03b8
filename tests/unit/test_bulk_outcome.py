"""What a bulk write's answer proves (services/storage/bulk.py), against a stand-in collection
that answers as MongoDB and FerretDB do."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, OperationFailure

from services.storage.bulk import BulkWriter

CONFLICT = {
    "ok": 0.0,
    "errmsg": "ERROR: batch-service revision conflict (SQLSTATE 40001)",
    "code": 1,
}


class _Answer:
    def __init__(self, matched: int, upserted: int = 0) -> None:
        self.matched_count, self.upserted_count = matched, upserted


class _Collection:
    """Answers each bulk command with the next of `answers` (an _Answer or an exception)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.commands: list[list[Any]] = []

    async def bulk_write(self, writes: list[Any], ordered: bool) -> _Answer:
        self.commands.append(writes)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _writes() -> list[Any]:
    return [
        InsertOne({"_id": "new"}),
        ReplaceOne({"_id": "a", "rev": "1:x"}, {"rev": "2:y"}),
        UpdateOne({"_id": "b", "rev": "1:x"}, {"$set": {"rev": "2:y"}}),
    ]


def _writer(exact: bool, chunk: int = 50) -> BulkWriter:
    writer = BulkWriter(chunk)
    writer.exact = exact
    return writer


async def test_inserts_go_in_commands_of_their_own_and_conditional_writes_in_small_ones() -> None:
    writes = [InsertOne({"_id": f"n{i}"}) for i in range(5)] + _writes()
    collection = _Collection(_Answer(0), _Answer(0), _Answer(1), _Answer(1))
    writer = BulkWriter(chunk=1, insert_chunk=4)
    writer.exact = True
    outcome = await writer.write(collection, writes)  # type: ignore[arg-type]
    kinds = [[type(w).__name__ for w in command] for command in collection.commands]
    assert kinds == [
        ["InsertOne"] * 4,
        ["InsertOne"] * 2,
        ["ReplaceOne"],
        ["UpdateOne"],
    ], "FerretDB holds a connection per statement of an update, none per inserted document"
    assert outcome.unconfirmed == set()


async def test_an_exact_answer_where_every_conditional_write_matched_proves_them_all() -> None:
    outcome = await _writer(True).write(_Collection(_Answer(0), _Answer(2)), _writes())  # type: ignore[arg-type]
    assert outcome.duplicates == set() and outcome.unconfirmed == set()


async def test_a_short_match_leaves_the_conditional_writes_unproven() -> None:
    outcome = await _writer(True).write(_Collection(_Answer(0), _Answer(1)), _writes())  # type: ignore[arg-type]
    assert outcome.unconfirmed == {1, 2}, "the insert is proven by the absence of an error"


async def test_without_exact_answers_every_conditional_write_is_read_back() -> None:
    outcome = await _writer(False).write(_Collection(_Answer(0), _Answer(2)), _writes())  # type: ignore[arg-type]
    assert outcome.unconfirmed == {1, 2}


async def test_a_refused_revision_leaves_its_whole_command_unproven() -> None:
    # FerretDB stops the command at the refused write: the later writes never happened.
    refused = OperationFailure("conflict", 1, CONFLICT)
    collection = _Collection(_Answer(0), _Answer(1), refused)
    outcome = await _writer(True, chunk=1).write(collection, _writes())  # type: ignore[arg-type]
    assert len(collection.commands) == 3
    assert outcome.unconfirmed == {2}, "the insert and the replace were proven"
    collection = _Collection(_Answer(0), OperationFailure("conflict", 1, CONFLICT))
    outcome = await _writer(True, chunk=2).write(collection, _writes())  # type: ignore[arg-type]
    assert outcome.unconfirmed == {1, 2}


async def test_a_lost_insert_race_is_named_and_other_errors_raise() -> None:
    lost = BulkWriteError({"writeErrors": [{"index": 0, "code": 11000}], "nMatched": 0})
    collection = _Collection(lost, _Answer(2))
    outcome = await _writer(True).write(collection, _writes())  # type: ignore[arg-type]
    assert (outcome.duplicates, outcome.unconfirmed) == ({0}, set())
    other = OperationFailure("boom", 2, {"ok": 0.0, "errmsg": "boom", "code": 2})
    with pytest.raises(OperationFailure):
        await _writer(True).write(_Collection(other, _Answer(2)), _writes())  # type: ignore[arg-type]


async def test_after_a_failed_chunk_no_further_chunk_is_sent() -> None:
    down = OperationFailure("timeout", 50, {"ok": 0.0, "errmsg": "timeout", "code": 50})
    collection = _Collection(down, _Answer(1), _Answer(1))
    with pytest.raises(OperationFailure):
        await _writer(True, chunk=1).write(collection, _writes())  # type: ignore[arg-type]
    assert len(collection.commands) == 1, "one timeout, not one per chunk"
