"""Announcements published whose removal from their documents' outboxes is deferred.

Removing an entry from an outbox is a write of its document; under a backlog it is one more
write per announcing learner, as costly as the fold's own. So the removal waits (at most
`outbox_ack_delay_s`): if the fold writes the document again meanwhile, the entry is left out
of that write for free; otherwise a flush writes the removals together. Until then this
process knows the entries are published: its relay skips them, and its reads of the
documents leave them out. Another process' relay only takes entries older than
`relay_min_age_s` (longer than the delay), so it does not publish them again either; after a
crash it may, with the same ids, which subscribers dedupe.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.documents import EnrolmentDoc

__all__ = ["PublishedEntries", "oldest_entry", "unpublished"]

Raw = dict[str, Any]


class PublishedEntries:
    """Event ids published, by document key, with when they were published."""

    def __init__(self) -> None:
        self._ids: dict[str, set[str]] = {}
        self._since: dict[str, float] = {}
        # Documents with an outbox as this process last wrote them: revision and entry ids.
        # A flush of one whose every entry is published writes it without reading it first.
        self._written: dict[str, tuple[str, frozenset[str]]] = {}

    def __len__(self) -> int:
        return sum(map(len, self._ids.values()))

    def add(self, acks: Mapping[str, set[str]]) -> None:
        now = time.monotonic()
        for key, ids in acks.items():
            self._ids.setdefault(key, set()).update(ids)
            self._since.setdefault(key, now)

    def of(self, key: str) -> set[str]:
        return self._ids.get(key, set())

    def removed(self, key: str, ids: Iterable[str]) -> None:
        """These entries are no longer in the stored document."""
        left = self._ids.get(key)
        if left is None:
            return
        left.difference_update(ids)
        if not left:
            del self._ids[key]
            del self._since[key]

    def wrote(self, key: str, rev: str, outbox: Iterable[str]) -> None:
        """The document was just written by this process, with this revision and outbox."""
        ids = frozenset(outbox)
        if ids:
            self._written[key] = (rev, ids)
        else:
            self._written.pop(key, None)

    def written(self, key: str) -> tuple[str, frozenset[str]] | None:
        """The revision and outbox entry ids this process last wrote the document with."""
        return self._written.get(key)

    def forget_written(self, keys: Iterable[str]) -> None:
        """Another writer changed these documents: what this process wrote is no longer so."""
        for key in keys:
            self._written.pop(key, None)

    def due(self, older_than_s: float) -> dict[str, set[str]]:
        """The entries published at least `older_than_s` ago, by key."""
        cutoff = time.monotonic() - older_than_s
        return {key: set(self._ids[key]) for key, at in self._since.items() if at <= cutoff}


def unpublished(
    docs: Iterable[EnrolmentDoc], published: PublishedEntries, min_age_s: float
) -> list[EnrolmentDoc]:
    """What a relay should publish: each document's entries this process has not published,
    and only documents whose oldest entry was decided at least `min_age_s` ago (a younger one
    may be in the hands of the instance that decided it)."""
    cutoff = datetime.now(UTC) - timedelta(seconds=min_age_s)
    found = []
    for doc in docs:
        if min_age_s and doc.outboxSince is not None and _aware(doc.outboxSince) > cutoff:
            continue
        ids = published.of(doc.key)
        left = [e for e in doc.outbox if e.id not in ids]
        if left:
            found.append(doc.model_copy(update={"outbox": left}))
    return found


def oldest_entry(raws: Iterable[Raw]) -> datetime | None:
    """The earliest `outboxSince` of these raw documents (when their oldest entry was decided;
    an entry's own `time` is its business time, which may be months earlier)."""
    times = [_aware(raw["outboxSince"]) for raw in raws if raw.get("outboxSince")]
    return min(times, default=None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
