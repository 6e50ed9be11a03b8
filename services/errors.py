"""One error root, with a `retriable` flag on each class (aiokafka's model).

Adapters translate driver exceptions into these at their boundary; the consumer loop retries
what is retriable with backoff and crashes loudly on the rest. Bad input is not an error here:
it is data (a dead letter).
"""

from __future__ import annotations

__all__ = ["BatchServiceError", "ConflictPersisted", "PublishUnavailable", "StoreUnavailable"]


class BatchServiceError(Exception):
    """Root of the service's own errors."""

    retriable: bool = False


class StoreUnavailable(BatchServiceError):
    """The database did not answer, or answered with a transient error."""

    retriable = True


class PublishUnavailable(BatchServiceError):
    """Kafka did not acknowledge a message (broker down, timeout, leader moving)."""

    retriable = True


class ConflictPersisted(BatchServiceError):
    """A document kept changing under us through every retry of an optimistic update."""

    retriable = True
