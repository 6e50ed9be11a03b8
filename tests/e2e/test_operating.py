"""Issue 14 against the real servers: the probes flip as they should, the metrics tell the
truth of an end-to-end run, and the trace context of a fact reaches its certificate."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devstack import LocalStack
from testkit.harness import Env, ServiceProcess, caught_up, http_address, publish, read_all
from tests.e2e.operating import (
    batch,
    course,
    eventually,
    get,
    learner_completes,
    scrape,
    series,
    value,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _env(kafka: str, mongo: str, prefix: str, db: str, **extra: str) -> Env:
    return Env(kafka, mongo, prefix, db, BATCH_SERVICE_API_AUTH="disabled", **extra)


async def test_readiness_follows_assignment_and_ferretdb_liveness_stays(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    if stack is None:
        pytest.fail("this test stops FerretDB, so it needs the local stack (python -m devstack)")
    env = _env(
        kafka_bootstrap,
        mongodb_uri,
        topic_prefix,
        mongo_db_name,
        BATCH_SERVICE_READINESS_TIMEOUT_S="1",
        BATCH_SERVICE_MONGO_TIMEOUT_MS="1500",
    )
    service = ServiceProcess(env, tmp_path).start()
    try:
        base = http_address(service)
        await service.wait_consuming()

        async def ready() -> dict[str, object] | None:
            answer = await get(base, "/readyz")
            return answer.json() if answer.status_code == 200 else None

        body = await eventually(ready, 30, "ready after assignment")
        assert body == {
            "status": "ready",
            "checks": {"mongodb": "ok", "kafka": "ok", "partitions": "assigned"},
        }
        assert (await get(base, "/healthz")).status_code == 200
        stack.stop_mongo()
        try:

            async def not_ready() -> dict[str, object] | None:
                answer = await get(base, "/readyz")
                return answer.json() if answer.status_code == 503 else None

            body = await eventually(not_ready, 30, "not ready with FerretDB stopped")
            assert body["status"] == "not ready"
            assert str(body["checks"]["mongodb"]).startswith("unavailable"), body  # type: ignore[index]
            assert body["checks"]["kafka"] == "ok", body  # type: ignore[index]
            # Waiting for a dependency is not being stuck: a restart would not help.
            alive = await get(base, "/healthz")
            assert alive.status_code == 200, alive.text
        finally:
            stack.start_mongo()
        await eventually(ready, 60, "ready again once FerretDB is back")
    finally:
        assert service.terminate() == 0, service.log()[-3000:]


async def test_metrics_of_an_end_to_end_run(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = _env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    topics = env.topics
    completion, enrolment = topics.of_type("content.completed"), topics.of_type("enrolment.created")
    course_topic = topics.of_type("course.published")
    rules = [course(), batch("b1")]
    facts = learner_completes("b1", "ada") + learner_completes("b1", "alan")
    facts += learner_completes("b1", "grace")
    facts += learner_completes("b1", "bob")[:-1]  # not complete: no certificate
    service = ServiceProcess(env, tmp_path).start()
    try:
        base = http_address(service)
        await service.wait_consuming()  # the topics exist, with the service's partitions
        # The rules folded first: a certificate then is decided by the poll that holds its
        # learner's last fact, the one the latency is measured from. (Decided by a batch that
        # came after the facts, it has no latency sample: docs/operating.md.)
        await publish(kafka_bootstrap, topic_prefix, rules)
        await caught_up(env)
        await publish(
            kafka_bootstrap,
            topic_prefix,
            facts,
            raw=[
                (completion, b"k", b"{not json"),
                (completion, b"k", b'{"specversion": "1.0", "type": "nope"}'),
                (course_topic, b"b1", b'{"type": "course.published"}'),
            ],
            headers={"done-b1-ada-1": [("traceparent", TRACEPARENT.encode())]},
        )
        await caught_up(env)

        async def settled() -> object:
            samples = await scrape(base)
            lags = series(samples, "batch_service_consumer_lag_records")
            done = value(samples, "batch_service_certificates_published_total") == 3
            # Published entries leave the outbox at the first quiet poll after the last commit.
            emptied = value(samples, "batch_service_outbox_pending_documents") == 0
            if lags and all(v == 0 for v in lags.values()) and done and emptied:
                return samples
            last.update(samples)
            return None

        last: dict[object, float] = {}
        try:
            samples = await eventually(settled, 60, "lag 0, three certificates, outbox empty")
        except AssertionError:
            print({k: v for k, v in last.items() if k[0].startswith("batch_service")})
            raise
        lags = series(samples, "batch_service_consumer_lag_records")
        assert len(lags) == 3 * len(topics.inbound), lags  # every partition held, one member
        dead = series(samples, "batch_service_dead_letters_total")
        assert dead == {
            (("reason", "invalid-json"), ("topic", completion)): 1.0,
            (("reason", "unknown-type"), ("topic", completion)): 1.0,
            (("reason", "invalid-event"), ("topic", course_topic)): 1.0,
        }, dead
        folded = series(samples, "batch_service_records_folded_total")
        assert folded == {
            (("topic", course_topic),): 1.0,
            (("topic", topics.batch),): 1.0,
            (("topic", enrolment),): 4.0,
            (("topic", completion),): 3.0 * 2 + 1,  # three learners complete, bob half
        }, folded
        statuses = series(samples, "batch_service_enrolment_status_published_total")
        assert statuses == {(("status", "seated"),): 4.0}, statuses
        assert value(samples, "batch_service_outbox_pending_documents") == 0
        assert value(samples, "batch_service_outbox_oldest_age_seconds") == 0
        assert value(samples, "batch_service_last_commit_timestamp_seconds") > 1.7e9
        assert value(samples, "batch_service_rebalances_total") >= 1
        assert value(samples, "batch_service_poll_records_count") >= 1
        for step in ("poll", "fold", "load", "save", "publish", "acknowledge", "commit"):
            count = value(samples, "batch_service_step_duration_seconds_count", step=step)
            assert count >= 1, step
        assert value(samples, "batch_service_fact_to_certificate_seconds_count") == 3
        assert value(samples, "process_start_time_seconds") > 1.7e9
        finds = series(samples, "batch_service_mongodb_commands_total")
        assert any(("command", "find") in labels for labels in finds), finds
        written = value(
            samples, "batch_service_mongodb_documents_written_total", command="insert"
        ) + value(samples, "batch_service_mongodb_documents_written_total", command="update")
        assert written >= 4, "four learners' documents written at least"
        # The fact that completed ada carried a trace context: her certificate carries it on.
        certificates = await read_all(kafka_bootstrap, topics.certificates)
        by_user = {r.key.decode(): dict(r.headers or ()) for r in certificates}
        assert by_user["ada"].get("traceparent") == TRACEPARENT.encode(), by_user
        assert "traceparent" not in by_user["alan"], by_user
    finally:
        assert service.terminate() == 0, service.log()[-3000:]


async def test_metrics_and_probes_when_the_api_is_off(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = _env(
        kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name, BATCH_SERVICE_API_ENABLED="false"
    )
    service = ServiceProcess(env, tmp_path).start()
    try:
        base = http_address(service)
        await service.wait_consuming()
        for path in ("/v1/batches", "/openapi.json", "/docs"):  # contract 10: no API at all
            assert (await get(base, path)).status_code == 404, path
        assert (await get(base, "/healthz")).status_code == 200
        await eventually(lambda: _status(base, "/readyz", 200), 30, "ready with the API off")
        assert "batch_service_rebalances_total" in (await get(base, "/metrics")).text
    finally:
        assert service.terminate() == 0, service.log()[-3000:]


async def _status(base: str, path: str, wanted: int) -> bool:
    return (await get(base, path)).status_code == wanted


async def test_api_mode_is_ready_without_partitions(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = _env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    service = ServiceProcess(env, tmp_path, command="api").start()
    try:
        base = http_address(service)
        answer = await eventually(
            lambda: _ready_body(base), 30, "`api` ready: it holds no partitions"
        )
        assert answer["checks"] == {"mongodb": "ok", "kafka": "ok"}, answer
        assert (await get(base, "/healthz")).status_code == 200
    finally:
        assert service.terminate() == 0, service.log()[-3000:]


async def _ready_body(base: str) -> dict[str, object] | None:
    answer = await get(base, "/readyz")
    return answer.json() if answer.status_code == 200 else None


async def test_the_probe_routes_are_not_logged_at_info(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = _env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    service = ServiceProcess(env, tmp_path, command="api").start()
    try:
        base = http_address(service)
        for _ in range(3):
            await get(base, "/healthz")
            await get(base, "/metrics")
        await get(base, "/v1/batches/nope")
        await asyncio.sleep(0.5)
        requests = [line for line in service.log().splitlines() if '"http_request"' in line]
        assert len(requests) == 1 and "/v1/batches/nope" in requests[0], requests
    finally:
        assert service.terminate() == 0, service.log()[-3000:]
