"""Hostile input reaches the dead-letter topic with a reason; valid odd ids are kept unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.outbound import DlqHeader
from testkit.harness import Env, ServiceProcess, caught_up, publish, read_all, read_docs

MAX_EVENT_BYTES = 65_536


def _event(typ: str, eid: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": eid,
        "source": "t",
        "time": "2026-01-02T10:00:00Z",
        "type": typ,
        "data": data,
    }


def _progress(eid: str, **over: Any) -> dict[str, Any]:
    data = {"batchId": "b", "userId": "u", "contentId": "c", "progress": 50, **over}
    return _event("content.progress", eid, **data)


def _bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


BATCH: dict[str, Any] = {
    "batchId": "b",
    "courseId": "c",
    "name": "n",
    "enrollmentType": "open",
    "startDate": "2026-01-01",
    "endDate": "2026-12-31",
    "enrollmentEndDate": None,
    "mentors": [],
    "certificateTemplates": [],
}

# key -> (topic suffix, value, the reason's code)
BAD: dict[str, tuple[str, bytes | None, str]] = {
    "not-json": ("lms.progress.v1", b"{not json", "invalid-json"),
    "not-utf8": ("lms.progress.v1", b'{"a": "\xff\xfe"}', "invalid-json"),
    "truncated": ("lms.progress.v1", _bytes(_progress("t1"))[:40], "invalid-json"),
    "deep": ("lms.progress.v1", b"[" * 20_000 + b"]" * 20_000, "invalid-json"),
    "array": ("lms.progress.v1", b"[1, 2]", "invalid-event"),
    "missing-field": (
        "lms.progress.v1",
        _bytes({**_progress("m1"), "data": {"batchId": "b"}}),
        "invalid-event",
    ),
    "missing-time": (
        "lms.progress.v1",
        _bytes({k: v for k, v in _progress("m2").items() if k != "time"}),
        "invalid-event",
    ),
    "naive-time": (
        "lms.progress.v1",
        _bytes({**_progress("m3"), "time": "2026-01-02T10:00:00"}),
        "invalid-event",
    ),
    "string-number": ("lms.progress.v1", _bytes(_progress("w1", progress="50")), "invalid-event"),
    "number-id": ("lms.progress.v1", _bytes(_progress("w2", userId=42)), "invalid-event"),
    "object-id": ("lms.progress.v1", _bytes(_progress("w3", userId={"$gt": ""})), "invalid-event"),
    "progress-over-100": (
        "lms.progress.v1",
        _bytes(_progress("w4", progress=101)),
        "invalid-event",
    ),
    "unknown-type": (
        "lms.progress.v1",
        _bytes({**_progress("u1"), "type": "content.deleted"}),
        "unknown-type",
    ),
    "wrong-specversion": (
        "lms.progress.v1",
        _bytes({**_progress("u2"), "specversion": "0.3"}),
        "invalid-event",
    ),
    "control-char-id": (
        "lms.progress.v1",
        _bytes(_progress("c1", userId="a\u0007b")),
        "invalid-event",
    ),
    "empty-id": ("lms.progress.v1", _bytes(_progress("c2", contentId="")), "invalid-event"),
    "long-id": ("lms.progress.v1", _bytes(_progress("c3", contentId="x" * 257)), "invalid-event"),
    "oversized": (
        "lms.progress.v1",
        _bytes(_progress("o1", pad="x" * (2 * MAX_EVENT_BYTES))),
        "too-large",
    ),
    "tombstone": ("lms.progress.v1", None, "empty"),
    "no-bytes": ("lms.progress.v1", b"", "empty"),
    "score-over-max": (
        "lms.assessment.v1",
        _bytes(
            _event(
                "assessment.submitted",
                "s1",
                batchId="b",
                userId="u",
                assessmentId="a",
                attemptId="1",
                score=11,
                maxScore=10,
            )
        ),
        "invalid-event",
    ),
    "dates-out-of-order": (
        "lms.batch.v1",
        _bytes(_event("batch.created", "d1", **{**BATCH, "batchId": "z", "endDate": "2025-01-01"})),
        "invalid-event",
    ),
    "update-never-created": (
        "lms.batch.v1",
        _bytes(_event("batch.updated", "r1", batchId="never", name="x")),
        "batch.updated for batch never created",
    ),
    "wrong-topic": (
        "lms.progress.v1",
        _bytes(_event("batch.created", "wt", **BATCH)),
        "wrong-topic",
    ),
}

ODD_IDS = ["$where", "a.b.c", "with space", "élève-学生", "$gt", "x:y", "{$ne: 1}"]


def _valid_hostile_stream() -> list[dict[str, Any]]:
    events = [
        _event(
            "course.published", "h-course", courseId="$course.1", leafNodes=["$c.1"], assessments=[]
        ),
        _event(
            "batch.created",
            "h-batch",
            **{
                **BATCH,
                "batchId": "$b.1 é",
                "courseId": "$course.1",
                "certificateTemplates": [
                    {"templateId": "$t.1", "criteria": {"completionPercent": 100}}
                ],
            },
        ),
    ]
    for i, user in enumerate(ODD_IDS):
        events.append(_event("enrolment.created", f"h-e{i}", batchId="$b.1 é", userId=user))
        events.append(
            _event("content.completed", f"h-c{i}", batchId="$b.1 é", userId=user, contentId="$c.1")
        )
    return events


async def test_bad_messages_are_dead_lettered_with_reason_and_valid_odd_ids_kept_unchanged(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = Env(
        kafka_bootstrap,
        mongodb_uri,
        topic_prefix,
        mongo_db_name,
        BATCH_SERVICE_MAX_EVENT_BYTES=str(MAX_EVENT_BYTES),
    )
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        raw = [
            (topic_prefix + topic, key.encode(), value) for key, (topic, value, _) in BAD.items()
        ]
        metadata = await publish(kafka_bootstrap, topic_prefix, _valid_hostile_stream(), raw)
        await caught_up(env)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]

    letters = {r.key.decode(): r for r in await read_all(kafka_bootstrap, env.topics.dlq)}
    assert set(letters) == set(BAD), "exactly the bad messages are dead-lettered"
    for (key, (topic, value, code)), meta in zip(BAD.items(), metadata, strict=True):
        letter = letters[key]
        headers = {k: v.decode() for k, v in letter.headers}
        assert letter.value == value, f"{key}: the value must be unchanged"
        assert headers[DlqHeader.SOURCE_TOPIC] == topic_prefix + topic
        assert headers[DlqHeader.SOURCE_PARTITION] == str(meta.partition)
        assert headers[DlqHeader.SOURCE_OFFSET] == str(meta.offset)
        assert headers[DlqHeader.REASON].startswith(code), f"{key}: {headers[DlqHeader.REASON]}"

    docs = await read_docs(env)
    assert set(docs["batches"]) == {"$b.1 é"}, "no batch from a rejected event"
    stored = {(d["batchId"], d["userId"]) for d in docs["enrolments"].values()}
    assert stored == {("$b.1 é", user) for user in ODD_IDS}, "bad facts stored nothing"
    for doc in docs["enrolments"].values():
        assert doc["courseId"] == "$course.1"
        assert doc["progressStatus"] == 2 and doc["enrolled"] is True
        assert [c["templateId"] for c in doc["certificates"]] == ["$t.1"]
    certificates = [
        json.loads(r.value) for r in await read_all(kafka_bootstrap, env.topics.certificates)
    ]
    assert sorted(c["data"]["userId"] for c in certificates) == sorted(ODD_IDS)
    assert {c["data"]["batchId"] for c in certificates} == {"$b.1 é"}
