"""The worker side of `replay --into`: one group's spilled facts parsed, folded, counted and
encoded to BSON, in a worker process (`consumers.replay_fast` hands the groups out and
inserts what comes back)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from consumers.collector import cycle_collector_paused
from consumers.replay_spill import spilled_values
from schemas.events import CoursePublished, LearnerEvent, event_adapter
from services.convergence import BATCH_EVENTS
from services.domain.counts import count_learners, counted_fields
from services.replaying import fold_learners
from services.rules_snapshot import RulesSnapshot
from services.storage.encoding import encode_enrolments

__all__ = ["GroupFold", "fold_spilled", "worker_ready"]


def worker_ready() -> None:
    """Nothing: submitted once per worker at the start, so that the workers are spawned and
    have imported the fold's modules (a second or two each) before the first group."""


@dataclass
class GroupFold:
    """A group folded in a worker process: its documents encoded for the store, its batches'
    counts, and what it would have announced."""

    encoded: list[bytes]
    counts: dict[str, dict[str, int]]
    certificates: int
    statuses: int
    bad: int


def fold_spilled(
    paths: Sequence[Path],
    rules: RulesSnapshot,
    now: datetime,
    pack: bool,
    keep_outboxes: bool = False,
) -> GroupFold:
    """Parse, fold, count and encode one group's facts (in a worker process: it hands over
    bytes, which cost nothing to receive, rather than models)."""
    with cycle_collector_paused():
        return _fold_spilled(paths, rules, now, pack, keep_outboxes)


def _fold_spilled(
    paths: Sequence[Path], rules: RulesSnapshot, now: datetime, pack: bool, keep_outboxes: bool
) -> GroupFold:
    events: list[LearnerEvent] = []
    bad = 0
    for value in spilled_values(paths):
        try:
            event = event_adapter.validate_json(value)
        except (ValidationError, ValueError, RecursionError):
            bad += 1
            continue
        if isinstance(event, (CoursePublished, *BATCH_EVENTS)):
            bad += 1  # a rule event on a learner topic: the wrong topic
            continue
        events.append(event)
    fold = fold_learners(events, rules, now, keep_outboxes)
    by_batch: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in fold.documents:
        by_batch[doc.batchId].append(counted_fields(doc))
    counts = {batch_id: count_learners(learners) for batch_id, learners in by_batch.items()}
    encoded = encode_enrolments(fold.documents, pack)
    return GroupFold(encoded, counts, fold.certificates, fold.statuses, bad)
