"""The soak's memory verdict: flat under the same load after the warm-up, and bounded."""

from __future__ import annotations

from faults.soak_report import MEMORY_LIMIT_MIB, WARM_UP_S, Sample, memory_verdict

LOAD_END_S = 600.0


def _life(rss_at: list[float], start: float = 0.0, step: float = 10.0) -> list[Sample]:
    return [Sample(t=start + i * step, lag=0, rss_mib={"1": r}) for i, r in enumerate(rss_at)]


def test_memory_that_fills_its_cache_then_holds_is_flat() -> None:
    warm = int(WARM_UP_S / 10)
    samples = _life([80 + 8 * i for i in range(warm)] + [240.0] * (62 - warm) + [320.0] * 10)
    ok, text = memory_verdict(samples, LOAD_END_S)
    assert ok, text
    assert "peak 320 MiB" in text, "the catch-up's larger polls raise the peak, not the verdict"


def test_memory_that_keeps_growing_under_the_same_load_is_not_flat() -> None:
    ok, text = memory_verdict(_life([100 + 3 * i for i in range(70)]), LOAD_END_S)
    assert not ok and "GROWS" in text


def test_memory_over_the_charts_limit_fails_even_when_flat() -> None:
    ok, _ = memory_verdict(_life([MEMORY_LIMIT_MIB + 10.0] * 70), LOAD_END_S)
    assert not ok


def test_no_instance_living_long_enough_is_not_a_pass() -> None:
    ok, text = memory_verdict(_life([100.0] * 15), LOAD_END_S)
    assert not ok and "not judged" in text
