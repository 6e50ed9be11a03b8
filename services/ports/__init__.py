"""What the orchestration needs from the outside world, as Protocols (no driver imports):
the stores split by job (`stores`), and the records, publisher, observer and clock
(`messaging`)."""

from services.ports.messaging import Clock, DeadLetter, EventPublisher, Observer, Received
from services.ports.stores import (
    CheckpointStore,
    CountStore,
    DocumentStore,
    IdempotencyStore,
    MaintenanceStore,
    OutboxStore,
    RateLimitStore,
    ReadStore,
    RefreshMarks,
    RosterLocks,
    Stores,
)

__all__ = [
    "CheckpointStore",
    "Clock",
    "CountStore",
    "DeadLetter",
    "DocumentStore",
    "EventPublisher",
    "IdempotencyStore",
    "MaintenanceStore",
    "Observer",
    "OutboxStore",
    "RateLimitStore",
    "ReadStore",
    "Received",
    "RefreshMarks",
    "RosterLocks",
    "Stores",
]
