"""The enrolment documents this process last read or wrote, with their revisions.

A write-through cache that never decides anything on its own: every write stays conditional
on the cached revision, so a document another writer changed meanwhile makes the write lose,
the entry is dropped, and the fold reads the document again. What it saves is the read
before each fold (and the read before each outbox acknowledgement) for the documents this
process keeps writing, which under a backlog is nearly all of them.

Why a stale entry can never make the fold skip something it should write: a document only
gains facts, and an entry holds a state this process read or wrote, so every fact in the entry
is also in the stored document; a fold that finds nothing to add to the entry has nothing to
add to the stored document either.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from schemas.documents import EnrolmentDoc

__all__ = ["DocumentCache"]

_SAMPLE = 1000  # recent misses looked at
_GUESS_ABOVE = 0.5  # share of them that were new documents


class DocumentCache:
    """At most `capacity` documents, least recently used dropped first (0: caches nothing)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._docs: OrderedDict[str, EnrolmentDoc] = OrderedDict()
        self.hits = 0
        self.misses = 0
        # Of the recent misses, how many were documents that did not exist yet (new learners).
        self._recent: list[bool] = []
        self._must_read: set[str] = set()

    def __len__(self) -> int:
        return len(self._docs)

    def get(self, key: str) -> EnrolmentDoc | None:
        doc = self._docs.get(key)
        if doc is None:
            self.misses += 1
            return None
        self.hits += 1
        self._docs.move_to_end(key)
        return doc

    def put(self, doc: EnrolmentDoc) -> None:
        """Remember the document as stored now (its `rev` the stored revision)."""
        if self.capacity <= 0:
            return
        self._docs[doc.key] = doc
        self._docs.move_to_end(doc.key)
        while len(self._docs) > self.capacity:
            self._docs.popitem(last=False)

    def drop(self, keys: Iterable[str]) -> None:
        """Forget these: another writer may have changed them (read them next time)."""
        for key in keys:
            self._docs.pop(key, None)
            self._must_read.add(key)

    # A document this process does not hold is, under a backlog of new learners, nearly always
    # one that does not exist yet. Reading it first costs a round trip that finds nothing; the
    # guess "new" costs nothing when right and, when wrong, an insert that fails on the unique
    # `_id` (a lost race, folded again after a read). The guess is made only while the recent
    # misses were mostly new documents.

    @property
    def warm(self) -> bool:
        """Enough recent misses settled to guess from."""
        return len(self._recent) >= _SAMPLE // 10

    def guess_new(self, key: str) -> bool:
        """Whether to take a document this process does not hold for a new one, unread."""
        if self.capacity <= 0 or key in self._must_read or not self.warm:
            return False
        return sum(self._recent) > len(self._recent) * _GUESS_ABOVE

    def missed(self, key: str, existed: bool) -> None:
        """A miss settled: the document existed (read, or an insert collided) or did not."""
        self._must_read.discard(key)
        self._recent.append(not existed)
        if len(self._recent) > _SAMPLE:
            del self._recent[: len(self._recent) - _SAMPLE]
