"""The MongoDB adapter's translator: what is retried (the server or the network failed) and
what is not (the request is wrong, or a duplicate the caller handles)."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError, OperationFailure

from services.errors import StoreRefusedValue, StoreUnavailable
from services.storage.errors import mongo_errors

_FERRETDB_BACKEND_TIMEOUT = (
    "[msg_update.go:133 handler.(*Handler).updateDocument] [collection.go:227 "
    "postgresql.(*collection).UpdateAll] timeout: read tcp 127.0.0.1:39232->127.0.0.1:51343: "
    "i/o timeout"
)


@pytest.mark.parametrize(
    "error",
    [
        OperationFailure(_FERRETDB_BACKEND_TIMEOUT, 1, {"codeName": "InternalError"}),
        OperationFailure("operation exceeded time limit", 50),
        OperationFailure("interrupted at shutdown", 11600),
        AutoReconnect("connection reset"),
        BulkWriteError(  # the server failed one write of a bulk command (and one was a dup)
            {"writeErrors": [{"index": 0, "code": 1}, {"index": 1, "code": 11000}]}
        ),
    ],
)
async def test_a_failure_of_the_server_or_the_network_is_retried(error: Exception) -> None:
    with pytest.raises(StoreUnavailable):
        async with mongo_errors():
            raise error


@pytest.mark.parametrize(
    "error",
    [
        OperationFailure("unknown operator: $foo", 2, {"codeName": "BadValue"}),
        DuplicateKeyError("E11000 duplicate key error", 11000),
        BulkWriteError(  # one write of the bulk command was wrong: retrying cannot help
            {"writeErrors": [{"index": 0, "code": 1}, {"index": 1, "code": 2}]}
        ),
    ],
)
async def test_a_wrong_request_or_a_duplicate_is_not_retried(error: Exception) -> None:
    with pytest.raises(type(error)):
        async with mongo_errors():
            raise error


@pytest.mark.parametrize(
    "error",
    [
        OperationFailure(  # FerretDB: a NUL in a filter value, refused by PostgreSQL's JSONB
            "[msg_find.go:344 handler.handleMaxTimeMSError] ERROR: unsupported Unicode escape "
            "sequence (SQLSTATE 22P05)",
            1,
            {"codeName": "InternalError"},
        ),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    ],
)
async def test_a_value_the_server_cannot_hold_is_refused_not_retried(error: Exception) -> None:
    with pytest.raises(StoreRefusedValue):
        async with mongo_errors():
            raise error
