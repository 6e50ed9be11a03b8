"""Fakes of the service's ports for tests that run without Kafka."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas.events import BatchCancelled
from schemas.outbound import Announcement, CertificateEligible, EnrolmentStatusEvent
from services.errors import PublishUnavailable
from services.ports import DeadLetter

__all__ = ["RecordingPublisher"]


class RecordingPublisher:
    """Kafka as lists: what was announced, published and dead-lettered; can be made to fail."""

    def __init__(self) -> None:
        self.certificates: list[CertificateEligible] = []
        self.statuses: list[EnrolmentStatusEvent] = []
        self.facts: list[BatchCancelled] = []
        self.letters: list[DeadLetter] = []
        self.traces: dict[str, str] = {}  # traceparent by announced event id
        self.down = False

    async def announce(
        self, events: Sequence[Announcement], traces: Mapping[str, str] | None = None
    ) -> None:
        self._check()
        self.traces.update(traces or {})
        for event in events:
            if isinstance(event, CertificateEligible):
                self.certificates.append(event)
            else:
                self.statuses.append(event)

    async def publish_fact(self, event: BatchCancelled) -> None:
        self._check()
        self.facts.append(event)

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        self._check()
        self.letters += letters

    async def reachable(self) -> None:
        self._check()

    def _check(self) -> None:
        if self.down:
            raise PublishUnavailable("broker down (test)")
