"""structlog for JSON lines on stdout: topic, partition, offset and event id, the trace and
span ids when tracing; never payloads.

Library loggers (aiokafka, pymongo) go through the same renderer, so every line is JSON.
"""

from __future__ import annotations

import logging
import sys

import structlog

from telemetry import add_trace_ids

__all__ = ["configure_logging"]


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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)  # libraries speak only when something is wrong
    # ... and when Kafka resets a partition whose offset is out of range (a topic recreated).
    logging.getLogger("aiokafka.consumer.fetcher").setLevel(logging.INFO)


def _render() -> structlog.processors.JSONRenderer:
    return structlog.processors.JSONRenderer(ensure_ascii=False)
