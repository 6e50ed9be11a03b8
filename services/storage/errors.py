"""The MongoDB adapter's error translator: driver errors become the service's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError

from services.errors import StoreRefusedValue, StoreUnavailable

__all__ = ["is_revision_conflict", "mongo_errors"]

# Server error codes that mean "try again": timeouts, shutdown in progress, not primary, and
# InternalError (1): the server failed, not the request. FerretDB answers so when its backend
# fails under it (a PostgreSQL read timing out: a soak saw one end an instance). Every write
# of ours is guarded or idempotent, so a retry is safe; one that never succeeds exhausts the
# retries (`retry_max_elapsed_s`) and exits 1, as an unretried error would at once.
_TRANSIENT_CODES = (1, 50, 91, 189, 11600, 11602)
_DUPLICATE_KEY = 11000


def is_revision_conflict(exc: OperationFailure) -> bool:
    """FerretDB's answer when `devstack/ferretdb/rev_guard.sql` refused a write computed from
    a revision that is no longer current (the command stopped at that write)."""
    return "batch-service revision conflict" in str(exc.details or exc)


def _refused_value(exc: OperationFailure) -> bool:
    """PostgreSQL's "unsupported Unicode escape sequence" (SQLSTATE 22P05) through FerretDB:
    a string with a NUL character, which its JSONB cannot hold (FerretDB answers code 1, which
    would otherwise read as a transient failure)."""
    return "22P05" in str(exc.details or exc) or "unsupported Unicode escape" in str(exc)


def _transient(exc: OperationFailure) -> bool:
    """The server or the network failed, not the request: for a bulk write, each of its
    write errors is such a failure (or a duplicate key, which the bulk layer settles)."""
    if exc.timeout or exc.has_error_label("RetryableWriteError") or exc.code in _TRANSIENT_CODES:
        return True
    if not isinstance(exc, BulkWriteError):
        return False
    codes = {e.get("code") for e in (exc.details or {}).get("writeErrors", [])}
    return bool(codes & set(_TRANSIENT_CODES)) and codes <= {*_TRANSIENT_CODES, _DUPLICATE_KEY}


@asynccontextmanager
async def mongo_errors() -> AsyncIterator[None]:
    """Transient driver errors become `StoreUnavailable` (retriable), values the server cannot
    hold `StoreRefusedValue`; others propagate."""
    try:
        yield
    except UnicodeEncodeError as exc:  # a lone surrogate: the driver cannot encode the command
        raise StoreRefusedValue(str(exc)) from exc
    except OperationFailure as exc:
        if _refused_value(exc):
            raise StoreRefusedValue(str(exc)[:300]) from exc
        if _transient(exc):
            raise StoreUnavailable(str(exc)) from exc
        raise
    except PyMongoError as exc:  # connection refused, timeouts, server selection, network
        raise StoreUnavailable(str(exc)) from exc
