"""The long-running commands tune the cycle collector before they start (consumers.collector)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from consumers import cli
from consumers.collector import THRESHOLDS, cycle_collector_paused, tune_cycle_collector


@pytest.fixture
def collector_restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_tuning_freezes_what_exists_and_raises_the_thresholds(collector_restored: None) -> None:
    gc.unfreeze()
    tune_cycle_collector()
    assert gc.get_threshold() == THRESHOLDS
    assert THRESHOLDS[0] > 700  # the default, which made a fold's objects old
    assert gc.get_freeze_count() > 0


@pytest.mark.parametrize("command", ["run", "api", "replay"])
def test_long_running_commands_tune_it(
    command: str, collector_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    gc.set_threshold(700, 10, 10)
    monkeypatch.setattr(cli.asyncio, "run", lambda coro: coro.close() or 0)
    argv = [command] if command != "replay" else ["replay", "--into", "shadow"]
    with pytest.raises(SystemExit):
        cli.main(argv)  # asyncio.run stubbed: nothing starts
    assert gc.get_threshold() == THRESHOLDS


def test_short_commands_leave_it(collector_restored: None, monkeypatch: pytest.MonkeyPatch) -> None:
    gc.set_threshold(700, 10, 10)
    monkeypatch.setattr(cli.asyncio, "run", lambda coro: coro.close() or 0)
    with pytest.raises(SystemExit):
        cli.main(["dlq", "list"])
    assert gc.get_threshold() == (700, 10, 10)


def test_a_fold_runs_with_the_collector_paused_and_restored_after() -> None:
    assert gc.isenabled()
    with cycle_collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "a collector paused by the caller stays paused"
    finally:
        gc.enable()
