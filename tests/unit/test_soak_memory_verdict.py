"""The soak's memory verdict: every instance below the chart's limit, judged on at least one
instance that lived long enough to show where its memory settles."""

from __future__ import annotations

from faults.soak_report import MEMORY_LIMIT_MIB, Sample, memory_verdict


def _life(rss_at: list[float], pid: str = "1", step: float = 10.0) -> list[Sample]:
    return [Sample(t=i * step, lag=0, rss_mib={pid: r}) for i, r in enumerate(rss_at)]


def test_memory_that_steps_up_with_the_cache_and_the_polls_but_stays_below_the_limit() -> None:
    ok, text = memory_verdict(_life([80.0] * 10 + [140.0] * 30 + [210.0] * 30))
    assert ok, text
    assert "peak 210 MiB (140 -> 210 MiB by halves of 690 s)" in text, "the steps are shown"


def test_any_instance_over_the_charts_limit_fails_the_soak() -> None:
    long_lived = _life([200.0] * 40)
    killed_early = _life([MEMORY_LIMIT_MIB + 1.0] * 5, pid="2")
    ok, text = memory_verdict([*long_lived, *killed_early])
    assert not ok and "OVER" in text


def test_no_instance_living_five_minutes_is_not_a_pass() -> None:
    ok, text = memory_verdict(_life([100.0] * 20))
    assert not ok and "not judged" in text
