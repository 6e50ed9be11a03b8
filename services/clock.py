"""The service's clock: the real one, and one a test moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["ManualClock", "SystemClock"]


class SystemClock:
    """The machine's time, in UTC."""

    def now(self) -> datetime:
        """Now."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move (tests drive deadlines with it)."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        """The time it was set to."""
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to `when`."""
        self._now = when

    def advance(self, by: timedelta) -> None:
        """Move forward."""
        self._now += by
