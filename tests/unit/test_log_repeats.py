"""A library's repeated log line is written once per window, then says how many were left."""

from __future__ import annotations

import logging

from consumers.logs import RepeatFilter


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, msg, args, None)


def test_a_repeated_line_is_written_once_per_window_with_the_count_left_out() -> None:
    repeats = RepeatFilter(window_s=0.2)
    shown = [repeats.filter(_record("Unable connect to node %s", n)) for n in range(50)]
    assert shown.count(True) == 1, "one line for fifty alike"
    assert repeats.filter(_record("another message")), "other lines pass"
    import time

    time.sleep(0.25)
    later = _record("Unable connect to node %s", 7)
    assert repeats.filter(later)
    assert "(49 alike left out" in str(later.msg)
