"""A shadow replay's fold (every fact of a document at once) makes the documents the
reference fold makes, arrival order aside, waitlists and capacity included."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import event_adapter
from services.replaying import fold_learners
from services.rules_snapshot import RulesSnapshot
from testkit.seat_streams import generate_seat_stream
from testkit.streams import generate_stream
from testkit.world import World

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SKIP = {"rev", "outbox", "outboxSince", "announcedStatuses"}


def _check(rules: list[dict[str, object]], facts: list[dict[str, object]]) -> None:
    world = World().apply_all(event_adapter.validate_json(json.dumps(e)) for e in rules + facts)
    snapshot = RulesSnapshot(dict(world.batches), dict(world.courses))
    events = [event_adapter.validate_json(json.dumps(e)) for e in facts]
    fold = fold_learners(events, snapshot, NOW)  # type: ignore[arg-type]
    got = {d.key: d.model_dump(exclude=SKIP) for d in fold.documents}
    want = {k: d.model_dump(exclude=SKIP) for k, d in world.enrolments.items()}
    assert got == want
    assert all(d.outbox == [] for d in fold.documents), "a shadow announces nothing"
    assert fold.certificates == sum(len(d.certificates) for d in world.enrolments.values())


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_shadow_fold_equals_the_reference_fold(seed: int) -> None:
    stream = generate_stream(seed=seed, batches=2, learners=12)
    _check(stream.rules, stream.facts)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_shadow_fold_seats_a_whole_roster_like_the_reference(seed: int) -> None:
    stream = generate_seat_stream(seed=seed)
    _check(stream.rules, stream.enrolments + stream.completions + stream.leavings)
