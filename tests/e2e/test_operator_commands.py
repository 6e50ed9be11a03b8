"""`batch-service dlq` and `batch-service certificates reannounce` as an operator runs them,
against a running service and the real servers."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.documents import enrolment_key
from testkit.harness import (
    Env,
    ServiceProcess,
    caught_up,
    publish,
    read_all,
    read_docs,
    run_cli,
)
from tests.e2e.operating import batch, course, event, learner_completes


def _env(kafka: str, mongo: str, prefix: str, db: str) -> Env:
    return Env(kafka, mongo, prefix, db, BATCH_SERVICE_API_AUTH="disabled")


async def test_dead_letters_listed_shown_and_redriven_once_after_their_cause_is_fixed(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = _env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    topics = env.topics
    renamed = event("batch.updated", "rename-b2", batchId="b2", name="Renamed")  # too early
    misplaced = event("enrolment.created", "enrol-b1-ada", batchId="b1", userId="ada")
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        await publish(
            kafka_bootstrap,
            topic_prefix,
            [course(), renamed],
            raw=[
                (topics.of_type("course.published"), b"b1", json.dumps(misplaced).encode()),
                (topics.of_type("content.progress"), b"ada", b"{not json"),
            ],
        )
        await caught_up(env)
        code, out, err = await run_cli(env, "dlq", "list")
        assert code == 0, err
        assert len(out.splitlines()) == 3 and "3 letters match" in err, (out, err)
        code, out, _ = await run_cli(env, "dlq", "list", "--json")
        times = [datetime.fromisoformat(json.loads(line)["time"]) for line in out.splitlines()]
        assert times == sorted(times), "oldest first, across partitions"
        code, out, _ = await run_cli(env, "dlq", "list", "--reason", "wrong-topic", "--json")
        [row] = [json.loads(line) for line in out.splitlines()]
        assert row["source"].startswith(topics.of_type("course.published") + ":"), row
        assert row["eventId"] is None and row["key"] == "b1", row
        code, out, _ = await run_cli(env, "dlq", "list", "--topic", "lms.progress.v1", "--json")
        [broken] = [json.loads(line) for line in out.splitlines()]
        assert broken["reason"].startswith("invalid-json"), broken
        where = f"{broken['partition']}:{broken['offset']}"
        code, out, _ = await run_cli(env, "dlq", "show", where)
        shown = json.loads(out)
        assert code == 0 and shown["value"] == "{not json", shown
        assert shown["headers"]["dlq-source-topic"] == topics.of_type("content.progress"), shown
        code, _, err = await run_cli(env, "dlq", "show", "0:999999")
        assert code == 1, err
        code, _, err = await run_cli(env, "dlq", "list", "--since", "yesterday")
        assert code == 2 and "RFC 3339" in err, err

        # The causes are fixed: the batches exist now.
        await publish(kafka_bootstrap, topic_prefix, [batch("b1"), batch("b2")])
        await caught_up(env)
        batch_end = len(await read_all(kafka_bootstrap, topics.batch, timeout_s=1))
        code, out, err = await run_cli(env, "dlq", "redrive", "--reason", "rejected", "--dry-run")
        assert code == 0 and out.startswith("would send") and "1 would send" in err, (out, err)
        assert len(await read_all(kafka_bootstrap, topics.batch, timeout_s=1)) == batch_end
        for reason in ("rejected", "wrong-topic"):
            code, out, err = await run_cli(env, "dlq", "redrive", "--reason", reason)
            assert code == 0 and "1 selected, 1 sent" in err, (out, err)
        code, out, err = await run_cli(env, "dlq", "redrive", "--reason", "rejected")
        assert "0 sent, 1 redriven before" in err and "redriven before" in out, (out, err)
        await caught_up(env)

        docs = await read_docs(env)
        assert docs["batches"]["b2"]["name"] == "Renamed"
        ada = docs["enrolments"][enrolment_key("b1", "ada")]
        assert ada["enrolmentStatus"] == "enrolled", ada
        assert [e["id"] for e in ada["facts"]["enrolments"]] == ["enrol-b1-ada"], ada
        redriven = [r for r in await read_all(kafka_bootstrap, topics.of_type("enrolment.created"))]
        assert len(redriven) == 1, "sent once, to the topic its type belongs on"
        assert dict(redriven[0].headers)["batch-service-redriven-from"].startswith(
            topics.dlq.encode()
        )
        code, out, err = await run_cli(env, "dlq", "list")
        assert "3 letters match" in err, "the redriven letters folded: no new letters"
    finally:
        assert service.terminate() == 0, service.log()[-3000:]


async def test_reannounce_publishes_exactly_the_latched_ids_of_the_batch(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    env = _env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    facts = [course(), batch("b1"), batch("b2")]
    facts += learner_completes("b1", "ada") + learner_completes("b1", "alan")
    facts += learner_completes("b1", "bob")[:-1] + learner_completes("b2", "grace")
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        await publish(kafka_bootstrap, topic_prefix, facts)
        await caught_up(env)
        first = await _certificates(env)
        assert len(first) == 3, first
        docs = (await read_docs(env))["enrolments"]
        latched = {
            c["eventId"]: d["userId"]
            for d in docs.values()
            if d["batchId"] == "b1"
            for c in d["certificates"]
        }
        assert set(latched.values()) == {"ada", "alan"}, latched

        code, out, err = await run_cli(
            env, "certificates", "reannounce", "--batch", "b1", "--dry-run"
        )
        assert code == 0 and "2 certificate.eligible events would be published" in err, err
        assert len(await _certificates(env)) == 3, "a dry run publishes nothing"

        code, out, err = await run_cli(env, "certificates", "reannounce", "--batch", "b1")
        assert code == 0 and {line.split()[0] for line in out.splitlines()} == set(latched), err
        again = _new_since(first, await _certificates(env))
        assert sorted(e["id"] for e in again) == sorted(latched), again
        originals = {e["id"]: e for e in first}
        assert all(e == originals[e["id"]] for e in again), "the same events, the same ids"
        before_ada = await _certificates(env)

        code, _, err = await run_cli(
            env, "certificates", "reannounce", "--batch", "b1", "--user", "ada"
        )
        [ada] = _new_since(before_ada, await _certificates(env))
        assert code == 0 and ada["data"]["userId"] == "ada" and ada["id"] in latched, ada

        code, _, err = await run_cli(env, "certificates", "reannounce", "--batch", "nope")
        assert code == 1 and "no batch" in err, err
        after = await read_docs(env)
        assert after["enrolments"] == docs | {}, "nothing else changes"
    finally:
        assert service.terminate() == 0, service.log()[-3000:]


async def _certificates(env: Env) -> list[dict[str, Any]]:
    records = await read_all(env.kafka, env.topics.certificates, timeout_s=2)
    return [json.loads(r.value) for r in records]


def _new_since(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of `after` beyond those of `before` (topics read by partition: no order)."""
    left = Counter(json.dumps(e, sort_keys=True) for e in before)
    new = []
    for e in after:
        text = json.dumps(e, sort_keys=True)
        if left[text]:
            left[text] -= 1
        else:
            new.append(e)
    return new
