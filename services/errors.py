"""One error root, with a `retriable` flag on each class (aiokafka's model).

Adapters translate driver exceptions into these at their boundary (each adapter has one
translator, named after it); the retry policy retries only these, and only the retriable
ones; anything else crashes loudly. Bad input is not an error here: it is data (a dead letter).
"""

from __future__ import annotations

__all__ = [
    "BatchServiceError",
    "CommitLostToRebalance",
    "CommitUnavailable",
    "DocumentKeptChanging",
    "KafkaUnavailable",
    "PublishUnavailable",
    "StoreRefusedValue",
    "StoreUnavailable",
]


class BatchServiceError(Exception):
    """Root of the service's own errors."""

    retriable: bool = False


class StoreUnavailable(BatchServiceError):
    """The database did not answer, or answered with a transient error."""

    retriable = True


class StoreRefusedValue(BatchServiceError):
    """The database cannot hold a value of the query (FerretDB on PostgreSQL: a NUL character;
    any server: a lone surrogate, which UTF-8 cannot encode). No valid event carries one (ids
    and text exclude NUL, `schemas.types`), so no stored document holds it: the request was
    malformed. Not retriable: in the consumer it would be a bug, and it crashes loudly."""


class KafkaUnavailable(BatchServiceError):
    """Kafka did not answer, or answered with a transient error (joining, admin calls)."""

    retriable = True


class PublishUnavailable(KafkaUnavailable):
    """Kafka did not acknowledge a message (broker down, timeout, leader moving)."""


class CommitUnavailable(KafkaUnavailable):
    """Kafka did not take an offset commit for a transient reason (coordinator moving)."""


class CommitLostToRebalance(BatchServiceError):
    """The partitions moved to another member before the commit: it re-reads from the last
    commit, and folding again is harmless. Not retried: the commit is simply dropped."""

    retriable = False


class DocumentKeptChanging(BatchServiceError):
    """A document kept changing under us through every round of an optimistic write (other
    writers were busy with it); the work in hand is retried whole."""

    retriable = True
