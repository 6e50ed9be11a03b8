"""`batch-service replay`: idempotent into live, exact into a shadow, and the diff report."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from consumers import replay_fast, replay_spill
from consumers.bootstrap import bootstrap
from consumers.replay_fast import replay_into_shadow
from services.settings import Settings
from testkit.expect import assert_documents_exact, certificate_ids_of
from testkit.harness import BIN, Env, ServiceProcess, caught_up, publish, read_all, read_docs
from testkit.streams import generate_stream


async def _replay(env: Env, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(BIN),
        "replay",
        *args,
        env=env.as_environ(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _report(stdout: str) -> dict[str, str]:
    """The first line of each collection's report, by collection."""
    return {line.split(":")[0]: line for line in stdout.splitlines() if not line.startswith(" ")}


async def test_replay_into_live_changes_nothing_and_a_shadow_equals_live_until_live_is_corrupted(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    stream = generate_stream(seed=21, batches=2, learners=20)
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    service = ServiceProcess(env, tmp_path).start()
    try:
        await service.wait_consuming()
        events = stream.shuffled(seed=21)
        await publish(kafka_bootstrap, topic_prefix, events)
        await caught_up(env)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]
    before = await read_docs(env)
    announced = certificate_ids_of(await read_all(kafka_bootstrap, env.topics.certificates))
    assert announced, "the stream must make learners eligible"

    code, _, err = await _replay(env)
    assert code == 0, err[-3000:]
    assert f"replay done: {len(events):,}/{len(events):,} records" in err
    assert await read_docs(env) == before, "a replay into live must change no document"
    again = certificate_ids_of(await read_all(kafka_bootstrap, env.topics.certificates))
    assert sorted(again) == sorted(announced), "a replay into live must announce nothing new"

    code, out, err = await _replay(env, "--into", f"{mongo_db_name}_shadow")
    assert code == 0, err[-3000:]
    report = _report(out)
    for name in ("batches", "courses", "enrolments", "batch_events"):
        assert "equal" in report[name] and "DIFFERENT" not in report[name], out
    assert f"{len(before['enrolments'])} compared" in report["enrolments"]

    key = sorted(before["enrolments"])[0]
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_uri)
    try:
        await client[mongo_db_name].enrolments.update_one(
            {"_id": key}, {"$set": {"completionPercentage": 12.5}}
        )
        code, out, err = await _replay(env, "--into", f"{mongo_db_name}_shadow2", "--swap")
        assert code == 0, err[-3000:]
        assert "DIFFERENT" in _report(out)["enrolments"]
        assert f"differs:        {key!r}: completionPercentage" in out
        repaired = await client[mongo_db_name].enrolments.find_one({"_id": key})
        assert repaired is not None
        assert repaired["completionPercentage"] == before["enrolments"][key]["completionPercentage"]
        # The live documents may have missed announcements the shadow latched (facts folded
        # only by the replay): each swapped document holds what it latched in its outbox, for
        # the service to publish (again, with the same ids) once it starts.
        swapped = [d async for d in client[mongo_db_name].enrolments.find({})]
        latched = [d for d in swapped if d["certificates"]]
        assert latched, "the stream must make learners eligible"
        for doc in latched:
            outbox = {e["id"] for e in doc["outbox"]}
            assert doc["hasOutbox"] and {c["eventId"] for c in doc["certificates"]} <= outbox
            assert {a["eventId"] for a in doc["announcedStatuses"]} <= outbox
        code, _, err = await _replay(
            env, "--into", f"{mongo_db_name}_shadow3", "--pipeline", "--swap"
        )
        assert code == 2 and "--swap goes with a fresh --into rebuild" in err, err
        for extra in ((), ("--pipeline",)):
            code, _, err = await _replay(env, "--into", mongo_db_name, *extra)
            assert code == 2 and "--into names the live database" in err, err
    finally:
        for db in (
            f"{mongo_db_name}_shadow",
            f"{mongo_db_name}_shadow2",
            f"{mongo_db_name}_shadow3",
        ):
            await client.drop_database(db)
        await client.close()


async def test_an_interrupted_replay_resumes_where_it_stopped_and_ends_exact(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> None:
    stream = generate_stream(seed=22, batches=2, learners=60)
    await publish(kafka_bootstrap, topic_prefix, stream.shuffled(seed=22))
    # Small polls make the replay long enough to interrupt in the middle.
    env = Env(
        kafka_bootstrap,
        mongodb_uri,
        topic_prefix,
        mongo_db_name,
        BATCH_SERVICE_POLL_MAX_RECORDS="40",
    )
    shadow = f"{mongo_db_name}_resumed"
    proc = await asyncio.create_subprocess_exec(
        str(BIN),
        "replay",
        "--into",
        shadow,
        "--pipeline",
        env=env.as_environ(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    while not (line := (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()).startswith(
        "replay: "
    ):
        assert line, "the replay ended before showing progress"
    assert "ETA" in line, line
    proc.send_signal(signal.SIGINT)
    rest = (await asyncio.wait_for(proc.stderr.read(), 60)).decode()
    assert await proc.wait() == 130, rest
    assert "--resume" in rest

    try:
        code, _, err = await _replay(env, "--into", shadow, "--pipeline", "--resume")
        assert code == 0, err[-3000:]
        assert "replay done" in err
        shadow_env = Env(kafka_bootstrap, mongodb_uri, "", shadow)
        assert_documents_exact(await read_docs(shadow_env), stream.expected())
        assert await read_all(kafka_bootstrap, env.topics.certificates, timeout_s=2) == []
    finally:
        async with AsyncMongoClient(mongodb_uri) as client:
            await client.drop_database(shadow)


async def test_a_shadow_replay_folds_into_an_empty_shadow_only_and_counts_exactly(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> None:
    stream = generate_stream(seed=23, batches=3, learners=40)
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    await publish(kafka_bootstrap, topic_prefix, stream.shuffled(seed=23))
    await publish(
        kafka_bootstrap,
        topic_prefix,
        [],
        raw=[(env.topics.of_type("content.progress"), b"k", b"{not json")],
    )
    shadow = f"{mongo_db_name}_shadow"
    shadow_env = Env(kafka_bootstrap, mongodb_uri, "", shadow)
    try:
        code, _, err = await _replay(env, "--into", shadow, "--resume")
        assert code == 2 and "nothing to resume" in err, err
        code, _, err = await _replay(env, "--into", shadow)
        assert code == 0, err[-3000:]
        assert "1 bad records seen" in err, err[-2000:]
        assert_documents_exact(await read_docs(shadow_env), stream.expected())  # counts included
        assert await read_all(kafka_bootstrap, env.topics.certificates, timeout_s=2) == []
        code, _, err = await _replay(env, "--into", shadow)
        assert code == 2 and "already holds documents" in err, err
        code, _, err = await _replay(env, "--into", shadow, "--pipeline")
        assert code == 0, err[-3000:]
        assert_documents_exact(await read_docs(shadow_env), stream.expected())
    finally:
        async with AsyncMongoClient(mongodb_uri) as client:
            await client.drop_database(shadow)


async def test_a_shadow_replay_without_the_report_rebuilds_exactly_and_reports_nothing(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str
) -> None:
    stream = generate_stream(seed=29, batches=2, learners=30)
    env = Env(kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name)
    await publish(kafka_bootstrap, topic_prefix, stream.shuffled(seed=29))
    code, _, err = await _replay(env, "--no-diff")
    assert code == 2 and "--no-diff goes with --into" in err, err
    shadow = f"{mongo_db_name}_nodiff"
    try:
        code, out, err = await _replay(env, "--into", shadow, "--no-diff")
        assert code == 0, err[-3000:]
        assert "enrolments:" not in out and "every difference" not in err, out[-2000:]
        shadow_env = Env(kafka_bootstrap, mongodb_uri, "", shadow)
        assert_documents_exact(await read_docs(shadow_env), stream.expected())
    finally:
        async with AsyncMongoClient(mongodb_uri) as client:
            await client.drop_database(shadow)


async def test_a_fast_shadow_replay_stopped_between_groups_resumes_to_where_it_was_to_stop(
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In process, with groups of 25 facts: stopped once the first group is folded and
    checkpointed, the replay ends unfinished; resumed after more facts were published (and
    with the default group size), it folds the other groups of the same grouping, to the
    offsets the first run was to reach, and the shadow ends exact."""
    stream = generate_stream(seed=31, batches=4, learners=30)
    await publish(kafka_bootstrap, topic_prefix, stream.shuffled(seed=31))
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        mongodb_uri=mongodb_uri,
        db=mongo_db_name,
        topic_prefix=topic_prefix,
    )
    shadow = f"{mongo_db_name}_fast"
    stop = asyncio.Event()
    progress: list[str] = []

    def stop_after_the_first_group(line: str, **_: object) -> None:
        progress.append(line)
        stop.set()

    try:
        async with bootstrap(settings, db_name=shadow, stop=stop) as service:
            with monkeypatch.context() as patched:
                patched.setattr(replay_spill, "GROUP_RECORDS", 25)
                patched.setattr(replay_fast, "print", stop_after_the_first_group, raising=False)
                first = await replay_into_shadow(service, "earliest", stop, "ckpt", resume=False)
            assert not first.done and first.groups > 2, first
            assert len(progress) == 1 and progress[0].startswith("replay: group 1/"), progress
            saved = await service.stores.checkpoints.load("ckpt")
            assert saved is not None and len(saved["groups_done"]) == 1, saved
            later = generate_stream(seed=32, batches=1, learners=5)
            await publish(kafka_bootstrap, topic_prefix, later.shuffled(seed=32))
            rest = await replay_into_shadow(service, "earliest", asyncio.Event(), "ckpt", True)
            assert rest.done and rest.groups == first.groups, rest
            assert first.documents + rest.documents == len(stream.expected().enrolments)
            assert await service.stores.checkpoints.load("ckpt") is None
        assert_documents_exact(
            await read_docs(Env(kafka_bootstrap, mongodb_uri, "", shadow)), stream.expected()
        )
    finally:
        async with AsyncMongoClient(mongodb_uri) as client:
            await client.drop_database(shadow)
