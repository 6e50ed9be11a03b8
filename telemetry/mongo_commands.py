"""MongoDB commands as the driver sends them (pymongo command monitoring): how many, how
long, how many documents they write. The figures behind "database reads and writes per
record"."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from pymongo import monitoring

from telemetry.metrics import Metrics

__all__ = ["MongoCommandMetrics"]

_WRITES = {"insert": "documents", "update": "updates", "delete": "deletes"}
_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_WATCHED = frozenset({*_WRITES, "find", "getMore", "count", "aggregate", "findAndModify"})


class MongoCommandMetrics(monitoring.CommandListener):
    """`batch_service_mongodb_commands_total{command}`,
    `batch_service_mongodb_documents_written_total{command}` and
    `batch_service_mongodb_command_duration_seconds{command}` (data commands only: the
    handshakes and pings of the driver are left out)."""

    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
        self.commands = Counter(
            "batch_service_mongodb_commands",
            "Data commands sent to MongoDB (find, getMore, insert, update, delete, ...)",
            ["command", "collection"],
            registry=r,
        )
        self.written = Counter(
            "batch_service_mongodb_documents_written",
            "Write operations inside insert, update and delete commands (one per document)",
            ["command"],
            registry=r,
        )
        self.seconds = Histogram(
            "batch_service_mongodb_command_duration_seconds",
            "Round trip of a data command, answer included",
            ["command"],
            buckets=_SECONDS,
            registry=r,
        )

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name not in _WATCHED:
            return
        collection = event.command.get(name)
        self.commands.labels(name, collection if isinstance(collection, str) else "").inc()
        if (field := _WRITES.get(name)) is not None:
            self.written.labels(name).inc(len(event.command.get(field, ())))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.command_name in _WATCHED:
            self.seconds.labels(event.command_name).observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        if event.command_name in _WATCHED:
            self.seconds.labels(event.command_name).observe(event.duration_micros / 1e6)
