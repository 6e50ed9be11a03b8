"""The service as a process, through real Kafka and a real MongoDB server."""

from __future__ import annotations

import json
from pathlib import Path

from testkit.expect import assert_documents_exact, certificate_id, certificate_ids_of
from testkit.harness import Env, ServiceProcess, caught_up, publish, read_all, read_docs
from testkit.streams import generate_stream


async def test_stream_in_any_order_folds_to_exact_documents_and_one_event_per_eligibility(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    stream = generate_stream(seed=7, batches=3, learners=25)
    expected = stream.expected()
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        await publish(kafka_bootstrap, topic_prefix, stream.shuffled(seed=7))
        await caught_up(env)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]

    assert_documents_exact(await read_docs(env), expected)
    records = await read_all(kafka_bootstrap, env.topics.certificates)
    ids = certificate_ids_of(records)
    assert expected.certificate_ids(), "the stream must make some learners eligible"
    assert sorted(ids) == sorted(expected.certificate_ids())  # exactly once without faults
    for record in records:
        event = json.loads(record.value)
        data = event["data"]
        assert record.key == data["userId"].encode()
        assert event["type"] == "certificate.eligible" and event["source"] == "batch-service"
        assert event["id"] == certificate_id(data["batchId"], data["userId"], data["templateId"])
        doc = expected.enrolments[f"{data['batchId']}\n{data['userId']}"]
        assert data["courseId"] == doc.courseId
        assert data["completionPercentage"] >= 100.0


async def test_sigterm_finishes_commits_and_exits_zero(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    stream = generate_stream(seed=3, batches=1, learners=40)
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    await publish(kafka_bootstrap, topic_prefix, stream.all())
    first = ServiceProcess(env, tmp_path, "first").start()
    await first.wait_consuming()
    assert first.terminate() == 0, first.log()[-3000:]
    assert '"stopped"' in first.log()
    # What the first instance committed is not read again; the rest is read by the second.
    second = ServiceProcess(env, tmp_path, "second").start()
    try:
        await second.wait_consuming()  # a SIGTERM before its handler is set would kill it
        await caught_up(env)
    finally:
        assert second.terminate() == 0, second.log()[-3000:]
    assert_documents_exact(await read_docs(env), stream.expected())
