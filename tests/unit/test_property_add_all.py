"""`add_all` (every fact of a learner at once: replays, backlogs) is `add_fact` one at a time.

The documents must not depend on how facts were grouped into polls, so the one-pass adder
must give exactly the value of adding the facts one by one, whatever facts were known before,
in any order, with repeats, ties of time and percent, and several facts of one UTC day.
"""

from __future__ import annotations

from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.documents import LearnerFacts
from services.domain.facts import add_all, add_fact
from tests.unit.builders import assessment, completed, enrolled, progress, unenrolled

# Few distinct values, so that days, times, ids and percents collide often.
TIMES = [f"2026-03-0{d}T{h:02d}:00:00Z" for d in (1, 2) for h in (0, 9, 23)]
CONTENTS = ("c0", "c1")
ASSESSMENTS = ("q0", "q1")


@st.composite
def learner_event(draw: st.DrawFn) -> Any:
    time, kind = draw(st.sampled_from(TIMES)), draw(st.integers(0, 4))
    event_id = draw(st.sampled_from(("e0", "e1", "e2")))
    if kind == 0:
        by = draw(st.sampled_from((None, "mentor")))
        course = draw(st.sampled_from((None, "course")))
        return enrolled(time=time, id=event_id, by=by, course_id=course)
    if kind == 1:
        return unenrolled(time=time, id=event_id)
    if kind == 2:
        value = draw(st.sampled_from((10, 50, 100)))
        return progress(draw(st.sampled_from(CONTENTS)), value, time=time, id=event_id)
    if kind == 3:
        return completed(draw(st.sampled_from(CONTENTS)), time=time, id=event_id)
    score = draw(st.sampled_from((0, 40, 40, 80, 100)))
    return assessment(draw(st.sampled_from(ASSESSMENTS)), score, time=time, id=event_id)


@settings(max_examples=300, deadline=None)
@given(
    known=st.lists(learner_event(), max_size=8),
    new=st.lists(learner_event(), max_size=12),
)
def test_adding_all_facts_at_once_equals_adding_them_one_by_one(
    known: list[Any], new: list[Any]
) -> None:
    before = reduce(add_fact, known, LearnerFacts())
    assert add_all(before, new) == reduce(add_fact, new, before)


def test_adding_no_fact_changes_nothing() -> None:
    facts = reduce(add_fact, [completed("c0"), enrolled()], LearnerFacts())
    assert add_all(facts, []) is facts
