"""structlog for JSON lines on stdout: topic, partition, offset and event id, the trace and
span ids when tracing; never payloads.

Library loggers (aiokafka, pymongo) go through the same renderer, so every line is JSON.
"""

from __future__ import annotations

import logging
import sys
import time

import structlog

from telemetry import add_trace_ids

__all__ = ["RepeatFilter", "configure_logging"]


def configure_logging(level: str = "INFO") -> None:
    """JSON logs with ISO timestamps; call once, in the composition root."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _render()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _render(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # libraries speak only when something is wrong
    # ... and when Kafka resets a partition whose offset is out of range (a topic recreated).
    logging.getLogger("aiokafka.consumer.fetcher").setLevel(logging.INFO)


class RepeatFilter(logging.Filter):
    """A library line repeated within `window_s` is written once: aiokafka reports an
    unreachable broker about ten times a second per client. The next line written after a
    quiet spell says how many were left out."""

    def __init__(self, window_s: float = 10.0) -> None:
        super().__init__()
        self._window_s = window_s
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        shown_at, left_out = self._last.get(key, (-self._window_s, 0))
        if now - shown_at < self._window_s:
            self._last[key] = (shown_at, left_out + 1)
            return False
        self._last[key] = (now, 0)
        if left_out:
            record.msg = f"{record.msg} ({left_out} alike left out in {self._window_s:.0f} s)"
        return True


def _render() -> structlog.processors.JSONRenderer:
    return structlog.processors.JSONRenderer(ensure_ascii=False)
