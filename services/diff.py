"""Comparing two sets of documents (live and shadow), field by field. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CollectionDiff", "diff_collection"]

# Bookkeeping that differs between two correct databases: revisions, outboxes, a legacy
# field, the status latch (which statuses were reached and announced on the way depends
# on when facts arrived: contract 7; the current status itself is compared), and which
# events a batch's latest save applied (that depends on how polls grouped them).
IGNORED_FIELDS = frozenset(
    {
        "rev",
        "outbox",
        "hasOutbox",
        "outboxSince",
        "countsStale",
        "appliedOffsets",
        "announcedStatuses",
        "appliedEvents",
    }
)


@dataclass
class CollectionDiff:
    """What differs between the live and the shadow copy of one collection."""

    name: str
    compared: int = 0
    only_live: list[str] = field(default_factory=list)
    only_shadow: list[str] = field(default_factory=list)
    differing: dict[str, list[str]] = field(default_factory=dict)  # _id -> field names

    @property
    def equal(self) -> bool:
        """No document is missing on either side and none differs."""
        return not (self.only_live or self.only_shadow or self.differing)

    def lines(self, limit: int | None = 20) -> Iterable[str]:
        """A human-readable report: the counts, then at most `limit` keys of each kind (None:
        all of them)."""
        state = "equal" if self.equal else "DIFFERENT"
        yield (
            f"{self.name}: {state} ({self.compared} compared, {len(self.only_live)} only in live, "
            f"{len(self.only_shadow)} only in shadow, {len(self.differing)} differ)"
        )
        for key in self.only_live[:limit]:
            yield f"  only in live:   {key!r}"
        for key in self.only_shadow[:limit]:
            yield f"  only in shadow: {key!r}"
        for key, fields in list(self.differing.items())[:limit]:
            yield f"  differs:        {key!r}: {', '.join(fields)}"
        left = max(len(self.only_live), len(self.only_shadow), len(self.differing))
        if limit is not None and left > limit:
            yield f"  (a sample of {limit} of each kind: the full list is in the file below)"


def diff_collection(
    name: str, live: Mapping[str, Mapping[str, Any]], shadow: Mapping[str, Mapping[str, Any]]
) -> CollectionDiff:
    """Documents by `_id` on both sides; fields compared by value (bookkeeping ignored)."""
    report = CollectionDiff(name)
    report.only_live = sorted(set(live) - set(shadow))
    report.only_shadow = sorted(set(shadow) - set(live))
    for key in sorted(set(live) & set(shadow)):
        report.compared += 1
        fields = _differing_fields(live[key], shadow[key])
        if fields:
            report.differing[key] = fields
    return report


def _differing_fields(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    names = (set(a) | set(b)) - IGNORED_FIELDS
    return sorted(n for n in names if a.get(n) != b.get(n))
