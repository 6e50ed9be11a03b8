"""The dead-letter topic, read and redriven: what `batch-service dlq` does.

A letter is the original key and value with headers naming its source and the reason
(contract 5). Redriving sends the original bytes again (to the topic its `type` belongs on,
so a letter sent to the wrong topic finds the right one), without the `dlq-*` headers, once:
each letter redriven is remembered in MongoDB (`replay_checkpoints`, `dlq-redrive:...`) after Kafka
acknowledged it. A crash in between sends it again on the next redrive; the fold is
idempotent by event id, so the effect is once.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition

from consumers.bootstrap import make_consumer
from producers.kafka import KafkaPublisher, kafka_errors
from producers.topics import partitions_of
from schemas.outbound import REDRIVEN_FROM, DlqHeader
from schemas.topics import TOPIC_OF_TYPE, Topics
from schemas.types import format_time
from services.errors import KafkaUnavailable
from services.ports import CheckpointStore
from services.settings import Settings
from telemetry import reason_code

__all__ = [
    "Letter",
    "LetterFilter",
    "RedriveReport",
    "read_letters",
    "redrive",
    "target_topic",
]

_OMITTED = "dlq-value-omitted"


@dataclass(frozen=True)
class Letter:
    """One message of the dead-letter topic."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace") if value is not None else None
        return None

    @property
    def where(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def reason(self) -> str:
        return self.header(DlqHeader.REASON) or ""

    @property
    def source(self) -> str:
        """`topic:partition:offset` of the original record."""
        parts = (DlqHeader.SOURCE_TOPIC, DlqHeader.SOURCE_PARTITION, DlqHeader.SOURCE_OFFSET)
        return ":".join(self.header(h) or "?" for h in parts)

    @property
    def value_omitted(self) -> bool:
        """The value was too large for the dead-letter topic: only its size was kept."""
        return self.header(_OMITTED) is not None

    def summary(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "time": format_time(self.at),
            "source": self.source,
            "reason": self.reason,
            "eventId": self.header(DlqHeader.EVENT_ID),
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
            "valueBytes": len(self.value) if self.value is not None else 0,
        }


@dataclass(frozen=True)
class LetterFilter:
    """Which letters: a reason (its code, `invalid-event`, or any part of the text), a source
    topic (with or without the prefix), a time window (the letter's time, inclusive)."""

    reason: str | None = None
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, letter: Letter, prefix: str) -> bool:
        if self.reason is not None:
            wanted = self.reason.lower()
            code = reason_code(letter.reason)
            if wanted != code and wanted not in letter.reason.lower():
                return False
        if self.topic is not None:
            source = letter.header(DlqHeader.SOURCE_TOPIC)
            if source not in (self.topic, prefix + self.topic):
                return False
        if self.since is not None and letter.at < self.since:
            return False
        return self.until is None or letter.at <= self.until


async def read_letters(
    settings: Settings,
    topics: Topics,
    since: datetime | None = None,
    *,
    offset: int | None = None,
    partition: int | None = None,
) -> AsyncIterator[Letter]:
    """The letters present when called (from `since`, when given), partition by partition;
    with `offset`, only the letter at that offset (of `partition`, or of each partition)."""
    consumer = make_consumer(settings, group_id=None)
    async with kafka_errors(KafkaUnavailable):
        await consumer.start()
    try:
        tps = await partitions_of(settings, [topics.dlq])
        if partition is not None:
            tps = [tp for tp in tps if tp.partition == partition]
        if not tps:
            return
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        begin = await _begin(consumer, tps, since, end)
        if offset is not None:
            begin = {tp: max(begin[tp], offset) for tp in tps}
            end = {tp: min(end[tp], offset + 1) for tp in tps}
        for tp in tps:
            if begin[tp] < end[tp]:
                consumer.seek(tp, begin[tp])
        position = dict(begin)
        while any(position[tp] < end[tp] for tp in tps):
            live = [tp for tp in tps if position[tp] < end[tp]]
            batch = await consumer.getmany(*live, timeout_ms=1000, max_records=1000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= end[tp]:
                        continue
                    position[tp] = r.offset + 1
                    yield Letter(
                        r.partition,
                        r.offset,
                        r.timestamp,
                        r.key,
                        r.value,
                        tuple(r.headers or ()),
                    )
                position[tp] = max(position[tp], await consumer.position(tp))
    finally:
        await consumer.stop()


async def _begin(
    consumer: Any, tps: list[TopicPartition], since: datetime | None, end: dict[Any, int]
) -> dict[TopicPartition, int]:
    if since is None:
        return dict(await consumer.beginning_offsets(tps))
    found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
    return {tp: found[tp].offset if found.get(tp) else end[tp] for tp in tps}


def target_topic(letter: Letter, topics: Topics) -> str | None:
    """Where a redriven letter goes: the topic of its `type` when the value names a known one
    (a letter that was on the wrong topic goes to the right one), else its source topic."""
    try:
        kind = json.loads(letter.value or b"").get("type")
    except (ValueError, AttributeError, RecursionError):
        kind = None
    if isinstance(kind, str) and kind in TOPIC_OF_TYPE:
        return topics.prefix + TOPIC_OF_TYPE[kind]
    return letter.header(DlqHeader.SOURCE_TOPIC)


@dataclass
class RedriveReport:
    """What a redrive did (or, in a dry run, would do)."""

    selected: int = 0
    sent: list[tuple[Letter, str]] = field(default_factory=list)
    already: list[Letter] = field(default_factory=list)  # redriven before: skipped
    unsendable: list[tuple[Letter, str]] = field(default_factory=list)  # no value, no topic


async def redrive(
    letters: Sequence[Letter],
    kafka: KafkaPublisher,
    checkpoints: CheckpointStore,
    topics: Topics,
    *,
    dry_run: bool,
    on_progress: Callable[[RedriveReport], None] = lambda _: None,
) -> RedriveReport:
    """Send each letter back once (see the module's doc), in letter order."""
    report = RedriveReport(selected=len(letters))
    for letter in letters:
        name = f"dlq-redrive:{topics.dlq}:{letter.partition}:{letter.offset}"
        target = target_topic(letter, topics)
        if await checkpoints.load(name) is not None:
            report.already.append(letter)
        elif letter.value_omitted or letter.value is None:
            report.unsendable.append((letter, "the value was not kept (too large)"))
        elif target is None:
            report.unsendable.append((letter, "no source topic header"))
        else:
            if not dry_run:
                headers = [
                    (k, v)
                    for k, v in letter.headers
                    if not k.startswith("dlq-") and k != REDRIVEN_FROM
                ]
                headers.append((REDRIVEN_FROM, f"{topics.dlq}:{letter.where}".encode()))
                await kafka.send_raw(target, letter.value, letter.key, headers)
                await checkpoints.save(name, {"sentTo": target, "at": time.time()})
            report.sent.append((letter, target))
        on_progress(report)
    return report
