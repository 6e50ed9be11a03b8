"""The orchestration's default observer: watches nothing (tests, tools); the service passes
one that records durations and traces (telemetry.MetricsObserver)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager

from schemas.outbound import Announcement
from services.ports import DeadLetter

__all__ = ["QUIET"]


class _Quiet:
    def step(self, name: str) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    def dead_lettered(self, letters: Sequence[DeadLetter]) -> None:
        pass

    def announced(self, events: Sequence[Announcement], fact_times_ms: Mapping[str, int]) -> None:
        pass


QUIET = _Quiet()
