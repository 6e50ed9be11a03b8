"""Revisions: each write carries the successor of the revision it read (docs/design.md,
"Concurrent writers"); the counter is what devstack/ferretdb/rev_guard.sql checks."""

from __future__ import annotations

from services.storage.revisions import next_rev


def _counter(rev: str) -> int:
    head, sep, tail = rev.partition(":")
    assert sep and len(tail) == 16 and int(tail, 16) >= 0
    return int(head)


def test_a_new_document_starts_at_one() -> None:
    assert _counter(next_rev(None)) == 1


def test_each_write_carries_the_successor_of_the_revision_it_read() -> None:
    first = next_rev(None)
    assert _counter(next_rev(first)) == 2
    assert _counter(next_rev(next_rev(first))) == 3


def test_two_writers_of_the_same_successor_write_different_revisions() -> None:
    read = next_rev(None)
    assert next_rev(read) != next_rev(read)


def test_a_revision_of_another_format_is_followed_by_one() -> None:
    for old in ("", "9f3a0c1d", "x:1", "1" * 19 + ":ab"):
        assert _counter(next_rev(old)) == 1
